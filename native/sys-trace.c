/* sys-trace.c — the recording fake of the syscall layer (see sys.h), for berth-init-trace.
 *
 * Prints one line per call to stdout, strace-like: `mount("proc", "/proc/self/fd/101", "proc",
 * 0xe, NULL) = 0`, and changes nothing. Its answers are deterministic so that tests can compare
 * whole logs: every call succeeds unless the fake tree (BERTH_TRACE_FS, below) says a path is
 * missing; fds are handed out from 100 upwards; statfs reports no flags; the last capability
 * is 40; getcwd returns the last chdir path; recv_frame answers CONTINUE with an empty state;
 * execve prints and exits 0. Never used after a clone, so stdio is fine here. */
#include "sys.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

static int next_fd = 100;
static char cwd[4096] = "/";

/* ---- the fake tree ----------------------------------------------------------------------
 * By default every path exists (a directory to openat2, an executable regular file to fstatat
 * and faccessat) and nothing is a symlink. BERTH_TRACE_FS describes exceptions, ';'-separated:
 *   -PATH          PATH and everything under it is missing (until mkdirat/mknodat creates it)
 *   PATH>TARGET    PATH is a dangling symlink to TARGET (it and everything under it: ENOENT)
 *   !PATH          a regular file without execute permission (faccessat X_OK: EACCES)
 *   +PATH          a directory (fstatat: S_IFDIR)
 * Paths are as the executor passes them (in-root paths as if the rootfs were /); the fake does
 * not resolve symlinks itself. fds remember the path they were opened with, so that *at calls
 * are judged on dirfd's path + name. */
#define FS_MAX 64
static struct fs_entry {
	char kind; /* '-', '>', '!', '+' */
	char path[512];
	char target[512];
} fs[FS_MAX];
static int nfs;
static char created[FS_MAX][512];
static int ncreated;
static char fd_paths[1024][512];

static void normalize(char *out, size_t cap, const char *in)
{
	size_t n = 0;
	for (; *in && n + 1 < cap; in++)
		if (!(*in == '/' && n > 0 && out[n - 1] == '/'))
			out[n++] = *in;
	while (n > 1 && out[n - 1] == '/')
		n--;
	out[n] = 0;
}

static void fs_load(void)
{
	static int loaded;
	if (loaded++)
		return;
	const char *env = getenv("BERTH_TRACE_FS");
	for (const char *p = env; p && *p && nfs < FS_MAX;) {
		size_t n = strcspn(p, ";");
		char e[1024];
		snprintf(e, sizeof e, "%.*s", (int)n, p);
		p += n + (p[n] == ';');
		if (!e[0])
			continue;
		struct fs_entry *f = &fs[nfs++];
		char *arrow = strchr(e, '>');
		if (arrow) {
			*arrow = 0;
			f->kind = '>';
			normalize(f->path, sizeof f->path, e);
			snprintf(f->target, sizeof f->target, "%s", arrow + 1);
		} else {
			f->kind = e[0];
			normalize(f->path, sizeof f->path, e + 1);
		}
	}
}

static const char *fs_join(int dirfd, const char *name, char *buf, size_t cap)
{
	char raw[1100];
	const char *dir = dirfd >= 100 && dirfd < 100 + 1024 ? fd_paths[dirfd - 100] : "";
	if (name[0] == '/' || dirfd == AT_FDCWD)
		snprintf(raw, sizeof raw, "%s", name);
	else
		snprintf(raw, sizeof raw, "%s/%s", dir, name);
	normalize(buf, cap, raw);
	return buf;
}

static const struct fs_entry *fs_find(const char *path, char kind)
{
	fs_load();
	for (int i = 0; i < nfs; i++)
		if (fs[i].kind == kind && !strcmp(fs[i].path, path))
			return &fs[i];
	return NULL;
}

static int fs_exists(const char *path)
{
	fs_load();
	for (int i = 0; i < ncreated; i++)
		if (!strcmp(created[i], path))
			return 1;
	for (int i = 0; i < nfs; i++) {
		size_t n = strlen(fs[i].path);
		if ((fs[i].kind == '-' || fs[i].kind == '>') && !strncmp(path, fs[i].path, n) &&
		    (path[n] == 0 || path[n] == '/'))
			return 0;
	}
	return 1;
}

