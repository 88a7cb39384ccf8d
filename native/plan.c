/* plan.c — decoding and validating a plan (docs/plan-protocol.md).
 *
 * Runs in stage0 before anything else happens, so it may be thorough: every op code, value tag,
 * length, the grouping pre-clone* CLONE parent* child*, and the few values whose range the
 * executor relies on. A rejected plan has done nothing. Never changes the system. */
#include "plan.h"

#include <sched.h>
#include <string.h>
#include <sys/stat.h>

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#define CLONE_NEW_ALL (CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | \
		       CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWTIME)

static const struct opdef defs[] = {
	{OP_MODE, "MODE", "i", {"mode"}},
	{OP_JOIN_NS, "JOIN_NS", "is", {"nstype", "path"}},
	{OP_MKFIFO, "MKFIFO", "si", {"path", "mode"}},
	{OP_WRITE_FILE, "WRITE_FILE", "ss", {"path", "content"}},
	{OP_CLONE, "CLONE", "i", {"flags"}},
	{OP_UNSHARE, "UNSHARE", "i", {"flags"}},
	{OP_CGROUP_INTO, "CGROUP_INTO", "s", {"path"}},
	{OP_SETGROUPS, "SETGROUPS", "s", {"value"}},
	{OP_UID_MAP, "UID_MAP", "s", {"map"}},
	{OP_GID_MAP, "GID_MAP", "s", {"map"}},
	{OP_PRLIMIT, "PRLIMIT", "iii", {"resource", "soft", "hard"}},
	{OP_OOM_SCORE_ADJ, "OOM_SCORE_ADJ", "i", {"value"}},
	{OP_SETSID, "SETSID", "", {0}},
	{OP_SETRESID, "SETRESID", "ii", {"uid", "gid"}},
	{OP_ROOTFS, "ROOTFS", "s", {"path"}},
	{OP_MOUNT, "MOUNT", "sssisi", {"source", "target", "fstype", "flags", "data", "how"}},
	{OP_MKDIR, "MKDIR", "si", {"path", "mode"}},
	{OP_MKNOD, "MKNOD", "siiiii", {"path", "mode", "major", "minor", "uid", "gid"}},
	{OP_SYMLINK, "SYMLINK", "ss", {"target", "linkpath"}},
	{OP_HOOK_SYNC, "HOOK_SYNC", "", {0}},
	{OP_RUN_HOOK, "RUN_HOOK", "sSSi", {"path", "args", "env", "timeout_seconds"}},
	{OP_OPEN_FIFO, "OPEN_FIFO", "s", {"path"}},
	{OP_PIVOT_ROOT, "PIVOT_ROOT", "", {0}},
	{OP_CHROOT, "CHROOT", "i", {"move"}},
	{OP_MASK_PATH, "MASK_PATH", "s", {"path"}},
	{OP_READONLY_PATH, "READONLY_PATH", "s", {"path"}},
	{OP_HOSTNAME, "HOSTNAME", "s", {"name"}},
	{OP_DOMAINNAME, "DOMAINNAME", "s", {"name"}},
	{OP_SYSCTL, "SYSCTL", "ss", {"path", "value"}},
	{OP_CONSOLE, "CONSOLE", "iii", {"socket_fd", "rows", "cols"}},
	{OP_UMASK, "UMASK", "i", {"mask"}},
	{OP_CAP_BOUNDING, "CAP_BOUNDING", "i", {"mask"}},
	{OP_USER, "USER", "iiIi", {"uid", "gid", "gids", "set_groups"}},
	{OP_CAPS, "CAPS", "iiii", {"effective", "permitted", "inheritable", "ambient"}},
	{OP_NO_NEW_PRIVS, "NO_NEW_PRIVS", "", {0}},
	{OP_CHDIR, "CHDIR", "si", {"path", "verify"}},
	{OP_CLOSE_FDS, "CLOSE_FDS", "i", {"first"}},
	{OP_READY, "READY", "", {0}},
	{OP_WAIT_FIFO, "WAIT_FIFO", "", {0}},
	{OP_SECCOMP, "SECCOMP", "ib", {"flags", "program"}},
	{OP_EXEC, "EXEC", "sSS", {"path", "args", "env"}},
	{OP_SETRLIMIT, "SETRLIMIT", "iii", {"resource", "soft", "hard"}},
	{OP_PERSONALITY, "PERSONALITY", "i", {"domain"}},
	{OP_RESOLVE_EXEC, "RESOLVE_EXEC", "", {0}},
	{OP_MOUNT_SETATTR, "MOUNT_SETATTR", "sii", {"path", "attr_set", "attr_clr"}},
	{OP_OPEN_PATH, "OPEN_PATH", "si", {"path", "fd"}},
};

