/* `berth exec` without -i, -t or -d, as the TypeScript CLI runs it (src/cli/berth/container-verbs.ts,
 * execVerb; src/client/client.ts, execStart and execWait): one request,
 * POST /v1/containers/<id>/exec/start with the ExecRequest, upgraded to the attach protocol; the
 * connection then carries the shim's frames (u8 type, u32 LE length, payload: src/api/attach-frames.ts)
 * from the exec's first output to its exit frame. Stdout and stderr frames are copied to fd 1 and
 * 2; the exit frame's exitCode is the status. A connection that ends without one asks
 * POST /v1/exec/<execId>/wait. Errors are worded as the TypeScript client and CLI word them:
 * `berth: <message>` on stderr (a message's line breaks folded), status 127 or 126 for a command
 * that was not found or cannot run (runFailureStatus), else 1. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

enum { FRAME_STDOUT = 1, FRAME_STDERR = 2, FRAME_EXIT = 5 };

/* JavaScript's \s: the length of the whitespace character at p, 0 when there is none. */
static size_t ws_len(const unsigned char *p, const unsigned char *end)
{
	if (p >= end)
		return 0;
	if (*p == ' ' || (*p >= '\t' && *p <= '\r'))
		return 1;
	uint32_t cp;
	size_t n;
	if (*p >= 0xc2 && *p <= 0xdf && end - p >= 2)
		cp = (uint32_t)(p[0] & 0x1f) << 6 | (p[1] & 0x3f), n = 2;
	else if (*p >= 0xe0 && *p <= 0xef && end - p >= 3)
		cp = (uint32_t)(p[0] & 0x0f) << 12 | (uint32_t)(p[1] & 0x3f) << 6 | (p[2] & 0x3f), n = 3;
	else
		return 0;
	int ws = cp == 0xa0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 || cp == 0x2029 ||
		 cp == 0x202f || cp == 0x205f || cp == 0x3000 || cp == 0xfeff;
	return ws ? n : 0;
}

/* main.ts's last words: `berth: <message>`, each run of whitespace holding a line break folded into
 * one space (a flag error keeps its two lines). */
static _Noreturn void die(const char *msg, size_t n, int status)
{
	struct buf b = {0};
	buf_str(&b, "berth: ");
	const unsigned char *p = (const unsigned char *)msg, *end = p + n;
	int keep = !strncmp(msg, "unknown flag: ", 14) || !strncmp(msg, "unknown shorthand flag: ", 24);
	while (p < end) {
		size_t w = keep ? 0 : ws_len(p, end);
		if (!w) {
			buf_add(&b, (const char *)p++, 1);
			continue;
		}
		const unsigned char *q = p;
		int nl = 0;
		for (size_t k; (k = ws_len(q, end)); q += k)
			nl |= *q == '\n';
		if (nl)
			buf_add(&b, " ", 1);
		else
			buf_add(&b, (const char *)p, (size_t)(q - p));
		p = q;
	}
	buf_add(&b, "\n", 1);
	out_write(2, b.p, b.len);
	exit(status);
}

static _Noreturn void dies(const char *msg, int status)
{
	die(msg, strlen(msg), status);
}

/* docker's status for an exec that could not start (runFailureStatus): 127, 126, else 1. */
static int start_status(const char *msg)
{
	if (strcasestr(msg, "executable file not found") || strcasestr(msg, "no such file or directory"))
		return 127;
	if (strcasestr(msg, "permission denied") || strcasestr(msg, "is a directory"))
		return 126;
	return 1;
}

/* The body of a plain answer whose head is h: content-length bytes (or up to the end of the
 * connection when it has none); -1 when the connection ended before them. */
static int read_body(int fd, struct head *h, struct buf *body)
{
	buf_add(body, h->raw.p + h->rest_off, h->raw.len - h->rest_off);
	char *cl = wire_header(h, "content-length");
	long want = cl ? atol(cl) : -1;
	free(cl);
	char chunk[65536];
	while (want < 0 || (long)body->len < want) {
		ssize_t r = read(fd, chunk, sizeof chunk);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			return want < 0 ? 0 : -1;
		buf_add(body, chunk, (size_t)r);
	}
	if ((long)body->len > want)
		body->len = (size_t)want, body->p[want] = 0;
	return 0;
}

