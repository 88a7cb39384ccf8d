/* loop.c — the supervisor's one epoll loop (docs/shim.md, "Life of a shim").
 *
 * Owns: reaping (we are a subreaper: every orphan of the container ends up ours), the container's
 * output (to the log and to attach clients), stdin from attach clients, resize, the exit record,
 * and when to leave. No threads, no blocking calls except writes to the log file.
 *
 * Phases: RUNNING until the init is reaped; DRAINING until its stdout/stderr reach EOF (or
 * --drain-ms passes: a daemonized grandchild may hold them forever); then exit.json is written
 * and CLOSING lasts until the attach clients hang up (or --grace-ms passes).
 *
 * HOLDING (--await-attach-ms, for an exec whose client attaches after the process started): the
 * output is left unread in the pipes or the pty (the process blocks once they are full) and an
 * exit is not closed, until the first client has its ATTACHED or the time is up; that client then
 * gets every byte, and the status, of a command that exited at once.
 *
 * Paced (the same flag): an exec's output has a client that asked for it, so a client that lags is
 * waited for instead of dropped: the output is left unread (the process blocks on a full pipe, as
 * under docker exec) while any client could not take two more chunks, and read again once it can.
 * A container's output is paced with --pace-ms N (docker run's attached client gets every byte even
 * on a loaded machine, as dockerd's does), but a client that stays full for N ms is dropped: one
 * that stopped reading cannot stop the container for longer (its log has everything). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "shim.h"

enum { T_SIGNAL = 1, T_LISTEN, T_OUT, T_ERR, T_STDIN, T_CLIENT = 100 };
enum phase { RUNNING, DRAINING, CLOSING };

struct client {
	int fd;               /* -1: free slot */
	int closing;          /* after EXIT: shut down once the queue is flushed */
	int eof;              /* the client half-closed: it sends nothing more but still gets output */
	size_t inlen, outlen;
	unsigned char in[FRAME_HEADER + FRAME_MAX_IN];
	unsigned char out[CLIENT_OUT_MAX];
};

static struct shim *S;
static int epfd;
static struct client clients[MAX_CLIENTS];
static int nclients;
static enum phase phase = RUNNING;
static long long deadline; /* monotonic ms; meaningful outside RUNNING */
/* stdin bytes a full pipe (or tty) did not take yet; while any wait, client input is paused */
static unsigned char stdin_buf[FRAME_MAX_IN];
static size_t stdin_len;
static int stdin_close_pending;
static char exit_json[256];
static size_t exit_json_len;
static int exit_status;
static char exited_at[48];
static char oom_file[4200]; /* the memory cgroup's OOM counter file, "" when unknown */
static long long oom_before = -1;
static int holding;              /* output unread until the first client (--await-attach-ms) */
static long long hold_deadline;  /* monotonic ms */
static int paced;                /* an exec's output waits for its clients (--await-attach-ms) */
static int out_paused;           /* paced, and a client is full: the output fds are out of epoll */
static long long paused_since;   /* when out_paused began (for --pace-ms) */

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void ep(int op, int fd, uint32_t tag, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.u32 = tag};
	if (epoll_ctl(epfd, op, fd, &ev) < 0 && op != EPOLL_CTL_DEL)
		shim_log("epoll_ctl(%d, fd %d): %s", op, fd, strerror(errno));
}

/* The pty master is both the output and (with --stdin) the stdin: one registration for both. */
static void update_out_events(void)
{
	if (S->out_fd < 0 || out_paused)
		return; /* paused: pace() registers it again with the right events */
	uint32_t ev = EPOLLIN;
	if (S->stdin_fd == S->out_fd && stdin_len)
		ev |= EPOLLOUT;
	ep(EPOLL_CTL_MOD, S->out_fd, T_OUT, ev);
}

static void client_events(struct client *c)
{
	uint32_t ev = 0;
	/* paused clients are not read (their input waits in the socket); closing ones are read only
	 * to see them hang up */
	if (!c->eof && (!stdin_len || c->closing))
		ev |= EPOLLIN | EPOLLRDHUP;
	if (c->outlen)
		ev |= EPOLLOUT;
	ep(EPOLL_CTL_MOD, c->fd, T_CLIENT + (uint32_t)(c - clients), ev);
}

