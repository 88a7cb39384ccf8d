/* exec.c — the op interpreter (docs/plan-protocol.md, "Ops").
 *
 * Owns what each op means: the order of the calls inside an op, in-root path resolution, and
 * the error message that names the op. Owns no policy: it never adds, skips or reorders ops.
 * Only async-signal-safe code: no malloc, no stdio; buffers are static. */
#include "exec.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/close_range.h>
#include <signal.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "msg.h"
#include "sys.h"

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define STATE_MAX (4u << 20) /* the container's state JSON, from CONTINUE */
#define MAX_LINKS 40         /* dangling symlinks followed while creating one in-root path, as the kernel's ELOOP */

static char state[STATE_MAX];
static size_t state_len;
static gid_t groups[65536];
static struct msg text;      /* the error being built */
static struct msg detail;    /* extra detail from a failing step */
static char path_buf[2 * PATH_MAX];

void ctx_init(struct ctx *c, const struct plan *p, int syncfd)
{
	c->plan = p;
	c->syncfd = syncfd;
	c->child = 0;
	c->rootfd = -1;
	c->rootfs = NULL;
	c->fifofd = -1;
	c->procfd = -1;
	c->fddirfd = -1;
	c->exec_path = NULL;
	c->cgroupfd = -1;
	c->cgroup_path = NULL;
}

/* ---- PID ------------------------------------------------------------------------------- */

void exec_send_pid(struct ctx *c)
{
	static char stat[1024];
	static uint8_t frame[4 + 24];
	struct msg name;
	msg_reset(&name);
	msg_int(&name, c->child);
	msg_str(&name, "/stat");
	/* The child is blocked on GO: it cannot have exited, so its stat is there to read. */
	ssize_t n = sys.read_file_at(c->procfd, msg_cstr(&name), stat, sizeof stat - 1);
	if (n < 0)
		exec_die(c, errno, "reading the start time of the container's init from /proc/<pid>/stat");
	stat[n] = 0;
	/* comm (field 2) may hold spaces and parentheses: the fields start after the LAST ')'.
	 * There the state is field 3; field 22 is the start time. The TypeScript side's parser is
	 * src/sys/procfs.ts; this one stays in C because it runs in berth-init after fork, before the
	 * init may run, where no Node exists. */
	const char *p = strrchr(stat, ')');
	for (int field = 2; p && field < 22; field++) {
		p = strchr(p, ' ');
		if (p)
			p++;
	}
	size_t len = p ? strspn(p, "0123456789") : 0;
	if (len == 0 || len > 20)
		exec_die(c, EPROTO, "no start time (field 22) in /proc/<pid>/stat of the container's init");
	int32_t pid32 = c->child;
	memcpy(frame, &pid32, 4);
	memcpy(frame + 4, p, len);
	if (sys.send_frame(c->syncfd, FRAME_PID, frame, (uint32_t)(4 + len)) < 0)
		exec_die(c, errno, "sending PID");
}

/* ---- errors ---------------------------------------------------------------------------- */

static void report_as(struct ctx *c, uint32_t type, int err, const char *s)
{
	static uint8_t frame[4 + MSG_MAX];
	size_t n = strlen(s);
	int32_t e = err;
	if (c->syncfd >= 0) {
		memcpy(frame, &e, 4); /* little-endian hosts only (x86_64, arm64), as the doc says */
		memcpy(frame + 4, s, n);
		if (sys.send_frame(c->syncfd, type, frame, (uint32_t)(4 + n)) == 0)
			return;
	}
	/* After READY nobody reads the sync socket: the container's stderr is the only witness. */
	sys.write(2, "berth-init: ", 12);
	sys.write(2, s, n);
	sys.write(2, "\n", 1);
}

void exec_report(struct ctx *c, int err, const char *s)
{
	report_as(c, FRAME_ERROR, err, s);
}

__attribute__((noreturn)) void exec_die(struct ctx *c, int err, const char *what)
{
	msg_reset(&text);
	msg_str(&text, what);
	if (err) {
		msg_str(&text, ": ");
		msg_str(&text, errno_text(err));
	}
	exec_report(c, err, msg_cstr(&text));
	if (c->child > 0)
		sys.kill(c->child, SIGKILL);
	sys.exit(1);
}

/* Appends a str value for a message, with newlines shown as \n (uid maps have them). */
static void msg_value(struct msg *m, const char *s)
{
	for (; *s; s++) {
		char one[2] = {*s, 0};
		msg_str(m, *s == '\n' ? "\\n" : one);
	}
}

