/* sys-linux.c — the real syscall layer (see sys.h).
 *
 * Raw syscall() where glibc 2.36 lacks a wrapper or where its wrapper does more than the
 * syscall (setres*id and setgroups broadcast to threads; after a raw clone glibc's thread
 * bookkeeping is stale, so we bypass it). Everything here is async-signal-safe. */
#include "sys.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

static int l_open(const char *path, int flags, int mode) { return open(path, flags, mode); }
static int l_openat(int dirfd, const char *path, int flags, int mode) { return openat(dirfd, path, flags, mode); }

static int l_openat2_in_root(int rootfd, const char *path, int flags)
{
	struct open_how how = {
		.flags = (uint64_t)flags,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	int fd;
	do
		fd = (int)syscall(SYS_openat2, rootfd, path, &how, sizeof how);
	while (fd < 0 && errno == EAGAIN); /* a concurrent rename in the tree: the kernel asks to retry */
	return fd;
}

static int l_close(int fd) { return close(fd); }

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static ssize_t l_write(int fd, const void *buf, size_t len) { return write_all(fd, buf, len) < 0 ? -1 : (ssize_t)len; }

static int l_write_file(const char *path, const char *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	/* One write: /proc files such as uid_map take their whole content in a single call. */
	ssize_t n = write(fd, data, len);
	int e = errno;
	close(fd);
	if (n < 0) {
		errno = e;
		return -1;
	}
	if ((size_t)n != len) {
		errno = EIO;
		return -1;
	}
	return 0;
}

static ssize_t l_read_file_at(int dirfd, const char *path, char *buf, size_t cap)
{
	int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	size_t got = 0;
	while (got < cap) {
		ssize_t n = read(fd, buf + got, cap - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			close(fd);
			errno = e;
			return -1;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	return (ssize_t)got;
}

static int l_mkdirat(int dirfd, const char *name, int mode) { return mkdirat(dirfd, name, (mode_t)mode); }
static int l_mknodat(int dirfd, const char *name, int mode, int major, int minor)
{
	return mknodat(dirfd, name, (mode_t)mode, makedev((unsigned)major, (unsigned)minor));
}
static int l_fchownat(int dirfd, const char *name, int uid, int gid, int flags)
{
	return fchownat(dirfd, name, (uid_t)uid, (gid_t)gid, flags);
}
static int l_fstatat(int dirfd, const char *name, struct stat *st, int flags) { return fstatat(dirfd, name, st, flags); }
static int l_faccessat(int dirfd, const char *name, int mode, int flags)
{
	/* faccessat2 only when flags are needed: older seccomp profiles do not list it. */
	return flags ? (int)syscall(SYS_faccessat2, dirfd, name, mode, flags) : (int)syscall(SYS_faccessat, dirfd, name, mode);
}
static int l_unlinkat(int dirfd, const char *name, int flags) { return unlinkat(dirfd, name, flags); }
static int l_symlinkat(const char *target, int dirfd, const char *name) { return symlinkat(target, dirfd, name); }
static ssize_t l_readlinkat(int dirfd, const char *name, char *buf, size_t cap)
{
	return readlinkat(dirfd, name, buf, cap);
}
static int l_mkfifo(const char *path, int mode) { return mkfifo(path, (mode_t)mode); }
static int l_dup2(int fd, int to) { return fd == to ? 0 : dup2(fd, to); }
static int l_close_range(unsigned first, unsigned last, unsigned flags)
{
	return (int)syscall(SYS_close_range, first, last, flags);
}

static int l_mount(const char *src, const char *target, const char *fstype, unsigned long flags, const char *data)
{
	return mount(src, target, fstype, flags, data);
}
static int l_umount2(const char *target, int flags) { return umount2(target, flags); }
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif
static int l_mount_setattr_rec(int fd, uint64_t set, uint64_t clr)
{
	/* struct mount_attr (linux/mount.h, 5.12): spelled out, as glibc 2.36's headers clash with it. */
	struct {
		uint64_t attr_set, attr_clr, propagation, userns_fd;
	} attr = {set, clr, 0, 0};
	return (int)syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr);
}
static int l_pivot_root(const char *n, const char *o) { return (int)syscall(SYS_pivot_root, n, o); }
static int l_chroot(const char *path) { return chroot(path); }
static int l_chdir(const char *path) { return chdir(path); }
static int l_fchdir(int fd) { return fchdir(fd); }
static int l_getcwd(char *buf, size_t len) { return syscall(SYS_getcwd, buf, len) < 0 ? -1 : 0; }
static int l_statfs(const char *path, struct statfs *st) { return statfs(path, st); }

static int l_setns(int fd, int nstype) { return setns(fd, nstype); }
static int l_unshare(int flags) { return unshare(flags); }
static int l_kill(pid_t pid, int sig) { return kill(pid, sig); }

static rlim_t rlim(int64_t v) { return v < 0 ? RLIM_INFINITY : (rlim_t)v; }
static int l_prlimit(pid_t pid, int res, int64_t soft, int64_t hard)
{
	struct rlimit r = {rlim(soft), rlim(hard)};
	return prlimit(pid, (__rlimit_resource_t)res, &r, NULL);
}
static int l_setrlimit(int res, int64_t soft, int64_t hard)
{
	struct rlimit r = {rlim(soft), rlim(hard)};
	return setrlimit((__rlimit_resource_t)res, &r);
}
static int l_sethostname(const char *n, size_t len) { return sethostname(n, len); }
static int l_setdomainname(const char *n, size_t len) { return setdomainname(n, len); }
static int l_setsid(void) { return setsid() < 0 ? -1 : 0; }
static int l_setresuid(unsigned id) { return (int)syscall(SYS_setresuid, id, id, id); }
static int l_setresgid(unsigned id) { return (int)syscall(SYS_setresgid, id, id, id); }
static int l_setgroups(size_t n, const gid_t *g) { return (int)syscall(SYS_setgroups, n, g); }
static int l_prctl(int option, unsigned long a2, unsigned long a3) { return prctl(option, a2, a3, 0, 0); }

static int l_capset(uint64_t eff, uint64_t perm, uint64_t inh)
{
	struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[2] = {
		{(uint32_t)eff, (uint32_t)perm, (uint32_t)inh},
		{(uint32_t)(eff >> 32), (uint32_t)(perm >> 32), (uint32_t)(inh >> 32)},
	};
	return (int)syscall(SYS_capset, &hdr, d);
}

static int l_last_cap(void)
{
	static int last = -1;
	if (last >= 0)
		return last;
	char buf[16] = {0};
	int fd = open("/proc/sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t n = read(fd, buf, sizeof buf - 1);
		close(fd);
		if (n > 0)
			for (int i = 0, v = 0; i < n; i++) {
				if (buf[i] < '0' || buf[i] > '9') {
					last = v;
					break;
				}
				v = v * 10 + (buf[i] - '0');
			}
	}
	if (last < 0) /* no /proc: ask the bounding set, which answers EINVAL past the last cap */
		for (last = 0; last < 63 && prctl(PR_CAPBSET_READ, last + 1, 0, 0, 0) >= 0; last++)
			;
	return last;
}

static int l_umask(int mask) { return (int)umask((mode_t)mask); }
static int l_personality(unsigned long d) { return personality(d); }
static int l_seccomp(unsigned flags, const void *filter, size_t insns)
{
	struct sock_fprog prog = {(unsigned short)insns, (struct sock_filter *)filter};
	return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog) < 0 ? -1 : 0;
}
static int l_execve(const char *path, char *const argv[], char *const envp[]) { return execve(path, argv, envp); }

static int l_pty_unlock(int m)
{
	int unlock = 0;
	return ioctl(m, TIOCSPTLCK, &unlock);
}
static int l_pty_peer(int m, int flags) { return ioctl(m, TIOCGPTPEER, flags); }
static int l_pty_number(int m, unsigned *n) { return ioctl(m, TIOCGPTN, n); }
static int l_set_winsize(int fd, unsigned rows, unsigned cols)
{
	struct winsize ws = {.ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols};
	return ioctl(fd, TIOCSWINSZ, &ws);
}
static int l_set_ctty(int fd) { return ioctl(fd, TIOCSCTTY, 0); }

static int l_send_fd(int sock, int fd, const char *name)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	memset(&u, 0, sizeof u);
	struct iovec iov = {(void *)name, strlen(name)};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof fd);
	ssize_t n;
	do
		n = sendmsg(sock, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -1 : 0;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* fork + execve of a hook with the state on its stdin; waits for it (pidfd + poll), SIGKILL at
 * the timeout. A raw clone rather than glibc's fork: no atfork handlers after our own raw clone. */
static int l_run_hook(const char *path, char *const argv[], char *const envp[], const char *st, size_t len,
		      int64_t timeout_s, struct msg *detail)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0) {
		msg_str(detail, "pipe2");
		return -1;
	}
	pid_t pid = (pid_t)syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
	if (pid < 0) {
		int e = errno;
		close(p[0]);
		close(p[1]);
		msg_str(detail, "fork");
		errno = e;
		return -1;
	}
	if (pid == 0) {
		if (dup2(p[0], 0) < 0)
			_exit(127);
		execve(path, argv, envp);
		_exit(127);
	}
	close(p[0]);
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0) {
		int e = errno;
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		close(p[1]);
		msg_str(detail, "pidfd_open");
		errno = e;
		return -1;
	}
	/* A hook that never reads stdin must not kill us with SIGPIPE, nor block us. */
	struct sigaction ign = {.sa_handler = SIG_IGN}, old;
	sigaction(SIGPIPE, &ign, &old);
	fcntl(p[1], F_SETFL, O_NONBLOCK);
	int64_t deadline = timeout_s > 0 ? now_ms() + timeout_s * 1000 : -1;
	size_t off = 0;
	int wfd = p[1], timed_out = 0;
	if (len == 0) {
		close(wfd);
		wfd = -1;
	}
	for (;;) {
		struct pollfd fds[2] = {{pidfd, POLLIN, 0}, {wfd, POLLOUT, 0}};
		int wait = deadline < 0 ? -1 : (int)(deadline - now_ms() > 0 ? deadline - now_ms() : 0);
		int r = poll(fds, wfd >= 0 ? 2 : 1, wait);
		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0) {
			timed_out = 1;
			kill(pid, SIGKILL);
			break;
		}
		if (fds[0].revents)
			break;
		if (wfd >= 0 && fds[1].revents) {
			ssize_t n = write(wfd, st + off, len - off);
			if (n > 0)
				off += (size_t)n;
			if ((n < 0 && errno != EAGAIN && errno != EINTR) || off == len) {
				close(wfd);
				wfd = -1;
			}
		}
	}
	if (wfd >= 0)
		close(wfd);
	sigaction(SIGPIPE, &old, NULL);
	close(pidfd);
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (timed_out) {
		msg_str(detail, "timed out after ");
		msg_int(detail, timeout_s);
		msg_str(detail, "s (killed)");
		errno = ETIMEDOUT;
		return -1;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFEXITED(status)) {
		msg_str(detail, "exited with status ");
		msg_int(detail, WEXITSTATUS(status));
	} else {
		msg_str(detail, "killed by signal ");
		msg_int(detail, WTERMSIG(status));
	}
	errno = 0;
	return -1;
}