static void client_drop(struct client *c)
{
	close(c->fd);
	c->fd = -1;
	c->inlen = c->outlen = 0;
	c->closing = 0;
	c->eof = 0;
	nclients--;
}

/* Queues one frame; a client that cannot keep up with CLIENT_OUT_MAX of backlog is dropped (the
 * container is never slowed down by an attach client; the log has everything). */
static void client_send(struct client *c, int type, const void *data, size_t len)
{
	unsigned char hdr[FRAME_HEADER] = {(unsigned char)type, (unsigned char)len, (unsigned char)(len >> 8),
					   (unsigned char)(len >> 16), (unsigned char)(len >> 24)};
	size_t done = 0, total = FRAME_HEADER + len;
	if (c->outlen == 0) {
		struct iovec iov[2] = {{hdr, FRAME_HEADER}, {(void *)data, len}};
		ssize_t n = writev(c->fd, iov, 2);
		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			client_drop(c);
			return;
		}
		done = n < 0 ? 0 : (size_t)n;
	}
	if (done == total)
		return;
	if (c->outlen + (total - done) > sizeof c->out) {
		shim_log("attach client too slow (%zu bytes queued): dropped", c->outlen);
		client_drop(c);
		return;
	}
	if (done < FRAME_HEADER) {
		memcpy(c->out + c->outlen, hdr + done, FRAME_HEADER - done);
		c->outlen += FRAME_HEADER - done;
		done = FRAME_HEADER;
	}
	memcpy(c->out + c->outlen, (const char *)data + (done - FRAME_HEADER), total - done);
	c->outlen += total - done;
	client_events(c);
}

static void broadcast(int type, const void *data, size_t len)
{
	for (int i = 0; i < MAX_CLIENTS; i++)
		if (clients[i].fd >= 0)
			client_send(&clients[i], type, data, len);
}

static void close_stdin(void)
{
	if (S->stdin_fd < 0)
		return;
	if (S->stdin_fd != S->master_fd) {
		if (stdin_len)
			ep(EPOLL_CTL_DEL, S->stdin_fd, T_STDIN, 0);
		close(S->stdin_fd);
	}
	S->stdin_fd = -1;
	stdin_len = 0;
	stdin_close_pending = 0;
	update_out_events();
}

static void resume_clients(void);

/* Writes what it can; the rest waits in stdin_buf (EPOLLOUT on the stdin fd). */
static void stdin_write(const unsigned char *data, size_t len)
{
	if (S->stdin_fd < 0)
		return; /* no --stdin, or closed: input is discarded */
	ssize_t n = write(S->stdin_fd, data, len);
	if (n < 0 && errno != EAGAIN && errno != EINTR) {
		/* EPIPE: the container closed its stdin; nothing more will be read */
		close_stdin();
		return;
	}
	size_t done = n < 0 ? 0 : (size_t)n;
	if (done == len)
		return;
	memcpy(stdin_buf, data + done, len - done);
	stdin_len = len - done;
	if (S->stdin_fd == S->out_fd)
		update_out_events();
	else
		ep(EPOLL_CTL_ADD, S->stdin_fd, T_STDIN, EPOLLOUT);
	for (int i = 0; i < MAX_CLIENTS; i++)
		if (clients[i].fd >= 0)
			client_events(&clients[i]);
}

static void stdin_flush(void)
{
	ssize_t n = write(S->stdin_fd, stdin_buf, stdin_len);
	if (n < 0 && errno != EAGAIN && errno != EINTR) {
		close_stdin();
		resume_clients();
		return;
	}
	if (n <= 0)
		return;
	memmove(stdin_buf, stdin_buf + n, stdin_len - (size_t)n);
	stdin_len -= (size_t)n;
	if (stdin_len)
		return;
	if (S->stdin_fd == S->out_fd)
		update_out_events();
	else
		ep(EPOLL_CTL_DEL, S->stdin_fd, T_STDIN, 0);
	if (stdin_close_pending)
		close_stdin();
	resume_clients();
}

