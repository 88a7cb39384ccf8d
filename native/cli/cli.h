/* berth's native front (docs/native.md, "berth's native front"): `berth exec` without Node for an
 * exact subset of its command line, and an exec of the Node bundle (berth-node) for everything
 * else. Mechanism only: it makes the request the TypeScript client makes and copies the answer out
 * as the TypeScript CLI does; it decides nothing and words only the errors listed in exec.c. */
#pragma once
#include <stddef.h>

#include "../common.h"

/* s as encodeURIComponent encodes it. */
void buf_uri(struct buf *b, const char *s);

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

/* exec.c: `berth exec` over berthd's socket fd (connected). Returns the exit status. */
struct exec_req {
	const char *socket, *id, *workdir, *user;
	const char **env, **cmd; /* NULL-terminated */
};
int verb_exec(int fd, const struct exec_req *r);
