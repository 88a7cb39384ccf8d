/* main.c — berth-shim's process model (docs/shim.md, "Processes").
 *
 *   berth-shim --id ID --bundle DIR --runtime PATH --runtime-root DIR --state-dir DIR
 *              --log-path FILE [--log-format json-file|cri] [--log-max-size BYTES]
 *              [--log-max-files N] [--terminal] [--stdin] [--exec PROCESS_JSON]
 *              [--drain-ms N] [--grace-ms N] [--create-timeout-ms N] [--await-attach-ms N]
 *              [--pace-ms N]
 *   berth-shim --spawner     (started once by berthd: reads requests on stdin, see spawner();
 *                             the shims it starts get --reply-tag TAG first)
 *
 * Owns: the flags, the fork that detaches the supervisor from its starter (the parent only relays
 * one report and exits), the supervisor's setup (session, subreaper, signals, shim.pid), the
 * runtime's `create` or `exec -d` with the container's stdio, and receiving the pty master. The
 * container's life after that is loop.c's; the log format is log.c's. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "shim.h"

static struct config cfg = {
	.log_format = LOG_JSON_FILE,
	.log_max_files = 1,
	.drain_ms = 2000,
	.grace_ms = 5000,
	.create_timeout_ms = 60000,
};

static int report_fd = -1; /* the pipe to the starter-facing parent, until the report is sent */
static const char *reply_tag; /* spawner mode: the request's tag, which starts its report line */
static char path_buf[4][4096];

void shim_log(const char *fmt, ...)
{
	char line[1024];
	char ts[48];
	rfc3339_now(ts, sizeof ts);
	int n = snprintf(line, sizeof line, "%s berth-shim[%d]: ", ts, (int)getpid());
	va_list ap;
	va_start(ap, fmt);
	int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
	va_end(ap);
	size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m < sizeof line - (size_t)n - 1 ? (size_t)m : sizeof line - (size_t)n - 2);
	line[len++] = '\n';
	(void)!write(2, line, len);
}

size_t json_escape(char *buf, size_t cap, size_t len, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	for (size_t i = 0; i < n && len + 7 < cap; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch == '"' || ch == '\\') {
			buf[len++] = '\\';
			buf[len++] = (char)ch;
		} else if (ch == '\n') {
			buf[len++] = '\\';
			buf[len++] = 'n';
		} else if (ch == '\r') {
			buf[len++] = '\\';
			buf[len++] = 'r';
		} else if (ch == '\t') {
			buf[len++] = '\\';
			buf[len++] = 't';
		} else if (ch < 0x20 || ch == 0x7f) {
			memcpy(buf + len, "\\u00", 4);
			buf[len + 4] = hex[ch >> 4];
			buf[len + 5] = hex[ch & 15];
			len += 6;
		} else {
			buf[len++] = (char)ch; /* UTF-8 passes through as bytes */
		}
	}
	return len;
}

size_t rfc3339_now(char *buf, size_t cap)
{
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	int n = snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
			 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec);
	return n < 0 ? 0 : (size_t)n;
}

ssize_t read_small(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, cap - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	return n;
}

int write_atomic(const char *dir, const char *name, const char *data, size_t len)
{
	char tmp[4200], dst[4200];
	snprintf(tmp, sizeof tmp, "%s/.%s.tmp", dir, name);
	snprintf(dst, sizeof dst, "%s/%s", dir, name);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	for (size_t off = 0; off < len;) {
		ssize_t w = write(fd, data + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			int e = errno;
			close(fd);
			return -e;
		}
		off += (size_t)w;
	}
	if (fsync(fd) < 0 || close(fd) < 0)
		return -errno;
	if (rename(tmp, dst) < 0)
		return -errno;
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd); /* the rename itself must survive a crash */
		close(dfd);
	}
	return 0;
}

/* Sends the one report the parent waits for: "P<pid>" or "E<message>". */
static void report(const char *msg)
{
	if (report_fd < 0)
		return;
	(void)!write(report_fd, msg, strlen(msg));
	close(report_fd);
	report_fd = -1;
}

/* Before the report, a failure ends the supervisor and tells the starter why. */
static void __attribute__((noreturn, format(printf, 1, 2))) fail(const char *fmt, ...)
{
	char m[2048];
	m[0] = 'E';
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(m + 1, sizeof m - 1, fmt, ap);
	va_end(ap);
	shim_log("%s", m + 1);
	report(m);
	_exit(1);
}

static const char *state_path(int slot, const char *name)
{
	snprintf(path_buf[slot], sizeof path_buf[slot], "%s/%s", cfg.state_dir, name);
	return path_buf[slot];
}