/* "MOUNT proc on /proc (in root /x/rootfs)": the op and its main arguments. */
static void describe(struct ctx *c, const struct op *o)
{
	const struct value *v = o->v;
	msg_reset(&text);
	msg_str(&text, o->def->name);
	switch (o->def->code) {
	case OP_MOUNT:
		msg_str(&text, " ");
		msg_str(&text, v[0].s[0] ? v[0].s : v[2].s[0] ? v[2].s : "none");
		msg_str(&text, " on ");
		msg_str(&text, v[1].s);
		if ((v[5].i & (HOW_IN_ROOT | HOW_SOURCE_IN_ROOT)) && c->rootfs) {
			msg_str(&text, " (in root ");
			msg_str(&text, c->rootfs);
			msg_str(&text, ")");
		}
		return;
	case OP_RESOLVE_EXEC: /* names the program it looks for: the EXEC op's (validated last) */
		msg_str(&text, " \"");
		msg_str(&text, c->plan->ops[c->plan->count - 1].v[0].s);
		msg_str(&text, "\"");
		return;
	case OP_SYMLINK:
		msg_str(&text, " ");
		msg_str(&text, v[1].s);
		msg_str(&text, " -> ");
		msg_str(&text, v[0].s);
		break;
	case OP_JOIN_NS:
	case OP_CLONE:
	case OP_UNSHARE:
	case OP_CAP_BOUNDING:
	case OP_CAPS:
		for (size_t k = 0; o->def->sig[k]; k++) {
			msg_str(&text, " ");
			if (o->def->sig[k] == 's')
				msg_str(&text, v[k].s);
			else
				msg_hex(&text, (uint64_t)v[k].i);
		}
		return;
	case OP_SETGROUPS:
	case OP_UID_MAP:
	case OP_GID_MAP:
	case OP_PRLIMIT:
	case OP_OOM_SCORE_ADJ:
		msg_str(&text, " of pid ");
		msg_int(&text, c->child);
		__attribute__((fallthrough)); /* then the values */
	default: {
		/* The str values name the op well (paths, names); ints only when there is no str. */
		int has_str = strchr(o->def->sig, 's') != NULL;
		for (size_t k = 0; o->def->sig[k] && k < 3; k++) {
			char t = o->def->sig[k];
			if (t == 's') {
				msg_str(&text, " ");
				msg_value(&text, v[k].s);
			} else if (t == 'i' && !has_str) {
				msg_str(&text, " ");
				msg_int(&text, v[k].i);
			}
		}
	}
	}
	switch (o->def->code) {
	case OP_MKDIR:
	case OP_MKNOD:
	case OP_SYMLINK:
		msg_str(&text, " (in root ");
		msg_str(&text, c->rootfs);
		msg_str(&text, ")");
	}
}

/* Reports `o` failing with `err` at `step` (NULL: the op's main call), and exits 1. The errno's
 * text ends the message unless `step` already says it all (`quiet`). */
__attribute__((noreturn)) static void fail_as(struct ctx *c, const struct op *o, int err, const char *step, int quiet)
{
	describe(c, o);
	if (step) {
		msg_str(&text, ": ");
		msg_str(&text, step);
	}
	if (err && !quiet) {
		msg_str(&text, ": ");
		msg_str(&text, errno_text(err));
	}
	int command = o->def->code == OP_EXEC || o->def->code == OP_RESOLVE_EXEC;
	report_as(c, command ? FRAME_EXEC_ERROR : FRAME_ERROR, err, msg_cstr(&text));
	if (c->child > 0)
		sys.kill(c->child, SIGKILL);
	sys.exit(1);
}

__attribute__((noreturn)) static void fail(struct ctx *c, const struct op *o, int err, const char *step)
{
	fail_as(c, o, err, step, 0);
}

/* ---- paths ----------------------------------------------------------------------------- */

static const char *fd_path(int fd)
{
	static char buf[2][32];
	static int which;
	struct msg m; /* small and on the stack: fd paths are short */
	msg_reset(&m);
	msg_str(&m, "/proc/self/fd/");
	msg_int(&m, fd);
	which ^= 1;
	memcpy(buf[which], m.buf, m.len + 1);
	return buf[which];
}

static int in_root(struct ctx *c, const char *path, int flags)
{
	return sys.openat2_in_root(c->rootfd, path, O_PATH | O_CLOEXEC | flags);
}

/* Copies `s` (n bytes) to `*at` in `buf` (of `cap`); -1 with ENAMETOOLONG if it does not fit. */
static int put(char *buf, size_t cap, size_t *at, const char *s, size_t n)
{
	if (*at + n + 1 > cap) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(buf + *at, s, n);
	*at += n;
	buf[*at] = 0;
	return 0;
}

/* Rewrites `path` (in place, of `cap`) after following the dangling symlink at path[0..end),
 * whose directory is path[0..dir) and whose target is `link`: an absolute target is taken from
 * the root, a relative one from the symlink's directory; the rest of `path` follows. The result is
 * resolved in root again, so it can never lead out of it. */
static int follow(char *path, size_t cap, size_t dir, size_t end, const char *link, int *links)
{
	static char next[PATH_MAX];
	size_t at = 0;
	if (++*links > MAX_LINKS) {
		errno = ELOOP;
		return -1;
	}
	if (link[0] != '/' && (put(next, sizeof next, &at, path, dir) < 0 || put(next, sizeof next, &at, "/", 1) < 0))
		return -1;
	if (put(next, sizeof next, &at, link, strlen(link)) < 0 ||
	    put(next, sizeof next, &at, path + end, strlen(path + end)) < 0)
		return -1;
	if (at + 1 > cap) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(path, next, at + 1);
	return 0;
}

/* readlinkat into `buf`: 1 if `name` in `dirfd` is a symlink, 0 if it is missing or not a
 * symlink, -1 on another error. */
static int symlink_at(int dirfd, const char *name, char *buf, size_t cap)
{
	ssize_t n = sys.readlinkat(dirfd, name, buf, cap - 1);
	if (n >= 0) {
		buf[n] = 0;
		return 1;
	}
	return errno == EINVAL || errno == ENOENT ? 0 : -1;
}

/* Creates `path` as a directory with its missing parents, each component resolved in the root
 * (so a symlink in the image is followed as if the rootfs were /), and returns an O_PATH fd of
 * it. A dangling symlink on the way is followed inside the root, and what its target lacks is
 * created (at most MAX_LINKS symlinks, shared through `links`). */