static void fs_create(int dirfd, const char *name)
{
	char p[512];
	if (ncreated < FS_MAX)
		snprintf(created[ncreated++], sizeof created[0], "%s", fs_join(dirfd, name, p, sizeof p));
}

static int fs_fd(int fd, const char *path)
{
	if (fd >= 100 && fd < 100 + 1024)
		normalize(fd_paths[fd - 100], sizeof fd_paths[0], path);
	return fd;
}

static void qn(const char *s, size_t n);

static void q(const char *s) /* a quoted, escaped string, or NULL */
{
	if (s)
		qn(s, strlen(s));
	else
		fputs("NULL", stdout);
}

static void qn(const char *s, size_t n) /* bytes of known length, NULs included */
{
	putchar('"');
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch == '"' || ch == '\\')
			printf("\\%c", ch);
		else if (ch == '\n')
			fputs("\\n", stdout);
		else if (ch < 0x20 || ch >= 0x7f)
			printf("\\x%02x", ch);
		else
			putchar(ch);
	}
	putchar('"');
}

static void strv(char *const v[])
{
	putchar('[');
	for (size_t i = 0; v[i]; i++) {
		if (i)
			fputs(", ", stdout);
		q(v[i]);
	}
	putchar(']');
}

struct flag {
	unsigned long bit;
	const char *name;
};

static void flags(unsigned long v, const struct flag *names)
{
	int first = 1;
	for (size_t i = 0; names[i].name; i++) {
		if ((v & names[i].bit) != names[i].bit)
			continue;
		printf("%s%s", first ? "" : "|", names[i].name);
		first = 0;
		v &= ~names[i].bit;
	}
	if (v || first)
		printf("%s0x%lx", first ? "" : "|", v);
}

static const struct flag open_flags[] = {
	{O_WRONLY, "O_WRONLY"}, {O_RDWR, "O_RDWR"}, {O_PATH, "O_PATH"}, {O_DIRECTORY, "O_DIRECTORY"},
	{O_NOCTTY, "O_NOCTTY"}, {O_CREAT, "O_CREAT"}, {O_EXCL, "O_EXCL"}, {O_NOFOLLOW, "O_NOFOLLOW"},
	{O_CLOEXEC, "O_CLOEXEC"}, {0, NULL},
};

static const struct flag ns_flags[] = {
	{CLONE_NEWNS, "CLONE_NEWNS"}, {CLONE_NEWCGROUP, "CLONE_NEWCGROUP"}, {CLONE_NEWUTS, "CLONE_NEWUTS"},
	{CLONE_NEWIPC, "CLONE_NEWIPC"}, {CLONE_NEWUSER, "CLONE_NEWUSER"}, {CLONE_NEWPID, "CLONE_NEWPID"},
	{CLONE_NEWNET, "CLONE_NEWNET"}, {0x80, "CLONE_NEWTIME"}, {0, NULL},
};

/* Exposed to trace-main.c for the clone line. */
void trace_ns_flags(unsigned long v);
void trace_ns_flags(unsigned long v) { flags(v, ns_flags); }

static void oflags(int v)
{
	if ((v & O_ACCMODE) == O_RDONLY && !(v & O_PATH))
		fputs((v & ~O_ACCMODE) ? "O_RDONLY|" : "O_RDONLY", stdout);
	if (v & ~O_ACCMODE || (v & O_ACCMODE) != O_RDONLY)
		flags((unsigned long)v, open_flags);
}

static int ret(int r)
{
	printf(" = %d\n", r);
	return r;
}

static int t_open(const char *path, int f, int mode)
{
	fputs("open(", stdout);
	q(path);
	fputs(", ", stdout);
	oflags(f);
	if (f & O_CREAT)
		printf(", %#o", mode);
	fputs(")", stdout);
	return ret(fs_fd(next_fd++, path));
}

static int t_openat(int dirfd, const char *path, int f, int mode)
{
	printf("openat(%d, ", dirfd);
	q(path);
	fputs(", ", stdout);
	oflags(f);
	if (f & O_CREAT)
		printf(", %#o", mode);
	fputs(")", stdout);
	return ret(next_fd++);
}