/* A listening unix socket at path (removed first: a stale one from a dead shim is ours to replace). */
static int listen_unix(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof sa.sun_path)
		fail("socket path %s is longer than %zu bytes: use a shorter --state-dir", path, sizeof sa.sun_path - 1);
	strcpy(sa.sun_path, path);
	unlink(path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 16) < 0)
		fail("listening on %s: %s", path, strerror(errno));
	chmod(path, 0600);
	return fd;
}

/* Field 22 of /proc/self/stat: with the pid, the process's identity (a reused pid has another).
 * berth-shim is a C process with no Node, so it parses stat itself, by the rules of src/sys/procfs.ts
 * (the fields start after the LAST ')': comm may hold spaces and parentheses). */
static void start_time(char *out, size_t cap)
{
	char buf[1024];
	out[0] = 0;
	if (read_small("/proc/self/stat", buf, sizeof buf) < 0)
		return;
	char *p = strrchr(buf, ')');
	if (!p)
		return;
	/* after ") " comes field 3; field 22 is 19 spaces further */
	p += 2;
	for (int f = 3; f < 22 && p; f++) {
		p = strchr(p, ' ');
		if (p)
			p++;
	}
	if (!p)
		return;
	size_t i = 0;
	while (p[i] >= '0' && p[i] <= '9' && i + 1 < cap) {
		out[i] = p[i];
		i++;
	}
	out[i] = 0;
}

/* Receives the pty master sent over the connected console socket `c` (SCM_RIGHTS), and closes `c`. */
static int recv_master_on(int c)
{
	char data[4096];
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} u;
	struct iovec iov = {.iov_base = data, .iov_len = sizeof data};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf};
	ssize_t n;
	do
		n = recvmsg(c, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	close(c);
	struct cmsghdr *h = n < 0 ? NULL : CMSG_FIRSTHDR(&mh);
	if (!h || h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS || h->cmsg_len != CMSG_LEN(sizeof(int)))
		fail("no pty master on the console socket (%s)", n < 0 ? strerror(errno) : "no SCM_RIGHTS message");
	int fd;
	memcpy(&fd, CMSG_DATA(h), sizeof fd);
	return fd;
}

/* Receives the pty master the runtime sent to the console socket (SCM_RIGHTS). */
static int recv_master(int listen_fd)
{
	int c = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (c < 0)
		fail("the runtime did not connect to the console socket: %s", strerror(errno));
	return recv_master_on(c);
}

static void set_nonblock(int fd)
{
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

/* Whatever the runtime printed (its error), trimmed to one line-ish message. */
static void read_error_text(int fd, char *out, size_t cap)
{
	size_t len = 0;
	out[0] = 0;
	if (fd < 0)
		return;
	set_nonblock(fd);
	for (;;) {
		ssize_t n = read(fd, out + len, cap - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
		if (len + 1 >= cap)
			break;
	}
	while (len && (out[len - 1] == '\n' || out[len - 1] == ' '))
		len--;
	out[len] = 0;
	for (size_t i = 0; i < len; i++)
		if (out[i] == '\n')
			out[i] = ' ';
}

/* Waits for the runtime child, killing it after the create timeout. */
static int wait_runtime(pid_t pid)
{
	int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pfd >= 0) {
		struct pollfd p = {.fd = pfd, .events = POLLIN};
		int r;
		do
			r = poll(&p, 1, cfg.create_timeout_ms);
		while (r < 0 && errno == EINTR);
		close(pfd);
		if (r == 0) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			return -1;
		}
	}
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -2;
	return status;
}

/* The parent pid of `pid` (field 4 of /proc/<pid>/stat), or -1 when it is gone. */
static long long parent_of(pid_t pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	if (read_small(path, buf, sizeof buf) < 0)
		return -1;
	char *p = strrchr(buf, ')');
	return p && p[1] == ' ' && p[2] && p[3] == ' ' ? strtoll(p + 4, NULL, 10) : -1;
}

static long long read_pid_file(const char *path)
{
	char buf[32];
	if (read_small(path, buf, sizeof buf) < 0)
		return -1;
	char *end;
	long long v = strtoll(buf, &end, 10);
	return v > 0 && (*end == 0 || *end == '\n') ? v : -1;
}

/* SIGKILLs every child of the shim: after a failed create in --init mode, the container's init (an
 * orphan of stage0, so ours as the subreaper) must not live on waiting on its exec FIFO. */
static void kill_children(void)
{
	DIR *d = opendir("/proc");
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		char *end;
		long long pid = strtoll(e->d_name, &end, 10);
		if (pid > 0 && !*end && parent_of((pid_t)pid) == getpid())
			kill((pid_t)pid, SIGKILL);
	}
	closedir(d);
}

/* --init: reads berthd's verdict on the control socket: "P<pid>\n" (the init is ready and recorded),
 * "E<message>\n", or EOF (berthd went away). Returns the pid, or fails with the reason after
 * killing what was started. */