static int mkdir_walk(struct ctx *c, const char *path, int mode, int *links)
{
	int fd = in_root(c, path, O_DIRECTORY);
	if (fd >= 0 || errno != ENOENT)
		return fd;

	static char cur[PATH_MAX];
	static char prefix[PATH_MAX];
	static char name[NAME_MAX + 1];
	static char link[PATH_MAX];
	size_t at = 0;
	if (put(cur, sizeof cur, &at, path, strlen(path)) < 0)
		return -1;
restart:;
	size_t plen = 0;
	int dirfd = in_root(c, "/", O_DIRECTORY);
	if (dirfd < 0)
		return -1;
	for (const char *p = cur; *p;) {
		while (*p == '/')
			p++;
		size_t n = strcspn(p, "/");
		if (n == 0)
			break;
		size_t dir = plen;
		if (n > NAME_MAX || plen + n + 2 > sizeof prefix) {
			sys.close(dirfd);
			errno = ENAMETOOLONG;
			return -1;
		}
		memcpy(name, p, n);
		name[n] = 0;
		prefix[plen++] = '/';
		memcpy(prefix + plen, p, n);
		plen += n;
		prefix[plen] = 0;
		p += n;

		fd = in_root(c, prefix, O_DIRECTORY);
		if (fd < 0 && errno == ENOENT) {
			int is_link = symlink_at(dirfd, name, link, sizeof link);
			if (is_link == 1) {
				/* `prefix` is `cur` up to here with its slashes squeezed: rebuild from it. */
				static char rest[PATH_MAX];
				size_t rn = strlen(p);
				memcpy(rest, p, rn + 1);
				at = 0;
				sys.close(dirfd);
				if (put(cur, sizeof cur, &at, prefix, plen) < 0 || put(cur, sizeof cur, &at, rest, rn) < 0 ||
				    follow(cur, sizeof cur, dir, plen, link, links) < 0)
					return -1;
				goto restart;
			}
			if (is_link == 0 && sys.mkdirat(dirfd, name, mode) < 0 && errno != EEXIST)
				is_link = -1;
			if (is_link < 0) {
				int e = errno;
				sys.close(dirfd);
				errno = e;
				return -1;
			}
			fd = in_root(c, prefix, O_DIRECTORY);
		}
		int e = errno;
		sys.close(dirfd);
		errno = e;
		if (fd < 0)
			return -1;
		dirfd = fd;
	}
	return dirfd;
}

static int mkdir_in_root(struct ctx *c, const char *path, int mode)
{
	int links = 0;
	return mkdir_walk(c, path, mode, &links);
}

/* Splits `path` into its parent (created in root if missing; O_PATH fd returned) and its last
 * component (in a static buffer). `*dirlen` is the length of the parent's part of `path`. */
static int parent_walk(struct ctx *c, const char *path, const char **base, size_t *dirlen, int *links)
{
	static char dir[PATH_MAX];
	static char name[NAME_MAX + 1];
	size_t n = strlen(path);
	while (n > 1 && path[n - 1] == '/')
		n--;
	size_t slash = n;
	while (slash > 0 && path[slash - 1] != '/')
		slash--;
	size_t bn = n - slash;
	if (bn == 0 || bn > NAME_MAX || slash >= sizeof dir) {
		errno = bn == 0 ? EINVAL : ENAMETOOLONG;
		return -1;
	}
	memcpy(name, path + slash, bn);
	name[bn] = 0;
	if (!strcmp(name, ".") || !strcmp(name, "..")) {
		errno = EINVAL;
		return -1;
	}
	while (slash > 1 && path[slash - 1] == '/')
		slash--; /* "/dev/zero" has the parent "/dev" */
	memcpy(dir, path, slash);
	dir[slash] = 0;
	*base = name;
	*dirlen = slash;
	return mkdir_walk(c, slash ? dir : "/", 0755, links);
}

static int parent_in_root(struct ctx *c, const char *path, const char **base)
{
	int links = 0;
	size_t dirlen;
	return parent_walk(c, path, base, &dirlen, &links);
}

/* Resolves `path` in root, creating it as an empty file (and its parents) if missing. A dangling
 * symlink, as the file or on the way to it, is followed inside the root (see mkdir_walk). */
static int file_in_root(struct ctx *c, const char *path)
{
	int fd = in_root(c, path, 0);
	if (fd >= 0 || errno != ENOENT)
		return fd;
	static char cur[PATH_MAX];
	static char link[PATH_MAX];
	size_t at = 0;
	int links = 0;
	if (put(cur, sizeof cur, &at, path, strlen(path)) < 0)
		return -1;
	for (;;) {
		const char *base;
		size_t dir;
		int dirfd = parent_walk(c, cur, &base, &dir, &links);
		if (dirfd < 0)
			return -1;
		int is_link = symlink_at(dirfd, base, link, sizeof link);
		if (is_link == 1) {
			sys.close(dirfd);
			/* The file's name ends `cur` (trailing slashes aside): nothing follows it. */
			if (follow(cur, sizeof cur, dir, strlen(cur), link, &links) < 0)
				return -1;
			continue;
		}
		if (is_link == 0 && sys.mknodat(dirfd, base, S_IFREG | 0644, 0, 0) < 0 && errno != EEXIST)
			is_link = -1;
		int e = errno;
		sys.close(dirfd);
		errno = e;
		if (is_link < 0)
			return -1;
		return in_root(c, cur, 0);
	}
}