/* Like write_all, but a peer that went away is EPIPE, not a SIGPIPE that kills us silently. */
static int send_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == ENOTSOCK)
			return write_all(fd, p, len); /* a pipe in tests: SIGPIPE is the caller's problem */
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int l_send_frame(int fd, uint32_t type, const void *payload, uint32_t len)
{
	uint32_t head[2] = {type, len}; /* little-endian hosts */
	if (send_all(fd, head, sizeof head) < 0)
		return -1;
	return len ? send_all(fd, payload, len) : 0;
}

static int read_all(int fd, void *buf, size_t len)
{
	char *p = buf;
	while (len) {
		ssize_t n = read(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			return -2;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int64_t l_recv_frame(int fd, uint32_t *type, void *buf, uint32_t cap)
{
	uint32_t head[2];
	int r = read_all(fd, head, sizeof head);
	if (r < 0)
		return r;
	if (head[1] > cap) {
		errno = EMSGSIZE;
		return -1;
	}
	*type = head[0];
	r = read_all(fd, buf, head[1]);
	return r < 0 ? r : (int64_t)head[1];
}

__attribute__((noreturn)) static void l_exit(int status) { _exit(status); }

const struct sys_layer sys = {
	.open = l_open, .openat = l_openat, .openat2_in_root = l_openat2_in_root, .close = l_close, .write = l_write,
	.write_file = l_write_file, .read_file_at = l_read_file_at,
	.mkdirat = l_mkdirat, .mknodat = l_mknodat, .fchownat = l_fchownat,
	.fstatat = l_fstatat, .faccessat = l_faccessat,
	 .unlinkat = l_unlinkat, .symlinkat = l_symlinkat, .readlinkat = l_readlinkat, .mkfifo = l_mkfifo,
	.dup2 = l_dup2, .close_range = l_close_range,
	.mount = l_mount, .umount2 = l_umount2, .mount_setattr_rec = l_mount_setattr_rec, .pivot_root = l_pivot_root, .chroot = l_chroot,
	.chdir = l_chdir, .fchdir = l_fchdir, .getcwd = l_getcwd, .statfs = l_statfs,
	.setns = l_setns, .unshare = l_unshare, .kill = l_kill, .prlimit = l_prlimit, .setrlimit = l_setrlimit,
	.sethostname = l_sethostname, .setdomainname = l_setdomainname, .setsid = l_setsid,
	.setresuid = l_setresuid, .setresgid = l_setresgid, .setgroups = l_setgroups, .prctl = l_prctl,
	.capset = l_capset, .last_cap = l_last_cap, .umask = l_umask, .personality = l_personality,
	.seccomp = l_seccomp, .execve = l_execve,
	.pty_unlock = l_pty_unlock, .pty_peer = l_pty_peer, .pty_number = l_pty_number,
	.set_winsize = l_set_winsize, .set_ctty = l_set_ctty, .send_fd = l_send_fd,
	.run_hook = l_run_hook, .send_frame = l_send_frame, .recv_frame = l_recv_frame, .exit = l_exit,
};
