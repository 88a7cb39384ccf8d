/* What berth-runtime's front (native/front) and berth's front (native/cli) share: a byte buffer,
 * JSON string escaping, the command line's flags in the dialect both Node parsers read, and the
 * standard descriptors at start. Mechanism only. */
#pragma once
#include <stddef.h>

/* The program's name for its last words ("<prog_name>: out of memory"): each front defines it. */
extern const char prog_name[];

/* A growable byte buffer, always NUL-terminated; an allocation failure ends the process (exit 1). */
struct buf {
	char *p;
	size_t len, cap;
};
/* Room for n more bytes and the NUL. */
void buf_grow(struct buf *b, size_t n);
void buf_add(struct buf *b, const char *s, size_t n);
void buf_str(struct buf *b, const char *s);
void buf_fmt(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* s as a JSON string, escaped as JSON.stringify escapes it (s valid UTF-8: bytes ≥ 0x80 go as they are). */
void buf_json(struct buf *b, const char *s);

/* One command-line flag as src/cli/runtime/args.ts reads it: one or two dashes, a name up to '=',
 * a value after it (or, for the caller to take, in the next argument). */
struct flag {
	const char *name; /* without dashes, up to '=' */
	size_t len;
	const char *value; /* after '=', or NULL */
};
struct flag split_flag(const char *a);
int flag_is(const struct flag *f, const char *name);

/* A caller may start a front with stdin, stdout or stderr closed: the first file or socket it
 * opens must not become one of them. /dev/null goes there, as Node does at start-up. */
void std_fds_open(void);

/* Executes the program called name in this binary's own directory (found through /proc/self/exe)
 * with argv: the Node part of a front. Returns only when it cannot, with errno set: the path it
 * tried, or NULL when /proc/self/exe could not be read. */
const char *exec_beside(const char *name, char *const argv[]);