/* ---- ops ------------------------------------------------------------------------------- */

static void op_mount(struct ctx *c, const struct op *o)
{
	const struct value *v = o->v;
	int64_t how = v[5].i;
	const char *src = v[0].s[0] ? v[0].s : NULL;
	const char *target = v[1].s;
	int sfd = -1, tfd = -1;

	if (how & HOW_SOURCE_IN_ROOT) {
		sfd = in_root(c, src, 0);
		if (sfd < 0)
			fail(c, o, errno, "resolving the source in root");
		src = fd_path(sfd);
	}
	if (how & HOW_NO_SYMLINK) {
		/* proc or sysfs through an image's symlink (/proc -> /) would cover the container's root. */
		const char *base;
		struct stat st;
		int dfd = parent_in_root(c, target, &base);
		if (dfd >= 0) {
			int is_link = sys.fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode);
			sys.close(dfd);
			if (is_link)
				fail(c, o, ELOOP, "must be mounted on an ordinary directory, not a symlink");
		}
	}
	if (how & HOW_IN_ROOT) {
		if (how & HOW_MKDIR)
			tfd = mkdir_in_root(c, target, 0755);
		else if (how & HOW_MKFILE)
			tfd = file_in_root(c, target);
		else
			tfd = in_root(c, target, 0);
		if (tfd < 0)
			fail(c, o, errno, how & (HOW_MKDIR | HOW_MKFILE) ? "creating the target in root"
								 : "resolving the target in root");
		/* Mounting onto the fd's magic link: a symlink swapped in after we resolved cannot redirect us. */
		target = fd_path(tfd);
	}
	if (sys.mount(src, target, v[2].s[0] ? v[2].s : NULL, (unsigned long)v[3].i, v[4].s[0] ? v[4].s : NULL) < 0)
		fail(c, o, errno, NULL);
	if (sfd >= 0)
		sys.close(sfd);
	if (tfd >= 0)
		sys.close(tfd);
}

