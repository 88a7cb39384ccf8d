/* main.c — berth-init's process plumbing (docs/plan-protocol.md, "Processes").
 *
 *   berth-init <syncfd>
 *
 * Owns: the sealed-memfd re-exec (CVE-2019-5736), reading the PLAN frame, the clone into the
 * container's namespaces and the GO handshake between stage0 and the child, and stage0's
 * foreground life (signal forwarding, exit status). What the ops do is exec.c's business.
 * After clone, only async-signal-safe calls. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exec.h"
#include "plan.h"
#include "sys.h"

extern char **environ;

/* clone3's arguments up to `cgroup` (CLONE_ARGS_SIZE_VER2, Linux 5.7), declared here rather than
 * taken from <linux/sched.h>, which clashes with glibc's <sched.h>. */
struct clone_args_v2 {
	uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
	uint64_t set_tid, set_tid_size, cgroup;
};
#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif

/* Clones the container's init (or exec's process) with the plan's CLONE_NEW* flags. After a
 * CGROUP_INTO, clone3 puts the child straight into that cgroup2 directory: writing cgroup.procs
 * instead takes the kernel's global threadgroup lock for writing, which waits for an RCU grace
 * period (5-15 ms on this class of host, on every container start). A kernel without
 * CLONE_INTO_CGROUP (before 5.7: ENOSYS or E2BIG) gets that write, from stage0 before a clone. */
static pid_t clone_child(struct ctx *c, uint64_t flags)
{
	if (c->cgroupfd >= 0) {
		struct clone_args_v2 a;
		memset(&a, 0, sizeof a);
		a.flags = flags | CLONE_INTO_CGROUP;
		a.exit_signal = SIGCHLD;
		a.cgroup = (uint64_t)c->cgroupfd;
		long pid = syscall(SYS_clone3, &a, sizeof a);
		if (pid >= 0 || (errno != ENOSYS && errno != E2BIG))
			return (pid_t)pid;
		struct msg procs;
		msg_reset(&procs);
		msg_str(&procs, c->cgroup_path);
		msg_str(&procs, "/cgroup.procs");
		if (sys.write_file(msg_cstr(&procs), "0", 1) < 0)
			exec_die(c, errno, msg_cstr(&procs));
	}
	return (pid_t)syscall(SYS_clone, (unsigned long)flags | SIGCHLD, 0, 0, 0, 0);
}

static const int forwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH};
#define NFORWARDED (int)(sizeof forwarded / sizeof forwarded[0])

static volatile pid_t forward_to;

static void forward(int sig)
{
	int e = errno;
	if (forward_to > 0)
		kill(forward_to, sig);
	errno = e;
}

/* CVE-2019-5736: run only from a copy sealed against writes, so that a container process that
 * opens /proc/<us>/exe can never reach (and overwrite) the host binary. */