static int t_openat2_in_root(int rootfd, const char *path, int f)
{
	char p[512];
	printf("openat2(%d, ", rootfd);
	q(path);
	fputs(", ", stdout);
	oflags(f);
	fputs(", RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS)", stdout);
	if (!fs_exists(fs_join(AT_FDCWD, path, p, sizeof p))) {
		fputs(" = -1 ENOENT\n", stdout);
		errno = ENOENT;
		return -1;
	}
	return ret(fs_fd(next_fd++, path));
}

static int t_close(int fd) { printf("close(%d)", fd); return ret(0); }

static ssize_t t_write(int fd, const void *buf, size_t len)
{
	if (fd == 2) { /* errors after READY: show them as they are */
		fwrite(buf, 1, len, stdout);
		return (ssize_t)len;
	}
	printf("write(%d, ", fd);
	qn(buf, len);
	printf(", %zu)", len);
	return ret((int)len);
}

static int t_write_file(const char *path, const char *data, size_t len)
{
	fputs("write_file(", stdout);
	q(path);
	fputs(", ", stdout);
	qn(data, len);
	fputs(")", stdout);
	return ret(0);
}

/* A stat line whose comm has spaces and parentheses, and start time 424242 (field 22). */
static const char fake_stat[] =
	"4242 (sh (x) y) S 1 4242 4242 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 424242 1234 56 1\n";

static ssize_t t_read_file_at(int dirfd, const char *path, char *buf, size_t cap)
{
	size_t n = sizeof fake_stat - 1 < cap ? sizeof fake_stat - 1 : cap;
	memcpy(buf, fake_stat, n);
	printf("read_file_at(%d, ", dirfd);
	q(path);
	fputs(")", stdout);
	return ret((int)n);
}

static int t_mkdirat(int dirfd, const char *name, int mode)
{
	printf("mkdirat(%d, ", dirfd);
	q(name);
	printf(", %#o)", mode);
	fs_create(dirfd, name);
	return ret(0);
}

static int t_mknodat(int dirfd, const char *name, int mode, int major, int minor)
{
	printf("mknodat(%d, ", dirfd);
	q(name);
	printf(", %#o, makedev(%d, %d))", mode, major, minor);
	fs_create(dirfd, name);
	return ret(0);
}

static int t_fchownat(int dirfd, const char *name, int uid, int gid, int f)
{
	printf("fchownat(%d, ", dirfd);
	q(name);
	printf(", %d, %d, 0x%x)", uid, gid, f);
	return ret(0);
}

static void at_fd(int dirfd)
{
	if (dirfd == AT_FDCWD)
		fputs("AT_FDCWD", stdout);
	else
		printf("%d", dirfd);
}

static int t_fstatat(int dirfd, const char *name, struct stat *st, int f)
{
	char p[512];
	fs_join(dirfd, name, p, sizeof p);
	memset(st, 0, sizeof *st);
	fputs("fstatat(", stdout);
	at_fd(dirfd);
	fputs(", ", stdout);
	q(name);
	printf(", 0x%x)", f);
	if (!fs_exists(p)) {
		fputs(" = -1 ENOENT\n", stdout);
		errno = ENOENT;
		return -1;
	}
	st->st_mode = fs_find(p, '+') ? S_IFDIR | 0755 : fs_find(p, '!') ? S_IFREG | 0644 : S_IFREG | 0755;
	printf(" = 0 {%s}\n", S_ISDIR(st->st_mode) ? "S_IFDIR" : "S_IFREG");
	return 0;
}

static int t_faccessat(int dirfd, const char *name, int mode, int f)
{
	char p[512];
	fs_join(dirfd, name, p, sizeof p);
	fputs("faccessat(", stdout);
	at_fd(dirfd);
	fputs(", ", stdout);
	q(name);
	printf(", %s, %s)", mode == X_OK ? "X_OK" : "?", f == AT_EACCESS ? "AT_EACCESS" : "0");
	errno = !fs_exists(p) ? ENOENT : fs_find(p, '!') ? EACCES : 0;
	if (errno) {
		printf(" = -1 %s\n", errno == ENOENT ? "ENOENT" : "EACCES");
		return -1;
	}
	return ret(0);
}