static void op_mknod(struct ctx *c, const struct op *o)
{
	const struct value *v = o->v;
	const char *base;
	int dirfd = parent_in_root(c, v[0].s, &base);
	if (dirfd < 0)
		fail(c, o, errno, "creating the parent in root");
	if (sys.mknodat(dirfd, base, (int)v[1].i, (int)v[2].i, (int)v[3].i) < 0) {
		struct stat st;
		if (errno != EEXIST)
			fail(c, o, errno, "mknodat");
		if (sys.fstatat(dirfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
			fail(c, o, errno, "fstatat");
		if (S_ISDIR(st.st_mode))
			fail(c, o, EEXIST, "a directory is in the way");
		if (sys.unlinkat(dirfd, base, 0) < 0)
			fail(c, o, errno, "unlinkat");
		if (sys.mknodat(dirfd, base, (int)v[1].i, (int)v[2].i, (int)v[3].i) < 0)
			fail(c, o, errno, "mknodat");
	}
	if (sys.fchownat(dirfd, base, (int)v[4].i, (int)v[5].i, AT_SYMLINK_NOFOLLOW) < 0)
		fail(c, o, errno, "fchownat");
	sys.close(dirfd);
}

static void op_symlink(struct ctx *c, const struct op *o)
{
	const char *base;
	int dirfd = parent_in_root(c, o->v[1].s, &base);
	if (dirfd < 0)
		fail(c, o, errno, "creating the parent in root");
	if (sys.symlinkat(o->v[0].s, dirfd, base) < 0 && errno != EEXIST)
		fail(c, o, errno, NULL);
	sys.close(dirfd);
}

static void op_pivot_root(struct ctx *c, const struct op *o)
{
	/* After pivot_root(".", ".") the old root is stacked on the new one, but "." from a cwd on the
	 * new root still names the new root: without moving to the old root first, the rslave below
	 * would hit the new root's tree and cut every shared bind in it off from the host (runc
	 * fchdirs to the old root too). */
	int oldroot = sys.open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC, 0);
	if (oldroot < 0)
		fail(c, o, errno, "opening the old root");
	if (sys.fchdir(c->rootfd) < 0)
		fail(c, o, errno, "fchdir to the rootfs");
	if (sys.pivot_root(".", ".") < 0)
		fail(c, o, errno, "pivot_root");
	if (sys.fchdir(oldroot) < 0)
		fail(c, o, errno, "fchdir to the old root");
	sys.close(oldroot);
	/* The old root: make it a slave so that detaching it can never propagate an unmount to the host. */
	if (sys.mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0)
		fail(c, o, errno, "making the old root rslave");
	if (sys.umount2(".", MNT_DETACH) < 0)
		fail(c, o, errno, "detaching the old root");
	if (sys.chdir("/") < 0)
		fail(c, o, errno, "chdir /");
}

static void op_chroot(struct ctx *c, const struct op *o)
{
	if (sys.fchdir(c->rootfd) < 0)
		fail(c, o, errno, "fchdir to the rootfs");
	/* With its own mount namespace (--no-pivot) the rootfs is moved onto /; without one (the
	 * container shares the runtime's mounts) it must not be: only the process's root changes. */
	if (o->v[0].i && sys.mount(".", "/", NULL, MS_MOVE, NULL) < 0)
		fail(c, o, errno, "moving the rootfs onto /");
	/* Without a mount namespace nothing mounts /proc in the new root, yet WAIT_FIFO reopens the
	 * FIFO through /proc/self/fd: keep that directory open across the chroot. */
	if (!o->v[0].i && c->fifofd >= 0) {
		c->fddirfd = sys.open("/proc/self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
		if (c->fddirfd < 0)
			fail(c, o, errno, "opening /proc/self/fd");
	}
	if (sys.chroot(".") < 0)
		fail(c, o, errno, "chroot");
	if (sys.chdir("/") < 0)
		fail(c, o, errno, "chdir /");
}

static void op_mask_path(struct ctx *c, const struct op *o)
{
	const char *path = o->v[0].s;
	/* Binding a file over a directory fails with ENOTDIR: that is how we learn it is one. */
	if (sys.mount("/dev/null", path, NULL, MS_BIND, NULL) == 0 || errno == ENOENT)
		return;
	if (errno != ENOTDIR)
		fail(c, o, errno, "binding /dev/null over it");
	if (sys.mount("tmpfs", path, "tmpfs", MS_RDONLY, NULL) < 0)
		fail(c, o, errno, "mounting a read-only tmpfs over it");
}

static void op_readonly_path(struct ctx *c, const struct op *o)
{
	const char *path = o->v[0].s;
	struct statfs st;
	/* "/" is always a mount point after pivot_root; binding it onto itself would stack a mount
	 * that the process's root never sees. */
	if (strcmp(path, "/") != 0 && sys.mount(path, path, NULL, MS_BIND | MS_REC, NULL) < 0) {
		if (errno == ENOENT)
			return;
		fail(c, o, errno, "binding it onto itself");
	}
	if (sys.statfs(path, &st) < 0)
		fail(c, o, errno, "statfs");
	/* A remount must keep the flags the kernel locks in a user namespace. */
	unsigned long keep = (unsigned long)st.f_flags &
			     (ST_NOSUID | ST_NODEV | ST_NOEXEC | ST_NOATIME | ST_NODIRATIME | ST_RELATIME);
	if (sys.mount(NULL, path, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | keep, NULL) < 0)
		fail(c, o, errno, "remounting read-only");
}

static void op_console(struct ctx *c, const struct op *o)
{
	const struct value *v = o->v;
	int master = sys.open("/dev/pts/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC, 0);
	if (master < 0 && errno == ENOENT)
		master = sys.open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC, 0);
	if (master < 0)
		fail(c, o, errno, "opening /dev/pts/ptmx");
	if (sys.pty_unlock(master) < 0)
		fail(c, o, errno, "unlocking the pty");
	int peer = sys.pty_peer(master, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (peer < 0)
		fail(c, o, errno, "opening the pty peer");
	unsigned n;
	if (sys.pty_number(master, &n) < 0)
		fail(c, o, errno, "reading the pty number");
	if (v[1].i && v[2].i && sys.set_winsize(peer, (unsigned)v[1].i, (unsigned)v[2].i) < 0)
		fail(c, o, errno, "setting the window size");
	struct msg name;
	msg_reset(&name);
	msg_str(&name, "/dev/pts/");
	msg_int(&name, n);
	if (sys.send_fd((int)v[0].i, master, msg_cstr(&name)) < 0)
		fail(c, o, errno, "sending the pty master over the console socket");
	sys.close(master);
	if (sys.set_ctty(peer) < 0)
		fail(c, o, errno, "making the pty the controlling terminal");
	for (int fd = 0; fd < 3; fd++)
		if (sys.dup2(peer, fd) < 0)
			fail(c, o, errno, "dup2 onto stdio");
	if (peer > 2)
		sys.close(peer);
}

static void op_user(struct ctx *c, const struct op *o)
{
	const struct value *v = o->v;
	if (sys.prctl(PR_SET_KEEPCAPS, 1, 0) < 0)
		fail(c, o, errno, "PR_SET_KEEPCAPS 1");
	if (v[3].i) {
		for (uint32_t k = 0; k < v[2].n; k++)
			groups[k] = (gid_t)v[2].ints[k];
		if (sys.setgroups(v[2].n, groups) < 0)
			fail(c, o, errno, "setgroups");
	}
	if (sys.setresgid((unsigned)v[1].i) < 0)
		fail(c, o, errno, "setresgid");
	if (sys.setresuid((unsigned)v[0].i) < 0)
		fail(c, o, errno, "setresuid");
	if (sys.prctl(PR_SET_KEEPCAPS, 0, 0) < 0)
		fail(c, o, errno, "PR_SET_KEEPCAPS 0");
}

static void op_chdir(struct ctx *c, const struct op *o)
{
	static char cwd[PATH_MAX];
	if (sys.chdir(o->v[0].s) < 0)
		fail(c, o, errno, NULL);
	if (!o->v[1].i)
		return; /* checked by an earlier CHDIR (before a seccomp filter that may deny getcwd) */
	/* CVE-2024-21626: a cwd reached through a leaked fd or a path outside the root reads back
	 * as "(unreachable)/…"; refuse to exec there. */
	if (sys.getcwd(cwd, sizeof cwd) < 0)
		fail(c, o, errno, "getcwd");
	if (cwd[0] != '/') {
		msg_reset(&detail);
		msg_str(&detail, "the working directory is outside the container's root (");
		msg_str(&detail, cwd);
		msg_str(&detail, ")");
		fail(c, o, EPERM, msg_cstr(&detail));
	}
}

static void op_hook_sync(struct ctx *c, const struct op *o)
{
	uint32_t type;
	if (sys.send_frame(c->syncfd, FRAME_HOOKS, NULL, 0) < 0)
		fail(c, o, errno, "sending HOOKS");
	int64_t n = sys.recv_frame(c->syncfd, &type, state, sizeof state);
	if (n == -2)
		fail(c, o, EPIPE, "the sync socket closed while waiting for CONTINUE");
	if (n < 0)
		fail(c, o, errno, "reading CONTINUE");
	if (type == FRAME_ABORT)
		sys.exit(1);
	if (type != FRAME_CONTINUE) {
		msg_reset(&detail);
		msg_str(&detail, "expected CONTINUE (2) or ABORT (3), got frame type ");
		msg_int(&detail, type);
		fail(c, o, EPROTO, msg_cstr(&detail));
	}
	state_len = (size_t)n;
}

/* 0 if `path` is a regular file we may execute, with our credentials now. */
static int executable(const char *path)
{
	struct stat st;
	/* After USER the real and effective ids are equal, so plain faccessat (which a seccomp
	 * allow-list older than faccessat2 still permits) answers for the credentials execve uses. */
	if (sys.faccessat(AT_FDCWD, path, X_OK, 0) < 0 || sys.fstatat(AT_FDCWD, path, &st, 0) < 0)
		return -1;
	if (!S_ISREG(st.st_mode)) {
		errno = EACCES; /* what execve would say of a directory */
		return -1;
	}
	return 0;
}

/* The PATH of an environment list, or the default when it has none. */
static const char *env_path(const struct value *env)
{
	const char *path = DEFAULT_PATH;
	for (uint32_t k = 0; k < env->n; k++)
		if (!strncmp(env->strs[k], "PATH=", 5))
			path = env->strs[k] + 5;
	return path;
}

/* Builds in path_buf the next execvp candidate "<dir>/<name>" from the PATH entries at *cursor
 * and advances it; returns 0 once the entries are used up. An empty entry means the current
 * directory; an entry too long for path_buf is passed over. Shared by RESOLVE_EXEC and EXEC. */
static int next_candidate(const char **cursor, const char *name, size_t nlen)
{
	while (*cursor) {
		const char *p = *cursor;
		size_t n = strcspn(p, ":");
		*cursor = p[n] ? p + n + 1 : NULL;
		if (n + nlen + 3 > sizeof path_buf)
			continue;
		size_t at = 0;
		if (n == 0)
			path_buf[at++] = '.';
		memcpy(path_buf + at, p, n);
		at += n;
		path_buf[at++] = '/';
		memcpy(path_buf + at, name, nlen + 1);
		return 1;
	}
	return 0;
}

/* Finds the EXEC op's program now, as execvp would (so that a missing one fails `create`, not
 * the start), and stores the path that EXEC will run. */
static void op_resolve_exec(struct ctx *c, const struct op *o)
{
	static char denied[sizeof path_buf];
	const struct value *v = c->plan->ops[c->plan->count - 1].v;
	const char *name = v[0].s;
	size_t nlen = strlen(name);
	if (strchr(name, '/')) {
		if (nlen >= sizeof path_buf)
			fail(c, o, ENAMETOOLONG, NULL);
		if (executable(name) < 0)
			fail(c, o, errno, NULL);
		memcpy(path_buf, name, nlen + 1);
		c->exec_path = path_buf;
		return;
	}
	denied[0] = 0;
	for (const char *cur = env_path(&v[2]); next_candidate(&cur, name, nlen);) {
		if (executable(path_buf) == 0) {
			c->exec_path = path_buf;
			return;
		}
		if (errno == EACCES && !denied[0])
			memcpy(denied, path_buf, strlen(path_buf) + 1);
		else if (errno != EACCES && errno != ENOENT && errno != ENOTDIR)
			fail(c, o, errno, path_buf);
	}
	if (denied[0])
		fail(c, o, EACCES, denied);
	fail_as(c, o, ENOENT, "executable file not found in $PATH", 1);
}

static void op_exec(struct ctx *c, const struct op *o)
{
	const struct value *v = o->v;
	const char *name = v[0].s;
	if (c->exec_path) { /* RESOLVE_EXEC chose: no second search */
		sys.execve(c->exec_path, v[1].strs, v[2].strs);
		fail(c, o, errno, c->exec_path);
	}
	if (strchr(name, '/')) {
		sys.execve(name, v[1].strs, v[2].strs);
		fail(c, o, errno, NULL);
	}
	/* A bare name: search the container's PATH, as execvpe would, without touching our env. */
	const char *path = env_path(&v[2]);
	int seen_eacces = 0;
	size_t nlen = strlen(name);
	for (const char *cur = path; next_candidate(&cur, name, nlen);) {
		sys.execve(path_buf, v[1].strs, v[2].strs);
		if (errno == EACCES)
			seen_eacces = 1;
		else if (errno != ENOENT && errno != ENOTDIR)
			fail(c, o, errno, path_buf);
	}
	msg_reset(&detail);
	msg_str(&detail, "not found in PATH ");
	msg_str(&detail, path);
	fail(c, o, seen_eacces ? EACCES : ENOENT, msg_cstr(&detail));
}

/* Writes a file under /proc/<child>/ (parent ops). */
static void write_child_file(struct ctx *c, const struct op *o, const char *file, const char *data, size_t len)
{
	struct msg p;
	msg_reset(&p);
	msg_str(&p, "/proc/");
	msg_int(&p, c->child);
	msg_str(&p, "/");
	msg_str(&p, file);
	if (sys.write_file(msg_cstr(&p), data, len) < 0)
		fail(c, o, errno, NULL);
}

static void exec_op(struct ctx *c, const struct op *o)
{
	const struct value *v = o->v;
	int fd;
	switch (o->def->code) {
	/* stage0, before clone */
	case OP_MODE:
	case OP_CLONE:
		break; /* read by plan_decode; the clone itself is the caller's */
	case OP_JOIN_NS:
		fd = sys.open(v[1].s, O_RDONLY | O_CLOEXEC, 0);
		if (fd < 0)
			fail(c, o, errno, "open");
		if (sys.setns(fd, (int)v[0].i) < 0)
			fail(c, o, errno, "setns");
		sys.close(fd);
		break;
	case OP_CGROUP_INTO:
		/* Opened here, in the runtime's mount namespace (a later JOIN_NS may leave it); the
		 * clone uses it. Not O_PATH: clone3 refuses an O_PATH cgroup fd. */
		c->cgroupfd = sys.open(v[0].s, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
		if (c->cgroupfd < 0)
			fail(c, o, errno, NULL);
		c->cgroup_path = v[0].s;
		break;
	case OP_UNSHARE:
		/* For the time namespace: stage0's children are born in it (its offsets are written
		 * to /proc/self/timens_offsets before CLONE, while nobody is in it yet). */
		if (sys.unshare((int)v[0].i) < 0)
			fail(c, o, errno, NULL);
		break;
	case OP_MKFIFO:
		if (sys.mkfifo(v[0].s, (int)v[1].i) < 0)
			fail(c, o, errno, NULL);
		/* Kept for WAIT_FIFO and inherited through clone: the child, once in a user namespace,
		 * may not be able to reach the runtime's state directory by path. */
		c->fifofd = sys.open(v[0].s, O_PATH | O_CLOEXEC, 0);
		if (c->fifofd < 0)
			fail(c, o, errno, "open O_PATH");
		break;
	case OP_WRITE_FILE:
		if (sys.write_file(v[0].s, v[1].s, v[1].n) < 0)
			fail(c, o, errno, NULL);
		break;
	/* stage0, after clone */
	case OP_SETGROUPS:
		write_child_file(c, o, "setgroups", v[0].s, v[0].n);
		break;
	case OP_UID_MAP:
		write_child_file(c, o, "uid_map", v[0].s, v[0].n);
		break;
	case OP_GID_MAP:
		write_child_file(c, o, "gid_map", v[0].s, v[0].n);
		break;
	case OP_PRLIMIT:
		if (sys.prlimit(c->child, (int)v[0].i, v[1].i, v[2].i) < 0)
			fail(c, o, errno, NULL);
		break;
	case OP_OOM_SCORE_ADJ: {
		struct msg n;
		msg_reset(&n);
		msg_int(&n, v[0].i);
		write_child_file(c, o, "oom_score_adj", n.buf, n.len);
		break;
	}
	/* the child */
	case OP_SETSID:
		if (sys.setsid() < 0)
			fail(c, o, errno, NULL);
		break;
	case OP_SETRESID:
		if (sys.setresgid((unsigned)v[1].i) < 0)
			fail(c, o, errno, "setresgid");
		if (sys.setresuid((unsigned)v[0].i) < 0)
			fail(c, o, errno, "setresuid");
		break;
	case OP_ROOTFS:
		c->rootfd = sys.open(v[0].s, O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
		if (c->rootfd < 0)
			fail(c, o, errno, NULL);
		c->rootfs = v[0].s;
		break;
	case OP_MOUNT:
		op_mount(c, o);
		break;
	case OP_OPEN_PATH: {
		/* Opened while the child is still the host's root: a later MOUNT reaches it through
		 * /proc/self/fd/<fd> after SETRESID, when the directories leading to it may be closed to it. */
		int t = sys.open(v[0].s, O_PATH | O_CLOEXEC, 0);
		if (t < 0)
			fail(c, o, errno, NULL);
		if (t != (int)v[1].i) {
			if (sys.dup2(t, (int)v[1].i) < 0)
				fail(c, o, errno, "dup2");
			sys.close(t);
		}
		break;
	}
	case OP_MOUNT_SETATTR:
		/* The mount now at the path (resolved after it was mounted) and every mount under it. */
		fd = in_root(c, v[0].s, 0);
		if (fd < 0)
			fail(c, o, errno, "resolving the path in root");
		if (sys.mount_setattr_rec(fd, (uint64_t)v[1].i, (uint64_t)v[2].i) < 0)
			fail(c, o, errno, NULL);
		sys.close(fd);
		break;
	case OP_MKDIR:
		fd = mkdir_in_root(c, v[0].s, (int)v[1].i);
		if (fd < 0)
			fail(c, o, errno, NULL);
		sys.close(fd);
		break;
	case OP_MKNOD:
		op_mknod(c, o);
		break;
	case OP_SYMLINK:
		op_symlink(c, o);
		break;
	case OP_HOOK_SYNC:
		op_hook_sync(c, o);
		break;
	case OP_RUN_HOOK:
		msg_reset(&detail);
		if (sys.run_hook(v[0].s, v[1].strs, v[2].strs, state, state_len, v[3].i, &detail) < 0)
			fail_as(c, o, errno, msg_cstr(&detail), errno == ETIMEDOUT);
		break;
	case OP_OPEN_FIFO:
		if (c->fifofd >= 0)
			sys.close(c->fifofd); /* MKFIFO's: this one replaces it */
		c->fifofd = sys.open(v[0].s, O_PATH | O_CLOEXEC, 0);
		if (c->fifofd < 0)
			fail(c, o, errno, NULL);
		break;
	case OP_PIVOT_ROOT:
		op_pivot_root(c, o);
		break;
	case OP_CHROOT:
		op_chroot(c, o);
		break;
	case OP_MASK_PATH:
		op_mask_path(c, o);
		break;
	case OP_READONLY_PATH:
		op_readonly_path(c, o);
		break;
	case OP_HOSTNAME:
		if (sys.sethostname(v[0].s, v[0].n) < 0)
			fail(c, o, errno, NULL);
		break;
	case OP_DOMAINNAME:
		if (sys.setdomainname(v[0].s, v[0].n) < 0)
			fail(c, o, errno, NULL);
		break;
	case OP_SYSCTL: {
		struct msg p;
		msg_reset(&p);
		msg_str(&p, "/proc/sys/");
		msg_str(&p, v[0].s);
		if (sys.write_file(msg_cstr(&p), v[1].s, v[1].n) < 0)
			fail(c, o, errno, NULL);
		break;
	}
	case OP_CONSOLE:
		op_console(c, o);
		break;
	case OP_UMASK:
		sys.umask((int)v[0].i);
		break;
	case OP_CAP_BOUNDING:
		for (int cap = 0; cap <= sys.last_cap() && cap < 64; cap++)
			if (!((uint64_t)v[0].i & (1ull << cap)) && sys.prctl(PR_CAPBSET_DROP, (unsigned long)cap, 0) < 0)
				fail(c, o, errno, "PR_CAPBSET_DROP");
		break;
	case OP_USER:
		op_user(c, o);
		break;
	case OP_CAPS:
		if (sys.capset((uint64_t)v[0].i, (uint64_t)v[1].i, (uint64_t)v[2].i) < 0)
			fail(c, o, errno, "capset");
		for (int cap = 0; cap < 64; cap++)
			if (((uint64_t)v[3].i & (1ull << cap)) &&
			    sys.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, (unsigned long)cap) < 0)
				fail(c, o, errno, "PR_CAP_AMBIENT_RAISE");
		break;
	case OP_NO_NEW_PRIVS:
		if (sys.prctl(PR_SET_NO_NEW_PRIVS, 1, 0) < 0)
			fail(c, o, errno, NULL);
		break;
	case OP_CHDIR:
		op_chdir(c, o);
		break;
	case OP_CLOSE_FDS:
		/* Close-on-exec rather than close: the fds we still need (sync socket, rootfs, fifo)
		 * are close-on-exec already, and none of them may reach the container's process. */
		if (sys.close_range((unsigned)v[0].i, ~0u, CLOSE_RANGE_CLOEXEC) < 0)
			fail(c, o, errno, NULL);
		break;
	case OP_READY:
		if (sys.send_frame(c->syncfd, FRAME_READY, NULL, 0) < 0)
			fail(c, o, errno, NULL);
		sys.close(c->syncfd);
		c->syncfd = -1;
		break;
	case OP_WAIT_FIFO: {
		/* USER to a non-root uid made us non-dumpable, which can make our own /proc/self/fd
		 * unreadable: dumpable just for the open (execve recomputes it anyway). The open blocks
		 * until `start` opens the FIFO for reading. */
		if (sys.prctl(PR_SET_DUMPABLE, 1, 0) < 0)
			fail(c, o, errno, "PR_SET_DUMPABLE 1");
		if (c->fddirfd >= 0) /* chrooted without /proc (CHROOT move 0): the name is the fd number */
			fd = sys.openat(c->fddirfd, fd_path(c->fifofd) + sizeof "/proc/self/fd/" - 1, O_WRONLY | O_CLOEXEC, 0);
		else
			fd = sys.open(fd_path(c->fifofd), O_WRONLY | O_CLOEXEC, 0);
		if (fd < 0)
			fail(c, o, errno, "opening the exec FIFO");
		if (sys.prctl(PR_SET_DUMPABLE, 0, 0) < 0)
			fail(c, o, errno, "PR_SET_DUMPABLE 0");
		if (sys.write(fd, "", 1) != 1)
			fail(c, o, errno, "writing the exec FIFO");
		/* Kept open (close-on-exec): the reader sees EOF exactly when execve succeeds (or the
		 * init dies), which tells `start` that the process runs and poststart hooks may run. */
		break;
	}
	case OP_SECCOMP:
		if (sys.seccomp((unsigned)v[0].i, v[1].bytes, v[1].n / 8) < 0)
			fail(c, o, errno, NULL);
		break;
	case OP_EXEC:
		op_exec(c, o);
		break;
	case OP_SETRLIMIT:
		if (sys.setrlimit((int)v[0].i, v[1].i, v[2].i) < 0)
			fail(c, o, errno, NULL);
		break;
	case OP_RESOLVE_EXEC:
		op_resolve_exec(c, o);
		break;
	case OP_PERSONALITY:
		if (sys.personality((unsigned long)v[0].i) < 0)
			fail(c, o, errno, NULL);
		break;
	}
}

void exec_ops(struct ctx *c, uint32_t from, uint32_t to)
{
	for (uint32_t i = from; i < to; i++)
		exec_op(c, &c->plan->ops[i]);
}