static void frame(struct client *c, int type, const unsigned char *p, size_t len)
{
	switch (type) {
	case FRAME_REOPEN_LOG: {
		int r = log_reopen();
		const char *why = r < 0 ? strerror(-r) : "";
		if (r < 0)
			shim_log("reopening the log %s: %s", S->cfg->log_path, why);
		client_send(c, FRAME_LOG_REOPENED, why, strlen(why));
		break;
	}
	case FRAME_STDIN:
		stdin_write(p, len);
		break;
	case FRAME_RESIZE:
		if (S->master_fd >= 0 && len == 4) {
			struct winsize ws = {.ws_row = (unsigned short)(p[0] | p[1] << 8),
					     .ws_col = (unsigned short)(p[2] | p[3] << 8)};
			if (ioctl(S->master_fd, TIOCSWINSZ, &ws) < 0)
				shim_log("TIOCSWINSZ: %s", strerror(errno));
		}
		break;
	case FRAME_CLOSE_STDIN:
		/* a tty has no separate end of input: the client sends ^D itself */
		if (S->master_fd < 0) {
			if (stdin_len)
				stdin_close_pending = 1;
			else
				close_stdin();
		}
		break;
	default:
		break; /* unknown frames are ignored: newer clients may send more */
	}
}

/* Handles complete frames in the client's input, unless stdin is backed up. */
static void client_frames(struct client *c)
{
	while (c->fd >= 0 && !stdin_len && c->inlen >= FRAME_HEADER) {
		size_t len = (size_t)c->in[1] | (size_t)c->in[2] << 8 | (size_t)c->in[3] << 16 | (size_t)c->in[4] << 24;
		if (len > FRAME_MAX_IN) {
			shim_log("attach client sent a %zu-byte frame (at most %d): dropped", len, FRAME_MAX_IN);
			client_drop(c);
			return;
		}
		if (c->inlen < FRAME_HEADER + len)
			return;
		frame(c, c->in[0], c->in + FRAME_HEADER, len);
		memmove(c->in, c->in + FRAME_HEADER + len, c->inlen - FRAME_HEADER - len);
		c->inlen -= FRAME_HEADER + len;
	}
}

static void resume_clients(void)
{
	for (int i = 0; i < MAX_CLIENTS && !stdin_len; i++)
		if (clients[i].fd >= 0) {
			client_frames(&clients[i]);
			if (clients[i].fd >= 0)
				client_events(&clients[i]);
		}
}

static void client_readable(struct client *c)
{
	if (c->closing) {
		char scratch[512];
		ssize_t n = read(c->fd, scratch, sizeof scratch);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			client_drop(c);
		return;
	}
	if (c->inlen == sizeof c->in) {
		client_events(c); /* full while stdin is backed up: stop reading until it drains */
		return;
	}
	ssize_t n = read(c->fd, c->in + c->inlen, sizeof c->in - c->inlen);
	if (n < 0 && errno != EAGAIN && errno != EINTR) {
		client_drop(c);
		return;
	}
	if (n == 0) {
		c->eof = 1;
		client_events(c);
		return;
	}
	if (n > 0) {
		c->inlen += (size_t)n;
		client_frames(c);
	}
}

static void client_writable(struct client *c)
{
	ssize_t n = write(c->fd, c->out, c->outlen);
	if (n < 0 && errno != EAGAIN && errno != EINTR) {
		client_drop(c);
		return;
	}
	if (n > 0) {
		memmove(c->out, c->out + n, c->outlen - (size_t)n);
		c->outlen -= (size_t)n;
	}
	if (!c->outlen && c->closing) {
		shutdown(c->fd, SHUT_WR); /* the client sees EOF after EXIT and hangs up */
		c->closing = 2;
	}
	client_events(c);
}

/* Starts reading the output; a drain that waited on the hold starts its time now. */
static void release_hold(void)
{
	holding = 0;
	if (S->out_fd >= 0)
		ep(EPOLL_CTL_ADD, S->out_fd, T_OUT, EPOLLIN);
	if (S->err_fd >= 0)
		ep(EPOLL_CTL_ADD, S->err_fd, T_ERR, EPOLLIN);
	if (phase == DRAINING)
		deadline = now_ms() + S->cfg->drain_ms;
}

