/* The fronts' shared mechanism (common.h). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"

void buf_grow(struct buf *b, size_t n)
{
	if (b->len + n + 1 <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < b->len + n + 1)
		cap *= 2;
	char *p = realloc(b->p, cap);
	if (!p) {
		dprintf(2, "%s: out of memory\n", prog_name);
		_exit(1);
	}
	b->p = p;
	b->cap = cap;
}

void buf_add(struct buf *b, const char *s, size_t n)
{
	buf_grow(b, n);
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = 0;
}

void buf_str(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

void buf_fmt(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	buf_grow(b, (size_t)n);
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void buf_json(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	buf_add(b, "\"", 1);
	for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
		char e[7] = {'\\', 0};
		switch (*c) {
		case '"': e[1] = '"'; break;
		case '\\': e[1] = '\\'; break;
		case '\b': e[1] = 'b'; break;
		case '\f': e[1] = 'f'; break;
		case '\n': e[1] = 'n'; break;
		case '\r': e[1] = 'r'; break;
		case '\t': e[1] = 't'; break;
		default:
			if (*c < 0x20) {
				memcpy(e + 1, "u00", 3);
				e[4] = hex[*c >> 4];
				e[5] = hex[*c & 15];
				buf_add(b, e, 6);
			} else
				buf_add(b, (const char *)c, 1);
			continue;
		}
		buf_add(b, e, 2);
	}
	buf_add(b, "\"", 1);
}

struct flag split_flag(const char *a)
{
	const char *body = a + 1 + (a[1] == '-');
	const char *eq = strchr(body, '=');
	return (struct flag){body, eq ? (size_t)(eq - body) : strlen(body), eq ? eq + 1 : NULL};
}

int flag_is(const struct flag *f, const char *name)
{
	return strlen(name) == f->len && !strncmp(f->name, name, f->len);
}

void std_fds_open(void)
{
	for (int fd = 0; fd < 3; fd++)
		if (fcntl(fd, F_GETFD) < 0 && errno == EBADF && open("/dev/null", fd ? O_WRONLY : O_RDONLY) != fd)
			_exit(1);
}

const char *exec_beside(const char *name, char *const argv[])
{
	static char self[PATH_MAX];
	size_t nl = strlen(name);
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - nl - 1);
	if (n < 0)
		return NULL;
	self[n] = 0;
	char *slash = strrchr(self, '/');
	memcpy(slash ? slash + 1 : self, name, nl + 1);
	execv(self, argv);
	return self;
}