static int t_unlinkat(int dirfd, const char *name, int f)
{
	printf("unlinkat(%d, ", dirfd);
	q(name);
	printf(", 0x%x)", f);
	return ret(0);
}

static int t_symlinkat(const char *target, int dirfd, const char *name)
{
	fputs("symlinkat(", stdout);
	q(target);
	printf(", %d, ", dirfd);
	q(name);
	fputs(")", stdout);
	return ret(0);
}

static ssize_t t_readlinkat(int dirfd, const char *name, char *buf, size_t cap)
{
	char p[512];
	fs_join(dirfd, name, p, sizeof p);
	printf("readlinkat(%d, ", dirfd);
	q(name);
	fputs(")", stdout);
	const struct fs_entry *l = fs_find(p, '>');
	if (!l) {
		errno = fs_exists(p) ? EINVAL : ENOENT;
		printf(" = -1 %s\n", errno == EINVAL ? "EINVAL" : "ENOENT");
		return -1;
	}
	size_t n = strlen(l->target) < cap ? strlen(l->target) : cap;
	memcpy(buf, l->target, n);
	fputs(" = ", stdout);
	q(l->target);
	putchar('\n');
	return (ssize_t)n;
}

static int t_mkfifo(const char *path, int mode)
{
	fputs("mkfifo(", stdout);
	q(path);
	printf(", %#o)", mode);
	return ret(0);
}

static int t_dup2(int fd, int to) { printf("dup2(%d, %d)", fd, to); return ret(to); }

static int t_close_range(unsigned first, unsigned last, unsigned f)
{
	printf("close_range(%u, 0x%x, %s)", first, last, f == 4 ? "CLOSE_RANGE_CLOEXEC" : "0");
	return ret(0);
}

static int t_mount(const char *src, const char *target, const char *fstype, unsigned long f, const char *data)
{
	fputs("mount(", stdout);
	q(src);
	fputs(", ", stdout);
	q(target);
	fputs(", ", stdout);
	q(fstype);
	printf(", 0x%lx, ", f);
	q(data);
	fputs(")", stdout);
	return ret(0);
}

static int t_mount_setattr_rec(int fd, uint64_t set, uint64_t clr)
{
	printf("mount_setattr(%d, \"\", AT_EMPTY_PATH|AT_RECURSIVE, {attr_set=0x%llx, attr_clr=0x%llx})", fd,
	       (unsigned long long)set, (unsigned long long)clr);
	return ret(0);
}

static int t_umount2(const char *target, int f)
{
	fputs("umount2(", stdout);
	q(target);
	printf(", 0x%x)", f);
	return ret(0);
}

static int t_pivot_root(const char *n, const char *o)
{
	fputs("pivot_root(", stdout);
	q(n);
	fputs(", ", stdout);
	q(o);
	fputs(")", stdout);
	return ret(0);
}

static int t_path1(const char *name, const char *path)
{
	printf("%s(", name);
	q(path);
	fputs(")", stdout);
	return ret(0);
}

static int t_chroot(const char *path) { return t_path1("chroot", path); }
static int t_chdir(const char *path)
{
	snprintf(cwd, sizeof cwd, "%s", path);
	return t_path1("chdir", path);
}
static int t_fchdir(int fd) { printf("fchdir(%d)", fd); return ret(0); }

static int t_getcwd(char *buf, size_t len)
{
	snprintf(buf, len, "%s", cwd);
	fputs("getcwd(", stdout);
	q(buf);
	fputs(")", stdout);
	return ret(0);
}

static int t_statfs(const char *path, struct statfs *st)
{
	memset(st, 0, sizeof *st);
	return t_path1("statfs", path);
}

static int t_setns(int fd, int nstype)
{
	printf("setns(%d, ", fd);
	flags((unsigned long)nstype, ns_flags);
	fputs(")", stdout);
	return ret(0);
}

static int t_unshare(int f)
{
	fputs("unshare(", stdout);
	flags((unsigned long)f, ns_flags);
	fputs(")", stdout);
	return ret(0);
}

static int t_kill(pid_t pid, int sig) { printf("kill(%d, %d)", pid, sig); return ret(0); }

