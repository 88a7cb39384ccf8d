/* The container's cgroups, from the files the verbs file names (CgroupManager.mechanism() in
 * src/cgroups): the processes (cgroup.procs of every directory of each subtree), the freezer (v1
 * freezer.state; v2 cgroup.freeze and cgroup.events), killing all (frozen meanwhile, so that none
 * forks away; v2's cgroup.kill for SIGKILL) and the removal, deepest first, retrying while busy.
 * The same steps and messages as src/cgroups' managers. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "front.h"

#define KILL_WAIT_MS 10000
#define FREEZE_WAIT_MS 5000
#define RMDIR_TRIES 50

static int exists(const char *dir, const char *file)
{
	struct buf p = {0};
	buf_fmt(&p, "%s/%s", dir, file);
	int ok = access(p.p, F_OK) == 0;
	free(p.p);
	return ok;
}

static char *trimmed(const char *dir, const char *file)
{
	struct buf p = {0}, t = {0};
	buf_fmt(&p, "%s/%s", dir, file);
	int ok = read_file(p.p, &t) == 0;
	free(p.p);
	if (!ok) {
		free(t.p);
		return NULL;
	}
	while (t.len && strchr(" \t\n\r", t.p[t.len - 1]))
		t.p[--t.len] = 0;
	char *s = t.p;
	while (*s && strchr(" \t\n\r", *s))
		s++;
	memmove(t.p, s, strlen(s) + 1);
	return t.p;
}

/* writeError's wording (src/cgroups/write-executor.ts). */
static void write_cg(const char *dir, const char *file, const char *value, const char *field)
{
	struct buf p = {0};
	buf_fmt(&p, "%s/%s", dir, file);
	int fd = open(p.p, O_WRONLY | O_CLOEXEC);
	ssize_t n = -1;
	if (fd >= 0) {
		n = write(fd, value, strlen(value));
		int e = errno;
		close(fd);
		errno = e;
	}
	if (n < 0) {
		if (errno == ENOENT)
			fail("cannot apply %s: %s does not exist (the kernel does not provide this cgroup file)", field, p.p);
		fail("cannot apply %s: writing \"%s\" to %s failed with %s", field, value, p.p, errno_name(errno));
	}
	free(p.p);
}

enum freezer cg_freezer_state(const struct rec *r)
{
	const char *dir = r->freezer_dir;
	if (!dir)
		return FZ_THAWED;
	if (r->freezer_version == 1) {
		char *s = trimmed(dir, "freezer.state");
		enum freezer f = !s ? FZ_THAWED : !strcmp(s, "FROZEN") ? FZ_FROZEN : !strcmp(s, "FREEZING") ? FZ_FREEZING : FZ_THAWED;
		free(s);
		return f;
	}
	char *s = trimmed(dir, "cgroup.freeze");
	int on = s && !strcmp(s, "1");
	free(s);
	if (!on)
		return FZ_THAWED;
	struct buf p = {0}, t = {0};
	buf_fmt(&p, "%s/cgroup.events", dir);
	int frozen = 0;
	if (read_file(p.p, &t) == 0) {
		for (char *line = strtok(t.p, "\n"); line; line = strtok(NULL, "\n")) {
			while (*line == ' ' || *line == '\t')
				line++;
			if (!strncmp(line, "frozen", 6) && (line[6] == ' ' || line[6] == '\t')) {
				char *v = line + 7;
				while (*v == ' ' || *v == '\t')
					v++;
				frozen = atoi(v) == 1 && v[0] == '1' && (v[1] == 0 || strchr(" \t\r", v[1]));
			}
		}
	}
	free(p.p);
	free(t.p);
	return frozen ? FZ_FROZEN : FZ_FREEZING;
}

static const char *freezer_dir(const struct rec *r, const char *what)
{
	if (r->freezer_version == 1) {
		if (!r->freezer_dir)
			fail("%s needs the cgroup v1 \"freezer\" controller, which is not mounted on this host", what);
	} else if (!exists(r->freezer_dir, "cgroup.freeze"))
		fail("%s needs %s/cgroup.freeze (cgroup v2 freezer, Linux 5.2 or later)", what, r->freezer_dir);
	return r->freezer_dir;
}

void cg_thaw(const struct rec *r, const char *what)
{
	const char *dir = freezer_dir(r, what);
	if (r->freezer_version == 1)
		write_cg(dir, "freezer.state", "THAWED", "thaw");
	else
		write_cg(dir, "cgroup.freeze", "0", "thaw");
}

void cg_freeze(const struct rec *r)
{
	const char *dir = freezer_dir(r, "freeze");
	int v1 = r->freezer_version == 1;
	long long deadline = now_ms() + FREEZE_WAIT_MS;
	/* v1: a cgroup can stay FREEZING while a task is in an uninterruptible sleep; writing FROZEN
	 * again retries (and writing 1 again to v2's cgroup.freeze changes nothing). */
	for (;;) {
		write_cg(dir, v1 ? "freezer.state" : "cgroup.freeze", v1 ? "FROZEN" : "1", "freeze");
		if (cg_freezer_state(r) == FZ_FROZEN)
			return;
		if (now_ms() >= deadline)
			break;
		sleep_ms(10);
	}
	cg_thaw(r, "thaw");
	if (v1)
		fail("freeze: %s/freezer.state did not reach FROZEN within 5 s; thawed again", dir);
	fail("freeze: %s did not report \"frozen 1\" in cgroup.events within 5 s; thawed again", dir);
}

struct pids {
	long *v;
	size_t n, cap;
};