static void accept_client(void)
{
	int fd = accept4(S->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return;
	struct client *c = NULL;
	for (int i = 0; i < MAX_CLIENTS; i++)
		if (clients[i].fd < 0) {
			c = &clients[i];
			break;
		}
	if (!c) {
		shim_log("attach: %d clients already, refusing another", MAX_CLIENTS);
		close(fd);
		return;
	}
	c->fd = fd;
	nclients++;
	ep(EPOLL_CTL_ADD, fd, T_CLIENT + (uint32_t)(c - clients), 0);
	client_events(c);
	client_send(c, FRAME_ATTACHED, NULL, 0);
	if (holding)
		release_hold();
	if (c->fd >= 0 && phase == CLOSING) {
		/* late: the container is gone; the client learns how it ended, then EOF */
		c->closing = 1;
		client_send(c, FRAME_EXIT, exit_json, exit_json_len);
		if (c->fd >= 0)
			client_writable(c);
	}
}

/* Paced output: every client must have room for two more chunks (stdout and stderr may both be read
 * in one turn of the loop) before the output is read again. The fds leave epoll while paused: a pipe
 * whose writer is gone reports EPOLLHUP even with no events asked, which would spin the loop. */
static void pace(void)
{
	if (!paced || holding || phase == CLOSING)
		return;
	int full = 0;
	for (int i = 0; i < MAX_CLIENTS; i++)
		if (clients[i].fd >= 0 && clients[i].outlen + 2 * (FRAME_HEADER + READ_CHUNK) > sizeof clients[i].out)
			full = 1;
	if (full == out_paused)
		return;
	out_paused = full;
	if (full) {
		paused_since = now_ms();
		if (S->out_fd >= 0)
			ep(EPOLL_CTL_DEL, S->out_fd, 0, 0);
		if (S->err_fd >= 0)
			ep(EPOLL_CTL_DEL, S->err_fd, 0, 0);
		return;
	}
	if (S->out_fd >= 0)
		ep(EPOLL_CTL_ADD, S->out_fd, T_OUT,
		   EPOLLIN | (S->stdin_fd == S->out_fd && stdin_len ? EPOLLOUT : 0));
	if (S->err_fd >= 0)
		ep(EPOLL_CTL_ADD, S->err_fd, T_ERR, EPOLLIN);
	if (phase == DRAINING)
		deadline = now_ms() + S->cfg->drain_ms; /* the drain's time counts from when it can read */
}

/* --pace-ms: the clients that have been too full to take more output for that long go. */
static void drop_full_clients(int ms)
{
	for (int i = 0; i < MAX_CLIENTS; i++) {
		struct client *c = &clients[i];
		if (c->fd >= 0 && c->outlen + 2 * (FRAME_HEADER + READ_CHUNK) > sizeof c->out) {
			shim_log("attach client took no output for %d ms (%zu bytes queued): dropped", ms, c->outlen);
			client_drop(c);
		}
	}
}

/* Reads one chunk of output: to the log, then to every client. */
static void output(int *fd, int stream)
{
	static char buf[READ_CHUNK];
	ssize_t n = read(*fd, buf, sizeof buf);
	if (n > 0) {
		log_write(stream, buf, (size_t)n);
		broadcast(stream, buf, (size_t)n);
		return;
	}
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	/* EOF, or EIO from a pty master once every slave fd is closed */
	if (*fd == S->stdin_fd)
		close_stdin();
	ep(EPOLL_CTL_DEL, *fd, 0, 0);
	close(*fd);
	if (*fd == S->master_fd)
		S->master_fd = -1;
	*fd = -1;
}

/* The memory cgroup's OOM-kill counter of the init, so that its exit can say whether the kernel's
 * OOM killer was involved (cgroup v1 memory.oom_control or v2 memory.events, "oom_kill N"). */
static long long oom_count(void)
{
	char buf[1024];
	if (!oom_file[0])
		return -1;
	if (read_small(oom_file, buf, sizeof buf) < 0)
		return -1;
	char *p = strstr(buf, "oom_kill ");
	return p ? strtoll(p + 9, NULL, 10) : -1;
}

static void find_oom_file(void)
{
	char path[64], buf[4096];
	snprintf(path, sizeof path, "/proc/%d/cgroup", (int)S->init_pid);
	if (read_small(path, buf, sizeof buf) < 0)
		return;
	char v2[4096] = "";
	for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2)
			continue;
		*c2 = 0;
		if (!strcmp(c1 + 1, "memory") || strstr(c1 + 1, ",memory")) {
			snprintf(oom_file, sizeof oom_file, "/sys/fs/cgroup/memory%s/memory.oom_control", c2 + 1);
			break;
		}
		if (line[0] == '0' && c1 == line + 1 && c1[1] == 0)
			snprintf(v2, sizeof v2, "%s", c2 + 1);
	}
	if (!oom_file[0] && v2[0])
		snprintf(oom_file, sizeof oom_file, "/sys/fs/cgroup%s/memory.events", v2);
	oom_before = oom_count();
}

