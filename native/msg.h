/* msg.h — building error and log text without malloc or stdio.
 *
 * Everything after clone must be async-signal-safe, so messages are appended into a fixed
 * buffer with these helpers; overflow truncates (an error message is never worth a crash). */
#ifndef BERTH_MSG_H
#define BERTH_MSG_H

#include <stddef.h>
#include <stdint.h>

#define MSG_MAX 4096

struct msg {
	char buf[MSG_MAX];
	size_t len;
};

void msg_reset(struct msg *m);
void msg_str(struct msg *m, const char *s);
void msg_int(struct msg *m, int64_t v);
void msg_hex(struct msg *m, uint64_t v);
/* The C-locale description of an errno, e.g. "Operation not permitted". */
const char *errno_text(int err);
/* NUL-terminated view of the buffer. */
const char *msg_cstr(struct msg *m);

#endif