const struct opdef *plan_opdef(uint16_t code)
{
	for (size_t i = 0; i < sizeof defs / sizeof defs[0]; i++)
		if (defs[i].code == code)
			return &defs[i];
	return NULL;
}

static const char *tag_name(int tag)
{
	switch (tag) {
	case TAG_INT: return "int";
	case TAG_STR: return "str";
	case TAG_BYTES: return "bytes";
	case TAG_STRS: return "strs";
	case TAG_INTS: return "ints";
	}
	return "unknown";
}

static int sig_tag(char c)
{
	switch (c) {
	case 'i': return TAG_INT;
	case 's': return TAG_STR;
	case 'b': return TAG_BYTES;
	case 'S': return TAG_STRS;
	case 'I': return TAG_INTS;
	}
	return 0;
}

/* A bounds-checked little-endian reader over one region of the plan. */
struct rd {
	const uint8_t *p, *end;
};

static int rd_u32(struct rd *r, uint32_t *v)
{
	if (r->end - r->p < 4)
		return -1;
	*v = (uint32_t)r->p[0] | (uint32_t)r->p[1] << 8 | (uint32_t)r->p[2] << 16 | (uint32_t)r->p[3] << 24;
	r->p += 4;
	return 0;
}

static int rd_u16(struct rd *r, uint16_t *v)
{
	if (r->end - r->p < 2)
		return -1;
	*v = (uint16_t)(r->p[0] | r->p[1] << 8);
	r->p += 2;
	return 0;
}

static int rd_i64(struct rd *r, int64_t *v)
{
	if (r->end - r->p < 8)
		return -1;
	uint64_t u = 0;
	for (int i = 7; i >= 0; i--)
		u = u << 8 | r->p[i];
	memcpy(v, &u, 8);
	r->p += 8;
	return 0;
}

/* A str: u32 n, n bytes without 0, then a 0. Returns a pointer into the plan, or NULL. */
static const char *rd_str(struct rd *r, uint32_t *n, const char **why)
{
	if (rd_u32(r, n) < 0) {
		*why = "truncated string length";
		return NULL;
	}
	if ((size_t)(r->end - r->p) < (size_t)*n + 1) {
		*why = "string runs past the end of the op";
		return NULL;
	}
	const char *s = (const char *)r->p;
	if (memchr(s, 0, *n)) {
		*why = "string contains a 0 byte";
		return NULL;
	}
	if (s[*n] != 0) {
		*why = "string is not followed by its 0 byte";
		return NULL;
	}
	r->p += *n + 1;
	return s;
}

/* Arena: a bump allocator over memory the caller mapped. */
struct arena {
	uint8_t *p;
	size_t used, len;
};

static void *arena_take(struct arena *a, size_t n)
{
	size_t at = (a->used + 7) & ~(size_t)7;
	if (at > a->len || a->len - at < n)
		return NULL;
	a->used = at + n;
	return a->p + at;
}

size_t plan_arena_size(size_t len)
{
	/* Each op takes >= 8 bytes on the wire; each strs entry >= 5 bytes becomes an 8-byte pointer
	 * (plus a NULL per list, itself >= 5 bytes on the wire); ints and bytes are copied. */
	return (len / 8 + 1) * sizeof(struct op) + len * 4 + 4096;
}

/* Error helpers: "plan: op 3 (MOUNT): value 6 (how): ..." */
static void where(struct msg *e, uint32_t i, const struct opdef *d, int vi)
{
	msg_reset(e);
	msg_str(e, "plan: op ");
	msg_int(e, i);
	if (d) {
		msg_str(e, " (");
		msg_str(e, d->name);
		msg_str(e, ")");
	}
	if (vi >= 0) {
		msg_str(e, ": value ");
		msg_int(e, vi);
		if (d && d->names[vi]) {
			msg_str(e, " (");
			msg_str(e, d->names[vi]);
			msg_str(e, ")");
		}
	}
	msg_str(e, ": ");
}