static int t_prlimit(pid_t pid, int res, int64_t soft, int64_t hard)
{
	printf("prlimit(%d, %d, %" PRId64 ", %" PRId64 ")", pid, res, soft, hard);
	return ret(0);
}

static int t_setrlimit(int res, int64_t soft, int64_t hard)
{
	printf("setrlimit(%d, %" PRId64 ", %" PRId64 ")", res, soft, hard);
	return ret(0);
}

static int t_sethostname(const char *n, size_t len)
{
	fputs("sethostname(", stdout);
	qn(n, len);
	fputs(")", stdout);
	return ret(0);
}

static int t_setdomainname(const char *n, size_t len)
{
	fputs("setdomainname(", stdout);
	qn(n, len);
	fputs(")", stdout);
	return ret(0);
}

static int t_setsid(void) { fputs("setsid()", stdout); return ret(0); }
static int t_setresuid(unsigned id) { printf("setresuid(%u, %u, %u)", id, id, id); return ret(0); }
static int t_setresgid(unsigned id) { printf("setresgid(%u, %u, %u)", id, id, id); return ret(0); }

static int t_setgroups(size_t n, const gid_t *g)
{
	printf("setgroups(%zu, [", n);
	for (size_t i = 0; i < n; i++)
		printf("%s%u", i ? ", " : "", g[i]);
	fputs("])", stdout);
	return ret(0);
}

static int t_prctl(int option, unsigned long a2, unsigned long a3)
{
	const char *name = option == PR_SET_KEEPCAPS ? "PR_SET_KEEPCAPS"
			   : option == PR_CAPBSET_DROP  ? "PR_CAPBSET_DROP"
			   : option == PR_CAP_AMBIENT   ? "PR_CAP_AMBIENT"
			   : option == PR_SET_NO_NEW_PRIVS ? "PR_SET_NO_NEW_PRIVS"
			   : option == PR_SET_DUMPABLE ? "PR_SET_DUMPABLE"
							   : NULL;
	if (name)
		printf("prctl(%s, ", name);
	else
		printf("prctl(%d, ", option);
	if (option == PR_CAP_AMBIENT && a2 == PR_CAP_AMBIENT_RAISE)
		printf("PR_CAP_AMBIENT_RAISE, %lu)", a3);
	else
		printf("%lu, %lu)", a2, a3);
	return ret(0);
}

static int t_capset(uint64_t e, uint64_t p, uint64_t i)
{
	printf("capset(v3, effective=0x%" PRIx64 ", permitted=0x%" PRIx64 ", inheritable=0x%" PRIx64 ")", e, p, i);
	return ret(0);
}

static int t_last_cap(void) { return 40; }
static int t_umask(int mask)
{
	printf("umask(%#o) = 022\n", mask);
	return 022;
}
static int t_personality(unsigned long d) { printf("personality(0x%lx)", d); return ret(0); }

static int t_seccomp(unsigned f, const void *filter, size_t insns)
{
	(void)filter;
	printf("seccomp(SECCOMP_SET_MODE_FILTER, 0x%x, {len=%zu})", f, insns);
	return ret(0);
}

__attribute__((noreturn)) static int t_execve(const char *path, char *const argv[], char *const envp[])
{
	fputs("execve(", stdout);
	q(path);
	fputs(", ", stdout);
	strv(argv);
	fputs(", ", stdout);
	strv(envp);
	fputs(")\n", stdout);
	fflush(stdout);
	_exit(0); /* "succeeded": the plan is over */
}

static int t_pty_unlock(int m) { printf("ioctl(%d, TIOCSPTLCK, 0)", m); return ret(0); }
static int t_pty_peer(int m, int f)
{
	printf("ioctl(%d, TIOCGPTPEER, ", m);
	oflags(f);
	fputs(")", stdout);
	return ret(next_fd++);
}
static int t_pty_number(int m, unsigned *n)
{
	*n = 0;
	printf("ioctl(%d, TIOCGPTN) = 0 {0}\n", m);
	return 0;
}
static int t_set_winsize(int fd, unsigned rows, unsigned cols)
{
	printf("ioctl(%d, TIOCSWINSZ, {rows=%u, cols=%u})", fd, rows, cols);
	return ret(0);
}
static int t_set_ctty(int fd) { printf("ioctl(%d, TIOCSCTTY, 0)", fd); return ret(0); }
static int t_send_fd(int sock, int fd, const char *name)
{
	printf("sendmsg(%d, SCM_RIGHTS [%d], ", sock, fd);
	q(name);
	fputs(")", stdout);
	return ret(0);
}