static long long read_verdict(pid_t stage0)
{
	const char *verb = cfg.exec_process ? "exec" : "create";
	static char v[2048];
	size_t len = 0;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	const char *why = NULL;
	while (!why && (len == 0 || v[len - 1] != '\n')) {
		clock_gettime(CLOCK_MONOTONIC, &t1);
		long long left = cfg.create_timeout_ms - ((t1.tv_sec - t0.tv_sec) * 1000LL + (t1.tv_nsec - t0.tv_nsec) / 1000000);
		struct pollfd p = {.fd = CTL_FD, .events = POLLIN};
		int r = left > 0 ? poll(&p, 1, (int)left) : 0;
		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0) {
			why = "timed out";
			break;
		}
		ssize_t n = read(CTL_FD, v + len, sizeof v - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || len + (size_t)n >= sizeof v - 1)
			why = "closed";
		else
			len += (size_t)n;
	}
	v[len] = 0;
	if (!why && v[0] == 'P') {
		char *end;
		long long pid = strtoll(v + 1, &end, 10);
		if (pid > 0 && *end == '\n') {
			int status = wait_runtime(stage0); /* stage0 exits right after GO, before READY */
			if (status == 0)
				return pid;
			kill(stage0, SIGKILL);
			kill_children();
			fail("berth-init stage0 of %s exited with status %d", cfg.id, WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
		}
		why = "malformed";
	}
	kill(stage0, SIGKILL);
	waitpid(stage0, NULL, 0);
	kill_children();
	if (!why && v[0] == 'E') {
		if (len && v[len - 1] == '\n')
			v[len - 1] = 0;
		fail("%s", v + 1);
	}
	if (why && !strcmp(why, "timed out"))
		fail("%s in %s through %s timed out after %d ms (no word from berthd)", verb, cfg.id, cfg.init, cfg.create_timeout_ms);
	fail("%s in %s through %s: the control socket was %s before berthd's verdict", verb, cfg.id, cfg.init, why ? why : "malformed");
}

/* --init: spawns berth-init as stage0 with the sync socket berthd holds the other end of (fd 3 of
 * the shim), the container's stdio and, for a terminal, one end of a socket pair for the pty master
 * (at fd 3, where berthd's plan names it; the sync socket is then fd 4). berthd drives the plan
 * and the sync protocol; the shim only waits for its verdict. Returns the init's pid. */
static long long create_via_init(struct shim *s, int child_in, int child_out, int child_err, const sigset_t *old)
{
	int cp[2] = {-1, -1};
	if (cfg.terminal && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, cp) < 0)
		fail("socketpair: %s", strerror(errno));
	pid_t stage0 = fork();
	if (stage0 < 0)
		fail("fork: %s", strerror(errno));
	if (stage0 == 0) {
		dup2(child_in, 0);
		dup2(child_out, 1);
		dup2(child_err, 2);
		int sync = fcntl(SYNC_FD, F_DUPFD, 10);
		int con = cp[1] >= 0 ? fcntl(cp[1], F_DUPFD, 10) : -1;
		int at = 3;
		if (con >= 0)
			dup2(con, at++);
		dup2(sync, at);
		syscall(SYS_close_range, at + 1, ~0U, 0);
		char n[8];
		snprintf(n, sizeof n, "%d", at);
		char *argv[] = {"berth-init", n, NULL};
		signal(SIGPIPE, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		sigprocmask(SIG_SETMASK, old, NULL);
		/* The modes in the plan are the modes made (docs/plan-protocol.md): berth-init starts with umask 0. */
		umask(0);
		execv(cfg.init, argv);
		dprintf(2, "exec %s: %s\n", cfg.init, strerror(errno));
		_exit(127);
	}
	/* Only berthd and berth-init may hold the sync socket: berthd's EOF then means berth-init is gone. */
	close(SYNC_FD);
	if (cp[1] >= 0)
		close(cp[1]);
	/* The container's ends of its stdio are the caller's to close (it gets them back with the pid). */
	long long pid = read_verdict(stage0);
	close(CTL_FD);
	if (cfg.terminal) {
		s->master_fd = recv_master_on(cp[0]);
		set_nonblock(s->master_fd);
		s->out_fd = s->master_fd;
		if (cfg.stdin_open)
			s->stdin_fd = s->master_fd;
	}
	char line[32];
	int n = snprintf(line, sizeof line, "%lld\n", pid);
	const char *name = cfg.exec_process ? "exec.pid" : "container.pid";
	int r = write_atomic(cfg.state_dir, name, line, (size_t)n);
	if (r < 0) {
		kill_children();
		fail("writing %s/%s: %s", cfg.state_dir, name, strerror(-r));
	}
	return pid;
}

