/* sys.h — the syscall layer: every call through which berth-init changes the system.
 *
 * exec.c never calls the kernel directly; it calls `sys.x(...)`. Two implementations exist,
 * chosen at link time: sys-linux.c makes the calls, sys-trace.c prints one line per call to
 * stdout and returns a plausible result, so whole plans can be tested without root
 * (berth-init-trace). Return values follow the kernel: -1 with errno set on failure.
 * Entries are one syscall each, except write_file and read_file_at (open, write or read,
 * close), run_hook (a whole hook process) and the sync-socket frames, which are one step at the
 * level a reader thinks in. */
#ifndef BERTH_SYS_H
#define BERTH_SYS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/types.h>

#include "msg.h"

/* Sync-socket frame types (docs/plan-protocol.md, "Framing"). */
enum {
	FRAME_PLAN = 1, FRAME_CONTINUE = 2, FRAME_ABORT = 3,
	FRAME_PID = 100, FRAME_HOOKS = 101, FRAME_READY = 102, FRAME_ERROR = 103,
	/* An ERROR of the container's command itself (RESOLVE_EXEC or EXEC): the engine reports it as
	 * "cannot execute" / "not found" (docker's 126 / 127) from the errno, never from the words. */
	FRAME_EXEC_ERROR = 104,
};

struct sys_layer {
	/* files and paths */
	int (*open)(const char *path, int flags, int mode);
	int (*openat)(int dirfd, const char *path, int flags, int mode);
	int (*openat2_in_root)(int rootfd, const char *path, int flags); /* RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS */
	int (*close)(int fd);
	ssize_t (*write)(int fd, const void *buf, size_t len);
	int (*write_file)(const char *path, const char *data, size_t len);
	/* openat(dirfd, path, O_RDONLY), read up to cap bytes, close: returns the length read */
	ssize_t (*read_file_at)(int dirfd, const char *path, char *buf, size_t cap);
	int (*mkdirat)(int dirfd, const char *name, int mode);
	int (*mknodat)(int dirfd, const char *name, int mode, int major, int minor);
	int (*fchownat)(int dirfd, const char *name, int uid, int gid, int flags);
	int (*fstatat)(int dirfd, const char *name, struct stat *st, int flags);
	int (*faccessat)(int dirfd, const char *name, int mode, int flags); /* faccessat2: AT_EACCESS works */
	int (*unlinkat)(int dirfd, const char *name, int flags);
	int (*symlinkat)(const char *target, int dirfd, const char *name);
	ssize_t (*readlinkat)(int dirfd, const char *name, char *buf, size_t cap); /* no NUL added */
	int (*mkfifo)(const char *path, int mode);
	int (*dup2)(int fd, int to);
	int (*close_range)(unsigned first, unsigned last, unsigned flags);
	/* mounts and roots */
	int (*mount)(const char *src, const char *target, const char *fstype, unsigned long flags, const char *data);
	int (*umount2)(const char *target, int flags);
	/* mount_setattr(fd, "", AT_EMPTY_PATH|AT_RECURSIVE, {attr_set, attr_clr}): the mount at fd and every one under it */
	int (*mount_setattr_rec)(int fd, uint64_t attr_set, uint64_t attr_clr);
	int (*pivot_root)(const char *new_root, const char *put_old);
	int (*chroot)(const char *path);
	int (*chdir)(const char *path);
	int (*fchdir)(int fd);
	int (*getcwd)(char *buf, size_t len); /* the raw syscall: "(unreachable)…" is not an error */
	int (*statfs)(const char *path, struct statfs *st);
	/* namespaces, processes, credentials */
	int (*setns)(int fd, int nstype);
	int (*unshare)(int flags);
	int (*kill)(pid_t pid, int sig);
	int (*prlimit)(pid_t pid, int resource, int64_t soft, int64_t hard);
	int (*setrlimit)(int resource, int64_t soft, int64_t hard);
	int (*sethostname)(const char *name, size_t len);
	int (*setdomainname)(const char *name, size_t len);
	int (*setsid)(void);
	int (*setresuid)(unsigned uid);
	int (*setresgid)(unsigned gid);
	int (*setgroups)(size_t n, const gid_t *gids);
	int (*prctl)(int option, unsigned long a2, unsigned long a3);
	int (*capset)(uint64_t effective, uint64_t permitted, uint64_t inheritable);
	int (*last_cap)(void); /* not a syscall: the kernel's last capability (cached before clone) */
	int (*umask)(int mask);
	int (*personality)(unsigned long domain);
	int (*seccomp)(unsigned flags, const void *filter, size_t insns);
	int (*execve)(const char *path, char *const argv[], char *const envp[]);
	/* terminals */
	int (*pty_unlock)(int master);               /* TIOCSPTLCK 0 */
	int (*pty_peer)(int master, int flags);      /* TIOCGPTPEER */
	int (*pty_number)(int master, unsigned *n);  /* TIOCGPTN */
	int (*set_winsize)(int fd, unsigned rows, unsigned cols); /* TIOCSWINSZ */
	int (*set_ctty)(int fd);                     /* TIOCSCTTY */
	int (*send_fd)(int sock, int fd, const char *name); /* SCM_RIGHTS, `name` as the data */
	/* hooks: fork, stdin = the state, execve, wait with a timeout (0 = none); detail on failure */
	int (*run_hook)(const char *path, char *const argv[], char *const envp[], const char *state,
			size_t state_len, int64_t timeout_s, struct msg *detail);
	/* sync socket */
	int (*send_frame)(int fd, uint32_t type, const void *payload, uint32_t len);
	/* Reads one frame into buf (at most cap bytes); returns its length, -1 with errno, or -2 at EOF. */
	int64_t (*recv_frame)(int fd, uint32_t *type, void *buf, uint32_t cap);
	__attribute__((noreturn)) void (*exit)(int status);
};

extern const struct sys_layer sys;

#endif
