/* berth's native front (docs/native.md, "berth's native front"): `berth exec` without Node for an
 * exact subset of its command line, and an exec of the Node bundle (berth-node) for everything
 * else. Mechanism only: it makes the request the TypeScript client makes and copies the answer out
 * as the TypeScript CLI does; it decides nothing and words only the errors listed in exec.c. */
#pragma once
#include <stddef.h>

#include "../common.h"

/* s as encodeURIComponent encodes it. */
void buf_uri(struct buf *b, const char *s);
/* s as URLSearchParams encodes a value (the client's query strings). */
void buf_form(struct buf *b, const char *s);

/* wire.c: berthd's socket, one HTTP/1.1 exchange, JSON bits. */
/* Connects to the unix socket at path; -1 with errno when it cannot (nothing sent yet). */
int wire_connect(const char *path);
/* Writes all of s (MSG_NOSIGNAL); -1 with errno. */
int wire_send(int fd, const char *s, size_t n);
/* The head of a response, read up to its blank line; the bytes read after it stay in *rest. */
struct head {
	int status;
	struct buf raw;	     /* the whole head */
	size_t rest_off;     /* where the bytes after the head start in raw */
};
/* 0, or -1 when the connection ended (or failed) before a whole head. */
int wire_head(int fd, struct head *h);
/* The value of header name (lower case) in h, trimmed, as a new string; NULL when absent. */
char *wire_header(const struct head *h, const char *name);
/* A JSON string starting at s (at its opening quote), decoded into out as JSON.parse and then a
 * UTF-8 write would give it (a lone surrogate becomes U+FFFD); the byte after its closing quote,
 * or NULL when it is not a JSON string. */
const char *json_string(const char *s, const char *end, struct buf *out);
/* The integer value of "key": in a JSON object text, at any depth (berthd's and the shim's
 * documents hold the key once); 0 when found, -1 when absent or not an integer. */
int json_int(const char *s, size_t n, const char *key, long *out);
/* Writes all of p to fd (stdout or stderr), waiting when it is non-blocking; a reader that went
 * away ends the process with 141, as the TypeScript CLI ends on EPIPE. */
void out_write(int fd, const char *p, size_t n);

/* main.c: hands the command line, unchanged, to the Node bundle. */
_Noreturn void exec_node(void);

/* request.c: one request to berthd, on its own connection, as the TypeScript client makes it. */
struct answer {
	struct head head;
	struct buf body; /* a plain answer's whole body (none after a 101) */
};
/* Connects (fd -1) or takes the connection fd, and sends the request: the connection, or -1 with the
 * client's words for the failure in *err. */
int req_send(int fd, const char *socket, const char *method, const char *path, const struct buf *body, int upgrade,
	     struct buf *err);
/* Reads the answer: its head, and its body unless it is a 101; -1 with the client's words in *err. */
int req_read(int fd, const char *method, const char *path, struct answer *a, struct buf *err);
/* An error answer's message: {"message": "…"} as berthd sends it; the text itself otherwise;
 * `HTTP <status>` when empty (the client's errorFrom). */
void answer_error(const struct answer *a, struct buf *msg);
/* Whether an error answer is BERTH_ERR_NOT_FOUND (X-Berth-Error, else status 404: codeFromResponse). */
int answer_not_found(const struct answer *a);
/* exitCode of a JSON document (an exit frame, a wait's answer): 0, or -1 when it names none. */
int exit_code_of(const struct buf *json, long *code);
/* Copies the frames after an upgrade (the head's leftover bytes first) to stdout and stderr until
 * the exit frame, a detached frame or the end of the connection, and closes it: 1 with *code when
 * the exit frame carried one, 2 when detached, else 0. */
int stream_frames(int fd, const struct head *h, long *code);
/* main.ts's last words: `berth: <message>` (line breaks folded), exit with status. */
_Noreturn void die(const struct buf *msg, int status);
/* docker's status for a command that could not start (runFailureStatus): 127 when the message says
 * it was not found, 126 when it cannot be executed, else other. */
int failure_status(const char *msg, int other);

/* exec.c and run.c: the two verbs, over fd (connected to berthd's socket). Return the exit status. */
struct exec_req {
	const char *socket, *id, *workdir, *user;
	const char **env, **cmd; /* NULL-terminated */
};
int verb_exec(int fd, const struct exec_req *r);
struct run_req {
	const char *socket, *image, *name, *network, *workdir, *user;
	int rm;
	const char **env, **cmd; /* NULL-terminated */
};
int verb_run(int fd, const struct run_req *r);