static void ensure_sealed_copy(struct ctx *c, char **argv)
{
	int self = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	if (self < 0)
		exec_die(c, errno, "re-exec: opening /proc/self/exe");
	int seals = fcntl(self, F_GET_SEALS);
	if (seals >= 0 && (seals & F_SEAL_WRITE)) {
		close(self);
		return; /* we are the sealed copy */
	}
	int mfd = memfd_create("berth-init", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (mfd < 0)
		exec_die(c, errno, "re-exec: memfd_create");
	struct stat st;
	if (fstat(self, &st) < 0)
		exec_die(c, errno, "re-exec: fstat /proc/self/exe");
	for (off_t off = 0; off < st.st_size;) {
		ssize_t n = sendfile(mfd, self, &off, (size_t)(st.st_size - off));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			exec_die(c, n < 0 ? errno : EIO, "re-exec: copying /proc/self/exe into a memfd");
	}
	close(self);
	if (fcntl(mfd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) < 0)
		exec_die(c, errno, "re-exec: sealing the memfd");
	syscall(SYS_execveat, mfd, "", argv, environ, AT_EMPTY_PATH);
	exec_die(c, errno, "re-exec: execveat of the sealed memfd");
}

/* Reads the PLAN frame into an mmap'd buffer (so the child can read it after clone). */
static void read_plan(struct ctx *c, uint8_t **buf, size_t *len)
{
	uint32_t head[2];
	size_t got = 0;
	while (got < sizeof head) {
		ssize_t n = read(c->syncfd, (char *)head + got, sizeof head - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			exec_die(c, n < 0 ? errno : EPIPE, "reading the PLAN frame header");
		got += (size_t)n;
	}
	if (head[0] != FRAME_PLAN)
		exec_die(c, EPROTO, "expected a PLAN frame (type 1) first");
	if (head[1] > PLAN_MAX)
		exec_die(c, EMSGSIZE, "PLAN frame larger than 16 MiB");
	*len = head[1];
	*buf = mmap(NULL, *len ? *len : 1, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (*buf == MAP_FAILED)
		exec_die(c, errno, "mapping the plan buffer");
	for (got = 0; got < *len;) {
		ssize_t n = read(c->syncfd, *buf + got, *len - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			exec_die(c, n < 0 ? errno : EPIPE, "reading the PLAN frame");
		got += (size_t)n;
	}
}

/* Every signal at its default disposition and none blocked, whatever the caller left: a process
 * ignores what its parent ignored across execve (Node ignores SIGPIPE and SIGXFSZ; posix_spawn from
 * a multithreaded glibc program leaves glibc's internal signals 32 and 33 ignored), and the
 * container's process must start as a fresh one would. The raw syscall: glibc refuses 32 and 33. */
static void reset_signals(void)
{
	struct {
		unsigned long handler, flags, restorer;
		uint64_t mask;
	} dfl = {0, 0, 0, 0}; /* the kernel's struct sigaction; handler 0 is SIG_DFL */
	for (int sig = 1; sig <= 64; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			syscall(SYS_rt_sigaction, sig, &dfl, NULL, sizeof dfl.mask);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

int main(int argc, char **argv)
{
	static struct ctx c;
	static struct plan plan;
	static struct msg err;

	char *end;
	long fd = argc == 2 ? strtol(argv[1], &end, 10) : -1;
	if (argc != 2 || *end || fd < 3 || fd > 0x7fffffff) {
		static const char usage[] = "usage: berth-init SYNC_FD (started by berth; see docs/plan-protocol.md)\n";
		(void)!write(2, usage, sizeof usage - 1);
		return 2;
	}
	reset_signals();
	ctx_init(&c, &plan, (int)fd);
	if (fcntl(c.syncfd, F_GETFD) < 0) {
		static const char bad[] = "berth-init: the sync fd is not open\n";
		(void)!write(2, bad, sizeof bad - 1);
		return 1;
	}
	ensure_sealed_copy(&c, argv);
	/* Only now (the re-exec needs it open): the sync socket must never reach the container's
	 * process, whatever the plan says. */
	fcntl(c.syncfd, F_SETFD, FD_CLOEXEC);

	uint8_t *buf;
	size_t len;
	read_plan(&c, &buf, &len);
	size_t alen = plan_arena_size(len);
	void *arena = mmap(NULL, alen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (arena == MAP_FAILED)
		exec_die(&c, errno, "mapping the plan arena");
	if (plan_decode(&plan, buf, len, arena, alen, &err) < 0) {
		exec_report(&c, EINVAL, msg_cstr(&err)); /* the message is the whole story */
		sys.exit(1);
	}
	sys.last_cap(); /* cached now: the child may have no /proc to read it from */
	/* The /proc where clone's return value names the child: JOIN_NS may move stage0 into the
	 * container's mount namespace, whose /proc belongs to another pid namespace. */
	c.procfd = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (c.procfd < 0)
		exec_die(&c, errno, "opening /proc");

	exec_ops(&c, 0, plan.clone_at);

	/* GO travels over a private pair: the child must not start before its maps and limits are set. */
	int pair[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0)
		exec_die(&c, errno, "socketpair");
	sigset_t block, old;
	sigemptyset(&block);
	for (int i = 0; i < NFORWARDED; i++)
		sigaddset(&block, forwarded[i]);
	sigprocmask(SIG_BLOCK, &block, &old); /* until stage0's handlers are in place */

	pid_t pid = clone_child(&c, (uint64_t)plan.clone_flags);
	if (pid < 0) {
		struct msg m;
		msg_reset(&m);
		msg_str(&m, c.cgroupfd >= 0 ? "CLONE (clone3 into " : "CLONE ");
		if (c.cgroupfd >= 0) {
			msg_str(&m, c.cgroup_path);
			msg_str(&m, ") ");
		}
		msg_hex(&m, (uint64_t)plan.clone_flags);
		exec_die(&c, errno, msg_cstr(&m));
	}
	if (c.cgroupfd >= 0) {
		close(c.cgroupfd); /* in the child too: a host cgroup directory is none of its business */
		c.cgroupfd = -1;
	}
	if (pid == 0) {
		/* The container's init. */
		char go;
		close(pair[0]);
		close(c.procfd); /* the host's /proc is none of the container's business */
		c.procfd = -1;
		sigprocmask(SIG_SETMASK, &old, NULL);
		ssize_t n;
		do
			n = read(pair[1], &go, 1);
		while (n < 0 && errno == EINTR);
		if (n != 1)
			_exit(1); /* stage0 failed and has reported it */
		close(pair[1]);
		exec_ops(&c, plan.child_at, plan.count);
		sys.exit(0);
	}

	close(pair[1]);
	c.child = pid;
	exec_ops(&c, plan.clone_at + 1, plan.child_at);
	exec_send_pid(&c);
	close(c.procfd);
	c.procfd = -1;
	if (c.fifofd >= 0)
		close(c.fifofd); /* the child's copy is the one WAIT_FIFO uses */
	if (send(pair[0], "G", 1, MSG_NOSIGNAL) != 1)
		exec_die(&c, errno, "sending GO to the child");
	close(pair[0]);
	/* From here on only the child talks to Node: our copy must not hold the socket open. */
	close(c.syncfd);
	c.syncfd = -1;
	c.child = 0;

	if (plan.mode == 0) /* create */
		_exit(0);

	forward_to = pid;
	struct sigaction sa = {.sa_handler = forward, .sa_flags = SA_RESTART};
	sigemptyset(&sa.sa_mask);
	for (int i = 0; i < NFORWARDED; i++)
		sigaction(forwarded[i], &sa, NULL);
	sigprocmask(SIG_SETMASK, &old, NULL);
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			_exit(1);
	_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
}
