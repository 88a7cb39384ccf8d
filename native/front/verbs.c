/* The plan-free verbs, step for step as src/runtime/runtime.ts runs them (the same checks, in the
 * same order, with the same messages), from a container's verbs file. */
#define _XOPEN_SOURCE 700
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "front.h"
#include "verbs.h"

static int pidfd_open(long pid)
{
	return (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
}

static void out(const char *s, size_t n)
{
	while (n > 0) {
		ssize_t w = write(1, s, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			exit(1);
		s += w;
		n -= (size_t)w;
	}
}

/* The record of `id`: absent → "does not exist"; unreadable here → the Node verb. */
static void load(const char *root, const char *id, struct rec *r)
{
	switch (rec_load(root, id, r)) {
	case LOAD_OK:
		return;
	case LOAD_NO_CONTAINER:
	case LOAD_NO_STATE:
		fail("container %s does not exist", id);
	case LOAD_USE_NODE:
		break;
	}
	exec_node();
}

/* Signals the init only if it is still the process with the recorded start time: through a
 * pidfd, so that the identity check and the signal are about the same process. */
static void signal_process(const struct rec *r, int sig)
{
	int fd = pidfd_open(r->pid);
	if (fd < 0) {
		if (errno == ESRCH)
			return;
		fail("pidfd_open(%ld): %s", r->pid, errno_name(errno));
	}
	if (same_live_process(r->pid, r->start_time) && syscall(SYS_pidfd_send_signal, fd, sig, NULL, 0) < 0 &&
	    errno != ESRCH)
		fail("pidfd_send_signal(%ld, %d): %s", r->pid, sig, errno_name(errno));
	close(fd);
}

int verb_state(const char *root, const char *id)
{
	struct rec r;
	load(root, id, &r);
	enum status st = rec_status(&r);
	struct buf b = {0};
	state_json(&b, &r, st == ST_STOPPED ? 0 : r.pid, status_names[st], 1);
	buf_str(&b, "\n");
	out(b.p, b.len);
	return 0;
}

static int read_byte(int fd)
{
	char c;
	ssize_t n = read(fd, &c, 1);
	if (n < 0 && errno != EAGAIN && errno != EINTR)
		fail("%s reading the exec FIFO", errno_name(errno));
	return n == 1;
}

/* Opens the exec FIFO for reading: the init, blocked opening it for writing, writes its byte and
 * keeps its end open until execve closes it, so EOF means the user process runs (or the init
 * died). Waits on the FIFO and on the init's pidfd, never forever on an init that died. */
static void release_fifo(const struct rec *r)
{
	int fd = open(r->fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		fail("%s: %s, open '%s'", errno_name(errno), strerror(errno), r->fifo);
	int pfd = pidfd_open(r->pid);
	for (;;) {
		if (read_byte(fd))
			break;
		if (!same_live_process(r->pid, r->start_time)) {
			/* The init may write its byte, exec, and its program exit, all between our read and
			 * this check: read once more before calling it dead. That read, if it gets the byte,
			 * is the release. */
			if (read_byte(fd))
				break;
			char state = 0, start[32];
			struct buf seen = {0};
			if (proc_stat(r->pid, &state, start, sizeof start))
				buf_fmt(&seen, "state %c, start time %s (recorded %s)", state, start, r->start_time);
			else
				buf_str(&seen, "gone");
			fail("container %s: init exited before start (pid %ld: %s)", r->id, r->pid, seen.p);
		}
		struct pollfd fds[2] = {{fd, POLLIN, 0}, {pfd, POLLIN, 0}};
		int n = poll(fds, pfd >= 0 ? 2 : 1, 10);
		/* A writer that came and went leaves POLLHUP set: wait a little rather than spin. */
		if (n > 0 && (fds[0].revents & POLLHUP) && !(fds[0].revents & POLLIN) && !fds[1].revents)
			sleep_ms(1);
	}
	for (;;) {
		char c;
		ssize_t n = read(fd, &c, 1);
		if (n == 0)
			break;
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			fail("%s reading the exec FIFO", errno_name(errno));
		struct pollfd p = {fd, POLLIN, 0};
		poll(&p, 1, 100);
	}
	close(fd);
	if (pfd >= 0)
		close(pfd);
	if (unlink(r->fifo) < 0)
		fail("%s: %s, unlink '%s'", errno_name(errno), strerror(errno), r->fifo);
}

int verb_start(const char *root, const char *id)
{
	struct rec r;
	load(root, id, &r);
	enum status st = rec_status(&r);
	if (st == ST_STOPPED)
		fail("cannot start a container that has stopped");
	if (st == ST_RUNNING)
		fail("cannot start an already running container");
	if (st != ST_CREATED)
		fail("cannot start a container in the %s state", status_names[st]);
	release_fifo(&r);
	/* The process was started, whether or not it has already exited: poststart sees it running. */
	struct buf s = {0};
	state_json(&s, &r, r.pid, "running", 0);
	run_hooks_warn(&r, "poststart", s.p);
	return 0;
}

int verb_kill(const char *root, const char *id, const char *signal, int all)
{
	int sig = signal_number(signal);
	if (sig < 0)
		exec_node(); /* its error names the accepted forms (and it knows RTMIN+n) */
	struct rec r;
	load(root, id, &r);
	enum status st = rec_status(&r);
	if (st == ST_STOPPED || st == ST_CREATING)
		fail("container %s is not running", id);
	if (all) {
		if (!r.ncg)
			fail("kill --all: container %s has no cgroup", id);
		cg_kill_all(&r, sig);
	} else
		signal_process(&r, sig);
	return 0;
}

static int remove_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	int rc = type == FTW_DP ? rmdir(path) : unlink(path);
	if (rc < 0 && errno != ENOENT)
		fail("%s: %s, rm '%s'", errno_name(errno), strerror(errno), path);
	return 0;
}

static void remove_tree(const char *dir)
{
	if (nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS) < 0 && errno != ENOENT)
		fail("%s: %s, rm '%s'", errno_name(errno), strerror(errno), dir);
}

static void wait_gone(const struct rec *r)
{
	int fd = pidfd_open(r->pid);
	long long deadline = now_ms() + 10000;
	while (same_live_process(r->pid, r->start_time)) {
		if (now_ms() > deadline)
			fail("process %ld did not exit within 10000 ms of SIGKILL", r->pid);
		struct pollfd p = {fd, POLLIN, 0};
		if (fd < 0 || poll(&p, 1, 20) < 0)
			sleep_ms(2);
	}
	if (fd >= 0)
		close(fd);
}

int verb_delete(const char *root, const char *id, int force)
{
	struct rec r;
	switch (rec_load(root, id, &r)) {
	case LOAD_OK:
		break;
	case LOAD_NO_CONTAINER:
		if (force)
			return 0;
		fail("container %s does not exist", id);
	case LOAD_NO_STATE:
		/* A directory without state.json is a create that was cut short: remove what it left. */
		remove_tree(r.dir);
		return 0;
	case LOAD_USE_NODE:
		exec_node();
	}
	enum status st = rec_status(&r);
	if ((st == ST_RUNNING || st == ST_PAUSED) && !force)
		fail("cannot delete container %s that is not stopped: %s", id, status_names[st]);
	if (st == ST_PAUSED) {
		if (!r.ncg)
			fail("delete: container %s has no cgroup", id);
		cg_thaw(&r, "thaw");
	}
	if (st == ST_CREATED || st == ST_RUNNING || st == ST_PAUSED) {
		signal_process(&r, SIGKILL);
		wait_gone(&r);
	}
	if (r.ncg) {
		cg_kill_all(&r, SIGKILL);
		cg_destroy(&r);
	}
	struct buf s = {0};
	state_json(&s, &r, 0, "stopped", 0);
	remove_tree(r.dir);
	run_hooks_warn(&r, "poststop", s.p);
	return 0;
}

int verb_pause(const char *root, const char *id, int pause)
{
	struct rec r;
	load(root, id, &r);
	enum status st = rec_status(&r);
	if (pause && st != ST_RUNNING)
		fail("container %s is not running: %s", id, status_names[st]);
	if (!pause && st != ST_PAUSED)
		fail("container %s is not paused: %s", id, status_names[st]);
	if (!r.ncg)
		fail("%s: container %s has no cgroup", pause ? "pause" : "resume", id);
	if (pause)
		cg_freeze(&r);
	else
		cg_thaw(&r, "thaw");
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* JavaScript's string length (UTF-16 units), which the table's widths count. */
static size_t js_len(const char *s)
{
	size_t n = 0;
	for (const unsigned char *c = (const unsigned char *)s; *c; c++)
		n += (*c & 0xC0) == 0x80 ? 0 : *c >= 0xF0 ? 2 : 1;
	return n;
}

int verb_list(const char *root, const char *format, int quiet)
{
	if (strcmp(format, "table") && strcmp(format, "json") && !quiet)
		exec_node();
	char **ids = NULL;
	size_t nids = 0;
	DIR *d = opendir(root);
	if (!d && errno != ENOENT)
		exec_node();
	struct dirent *e;
	while (d && (e = readdir(d))) {
		if (!valid_id(e->d_name))
			continue;
		int isdir = e->d_type == DT_DIR;
		if (e->d_type == DT_UNKNOWN) {
			struct stat sb;
			isdir = fstatat(dirfd(d), e->d_name, &sb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(sb.st_mode);
		}
		if (!isdir)
			continue;
		ids = realloc(ids, (nids + 1) * sizeof *ids);
		if (!ids || !(ids[nids++] = strdup(e->d_name)))
			fail("out of memory");
	}
	if (d)
		closedir(d);
	if (nids)
		qsort(ids, nids, sizeof *ids, cmp_str);
	struct rec *recs = calloc(nids + 1, sizeof *recs);
	enum status *sts = calloc(nids + 1, sizeof *sts);
	size_t n = 0;
	for (size_t i = 0; i < nids; i++) {
		switch (rec_load(root, ids[i], &recs[n])) {
		case LOAD_OK:
			sts[n] = rec_status(&recs[n]);
			n++;
			break;
		case LOAD_NO_CONTAINER:
		case LOAD_NO_STATE:
			break; /* removed meanwhile, or an aborted create: not a container */
		case LOAD_USE_NODE:
			exec_node(); /* nothing printed yet */
		}
	}
	struct buf b = {0};
	if (quiet) {
		for (size_t i = 0; i < n; i++)
			buf_fmt(&b, "%s\n", recs[i].id);
	} else if (!strcmp(format, "json")) {
		buf_str(&b, "[");
		for (size_t i = 0; i < n; i++) {
			if (i)
				buf_str(&b, ",");
			state_json(&b, &recs[i], sts[i] == ST_STOPPED ? 0 : recs[i].pid, status_names[sts[i]], 0);
		}
		buf_str(&b, "]\n");
	} else {
		const char *header[6] = {"ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"};
		char (*pids)[24] = calloc(n + 1, sizeof *pids);
		const char **cells = calloc((n + 1) * 6, sizeof *cells);
		memcpy(cells, header, sizeof header);
		for (size_t i = 0; i < n; i++) {
			snprintf(pids[i], sizeof pids[i], "%ld", sts[i] == ST_STOPPED ? 0 : recs[i].pid);
			const char *row[6] = {recs[i].id, pids[i], status_names[sts[i]], recs[i].bundle, recs[i].created, recs[i].owner};
			memcpy(cells + (i + 1) * 6, row, sizeof row);
		}
		size_t widths[6];
		for (int c = 0; c < 6; c++) {
			widths[c] = 12;
			for (size_t i = 0; i <= n; i++)
				if (js_len(cells[i * 6 + c]) + 3 > widths[c])
					widths[c] = js_len(cells[i * 6 + c]) + 3;
		}
		for (size_t i = 0; i <= n; i++) {
			for (int c = 0; c < 6; c++) {
				const char *cell = cells[i * 6 + c];
				buf_str(&b, cell);
				if (c < 5)
					for (size_t k = js_len(cell); k < widths[c]; k++)
						buf_add(&b, " ", 1);
			}
			buf_str(&b, "\n");
		}
	}
	out(b.p ? b.p : "", b.len);
	return 0;
}

/* Runs `argv` (PATH lookup), collecting stdout and stderr; returns its exit status, -1 with errno when it cannot start. */
static int capture(char *const argv[], struct buf *o, struct buf *e)
{
	int po[2], pe[2], err;
	if (pipe2(po, O_CLOEXEC) < 0 || pipe2(pe, O_CLOEXEC) < 0)
		return -1;
	pid_t pid = spawn(argv[0], argv, NULL, 0, po[1], pe[1], &err);
	close(po[1]);
	close(pe[1]);
	if (pid < 0) {
		close(po[0]);
		close(pe[0]);
		errno = err;
		return -1;
	}
	char chunk[8192];
	int open_fds = 2;
	struct pollfd fds[2] = {{po[0], POLLIN, 0}, {pe[0], POLLIN, 0}};
	while (open_fds > 0) {
		if (poll(fds, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (int i = 0; i < 2; i++) {
			if (fds[i].fd < 0 || !fds[i].revents)
				continue;
			ssize_t n = read(fds[i].fd, chunk, sizeof chunk);
			if (n > 0)
				buf_add(i ? e : o, chunk, (size_t)n);
			else if (n == 0 || errno != EINTR) {
				close(fds[i].fd);
				fds[i].fd = -1;
				open_fds--;
			}
		}
	}
	for (int i = 0; i < 2; i++)
		if (fds[i].fd >= 0)
			close(fds[i].fd);
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* The col-th field of a line as JavaScript's trim().split(/\s+/) finds it; 0 when there is none. */
static int nth_field(const char *line, size_t len, int col, size_t *start, size_t *flen)
{
	const char *space = " \t\r\f\v";
	size_t i = 0;
	while (i < len && strchr(space, line[i]))
		i++;
	for (int c = 0;; c++) {
		if (i >= len)
			return 0;
		size_t s = i;
		while (i < len && !strchr(space, line[i]))
			i++;
		if (c == col) {
			*start = s;
			*flen = i - s;
			return 1;
		}
		while (i < len && strchr(space, line[i]))
			i++;
	}
}

int verb_ps(const char *root, const char *id, const char *format, char **ps_args, int nps)
{
	struct rec r;
	load(root, id, &r);
	if (strcmp(format, "table") && strcmp(format, "json"))
		exec_node();
	size_t n = 0;
	long *pids = NULL;
	if (rec_status(&r) != ST_STOPPED) {
		if (!r.ncg)
			fail("ps: container %s has no cgroup", id);
		pids = cg_pids(&r, &n);
	}
	struct buf b = {0};
	if (!strcmp(format, "json")) {
		buf_str(&b, "[");
		for (size_t i = 0; i < n; i++)
			buf_fmt(&b, "%s%ld", i ? "," : "", pids[i]);
		buf_str(&b, "]\n");
		out(b.p, b.len);
		return 0;
	}
	char **argv = calloc((size_t)nps + 3, sizeof *argv);
	argv[0] = "ps";
	if (nps == 0)
		argv[1] = "-ef";
	for (int i = 0; i < nps; i++)
		argv[i + 1] = ps_args[i];
	struct buf o = {0}, e = {0}, joined = {0};
	for (int i = 0; i < nps; i++)
		buf_fmt(&joined, "%s%s", i ? " " : "", ps_args[i]);
	int status = capture(argv, &o, &e);
	if (status < 0)
		fail("ps %s: spawnSync ps %s", joined.p ? joined.p : "", errno_name(errno));
	if (status != 0)
		fail("ps %s: %s", joined.p ? joined.p : "", e.p ? e.p : "");
	const char *text = o.p ? o.p : "";
	const char *nl = strchr(text, '\n');
	size_t hlen = nl ? (size_t)(nl - text) : strlen(text);
	int col = -1;
	size_t fs, fl;
	for (int c = 0; col < 0 && nth_field(text, hlen, c, &fs, &fl); c++)
		if (fl == 3 && !memcmp(text + fs, "PID", 3))
			col = c;
	if (col < 0)
		fail("ps: no PID column in its output");
	buf_add(&b, text, hlen);
	for (const char *line = nl ? nl + 1 : text + hlen; *line;) {
		const char *end = strchr(line, '\n');
		size_t len = end ? (size_t)(end - line) : strlen(line);
		for (size_t i = 0; i < n; i++) {
			char want[24];
			int wl = snprintf(want, sizeof want, "%ld", pids[i]);
			if (nth_field(line, len, col, &fs, &fl) && fl == (size_t)wl && !memcmp(line + fs, want, fl)) {
				buf_str(&b, "\n");
				buf_add(&b, line, len);
				break;
			}
		}
		if (!end)
			break;
		line = end + 1;
	}
	buf_str(&b, "\n");
	out(b.p, b.len);
	return 0;
}