static void reap(void)
{
	int st;
	pid_t pid;
	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		if (pid != S->init_pid || phase != RUNNING)
			continue; /* an orphan of the container: reaped, nothing to record */
		rfc3339_now(exited_at, sizeof exited_at);
		int sig = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
		exit_status = sig ? 128 + sig : WEXITSTATUS(st);
		long long oom_after = oom_count();
		int oom = oom_before >= 0 && oom_after > oom_before;
		char sigtext[16] = "null";
		if (sig)
			snprintf(sigtext, sizeof sigtext, "%d", sig);
		exit_json_len = (size_t)snprintf(exit_json, sizeof exit_json,
						 "{\"exitCode\":%d,\"signal\":%s,\"exitedAt\":\"%s\",\"oomKilled\":%s,\"pid\":%d}\n",
						 exit_status, sigtext, exited_at, oom ? "true" : "false", (int)pid);
		shim_log("container pid %d exited: %.*s", (int)pid, (int)exit_json_len - 1, exit_json);
		phase = DRAINING;
		deadline = now_ms() + S->cfg->drain_ms;
	}
}

/* The init is gone and its output drained (or the drain timed out). Attached clients get the EXIT
 * frame first: they had every byte of output through their connection already, and need not wait
 * for the disk (three fsyncs). Then the log and exit.json are made durable, in this order, so that
 * whoever sees exit.json also sees the whole log; a client's connection is closed only after that,
 * so one that sees it close finds exit.json too. */
static void finish(void)
{
	if (S->out_fd >= 0)
		close(S->out_fd);
	if (S->err_fd >= 0 && S->err_fd != S->out_fd)
		close(S->err_fd);
	S->out_fd = S->err_fd = S->master_fd = -1;
	out_paused = 0;
	if (S->stdin_fd >= 0)
		close(S->stdin_fd);
	S->stdin_fd = -1;
	stdin_len = 0;
	for (int i = 0; i < MAX_CLIENTS; i++) {
		if (clients[i].fd >= 0)
			client_send(&clients[i], FRAME_EXIT, exit_json, exit_json_len);
	}
	log_close();
	int r = write_atomic(S->cfg->state_dir, "exit.json", exit_json, exit_json_len);
	if (r < 0)
		shim_log("writing %s/exit.json: %s", S->cfg->state_dir, strerror(-r));
	phase = CLOSING;
	deadline = now_ms() + S->cfg->grace_ms;
	for (int i = 0; i < MAX_CLIENTS; i++) {
		struct client *c = &clients[i];
		if (c->fd < 0)
			continue;
		c->closing = 1;
		client_writable(c);
	}
}

