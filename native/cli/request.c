/* One request to berthd as src/client/client.ts and http1.ts make it (each on its own connection),
 * the shim's frames after an upgrade, and the CLI's last words (main.ts): `berth: <message>` with
 * each whitespace run that holds a line break folded into one space. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

enum { FRAME_STDOUT = 1, FRAME_STDERR = 2, FRAME_EXIT = 5, FRAME_DETACHED = 9 };

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

_Noreturn void die(const struct buf *msg, int status)
{
	struct buf b = {0};
	buf_str(&b, "berth: ");
	const unsigned char *p = (const unsigned char *)msg->p, *end = p + msg->len;
	int keep = msg->len && (!strncmp(msg->p, "unknown flag: ", 14) || !strncmp(msg->p, "unknown shorthand flag: ", 24));
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

int failure_status(const char *msg, int other)
{
	if (strcasestr(msg, "executable file not found") || strcasestr(msg, "no such file or directory"))
		return 127;
	if (strcasestr(msg, "permission denied") || strcasestr(msg, "is a directory"))
		return 126;
	return other;
}

/* The body of a plain answer: content-length bytes (or up to the end of the connection when it has
 * none); -1 when the connection ended before them. */
static int read_body(int fd, struct answer *a)
{
	struct head *h = &a->head;
	buf_add(&a->body, h->raw.p + h->rest_off, h->raw.len - h->rest_off);
	char *cl = wire_header(h, "content-length");
	long want = cl ? atol(cl) : -1;
	free(cl);
	char chunk[65536];
	while (want < 0 || (long)a->body.len < want) {
		ssize_t r = read(fd, chunk, sizeof chunk);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			return want < 0 ? 0 : -1;
		buf_add(&a->body, chunk, (size_t)r);
	}
	if ((long)a->body.len > want)
		a->body.len = (size_t)want, a->body.p[want] = 0;
	return 0;
}

int req_send(int fd, const char *socket, const char *method, const char *path, const struct buf *body, int upgrade,
	     struct buf *err)
{
	if (fd < 0)
		fd = wire_connect(socket);
	if (fd < 0) {
		int e = errno;
		if (e == ENOENT || e == ECONNREFUSED)
			buf_fmt(err, "cannot reach berthd at %s (%s): is it running? (start it with berthd, or set BERTH_HOST)",
				socket, e == ENOENT ? "ENOENT" : "ECONNREFUSED");
		else
			buf_fmt(err, "connect %s %s", strerror(e), socket);
		return -1;
	}
	struct buf req = {0};
	buf_fmt(&req, "%s %s HTTP/1.1\r\nhost: berthd\r\n", method, path);
	if (body)
		buf_str(&req, "Content-Type: application/json\r\n");
	if (upgrade)
		buf_str(&req, "Connection: Upgrade\r\nUpgrade: berth-attach\r\n");
	buf_fmt(&req, "content-length: %zu\r\n\r\n", body ? body->len : 0);
	if (body)
		buf_add(&req, body->p, body->len);
	int r = wire_send(fd, req.p, req.len);
	free(req.p);
	if (r) {
		buf_fmt(err, "berthd closed the connection before its answer (%s %s)", method, path);
		close(fd);
		return -1;
	}
	return fd;
}

int req_read(int fd, const char *method, const char *path, struct answer *a, struct buf *err)
{
	if (wire_head(fd, &a->head)) {
		buf_fmt(err, "berthd closed the connection before its answer (%s %s)", method, path);
		return -1;
	}
	if (a->head.status == 101)
		return 0;
	if (read_body(fd, a)) {
		buf_fmt(err, "berthd closed the connection in the middle of its answer (%s %s)", method, path);
		return -1;
	}
	return 0;
}

void answer_error(const struct answer *a, struct buf *msg)
{
	static const char pre[] = "{\"message\":";
	const struct buf *body = &a->body;
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
	if (!msg->len)
		buf_fmt(msg, "HTTP %d", a->head.status);
}

int answer_not_found(const struct answer *a)
{
	char *code = wire_header(&a->head, "x-berth-error");
	int known = code && !strncmp(code, "BERTH_ERR_", 10);
	int nf = known ? !strcmp(code, "BERTH_ERR_NOT_FOUND") : a->head.status == 404;
	free(code);
	return nf;
}

int exit_code_of(const struct buf *json, long *code)
{
	return json->len && !json_int(json->p, json->len, "exitCode", code) ? 0 : -1;
}

int stream_frames(int fd, const struct head *h, long *code)
{
	static char in[1 << 18];
	size_t have = h->raw.len - h->rest_off;
	memcpy(in, h->raw.p + h->rest_off, have);
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
					close(fd);
					return exit_code_of(&exit_json, code) ? 0 : 1;
				}
				if (type == FRAME_DETACHED) {
					/* berthd saw detach keys (it watches only a terminal's stdin, which the front never sends) */
					close(fd);
					return 2;
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
	return 0;
}
