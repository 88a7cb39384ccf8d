/* msg.c — see msg.h. No libc call here may allocate or take a lock. */
#include "msg.h"

#include <string.h>

void msg_reset(struct msg *m) { m->len = 0; m->buf[0] = 0; }

void msg_str(struct msg *m, const char *s)
{
	while (*s && m->len < MSG_MAX - 1)
		m->buf[m->len++] = *s++;
	m->buf[m->len] = 0;
}

void msg_int(struct msg *m, int64_t v)
{
	char tmp[24];
	int i = 0;
	uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
	do {
		tmp[i++] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		tmp[i++] = '-';
	char out[24];
	for (int j = 0; j < i; j++)
		out[j] = tmp[i - 1 - j];
	out[i] = 0;
	msg_str(m, out);
}

void msg_hex(struct msg *m, uint64_t v)
{
	char out[20] = "0x";
	int n = 0;
	uint64_t t = v;
	do {
		n++;
		t >>= 4;
	} while (t);
	for (int i = 0; i < n; i++)
		out[2 + i] = "0123456789abcdef"[(v >> (4 * (n - 1 - i))) & 0xf];
	out[2 + n] = 0;
	msg_str(m, out);
}

const char *errno_text(int err)
{
	/* strerrordesc_np reads glibc's static table: no locale, no allocation (unlike strerror). */
	const char *s = strerrordesc_np(err);
	return s ? s : "Unknown error";
}

const char *msg_cstr(struct msg *m) { m->buf[m->len] = 0; return m->buf; }