/* The supervisor: everything after the detaching fork. */
static int supervise(void)
{
	static struct shim s = {.out_fd = -1, .err_fd = -1, .stdin_fd = -1, .master_fd = -1};
	s.cfg = &cfg;
	setsid();
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	int logfd = open(state_path(0, "shim.log"), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	/* The starter's stdout/stderr must not stay open here: it reads them until EOF. */
	dup2(null, 0);
	dup2(null, 1);
	dup2(logfd >= 0 ? logfd : null, 2);
	if (logfd > 2)
		close(logfd);
	if (chdir("/") < 0)
		fail("chdir /: %s", strerror(errno));
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
		fail("PR_SET_CHILD_SUBREAPER: %s", strerror(errno));
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	sigset_t mask, old;
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, &old);
	s.sig_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (s.sig_fd < 0)
		fail("signalfd: %s", strerror(errno));

	char pidline[64], st[32];
	start_time(st, sizeof st);
	int n = snprintf(pidline, sizeof pidline, "%d %s\n", (int)getpid(), st);
	int r = write_atomic(cfg.state_dir, "shim.pid", pidline, (size_t)n);
	if (r < 0)
		fail("writing %s/shim.pid: %s", cfg.state_dir, strerror(-r));
	unlink(state_path(0, "exit.json")); /* a stale one would announce an exit that did not happen */
	r = log_open(&cfg);
	if (r < 0)
		fail("opening the log %s: %s", cfg.log_path, strerror(-r));
	s.listen_fd = listen_unix(state_path(1, "attach.sock"));

	/* The container's stdio. child_* are the runtime's fds 0-2; ours are kept in s. */
	int child_in = null, child_out, child_err, err_text_fd;
	int p[2];
	int console_fd = -1;
	if (cfg.stdin_open && !cfg.terminal) {
		if (pipe2(p, O_CLOEXEC) < 0)
			fail("pipe: %s", strerror(errno));
		child_in = p[0];
		s.stdin_fd = p[1];
	}
	if (cfg.terminal) {
		/* The container gets the pty slave; the runtime's own output (errors) comes here. */
		if (!cfg.init)
			console_fd = listen_unix(state_path(2, "console.sock"));
		if (pipe2(p, O_CLOEXEC) < 0)
			fail("pipe: %s", strerror(errno));
		child_out = child_err = p[1];
		err_text_fd = p[0];
	} else {
		if (pipe2(p, O_CLOEXEC) < 0)
			fail("pipe: %s", strerror(errno));
		s.out_fd = p[0];
		child_out = p[1];
		if (pipe2(p, O_CLOEXEC) < 0)
			fail("pipe: %s", strerror(errno));
		s.err_fd = p[0];
		child_err = p[1];
		err_text_fd = s.err_fd;
	}

	const char *pid_file = state_path(3, cfg.exec_process ? "exec.pid" : "container.pid");
	unlink(pid_file);
	const char *verb = cfg.exec_process ? "exec" : "create";
	long long pid;
	if (cfg.init) {
		if (cfg.terminal)
			close(err_text_fd); /* berth-init's errors come to berthd as ERROR frames */
		pid = create_via_init(&s, child_in, child_out, child_err, &old);
		if (child_in != null)
			close(child_in);
		close(child_out);
		if (child_err != child_out)
			close(child_err);
		goto created;
	}
	const char *argv[24];
	int a = 0;
	argv[a++] = cfg.runtime;
	argv[a++] = "--root";
	argv[a++] = cfg.runtime_root;
	argv[a++] = "--log";
	argv[a++] = state_path(0, "runtime.log");
	argv[a++] = "--log-format";
	argv[a++] = "json";
	if (cfg.exec_process) {
		argv[a++] = "exec";
		argv[a++] = "--process";
		argv[a++] = cfg.exec_process;
		argv[a++] = "--detach";
	} else {
		argv[a++] = "create";
		argv[a++] = "--bundle";
		argv[a++] = cfg.bundle;
	}
	argv[a++] = "--pid-file";
	argv[a++] = pid_file;
	if (cfg.terminal) {
		argv[a++] = "--console-socket";
		argv[a++] = path_buf[2];
	}
	argv[a++] = cfg.id;
	argv[a] = NULL;

	pid_t rt = fork();
	if (rt < 0)
		fail("fork: %s", strerror(errno));
	if (rt == 0) {
		/* The runtime, and through it the container, must not inherit our signal setup. */
		dup2(child_in, 0);
		dup2(child_out, 1);
		dup2(child_err, 2);
		signal(SIGPIPE, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		sigprocmask(SIG_SETMASK, &old, NULL);
		execv(cfg.runtime, (char *const *)argv);
		dprintf(2, "exec %s: %s\n", cfg.runtime, strerror(errno));
		_exit(127);
	}
	if (child_in != null)
		close(child_in);
	close(child_out);
	if (child_err != child_out)
		close(child_err);

	int status = wait_runtime(rt);
	if (status != 0) {
		char text[1024];
		read_error_text(err_text_fd, text, sizeof text);
		if (status == -1)
			fail("%s %s timed out after %d ms%s%s", cfg.runtime, verb, cfg.create_timeout_ms, text[0] ? ": " : "", text);
		if (WIFSIGNALED(status))
			fail("%s %s killed by signal %d%s%s", cfg.runtime, verb, WTERMSIG(status), text[0] ? ": " : "", text);
		fail("%s %s exited with status %d%s%s", cfg.runtime, verb, WEXITSTATUS(status), text[0] ? ": " : "", text);
	}
	if (cfg.terminal) {
		close(err_text_fd); /* the runtime is gone; nothing else writes there */
		s.master_fd = recv_master(console_fd);
		close(console_fd);
		unlink(path_buf[2]);
		set_nonblock(s.master_fd);
		s.out_fd = s.master_fd;
		if (cfg.stdin_open)
			s.stdin_fd = s.master_fd;
	}
	pid = read_pid_file(pid_file);
	if (pid <= 0)
		fail("%s %s succeeded but wrote no pid to %s", cfg.runtime, verb, pid_file);
created:
	s.init_pid = (pid_t)pid;
	/* Its exit reaches us only if it is our child (the runtime left it as an orphan, and we are the
	 * subreaper; a zombie counts). A runtime that reaped it itself, or a pid from elsewhere, would
	 * leave us waiting forever: refuse now, while the starter is listening. */
	long long ppid = parent_of(s.init_pid);
	if (ppid != getpid()) {
		if (cfg.init)
			kill_children();
		fail("%s %s: process %lld from %s is %s, not a child of the shim: its exit could not be recorded",
		     cfg.init ? cfg.init : cfg.runtime, verb, pid, pid_file, ppid < 0 ? "gone" : "elsewhere");
	}
	if (s.out_fd >= 0)
		set_nonblock(s.out_fd);
	if (s.err_fd >= 0)
		set_nonblock(s.err_fd);
	if (s.stdin_fd >= 0)
		set_nonblock(s.stdin_fd);
	close(null);

	char ok[32];
	snprintf(ok, sizeof ok, "P%lld", pid);
	report(ok);
	shim_log("%s %s: container pid %lld", cfg.runtime, verb, pid);
	return loop_run(&s);
}

/* Writes the report line to stdout, in spawner mode after the request's tag and a space, in one
 * write(): concurrent relays share the spawner's stdout, and each line must arrive whole. */
static void reply(const char *line, size_t len)
{
	if (!reply_tag) {
		(void)!write(1, line, len);
		return;
	}
	static char tagged[4400];
	int n = snprintf(tagged, sizeof tagged, "%s %.*s", reply_tag, (int)len, line);
	if (n > 0)
		(void)!write(1, tagged, (size_t)n < sizeof tagged ? (size_t)n : sizeof tagged - 1);
}

/* The starter-facing parent: relays the supervisor's report as one JSON line. */
static int relay(pid_t child, int fd)
{
	char msg[2048];
	size_t len = 0;
	for (;;) {
		ssize_t n = read(fd, msg + len, sizeof msg - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		if (len + 1 >= sizeof msg)
			break;
	}
	msg[len] = 0;
	static char out[4200];
	size_t o;
	int rc;
	if (len > 1 && msg[0] == 'P') {
		o = (size_t)snprintf(out, sizeof out, "{\"pid\":%d,\"containerPid\":%s}\n", (int)child, msg + 1);
		rc = 0;
	} else {
		const char *m = len > 1 && msg[0] == 'E' ? msg + 1 : "berth-shim: the supervisor exited before reporting (see shim.log in the state dir)";
		o = (size_t)snprintf(out, sizeof out, "{\"error\":\"");
		o = json_escape(out, sizeof out - 4, o, m, strlen(m));
		memcpy(out + o, "\"}\n", 3);
		o += 3;
		rc = 1;
		waitpid(child, NULL, WNOHANG); /* reap it if it already died; never wait for a live one */
	}
	reply(out, o);
	return rc;
}

/* In spawner mode a flag error is also the report: berthd then fails the start with it at once. */
static void reply_error(const char *prefix, const char *why)
{
	if (!reply_tag)
		return;
	static char out[1200];
	size_t o = (size_t)snprintf(out, sizeof out, "{\"error\":\"");
	o = json_escape(out, sizeof out - 8, o, prefix, strlen(prefix));
	o = json_escape(out, sizeof out - 8, o, why, strlen(why));
	memcpy(out + o, "\"}\n", 3);
	reply(out, o + 3);
}

static void usage(const char *why)
{
	reply_error("berth-shim: ", why);
	dprintf(2,
		"berth-shim: %s\n"
		"usage: berth-shim --id ID --bundle DIR --runtime PATH --runtime-root DIR --state-dir DIR\n"
		"                  --log-path FILE [--log-format json-file|cri] [--log-max-size BYTES]\n"
		"                  [--log-max-files N] [--terminal] [--stdin] [--exec PROCESS_JSON]\n"
		"                  [--drain-ms N] [--grace-ms N] [--create-timeout-ms N] [--await-attach-ms N]\n"
		"                  [--pace-ms N]\n"
		"                  [--init BERTH_INIT   (fd 3: berth-init's sync socket, fd 4: berthd's control socket)]\n"
		"(started by berthd; see docs/shim.md)\n",
		why);
	exit(2);
}

static long long num(const char *flag, const char *v, long long min)
{
	char *end;
	errno = 0;
	long long n = strtoll(v, &end, 10);
	if (errno || *end || n < min || n > 0x7fffffff) {
		char why[600];
		snprintf(why, sizeof why, "%s: expected an integer ≥ %lld, got \"%.400s\"", flag, min, v);
		reply_error("berth-shim: ", why);
		dprintf(2, "berth-shim: %s: expected an integer ≥ %lld, got \"%s\"\n", flag, min, v);
		exit(2);
	}
	return n;
}

static int shim_main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *f = argv[i];
		if (!strcmp(f, "--terminal")) {
			cfg.terminal = 1;
			continue;
		}
		if (!strcmp(f, "--stdin")) {
			cfg.stdin_open = 1;
			continue;
		}
		if (i + 1 >= argc)
			usage(strncmp(f, "--", 2) ? "unexpected argument" : "a flag is missing its value");
		const char *v = argv[++i];
		if (!strcmp(f, "--id"))
			cfg.id = v;
		else if (!strcmp(f, "--reply-tag"))
			reply_tag = v; /* spawner mode: see spawner() */
		else if (!strcmp(f, "--bundle"))
			cfg.bundle = v;
		else if (!strcmp(f, "--runtime"))
			cfg.runtime = v;
		else if (!strcmp(f, "--runtime-root"))
			cfg.runtime_root = v;
		else if (!strcmp(f, "--state-dir"))
			cfg.state_dir = v;
		else if (!strcmp(f, "--log-path"))
			cfg.log_path = v;
		else if (!strcmp(f, "--log-format")) {
			if (!strcmp(v, "json-file"))
				cfg.log_format = LOG_JSON_FILE;
			else if (!strcmp(v, "cri"))
				cfg.log_format = LOG_CRI;
			else
				usage("--log-format: expected json-file or cri");
		} else if (!strcmp(f, "--log-max-size"))
			cfg.log_max_size = num(f, v, 0);
		else if (!strcmp(f, "--log-max-files"))
			cfg.log_max_files = (int)num(f, v, 1);
		else if (!strcmp(f, "--exec"))
			cfg.exec_process = v;
		else if (!strcmp(f, "--init"))
			cfg.init = v;
		else if (!strcmp(f, "--drain-ms"))
			cfg.drain_ms = (int)num(f, v, 0);
		else if (!strcmp(f, "--grace-ms"))
			cfg.grace_ms = (int)num(f, v, 0);
		else if (!strcmp(f, "--await-attach-ms"))
			cfg.await_attach_ms = (int)num(f, v, 0);
		else if (!strcmp(f, "--pace-ms"))
			cfg.pace_ms = (int)num(f, v, 0);
		else if (!strcmp(f, "--create-timeout-ms"))
			cfg.create_timeout_ms = (int)num(f, v, 1);
		else
			usage("unknown flag");
	}
	if (!cfg.id || !cfg.runtime || !cfg.runtime_root || !cfg.state_dir || !cfg.log_path)
		usage("--id, --runtime, --runtime-root, --state-dir and --log-path are required");
	if (!cfg.exec_process && !cfg.bundle)
		usage("--bundle is required (except with --exec)");
	if (cfg.runtime[0] != '/' || cfg.state_dir[0] != '/' || cfg.log_path[0] != '/')
		usage("--runtime, --state-dir and --log-path must be absolute paths");
	if (cfg.init) {
		int type = 0;
		socklen_t tl = sizeof type;
		if (cfg.init[0] != '/')
			usage("--init must be an absolute path");
		for (int fd = SYNC_FD; fd <= CTL_FD; fd++)
			if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) < 0 || type != SOCK_STREAM)
				usage("--init needs the sync socket at fd 3 and the control socket at fd 4 (unix stream sockets)");
	}

	int p[2];
	char err[256];
	if (pipe2(p, O_CLOEXEC) < 0) {
		reply(err, (size_t)snprintf(err, sizeof err, "{\"error\":\"pipe: %s\"}\n", strerror(errno)));
		return 1;
	}
	pid_t child = fork();
	if (child < 0) {
		reply(err, (size_t)snprintf(err, sizeof err, "{\"error\":\"fork: %s\"}\n", strerror(errno)));
		return 1;
	}
	if (child > 0) {
		close(p[1]);
		if (cfg.init) {
			close(SYNC_FD);
			close(CTL_FD);
		}
		return relay(child, p[0]);
	}
	close(p[0]);
	report_fd = p[1];
	_exit(supervise());
}