/* An error answer's message: {"message": "…"} as berthd sends it; the text itself otherwise;
 * `HTTP <status>` when empty (errorFrom). */
static void error_message(int status, const struct buf *body, struct buf *msg)
{
	static const char pre[] = "{\"message\":";
	const char *end = body->p ? body->p + body->len : NULL;
	if (body->len > sizeof pre && !strncmp(body->p, pre, sizeof pre - 1)) {
		const char *after = json_string(body->p + sizeof pre - 1, end, msg);
		if (after && after + 1 == end && *after == '}')
			goto done;
		msg->len = 0;
	}
	if (body->len)
		buf_add(msg, body->p, body->len);
done:
	if (!msg->len) {
		char t[32];
		int n = snprintf(t, sizeof t, "HTTP %d", status);
		buf_add(msg, t, (size_t)n);
	}
}

/* The message of a connection that failed before a whole answer, as http1.ts words it. */
static _Noreturn void hung_up(const char *method, const char *path, int status)
{
	struct buf m = {0};
	buf_str(&m, "berthd closed the connection before its answer (");
	buf_str(&m, method);
	buf_str(&m, " ");
	buf_str(&m, path);
	buf_str(&m, ")");
	die(m.p, m.len, status);
}

/* POST /v1/exec/<id>/wait: the exec's exit code (0 when the answer names none, as the CLI's `?? 0`). */
static int exec_wait(const char *socket, const char *exec_id)
{
	struct buf path = {0}, req = {0};
	buf_str(&path, "/v1/exec/");
	buf_str(&path, exec_id);
	buf_str(&path, "/wait");
	int fd = wire_connect(socket);
	if (fd < 0) {
		int e = errno;
		struct buf m = {0};
		const char *code = e == ENOENT ? "ENOENT" : e == ECONNREFUSED ? "ECONNREFUSED" : NULL;
		if (code) {
			buf_str(&m, "cannot reach berthd at ");
			buf_str(&m, socket);
			buf_str(&m, " (");
			buf_str(&m, code);
			buf_str(&m, "): is it running? (start it with berthd, or set BERTH_HOST)");
		} else {
			buf_str(&m, "connect ");
			buf_str(&m, strerror(e));
			buf_str(&m, " ");
			buf_str(&m, socket);
		}
		die(m.p, m.len, 1);
	}
	buf_str(&req, "POST ");
	buf_str(&req, path.p);
	buf_str(&req, " HTTP/1.1\r\nhost: berthd\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
	struct head h = {0};
	if (wire_send(fd, req.p, req.len) || wire_head(fd, &h))
		hung_up("POST", path.p, 1);
	struct buf body = {0};
	if (read_body(fd, &h, &body)) {
		struct buf m = {0};
		buf_str(&m, "berthd closed the connection in the middle of its answer (POST ");
		buf_str(&m, path.p);
		buf_str(&m, ")");
		die(m.p, m.len, 1);
	}
	close(fd);
	if (h.status >= 400) {
		struct buf m = {0};
		error_message(h.status, &body, &m);
		die(m.p, m.len, 1);
	}
	long code;
	return body.len && !json_int(body.p, body.len, "exitCode", &code) ? (int)code : 0;
}

int verb_exec(int fd, const struct exec_req *r)
{
	/* From here on nothing goes to Node: a closed stdout or stderr is EPIPE (141), as in Node. */
	signal(SIGPIPE, SIG_IGN);
	struct buf body = {0}, route = {0}, path = {0}, req = {0};
	buf_str(&body, "{\"cmd\":[");
	for (const char **c = r->cmd; *c; c++) {
		if (c != r->cmd)
			buf_add(&body, ",", 1);
		buf_json(&body, *c);
	}
	buf_str(&body, "],\"tty\":false,\"openStdin\":false");
	if (*r->env) {
		buf_str(&body, ",\"env\":[");
		for (const char **e = r->env; *e; e++) {
			if (e != r->env)
				buf_add(&body, ",", 1);
			buf_json(&body, *e);
		}
		buf_add(&body, "]", 1);
	}
	if (r->workdir) {
		buf_str(&body, ",\"workdir\":");
		buf_json(&body, r->workdir);
	}
	if (r->user) {
		buf_str(&body, ",\"user\":");
		buf_json(&body, r->user);
	}
	buf_add(&body, "}", 1);
	buf_str(&route, "/containers/");
	buf_uri(&route, r->id);
	buf_str(&route, "/exec/start");
	buf_str(&path, "/v1");
	buf_str(&path, route.p);

	char cl[32];
	snprintf(cl, sizeof cl, "%zu", body.len);
	buf_str(&req, "POST ");
	buf_str(&req, path.p);
	buf_str(&req, " HTTP/1.1\r\nhost: berthd\r\nContent-Type: application/json\r\nConnection: Upgrade\r\nUpgrade: "
		      "berth-attach\r\ncontent-length: ");
	buf_str(&req, cl);
	buf_str(&req, "\r\n\r\n");
	buf_add(&req, body.p, body.len);

	struct head h = {0};
	if (wire_send(fd, req.p, req.len) || wire_head(fd, &h))
		hung_up("POST", path.p, 1);
	if (h.status != 101) {
		struct buf m = {0};
		if (h.status >= 400) {
			struct buf answer = {0};
			if (read_body(fd, &h, &answer)) {
				buf_str(&m, "berthd closed the connection in the middle of its answer (POST ");
				buf_str(&m, path.p);
				buf_str(&m, ")");
			} else
				error_message(h.status, &answer, &m);
		} else {
			char t[80];
			snprintf(t, sizeof t, ": berthd answered %d, expected 101 Switching Protocols", h.status);
			buf_str(&m, "POST ");
			buf_str(&m, route.p);
			buf_str(&m, t);
		}
		die(m.p, m.len, start_status(m.p));
	}
	char *exec_id = wire_header(&h, "x-berth-exec-id");
	if (!exec_id || !*exec_id)
		dies("exec: berthd's answer named no exec (x-berth-exec-id missing)", 1);

	/* The frames: the bytes after the head first, then the connection, until the exit frame. */
	static char in[1 << 18];
	size_t have = h.raw.len - h.rest_off;
	memcpy(in, h.raw.p + h.rest_off, have);
	unsigned char hdr[5];
	size_t hdr_len = 0, left = 0;
	int type = 0;
	struct buf exit_json = {0};
	for (;;) {
		for (size_t off = 0; off < have;) {
			if (hdr_len < 5) {
				hdr[hdr_len++] = (unsigned char)in[off++];
				if (hdr_len == 5) {
					type = hdr[0];
					left = (size_t)hdr[1] | (size_t)hdr[2] << 8 | (size_t)hdr[3] << 16 | (size_t)hdr[4] << 24;
				}
			} else {
				size_t n = have - off < left ? have - off : left;
				if (type == FRAME_STDOUT || type == FRAME_STDERR)
					out_write(type == FRAME_STDOUT ? 1 : 2, in + off, n);
				else if (type == FRAME_EXIT)
					buf_add(&exit_json, in + off, n);
				off += n;
				left -= n;
			}
			if (hdr_len == 5 && left == 0) {
				if (type == FRAME_EXIT) {
					/* Every output frame came before this one: done, not once the shim closes. */
					long code;
					close(fd);
					if (exit_json.len && !json_int(exit_json.p, exit_json.len, "exitCode", &code))
						return (int)code;
					return exec_wait(r->socket, exec_id);
				}
				hdr_len = 0;
			}
		}
		ssize_t n = read(fd, in, sizeof in);
		if (n < 0 && errno == EINTR) {
			have = 0;
			continue;
		}
		if (n <= 0)
			break;
		have = (size_t)n;
	}
	close(fd);
	return exec_wait(r->socket, exec_id);
}