static int decode_value(struct rd *r, struct value *v, int tag, struct arena *a, const char **why)
{
	uint32_t n;
	switch (tag) {
	case TAG_INT:
		if (rd_i64(r, &v->i) < 0)
			return *why = "truncated int", -1;
		return 0;
	case TAG_STR:
		v->s = rd_str(r, &v->n, why);
		return v->s ? 0 : -1;
	case TAG_BYTES: {
		if (rd_u32(r, &n) < 0)
			return *why = "truncated bytes length", -1;
		if ((size_t)(r->end - r->p) < n)
			return *why = "bytes run past the end of the op", -1;
		void *copy = arena_take(a, n ? n : 1);
		if (!copy)
			return *why = "arena exhausted", -1;
		memcpy(copy, r->p, n);
		r->p += n;
		v->bytes = copy;
		v->n = n;
		return 0;
	}
	case TAG_STRS: {
		if (rd_u32(r, &n) < 0)
			return *why = "truncated list length", -1;
		if ((size_t)(r->end - r->p) / 5 < n)
			return *why = "list longer than the op", -1;
		char **list = arena_take(a, ((size_t)n + 1) * sizeof(char *));
		if (!list)
			return *why = "arena exhausted", -1;
		for (uint32_t k = 0; k < n; k++) {
			uint32_t sn;
			const char *s = rd_str(r, &sn, why);
			if (!s)
				return -1;
			list[k] = (char *)s;
		}
		list[n] = NULL;
		v->strs = list;
		v->n = n;
		return 0;
	}
	case TAG_INTS: {
		if (rd_u32(r, &n) < 0)
			return *why = "truncated list length", -1;
		if ((size_t)(r->end - r->p) / 8 < n)
			return *why = "list longer than the op", -1;
		int64_t *list = arena_take(a, ((size_t)n + 1) * 8);
		if (!list)
			return *why = "arena exhausted", -1;
		for (uint32_t k = 0; k < n; k++)
			rd_i64(r, &list[k]);
		v->ints = list;
		v->n = n;
		return 0;
	}
	}
	return *why = "unknown tag", -1;
}