/* The shims the spawner forked whose exit it has not seen, with their requests' tags: a shim that
 * exits before it reported (a crash, a kill, a failed exec) would otherwise leave berthd waiting for
 * a report that never comes. */
struct spawned {
	pid_t pid;
	char tag[64];
};
static struct spawned *spawned;
static size_t n_spawned, cap_spawned;

/* fds received with requests (SCM_RIGHTS), oldest first: a request takes its own from the front. */
static int fd_queue[64];
static int fd_queued;

/* One request of spawner mode: NUL-terminated strings, the tag first, then the shim's flags. A
 * child execs this binary with those flags and --reply-tag (so the shim's command line is the one
 * berthd would have exec'd, visible to ps and to tests); its report line starts with the tag. A
 * request with --init came with two fds (its sync and control sockets, sent with its first byte):
 * the child gets them at SYNC_FD and CTL_FD. */
static char err_line[256];

static void spawn_one(const char *self, char *p, size_t n)
{
	char *argv[72];
	int argc = 0;
	int want = 0;
	argv[argc++] = (char *)self;
	argv[argc++] = "--reply-tag";
	argv[argc++] = NULL; /* the tag, below */
	for (size_t off = 0; off < n && argc < 71;) {
		char *s = p + off;
		size_t l = strnlen(s, n - off);
		if (off + l >= n)
			break; /* not NUL-terminated: the frame is malformed, the rest ignored */
		if (!argv[2])
			argv[2] = s;
		else
			argv[argc++] = s;
		if (!strcmp(s, "--init"))
			want = 2;
		off += l + 1;
	}
	argv[argc] = NULL;
	int fds[2] = {-1, -1};
	if (want > fd_queued) {
		char err[256];
		int m = snprintf(err, sizeof err, "%s {\"error\":\"spawning the shim: the request came without its %d fds\"}\n", argv[2] ? argv[2] : "?", want);
		(void)!write(1, err, (size_t)m);
		return;
	}
	for (int i = 0; i < want; i++)
		fds[i] = fd_queue[i];
	memmove(fd_queue, fd_queue + want, (size_t)(fd_queued - want) * sizeof(int));
	fd_queued -= want;
	if (!argv[2] || !argv[2][0] || strlen(argv[2]) >= sizeof spawned->tag || strchr(argv[2], '\n') || strchr(argv[2], ' ')) {
		for (int i = 0; i < want; i++)
			close(fds[i]);
		return;
	}
	if (n_spawned == cap_spawned) {
		size_t cap = cap_spawned ? cap_spawned * 2 : 16;
		struct spawned *more = realloc(spawned, cap * sizeof *more);
		if (!more) {
			for (int i = 0; i < want; i++)
				close(fds[i]);
			int m = snprintf(err_line, sizeof err_line, "%s {\"error\":\"spawning the shim: out of memory\"}\n", argv[2]);
			(void)!write(1, err_line, (size_t)m);
			return;
		}
		spawned = more;
		cap_spawned = cap;
	}
	pid_t c = fork();
	if (c == 0) {
		/* The spawner blocks SIGCHLD (read from a signalfd); the shim must get it as an exec'd one. */
		sigset_t chld;
		sigemptyset(&chld);
		sigaddset(&chld, SIGCHLD);
		sigprocmask(SIG_UNBLOCK, &chld, NULL);
		signal(SIGCHLD, SIG_DFL);
		int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (null >= 0)
			dup2(null, 0);
		if (want) {
			/* Out of the way first: a received fd may already sit at 3 or 4. */
			int hi0 = fcntl(fds[0], F_DUPFD_CLOEXEC, 10), hi1 = fcntl(fds[1], F_DUPFD_CLOEXEC, 10);
			dup2(hi0, SYNC_FD);
			dup2(hi1, CTL_FD);
		}
		execv("/proc/self/exe", argv);
	}
	for (int i = 0; i < want; i++)
		close(fds[i]);
	if (c > 0) {
		spawned[n_spawned].pid = c;
		snprintf(spawned[n_spawned].tag, sizeof spawned->tag, "%s", argv[2]);
		n_spawned++;
		return;
	}
	char err[256]; /* fork failed, or (in the child) execv did */
	int m = snprintf(err, sizeof err, "%s {\"error\":\"spawning the shim: %s\"}\n", argv[2], strerror(errno));
	(void)!write(1, err, (size_t)m);
	if (c == 0)
		_exit(127);
}