static int t_run_hook(const char *path, char *const argv[], char *const envp[], const char *st, size_t len,
		      int64_t timeout_s, struct msg *detail)
{
	(void)st;
	(void)detail;
	fputs("run_hook(", stdout);
	q(path);
	fputs(", ", stdout);
	strv(argv);
	fputs(", ", stdout);
	strv(envp);
	printf(", stdin=%zu bytes, timeout=%" PRId64 ")", len, timeout_s);
	return ret(0);
}

static const char *frame_name(uint32_t type)
{
	switch (type) {
	case FRAME_PID: return "PID";
	case FRAME_HOOKS: return "HOOKS";
	case FRAME_READY: return "READY";
	case FRAME_ERROR: return "ERROR";
	case FRAME_EXEC_ERROR: return "EXEC_ERROR";
	}
	return "?";
}

static int t_send_frame(int fd, uint32_t type, const void *payload, uint32_t len)
{
	printf("send_frame(%d, %s", fd, frame_name(type));
	int32_t n;
	if ((type == FRAME_PID || type == FRAME_ERROR || type == FRAME_EXEC_ERROR) && len >= 4) {
		memcpy(&n, payload, 4);
		printf(", %d", n);
	}
	if (type == FRAME_PID || type == FRAME_ERROR || type == FRAME_EXEC_ERROR) {
		fputs(", ", stdout);
		qn((const char *)payload + 4, len - 4);
	}
	fputs(")", stdout);
	return ret(0);
}

static int64_t t_recv_frame(int fd, uint32_t *type, void *buf, uint32_t cap)
{
	(void)buf;
	(void)cap;
	*type = FRAME_CONTINUE;
	printf("recv_frame(%d) = CONTINUE, 0 bytes\n", fd);
	return 0;
}

__attribute__((noreturn)) static void t_exit(int status)
{
	printf("exit(%d)\n", status);
	fflush(stdout);
	_exit(status);
}

const struct sys_layer sys = {
	.open = t_open, .openat = t_openat, .openat2_in_root = t_openat2_in_root, .close = t_close, .write = t_write,
	.write_file = t_write_file, .read_file_at = t_read_file_at,
	.mkdirat = t_mkdirat, .mknodat = t_mknodat, .fchownat = t_fchownat,
	.fstatat = t_fstatat, .faccessat = t_faccessat,
	 .unlinkat = t_unlinkat, .symlinkat = t_symlinkat, .readlinkat = t_readlinkat, .mkfifo = t_mkfifo,
	.dup2 = t_dup2, .close_range = t_close_range,
	.mount = t_mount, .umount2 = t_umount2, .mount_setattr_rec = t_mount_setattr_rec, .pivot_root = t_pivot_root, .chroot = t_chroot,
	.chdir = t_chdir, .fchdir = t_fchdir, .getcwd = t_getcwd, .statfs = t_statfs,
	.setns = t_setns, .unshare = t_unshare, .kill = t_kill, .prlimit = t_prlimit, .setrlimit = t_setrlimit,
	.sethostname = t_sethostname, .setdomainname = t_setdomainname, .setsid = t_setsid,
	.setresuid = t_setresuid, .setresgid = t_setresgid, .setgroups = t_setgroups, .prctl = t_prctl,
	.capset = t_capset, .last_cap = t_last_cap, .umask = t_umask, .personality = t_personality,
	.seccomp = t_seccomp, .execve = t_execve,
	.pty_unlock = t_pty_unlock, .pty_peer = t_pty_peer, .pty_number = t_pty_number,
	.set_winsize = t_set_winsize, .set_ctty = t_set_ctty, .send_fd = t_send_fd,
	.run_hook = t_run_hook, .send_frame = t_send_frame, .recv_frame = t_recv_frame, .exit = t_exit,
};
