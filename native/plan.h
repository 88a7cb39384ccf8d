/* plan.h — the decoded plan (docs/plan-protocol.md, "Plan encoding" and "Ops").
 *
 * plan_decode() validates the whole plan and builds the op table before anything runs; after
 * that, the executor only reads it. Strings point into the plan buffer (each is followed by its
 * 0 byte on the wire); lists and binary values are copied, aligned, into an arena. Both are
 * mmap'd by the caller before clone, so the child reads them without allocating. */
#ifndef BERTH_PLAN_H
#define BERTH_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "msg.h"

#define PLAN_VERSION 1
#define PLAN_MAX (16u << 20) /* a frame, and so a plan, is at most 16 MiB */
#define OP_MAX_VALUES 6

/* Op codes: 0x01xx stage0 before clone, 0x02xx stage0 after clone, 0x03xx the child. */
enum {
	OP_MODE = 0x0101, OP_JOIN_NS, OP_MKFIFO, OP_WRITE_FILE, OP_CLONE, OP_UNSHARE, OP_CGROUP_INTO,
	OP_SETGROUPS = 0x0201, OP_UID_MAP, OP_GID_MAP, OP_PRLIMIT, OP_OOM_SCORE_ADJ,
	OP_SETSID = 0x0301, OP_SETRESID, OP_ROOTFS, OP_MOUNT, OP_MKDIR, OP_MKNOD, OP_SYMLINK,
	OP_HOOK_SYNC, OP_RUN_HOOK, OP_OPEN_FIFO, OP_PIVOT_ROOT, OP_CHROOT, OP_MASK_PATH,
	OP_READONLY_PATH, OP_HOSTNAME, OP_DOMAINNAME, OP_SYSCTL, OP_CONSOLE, OP_UMASK,
	OP_CAP_BOUNDING, OP_USER, OP_CAPS, OP_NO_NEW_PRIVS, OP_CHDIR, OP_CLOSE_FDS, OP_READY,
	OP_WAIT_FIFO, OP_SECCOMP, OP_EXEC, OP_SETRLIMIT, OP_PERSONALITY, OP_RESOLVE_EXEC, OP_MOUNT_SETATTR, OP_OPEN_PATH,
};

/* MOUNT `how` bits. */
enum {
	HOW_IN_ROOT = 0x1, HOW_MKDIR = 0x2, HOW_MKFILE = 0x4, HOW_VIA_FD = 0x8, HOW_SOURCE_IN_ROOT = 0x10,
	HOW_NO_SYMLINK = 0x20,
};

/* Value tags on the wire. */
enum { TAG_INT = 1, TAG_STR = 2, TAG_BYTES = 3, TAG_STRS = 4, TAG_INTS = 5 };

struct value {
	int64_t i;              /* int */
	const char *s;          /* str (NUL-terminated, no NUL inside) */
	uint32_t n;             /* str and bytes: length; strs and ints: count */
	char *const *strs;      /* strs: NULL-terminated, ready for execve */
	const int64_t *ints;    /* ints */
	const void *bytes;      /* bytes: 8-byte aligned copy */
};

struct opdef {
	uint16_t code;
	const char *name;
	const char *sig;                      /* one letter per value: i str s, b bytes, S strs, I ints */
	const char *names[OP_MAX_VALUES];     /* value names, for error messages */
};

struct op {
	const struct opdef *def;
	struct value v[OP_MAX_VALUES];
};

struct plan {
	struct op *ops;
	uint32_t count;
	uint32_t clone_at;   /* index of the CLONE op */
	uint32_t child_at;   /* index of the first child op (count if none) */
	int mode;            /* 0 create, 1 foreground */
	int64_t clone_flags;
};

/* How much arena plan_decode may need for a plan of `len` bytes (the caller mmaps it). */
size_t plan_arena_size(size_t len);

/* Decodes and validates `buf`. On failure returns -1 with the reason in `err`. */
int plan_decode(struct plan *p, const uint8_t *buf, size_t len, void *arena, size_t arena_len,
		struct msg *err);

const struct opdef *plan_opdef(uint16_t code);

#endif