static void add_procs(const char *dir, struct pids *ps)
{
	struct buf p = {0}, t = {0};
	buf_fmt(&p, "%s/cgroup.procs", dir);
	if (read_file(p.p, &t) == 0) {
		for (char *line = strtok(t.p, "\n"); line; line = strtok(NULL, "\n")) {
			if (ps->n == ps->cap) {
				ps->cap = ps->cap ? ps->cap * 2 : 16;
				long *v = realloc(ps->v, ps->cap * sizeof *v);
				if (!v)
					fail("out of memory");
				ps->v = v;
			}
			ps->v[ps->n++] = atol(line);
		}
	}
	free(p.p);
	free(t.p);
}

/* dir and its descendants, deepest first (the order rmdir needs); each gets `fn`. */
static int walk(const char *dir, int (*fn)(const char *, void *), void *arg)
{
	DIR *d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : fn(dir, arg);
	struct dirent *e;
	struct buf sub = {0};
	int rc = 0;
	while (rc == 0 && (e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (e->d_type != DT_DIR && e->d_type != DT_UNKNOWN)
			continue;
		sub.len = 0;
		buf_fmt(&sub, "%s/%s", dir, e->d_name);
		if (e->d_type == DT_UNKNOWN) {
			DIR *probe = opendir(sub.p);
			if (!probe)
				continue;
			closedir(probe);
		}
		rc = walk(sub.p, fn, arg);
	}
	closedir(d);
	free(sub.p);
	return rc ? rc : fn(dir, arg);
}

static int collect(const char *dir, void *arg)
{
	add_procs(dir, arg);
	return 0;
}

static int cmp_long(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;
	return (x > y) - (x < y);
}

long *cg_pids(const struct rec *r, size_t *n)
{
	struct pids ps = {0};
	for (size_t i = 0; i < r->ncg; i++)
		walk(r->cg_dirs[i], collect, &ps);
	if (ps.n)
		qsort(ps.v, ps.n, sizeof *ps.v, cmp_long);
	size_t k = 0;
	for (size_t i = 0; i < ps.n; i++)
		if (k == 0 || ps.v[k - 1] != ps.v[i])
			ps.v[k++] = ps.v[i];
	*n = k;
	return ps.v;
}

static void pid_list(struct buf *b, const long *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		buf_fmt(b, "%s%ld", i ? ", " : "", v[i]);
}

void cg_kill_all(const struct rec *r, int sig)
{
	size_t n;
	long *pids = cg_pids(r, &n);
	free(pids);
	/* An empty cgroup (the usual case at delete) needs no freeze/thaw round trip. */
	if (n == 0)
		return;
	if (sig == SIGKILL && r->kill_file && access(r->kill_file, F_OK) == 0) {
		/* Linux 5.14+: the kernel kills the whole subtree atomically, forks included. */
		char *slash = strrchr(r->kill_file, '/');
		struct buf dir = {0};
		buf_add(&dir, r->kill_file, (size_t)(slash - r->kill_file));
		write_cg(dir.p, slash + 1, "1", "killAll");
		free(dir.p);
	} else {
		int can_freeze = r->freezer_dir && exists(r->freezer_dir, r->freezer_version == 1 ? "freezer.state" : "cgroup.freeze");
		if (can_freeze)
			cg_freeze(r);
		pids = cg_pids(r, &n);
		for (size_t i = 0; i < n; i++) {
			if (kill((pid_t)pids[i], sig) < 0 && errno != ESRCH) {
				int e = errno;
				if (can_freeze)
					cg_thaw(r, "thaw");
				fail("kill %ld: %s", pids[i], errno_name(e));
			}
		}
		free(pids);
		if (can_freeze)
			cg_thaw(r, "thaw");
	}
	if (sig != SIGKILL)
		return;
	long long deadline = now_ms() + KILL_WAIT_MS;
	for (;;) {
		pids = cg_pids(r, &n);
		if (n == 0) {
			free(pids);
			return;
		}
		if (now_ms() >= deadline)
			break;
		free(pids);
		sleep_ms(10);
	}
	struct buf m = {0};
	pid_list(&m, pids, n);
	if (r->freezer_version == 2)
		fail("killAll: processes %s are still in %s %d s after SIGKILL", m.p, r->cg_dirs[0], KILL_WAIT_MS / 1000);
	fail("killAll: processes %s are still in the cgroup %d s after SIGKILL", m.p, KILL_WAIT_MS / 1000);
}

static int remove_dir(const char *d, void *arg)
{
	(void)arg;
	for (int attempt = 1;; attempt++) {
		if (rmdir(d) == 0 || errno == ENOENT)
			return 0;
		int e = errno;
		if (e != EBUSY || attempt >= RMDIR_TRIES) {
			struct rec one = {0};
			const char *dirs[] = {d, NULL};
			one.cg_dirs = dirs;
			one.ncg = 1;
			size_t n;
			long *left = cg_pids(&one, &n);
			if (n > 0) {
				struct buf m = {0};
				pid_list(&m, left, n);
				fail("cannot remove cgroup %s: processes %s are still in it (kill them first: delete --force)", d, m.p);
			}
			fail("cannot remove cgroup %s: rmdir failed with %s", d, errno_name(e));
		}
		sleep_ms(5 * attempt < 50 ? 5 * attempt : 50);
	}
}

void cg_destroy(const struct rec *r)
{
	for (size_t i = 0; i < r->ncg; i++)
		walk(r->cg_dirs[i], remove_dir, NULL);
	/* Parents delete may remove (the default parent /berth when it is left empty): not empty, or
	 * already gone, is fine. */
	for (size_t i = 0; i < r->nprune; i++)
		(void)rmdir(r->prune[i]);
}