/* Range checks the executor relies on. Returns the index of the bad value with `why`, or -1. */
static int check_values(const struct op *o, const char **why)
{
	const struct value *v = o->v;
	switch (o->def->code) {
	case OP_MODE:
		if (v[0].i != 0 && v[0].i != 1)
			return *why = "expected 0 (create) or 1 (foreground)", 0;
		break;
	case OP_JOIN_NS:
		if ((v[0].i & ~(int64_t)CLONE_NEW_ALL) || v[0].i == 0 || (v[0].i & (v[0].i - 1)))
			return *why = "expected exactly one CLONE_NEW* flag", 0;
		break;
	case OP_CLONE:
		if (v[0].i & ~(int64_t)CLONE_NEW_ALL)
			return *why = "only CLONE_NEW* flags are allowed", 0;
		/* clone(2) reads its low byte as the exit signal: a time namespace comes from UNSHARE. */
		if (v[0].i & CLONE_NEWTIME)
			return *why = "CLONE_NEWTIME (0x80) cannot be given to clone: UNSHARE it before CLONE", 0;
		break;
	case OP_UNSHARE:
		if ((v[0].i & ~(int64_t)CLONE_NEW_ALL) || v[0].i == 0)
			return *why = "expected CLONE_NEW* flags (at least one)", 0;
		break;
	case OP_SETGROUPS:
		if (strcmp(v[0].s, "allow") && strcmp(v[0].s, "deny"))
			return *why = "expected \"allow\" or \"deny\"", 0;
		break;
	case OP_PRLIMIT:
	case OP_SETRLIMIT:
		if (v[0].i < 0 || v[0].i >= 16)
			return *why = "expected an RLIMIT_* number (0-15)", 0;
		if (v[1].i < -1)
			return *why = "expected >= 0, or -1 for infinity", 1;
		if (v[2].i < -1)
			return *why = "expected >= 0, or -1 for infinity", 2;
		break;
	case OP_SETRESID:
	case OP_USER:
		for (int k = 0; k < 2; k++)
			if (v[k].i < 0 || v[k].i > 0xfffffffe)
				return *why = "expected an id in 0..4294967294", k;
		if (o->def->code == OP_USER) {
			if (v[2].n > 65536)
				return *why = "more than 65536 groups", 2;
			for (uint32_t k = 0; k < v[2].n; k++)
				if (v[2].ints[k] < 0 || v[2].ints[k] > 0xfffffffe)
					return *why = "expected ids in 0..4294967294", 2;
			if (v[3].i != 0 && v[3].i != 1)
				return *why = "expected 0 or 1", 3;
		}
		break;
	case OP_MOUNT: {
		int64_t how = v[5].i;
		if (how & ~(int64_t)0x3f)
			return *why = "unknown bits (known: 0x3f)", 5;
		if ((how & HOW_NO_SYMLINK) && !(how & HOW_IN_ROOT))
			return *why = "0x20 (no symlink) needs 0x1 (in-root)", 5;
		if ((how & HOW_MKDIR) && (how & HOW_MKFILE))
			return *why = "0x2 (mkdir) and 0x4 (mkfile) exclude each other", 5;
		if ((how & (HOW_MKDIR | HOW_MKFILE | HOW_VIA_FD)) && !(how & HOW_IN_ROOT))
			return *why = "0x2, 0x4 and 0x8 need 0x1 (in-root)", 5;
		if ((how & HOW_IN_ROOT) && !(how & HOW_VIA_FD))
			return *why = "0x1 (in-root) needs 0x8 (mount via the resolved fd)", 5;
		if ((how & HOW_SOURCE_IN_ROOT) && !v[0].s[0])
			return *why = "0x10 (source in-root) with an empty source", 5;
		if (v[3].i < 0 || v[3].i > 0xffffffff)
			return *why = "expected mount flags (32 bits)", 3;
		break;
	}
	case OP_OPEN_PATH:
		if (v[1].i < 256 || v[1].i > 1023)
			return *why = "expected an fd number in 256..1023", 1;
		break;
	case OP_MOUNT_SETATTR:
		/* MOUNT_ATTR_RDONLY|NOSUID|NODEV|NOEXEC|_ATIME|NODIRATIME|NOSYMFOLLOW: no IDMAP (it needs a userns fd). */
		for (int k = 1; k < 3; k++)
			if (v[k].i & ~(int64_t)0x2000ff)
				return *why = "unknown mount attributes (known: 0x2000ff)", k;
		if (!v[1].i && !v[2].i)
			return *why = "no attribute to set or clear", 1;
		break;
	case OP_MKNOD: {
		int64_t t = v[1].i & ~(int64_t)07777;
		if (t != S_IFCHR && t != S_IFBLK && t != S_IFIFO && t != S_IFREG && t != S_IFSOCK)
			return *why = "expected S_IFCHR, S_IFBLK, S_IFIFO, S_IFREG or S_IFSOCK with permission bits", 1;
		for (int k = 2; k < 4; k++)
			if (v[k].i < 0 || v[k].i > 0xfffff)
				return *why = "expected a device number", k;
		for (int k = 4; k < 6; k++)
			if (v[k].i < 0 || v[k].i > 0xfffffffe)
				return *why = "expected an id in 0..4294967294", k;
		break;
	}
	case OP_MKDIR:
	case OP_MKFIFO:
		if (v[1].i < 0 || v[1].i > 07777)
			return *why = "expected permission bits (0..07777)", 1;
		break;
	case OP_UMASK:
		if (v[0].i < 0 || v[0].i > 0777)
			return *why = "expected 0..0777", 0;
		break;
	case OP_RUN_HOOK:
		if (v[0].s[0] != '/')
			return *why = "expected an absolute path", 0;
		if (v[3].i < 0 || v[3].i > 86400 * 365)
			return *why = "expected seconds >= 0", 3;
		break;
	case OP_EXEC:
		if (!v[0].s[0])
			return *why = "empty path", 0;
		if (v[1].n == 0)
			return *why = "args must not be empty", 1;
		break;
	case OP_CONSOLE:
		if (v[0].i < 0 || v[0].i > 0x7fffffff)
			return *why = "expected an fd", 0;
		for (int k = 1; k < 3; k++)
			if (v[k].i < 0 || v[k].i > 0xffff)
				return *why = "expected 0..65535", k;
		break;
	case OP_CLOSE_FDS:
		if (v[0].i < 3 || v[0].i > 0x7fffffff)
			return *why = "expected an fd >= 3 (stdio always stays)", 0;
		break;
	case OP_SECCOMP:
		if (v[1].n == 0 || v[1].n % 8 || v[1].n / 8 > 4096)
			return *why = "expected 1..4096 struct sock_filter (8 bytes each)", 1;
		if (v[0].i < 0 || v[0].i > 0xffffffff)
			return *why = "expected seccomp flags", 0;
		break;
	}
	/* Paths the executor opens must not be empty (open("") is ENOENT, far from the cause). */
	switch (o->def->code) {
	case OP_ROOTFS: case OP_MKDIR: case OP_MKNOD: case OP_MASK_PATH: case OP_READONLY_PATH:
	case OP_OPEN_FIFO: case OP_MKFIFO: case OP_WRITE_FILE: case OP_CHDIR: case OP_SYSCTL:
		if (!v[0].s[0])
			return *why = "empty path", 0;
		break;
	case OP_JOIN_NS: case OP_SYMLINK:
		if (!v[1].s[0])
			return *why = "empty path", 1;
		break;
	}
	return -1;
}