/* Reaps the spawner's children. Each one that was a shim gets a line for its tag saying how it
 * ended: after its report (written before it exited, so earlier on the same pipe) berthd ignores
 * it; without one it is the report, and the start fails at once instead of timing out. */
static void reap_spawned(void)
{
	int st;
	pid_t pid;
	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		for (size_t i = 0; i < n_spawned; i++) {
			if (spawned[i].pid != pid)
				continue;
			char how[64];
			if (WIFSIGNALED(st))
				snprintf(how, sizeof how, "was killed by signal %d", WTERMSIG(st));
			else
				snprintf(how, sizeof how, "exited with status %d", WEXITSTATUS(st));
			int m = snprintf(err_line, sizeof err_line, "%s {\"error\":\"berth-shim (pid %d) %s before it reported\",\"exited\":true}\n",
					 spawned[i].tag, (int)pid, how);
			(void)!write(1, err_line, (size_t)m);
			spawned[i] = spawned[--n_spawned];
			break;
		}
	}
}

/* One read of requests from stdin: recvmsg, so that fds sent with them are queued (a stdin that is
 * a pipe, not a socket, carries none: then read). */
static ssize_t read_requests(char *buf, size_t cap)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int) * 8)];
	} u;
	struct iovec iov = {.iov_base = buf, .iov_len = cap};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf};
	ssize_t n = recvmsg(0, &mh, MSG_CMSG_CLOEXEC);
	if (n < 0 && errno == ENOTSOCK)
		return read(0, buf, cap);
	for (struct cmsghdr *h = n < 0 ? NULL : CMSG_FIRSTHDR(&mh); h; h = CMSG_NXTHDR(&mh, h)) {
		if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS)
			continue;
		size_t k = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(h) + i * sizeof(int), sizeof fd);
			if (fd_queued < (int)(sizeof fd_queue / sizeof fd_queue[0]))
				fd_queue[fd_queued++] = fd;
			else
				close(fd); /* its request will be answered with an error */
		}
	}
	return n;
}