int loop_run(struct shim *s)
{
	S = s;
	for (int i = 0; i < MAX_CLIENTS; i++)
		clients[i].fd = -1;
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd < 0) {
		shim_log("epoll_create1: %s", strerror(errno));
		return 1;
	}
	find_oom_file();
	ep(EPOLL_CTL_ADD, s->sig_fd, T_SIGNAL, EPOLLIN);
	ep(EPOLL_CTL_ADD, s->listen_fd, T_LISTEN, EPOLLIN);
	if (s->cfg->await_attach_ms > 0) {
		holding = 1;
		paced = 1;
		hold_deadline = now_ms() + s->cfg->await_attach_ms;
	} else {
		paced = s->cfg->pace_ms > 0;
		if (s->out_fd >= 0)
			ep(EPOLL_CTL_ADD, s->out_fd, T_OUT, EPOLLIN);
		if (s->err_fd >= 0)
			ep(EPOLL_CTL_ADD, s->err_fd, T_ERR, EPOLLIN);
	}
	reap(); /* an exec'd process may have exited before we got here: it waits as a zombie */

	int quit = 0;
	while (!quit) {
		if (holding && now_ms() >= hold_deadline) {
			shim_log("no attach client within %d ms: reading the output", s->cfg->await_attach_ms);
			release_hold();
		}
		if (!holding && !out_paused && phase == DRAINING &&
		    ((s->out_fd < 0 && s->err_fd < 0) || now_ms() >= deadline))
			finish();
		if (phase == CLOSING && (nclients == 0 || now_ms() >= deadline))
			break;
		if (out_paused && s->cfg->pace_ms > 0 && now_ms() - paused_since >= s->cfg->pace_ms) {
			drop_full_clients(s->cfg->pace_ms);
			pace();
		}
		int timeout = -1;
		if (holding) {
			long long left = hold_deadline - now_ms();
			timeout = left < 0 ? 0 : (int)left;
		} else if (phase != RUNNING && !out_paused) {
			long long left = deadline - now_ms();
			timeout = left < 0 ? 0 : (int)left;
		}
		if (out_paused && s->cfg->pace_ms > 0) {
			long long left = paused_since + s->cfg->pace_ms - now_ms();
			if (timeout < 0 || left < timeout)
				timeout = left < 0 ? 0 : (int)left;
		}
		struct epoll_event evs[16];
		int n = epoll_wait(epfd, evs, 16, timeout);
		if (n < 0 && errno != EINTR) {
			shim_log("epoll_wait: %s", strerror(errno));
			break;
		}
		for (int i = 0; i < n; i++) {
			uint32_t tag = evs[i].data.u32, e = evs[i].events;
			if (tag == T_SIGNAL) {
				struct signalfd_siginfo si;
				while (read(s->sig_fd, &si, sizeof si) == (ssize_t)sizeof si)
					if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
						quit = 1;
				reap();
			} else if (tag == T_LISTEN) {
				accept_client();
			} else if (tag == T_OUT && s->out_fd >= 0) {
				if (e & EPOLLOUT)
					stdin_flush();
				if (e & (EPOLLIN | EPOLLHUP | EPOLLERR))
					output(&s->out_fd, FRAME_STDOUT);
			} else if (tag == T_ERR && s->err_fd >= 0) {
				output(&s->err_fd, FRAME_STDERR);
			} else if (tag == T_STDIN && s->stdin_fd >= 0) {
				if (e & EPOLLERR)
					close_stdin(), resume_clients();
				else
					stdin_flush();
			} else if (tag >= T_CLIENT && tag < T_CLIENT + MAX_CLIENTS) {
				struct client *c = &clients[tag - T_CLIENT];
				if (c->fd >= 0 && (e & EPOLLOUT))
					client_writable(c);
				if (c->fd >= 0 && (e & (EPOLLIN | EPOLLRDHUP)))
					client_readable(c);
				if (c->fd >= 0 && (e & (EPOLLHUP | EPOLLERR)))
					client_drop(c); /* both directions closed: no one to write to */
			}
		}
		pace();
	}
	if (quit && phase == DRAINING)
		finish(); /* told to leave while draining: the exit is known, record it */
	log_close();
	char path[4200];
	snprintf(path, sizeof path, "%s/attach.sock", s->cfg->state_dir);
	unlink(path);
	for (int i = 0; i < MAX_CLIENTS; i++)
		if (clients[i].fd >= 0)
			close(clients[i].fd);
	shim_log("exiting (%s)", quit ? "told to" : phase == CLOSING ? "container exited" : "error");
	return 0;
}