int plan_decode(struct plan *p, const uint8_t *buf, size_t len, void *arena_mem, size_t arena_len,
		struct msg *e)
{
	struct arena a = {arena_mem, 0, arena_len};
	struct rd r = {buf, buf + len};
	uint32_t version = 0, count = 0;

	memset(p, 0, sizeof *p);
	if (len < 16 || memcmp(buf, "BRTHPLAN", 8) != 0) {
		msg_reset(e);
		msg_str(e, "plan: bad magic (expected \"BRTHPLAN\")");
		return -1;
	}
	r.p += 8;
	rd_u32(&r, &version);
	rd_u32(&r, &count);
	if (version != PLAN_VERSION) {
		msg_reset(e);
		msg_str(e, "plan: version ");
		msg_int(e, version);
		msg_str(e, " is not supported (expected 1)");
		return -1;
	}
	if (count > len / 8) {
		msg_reset(e);
		msg_str(e, "plan: op count ");
		msg_int(e, count);
		msg_str(e, " is larger than the plan");
		return -1;
	}
	p->ops = arena_take(&a, ((size_t)count + 1) * sizeof(struct op));
	p->count = count;
	p->clone_at = UINT32_MAX;

	/* Grouping: phase 1 pre-clone, 2 parent, 3 child; never backwards. */
	int phase = 1, have_rootfs = 0, have_fifo = 0, have_mode = 0, have_root_switch = 0, have_cgroup_into = 0;
	uint32_t resolve_at = UINT32_MAX;
	for (uint32_t i = 0; i < count; i++) {
		struct op *o = &p->ops[i];
		uint16_t code, reserved;
		uint32_t oplen;
		const char *why = NULL;

		if (rd_u16(&r, &code) < 0 || rd_u16(&r, &reserved) < 0 || rd_u32(&r, &oplen) < 0) {
			where(e, i, NULL, -1);
			msg_str(e, "truncated op header");
			return -1;
		}
		o->def = plan_opdef(code);
		if (!o->def) {
			where(e, i, NULL, -1);
			msg_str(e, "unknown op code ");
			msg_hex(e, code);
			return -1;
		}
		if (reserved != 0) {
			where(e, i, o->def, -1);
			msg_str(e, "reserved field is not 0");
			return -1;
		}
		if ((size_t)(r.end - r.p) < oplen) {
			where(e, i, o->def, -1);
			msg_str(e, "length runs past the end of the plan");
			return -1;
		}
		struct rd vr = {r.p, r.p + oplen};
		r.p += oplen;
		const char *sig = o->def->sig;
		int nv = (int)strlen(sig);
		for (int k = 0; k < nv; k++) {
			int want = sig_tag(sig[k]);
			if (vr.p == vr.end) {
				where(e, i, o->def, k);
				msg_str(e, "missing (the op has ");
				msg_int(e, nv);
				msg_str(e, nv == 1 ? " value)" : " values)");
				return -1;
			}
			int tag = *vr.p++;
			if (tag != want) {
				where(e, i, o->def, k);
				msg_str(e, "expected ");
				msg_str(e, tag_name(want));
				msg_str(e, " (tag ");
				msg_int(e, want);
				msg_str(e, "), got ");
				msg_str(e, tag_name(tag));
				msg_str(e, " (tag ");
				msg_int(e, tag);
				msg_str(e, ")");
				return -1;
			}
			if (decode_value(&vr, &o->v[k], tag, &a, &why) < 0) {
				where(e, i, o->def, k);
				msg_str(e, why);
				return -1;
			}
		}
		if (vr.p != vr.end) {
			where(e, i, o->def, -1);
			msg_int(e, vr.end - vr.p);
			msg_str(e, " bytes after its ");
			msg_int(e, nv);
			msg_str(e, nv == 1 ? " value" : " values");
			return -1;
		}
		int k = check_values(o, &why);
		if (k >= 0) {
			where(e, i, o->def, k);
			msg_str(e, why);
			return -1;
		}

		/* Grouping and ordering. */
		int group = code >> 8;
		const char *order = NULL;
		if (code == OP_CLONE) {
			if (p->clone_at != UINT32_MAX)
				order = "a second CLONE (exactly one per plan)";
			else if (phase != 1)
				order = "CLONE after parent or child ops";
			p->clone_at = i;
			p->clone_flags = o->v[0].i;
			phase = 2;
		} else if (group < phase) {
			order = group == 1 ? "pre-clone op after CLONE" : "parent op after child ops";
		} else if (group == 2 && p->clone_at == UINT32_MAX) {
			order = "parent op before CLONE";
		} else if (group == 3 && p->clone_at == UINT32_MAX) {
			order = "child op before CLONE";
		} else {
			phase = group;
		}
		if (!order && code == OP_MODE && have_mode++)
			order = "a second MODE";
		if (!order && code == OP_CGROUP_INTO && have_cgroup_into++)
			order = "a second CGROUP_INTO (a process is cloned into one cgroup2 directory)";
		if (!order && code == OP_MODE)
			p->mode = (int)o->v[0].i;
		if (!order && code == OP_ROOTFS && have_rootfs++)
			order = "a second ROOTFS";
		if (!order && (code == OP_OPEN_FIFO || code == OP_MKFIFO))
			have_fifo = 1;
		if (!order && code == OP_WAIT_FIFO && !have_fifo)
			order = "WAIT_FIFO without a MKFIFO or OPEN_FIFO before it";
		if (!order && (code == OP_PIVOT_ROOT || code == OP_CHROOT) && have_root_switch++)
			order = "a second PIVOT_ROOT or CHROOT";
		int needs_root = code == OP_MKDIR || code == OP_MKNOD || code == OP_SYMLINK ||
				 code == OP_PIVOT_ROOT || code == OP_CHROOT || code == OP_MOUNT_SETATTR ||
				 (code == OP_MOUNT && (o->v[5].i & (HOW_IN_ROOT | HOW_SOURCE_IN_ROOT)));
		if (!order && needs_root && !have_rootfs)
			order = "needs a ROOTFS op before it";
		if (!order && code == OP_RESOLVE_EXEC && resolve_at == UINT32_MAX)
			resolve_at = i;
		if (!order && code == OP_EXEC && i != count - 1)
			order = "EXEC must be the last op";
		if (order) {
			where(e, i, o->def, -1);
			msg_str(e, order);
			return -1;
		}
	}
	if (r.p != r.end) {
		msg_reset(e);
		msg_str(e, "plan: ");
		msg_int(e, r.end - r.p);
		msg_str(e, " bytes after the last op");
		return -1;
	}
	/* RESOLVE_EXEC resolves the program of the EXEC op, which can only be the last one. */
	if (resolve_at != UINT32_MAX && p->ops[count - 1].def->code != OP_EXEC) {
		where(e, resolve_at, p->ops[resolve_at].def, -1);
		msg_str(e, "needs an EXEC op after it");
		return -1;
	}
	p->child_at = count;
	for (uint32_t i = count; i-- > 0 && p->ops[i].def->code >> 8 == 3;)
		p->child_at = i;
	if (p->clone_at == UINT32_MAX) {
		msg_reset(e);
		msg_str(e, "plan: no CLONE op (exactly one per plan)");
		return -1;
	}
	return 0;
}
