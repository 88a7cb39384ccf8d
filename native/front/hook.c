/* Host hooks (poststart, poststop) as src/runtime/hooks.ts runs them: the state JSON on stdin,
 * stdout to /dev/null, stderr kept (its first 4 KiB) for the message, exactly the hook's args and
 * env, SIGKILL at its timeout. A failure is a warning naming the hook. Also the signal names. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "front.h"

static const struct {
	const char *name;
	int sig;
} signals[] = {
	{"HUP", 1},     {"INT", 2},      {"QUIT", 3},  {"ILL", 4},     {"TRAP", 5},    {"ABRT", 6},  {"IOT", 6},
	{"BUS", 7},     {"FPE", 8},      {"KILL", 9},  {"USR1", 10},   {"SEGV", 11},   {"USR2", 12}, {"PIPE", 13},
	{"ALRM", 14},   {"TERM", 15},    {"STKFLT", 16}, {"CHLD", 17}, {"CLD", 17},    {"CONT", 18}, {"STOP", 19},
	{"TSTP", 20},   {"TTIN", 21},    {"TTOU", 22}, {"URG", 23},    {"XCPU", 24},   {"XFSZ", 25}, {"VTALRM", 26},
	{"PROF", 27},   {"WINCH", 28},   {"IO", 29},   {"POLL", 29},   {"PWR", 30},    {"SYS", 31},
};

/* "KILL", "SIGKILL", "sigterm", "9": the signal; -1 for anything else (real-time names included:
 * the Node verb parses those, and words the error). */
int signal_number(const char *s)
{
	while (*s == ' ' || *s == '\t' || *s == '\n')
		s++;
	size_t n = strlen(s);
	while (n && strchr(" \t\n", s[n - 1]))
		n--;
	if (n == 0 || n > 16)
		return -1;
	char up[17];
	for (size_t i = 0; i < n; i++)
		up[i] = (s[i] >= 'a' && s[i] <= 'z') ? (char)(s[i] - 32) : s[i];
	up[n] = 0;
	if (strspn(up, "0123456789") == n) {
		long v = n <= 3 ? atol(up) : 0;
		return v >= 1 && v <= 64 ? (int)v : -1;
	}
	const char *name = strncmp(up, "SIG", 3) ? up : up + 3;
	for (size_t i = 0; i < sizeof signals / sizeof *signals; i++)
		if (!strcmp(name, signals[i].name))
			return signals[i].sig;
	return -1;
}

const char *signal_name(int sig)
{
	static char name[16];
	for (size_t i = 0; i < sizeof signals / sizeof *signals; i++)
		if (signals[i].sig == sig) {
			strcpy(name, "SIG");
			strcat(name, signals[i].name);
			return name;
		}
	snprintf(name, sizeof name, "signal %d", sig);
	return name;
}

/* NULL on success, else what went wrong (after the hook's name). */
static char *run_hook(const struct hook *h, const char *state)
{
	int in[2], err[2], null = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (null < 0 || pipe2(in, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0)
		return strdup(errno_name(errno));
	int e;
	pid_t pid = spawn(h->path, (char *const *)h->argv, (char *const *)h->env, in[0], null, err[1], &e);
	close(in[0]);
	close(err[1]);
	close(null);
	if (pid < 0) {
		close(in[1]);
		close(err[0]);
		/* Node's wording for a program that cannot be spawned. */
		struct buf m = {0};
		buf_fmt(&m, "spawn %s %s", h->path, errno_name(e));
		return m.p;
	}
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	/* A hook that never reads stdin must not kill us with SIGPIPE, nor block us. */
	signal(SIGPIPE, SIG_IGN);
	fcntl(in[1], F_SETFL, O_NONBLOCK);
	fcntl(err[0], F_SETFL, O_NONBLOCK);
	size_t len = strlen(state), off = 0;
	int wfd = in[1], rfd = err[0], timed_out = 0;
	struct buf stderr_text = {0};
	char chunk[4096];
	long long deadline = h->timeout > 0 ? now_ms() + h->timeout * 1000 : -1;
	for (;;) {
		struct pollfd fds[3] = {{pidfd, POLLIN, 0}, {wfd, POLLOUT, 0}, {rfd, POLLIN, 0}};
		long long left = deadline < 0 ? -1 : deadline - now_ms();
		int r = poll(fds, 3, deadline < 0 ? -1 : (int)(left > 0 ? left : 0));
		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0) {
			timed_out = 1;
			kill(pid, SIGKILL);
			break;
		}
		if (r < 0 || fds[0].revents)
			break;
		if (wfd >= 0 && fds[1].revents) {
			ssize_t n = write(wfd, state + off, len - off);
			if (n > 0)
				off += (size_t)n;
			if ((n < 0 && errno != EAGAIN && errno != EINTR) || off == len || (fds[1].revents & (POLLERR | POLLHUP))) {
				close(wfd);
				wfd = -1;
			}
		}
		if (rfd >= 0 && fds[2].revents) {
			ssize_t n = read(rfd, chunk, sizeof chunk);
			if (n > 0 && stderr_text.len < 4096)
				buf_add(&stderr_text, chunk, (size_t)n);
			if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
				close(rfd);
				rfd = -1;
			}
		}
		if (wfd < 0 && rfd < 0 && pidfd < 0) {
			/* No pidfd (a kernel before 5.3): wait for the exit itself. */
			break;
		}
	}
	if (wfd >= 0)
		close(wfd);
	if (rfd >= 0) {
		ssize_t n;
		while ((n = read(rfd, chunk, sizeof chunk)) > 0)
			if (stderr_text.len < 4096)
				buf_add(&stderr_text, chunk, (size_t)n);
		close(rfd);
	}
	if (pidfd >= 0)
		close(pidfd);
	signal(SIGPIPE, SIG_DFL);
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	struct buf m = {0};
	if (timed_out) {
		buf_fmt(&m, "timed out after %lds", h->timeout);
		free(stderr_text.p);
		return m.p;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		free(stderr_text.p);
		return NULL;
	}
	if (WIFSIGNALED(status))
		buf_fmt(&m, "killed by %s", signal_name(WTERMSIG(status)));
	else
		buf_fmt(&m, "exit status %d", WEXITSTATUS(status));
	char *s = stderr_text.p;
	if (s) {
		while (*s && strchr(" \t\n\r", *s))
			s++;
		size_t n = strlen(s);
		while (n && strchr(" \t\n\r", s[n - 1]))
			s[--n] = 0;
		if (n)
			buf_fmt(&m, ": %s", s);
	}
	free(stderr_text.p);
	return m.p;
}

void run_hooks_warn(const struct rec *r, const char *kind, const char *state)
{
	size_t index = 0;
	for (size_t i = 0; i < r->nhooks; i++) {
		const struct hook *h = &r->hooks[i];
		if (strcmp(h->kind, kind))
			continue;
		char *why = run_hook(h, state);
		if (why) {
			warn("%s hook #%zu (%s): %s", kind, index, h->path, why);
			free(why);
		}
		index++;
	}
}
