/* The front's wire: encodeURIComponent, berthd's unix socket, the head of one HTTP/1.1 response, the
 * few JSON values it reads (an error's message, an exit code), and blocking writes to stdout and
 * stderr. No policy. */
#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli.h"

void buf_uri(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (isalnum(c) || strchr("-_.!~*'()", c))
			buf_add(b, (const char *)&c, 1);
		else {
			char e[3] = {'%', hex[c >> 4], hex[c & 15]};
			buf_add(b, e, 3);
		}
	}
}

void buf_form(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (isalnum(c) || strchr("*-._", c))
			buf_add(b, (const char *)&c, 1);
		else if (c == ' ')
			buf_add(b, "+", 1);
		else {
			char e[3] = {'%', hex[c >> 4], hex[c & 15]};
			buf_add(b, e, 3);
		}
	}
}

int wire_connect(const char *path)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	size_t n = strlen(path);
	if (n >= sizeof a.sun_path) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(a.sun_path, path, n);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	int r;
	do
		r = connect(fd, (struct sockaddr *)&a, sizeof a);
	while (r < 0 && errno == EINTR);
	if (r < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

int wire_send(int fd, const char *s, size_t n)
{
	while (n) {
		ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

int wire_head(int fd, struct head *h)
{
	for (;;) {
		char *end = h->raw.len ? memmem(h->raw.p, h->raw.len, "\r\n\r\n", 4) : NULL;
		if (end) {
			h->rest_off = (size_t)(end - h->raw.p) + 4;
			/* A NUL inside the head would end the header lookups' strstr early: no HTTP head holds one
			 * (the frames after it do). */
			if (memchr(h->raw.p, 0, h->rest_off))
				return -1;
			/* "HTTP/1.1 101 Switching Protocols" */
			if (strncmp(h->raw.p, "HTTP/1.", 7) || h->raw.len < 12 || !isdigit((unsigned char)h->raw.p[9]))
				return -1;
			h->status = atoi(h->raw.p + 9);
			return 0;
		}
		if (h->raw.len > (1 << 20))
			return -1;
		buf_grow(&h->raw, 65536);
		ssize_t r = read(fd, h->raw.p + h->raw.len, h->raw.cap - h->raw.len - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		h->raw.len += (size_t)r;
		h->raw.p[h->raw.len] = 0;
	}
}

char *wire_header(const struct head *h, const char *name)
{
	size_t nl = strlen(name);
	const char *p = strstr(h->raw.p, "\r\n");
	const char *end = h->raw.p + h->rest_off - 2;
	while (p && p < end) {
		p += 2;
		const char *eol = strstr(p, "\r\n");
		if (!eol)
			break;
		if ((size_t)(eol - p) > nl && p[nl] == ':' && !strncasecmp(p, name, nl)) {
			const char *v = p + nl + 1;
			while (v < eol && (*v == ' ' || *v == '\t'))
				v++;
			const char *ve = eol;
			while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
				ve--;
			return strndup(v, (size_t)(ve - v));
		}
		p = eol;
	}
	return NULL;
}

static void put_utf8(struct buf *out, uint32_t cp)
{
	char u[4];
	size_t n;
	if (cp < 0x80)
		u[0] = (char)cp, n = 1;
	else if (cp < 0x800)
		u[0] = (char)(0xc0 | cp >> 6), u[1] = (char)(0x80 | (cp & 0x3f)), n = 2;
	else if (cp < 0x10000)
		u[0] = (char)(0xe0 | cp >> 12), u[1] = (char)(0x80 | ((cp >> 6) & 0x3f)), u[2] = (char)(0x80 | (cp & 0x3f)), n = 3;
	else
		u[0] = (char)(0xf0 | cp >> 18), u[1] = (char)(0x80 | ((cp >> 12) & 0x3f)),
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3f)), u[3] = (char)(0x80 | (cp & 0x3f)), n = 4;
	buf_add(out, u, n);
}

static int hex4(const char *s, const char *end, uint32_t *v)
{
	if (end - s < 4)
		return -1;
	*v = 0;
	for (int k = 0; k < 4; k++) {
		int c = (unsigned char)s[k], d = isdigit(c) ? c - '0' : isxdigit(c) ? (tolower(c) - 'a' + 10) : -1;
		if (d < 0)
			return -1;
		*v = *v << 4 | (uint32_t)d;
	}
	return 0;
}

const char *json_string(const char *s, const char *end, struct buf *out)
{
	if (s >= end || *s != '"')
		return NULL;
	for (s++; s < end;) {
		unsigned char c = (unsigned char)*s;
		if (c == '"')
			return s + 1;
		if (c < 0x20)
			return NULL;
		if (c != '\\') {
			buf_add(out, s++, 1);
			continue;
		}
		if (++s >= end)
			return NULL;
		char e = *s++;
		const char *plain = strchr("\"\\/bfnrt", e);
		if (e && plain) {
			static const char to[] = "\"\\/\b\f\n\r\t";
			buf_add(out, &to[plain - "\"\\/bfnrt"], 1);
			continue;
		}
		uint32_t cp, lo;
		if (e != 'u' || hex4(s, end, &cp))
			return NULL;
		s += 4;
		if (cp >= 0xd800 && cp <= 0xdbff && end - s >= 6 && s[0] == '\\' && s[1] == 'u' && !hex4(s + 2, end, &lo) &&
		    lo >= 0xdc00 && lo <= 0xdfff) {
			cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			s += 6;
		} else if (cp >= 0xd800 && cp <= 0xdfff)
			cp = 0xfffd; /* a lone surrogate, as Node writes one */
		put_utf8(out, cp);
	}
	return NULL;
}

int json_int(const char *s, size_t n, const char *key, long *out)
{
	size_t kl = strlen(key);
	for (const char *p = s; (p = memmem(p, n - (size_t)(p - s), key, kl)); p += kl) {
		if (p == s || p[-1] != '"' || (size_t)(p - s) + kl >= n || p[kl] != '"')
			continue;
		const char *v = p + kl + 1, *end = s + n;
		while (v < end && (*v == ' ' || *v == ':'))
			v++;
		if (v == p + kl + 1 || v >= end)
			return -1;
		const char *d = v + (*v == '-');
		if (d >= end || !isdigit((unsigned char)*d))
			return -1;
		long x = 0;
		for (; d < end && isdigit((unsigned char)*d); d++)
			if ((x = x * 10 + (*d - '0')) > 1000000000L)
				return -1;
		if (d < end && (*d == '.' || *d == 'e' || *d == 'E'))
			return -1;
		*out = *v == '-' ? -x : x;
		return 0;
	}
	return -1;
}

void out_write(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN) {
			struct pollfd q = {.fd = fd, .events = POLLOUT};
			poll(&q, 1, -1);
			continue;
		}
		if (w < 0 && errno == EPIPE)
			_exit(141);
		if (w < 0)
			return; /* as Node's stream would end on another write error: the output is lost */
		p += w;
		n -= (size_t)w;
	}
}