/* Spawner mode: berthd starts one berth-shim --spawner and asks it for each shim, so that berthd
 * (a large process, whose every fork copies its page tables: ~4 ms at 120 MB) never forks for a
 * container; the spawner's fork is cheap, and the exec of this static binary too. Requests on stdin: u32 length (LE), then that many bytes (see spawn_one), with the fds of the request (SCM_RIGHTS) on its first byte. Each report
 * comes back on stdout as "<tag> <the JSON line>". Dies with berthd (PR_SET_PDEATHSIG) or at EOF. */
static int spawner(const char *self)
{
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() == 1)
		return 1;
	sigset_t chld;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	int sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0)
		return 1;
	static char buf[1 << 16];
	size_t len = 0;
	for (;;) {
		struct pollfd pf[2] = {{.fd = 0, .events = POLLIN}, {.fd = sfd, .events = POLLIN}};
		if (poll(pf, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return 1;
		}
		if (pf[1].revents) {
			struct signalfd_siginfo si;
			while (read(sfd, &si, sizeof si) > 0)
				;
			reap_spawned();
		}
		if (!pf[0].revents)
			continue;
		ssize_t n = read_requests(buf + len, sizeof buf - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return 0;
		len += (size_t)n;
		for (;;) {
			if (len < 4)
				break;
			uint32_t fl;
			memcpy(&fl, buf, 4);
			if (fl > sizeof buf - 4)
				return 1; /* a protocol error: berthd starts another */
			if (len < 4 + (size_t)fl)
				break;
			spawn_one(self, buf + 4, fl);
			memmove(buf, buf + 4 + fl, len - 4 - fl);
			len -= 4 + (size_t)fl;
		}
	}
}

int main(int argc, char **argv)
{
	/* Whatever the starter left open without O_CLOEXEC (a pipe of its own caller, say) must not be
	 * held for the container's lifetime, nor reach the runtime. */
	int keep = 2;
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--init"))
			keep = CTL_FD; /* SYNC_FD and CTL_FD are berthd's, handed over on purpose */
	syscall(SYS_close_range, keep + 1, ~0U, 0);
	if (argc == 2 && !strcmp(argv[1], "--spawner"))
		return spawner(argv[0]);
	return shim_main(argc, argv);
}
