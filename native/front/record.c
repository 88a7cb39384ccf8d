/* A container's verbs file (src/runtime/verbs-file.ts): records `<key> <length>\n<value>\n`, first
 * `version 1`, last `end`. Anything unexpected (a missing end record, an unknown key, a NUL in a
 * value) makes the record unusable here and the verb goes to the Node bundle, which reads
 * state.json. The status is derived, never stored: the init's pid and start time, the exec FIFO,
 * the freezer. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "front.h"

const char *const status_names[] = {"creating", "created", "running", "paused", "stopped"};

/* The one container-id rule, src/oci/container-id.ts (why it is so is said there): an alphanumeric
 * first, then alphanumerics, '_', '.' or '-', 128 at most. An id it refuses goes to Node, which
 * words the error. */
static int alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

int valid_id(const char *id)
{
	size_t n = strlen(id);
	if (n == 0 || n > 128 || !alnum(id[0]))
		return 0;
	for (const char *c = id; *c; c++) {
		if (!alnum(*c) && *c != '_' && *c != '.' && *c != '-')
			return 0;
	}
	return 1;
}

static void push(const char ***arr, size_t *n, const char *v)
{
	const char **a = realloc(*arr, (*n + 2) * sizeof *a);
	if (!a)
		fail("out of memory");
	a[(*n)++] = v;
	a[*n] = NULL;
	*arr = a;
}

static int number(const char *s, long *out)
{
	if (!*s)
		return 0;
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (*end || errno || v < 0)
		return 0;
	*out = v;
	return 1;
}

static int parse(char *p, size_t len, struct rec *r)
{
	char *end = p + len;
	int ended = 0, version = 0;
	struct hook *h = NULL;
	while (p < end && !ended) {
		char *sp = memchr(p, ' ', (size_t)(end - p));
		if (!sp)
			return 0;
		*sp = 0;
		const char *key = p;
		char *nl = memchr(sp + 1, '\n', (size_t)(end - sp - 1));
		if (!nl)
			return 0;
		*nl = 0;
		long n;
		if (!number(sp + 1, &n) || n > end - nl - 2)
			return 0;
		char *v = nl + 1;
		if (v[n] != '\n' || memchr(v, 0, (size_t)n))
			return 0;
		v[n] = 0;
		p = v + n + 1;
		if (!version) {
			if (strcmp(key, "version") || strcmp(v, "1"))
				return 0;
			version = 1;
		} else if (!strcmp(key, "end"))
			ended = 1;
		else if (!strcmp(key, "oci-version"))
			r->oci_version = v;
		else if (!strcmp(key, "id"))
			r->id = v;
		else if (!strcmp(key, "pid")) {
			if (!number(v, &r->pid))
				return 0;
		} else if (!strcmp(key, "start-time"))
			r->start_time = v;
		else if (!strcmp(key, "bundle"))
			r->bundle = v;
		else if (!strcmp(key, "rootfs"))
			r->rootfs = v;
		else if (!strcmp(key, "created"))
			r->created = v;
		else if (!strcmp(key, "owner"))
			r->owner = v;
		else if (!strcmp(key, "annotation-key") || !strcmp(key, "annotation-value")) {
			/* pairs: a key at an even place, its value right after it */
			if ((r->nann % 2 == 0) != !strcmp(key, "annotation-key"))
				return 0;
			push(&r->ann, &r->nann, v);
		} else if (!strcmp(key, "cgroup-dir"))
			push(&r->cg_dirs, &r->ncg, v);
		else if (!strcmp(key, "prune-dir"))
			push(&r->prune, &r->nprune, v);
		else if (!strcmp(key, "freezer-version")) {
			long fv;
			if (!number(v, &fv) || (fv != 1 && fv != 2))
				return 0;
			r->freezer_version = (int)fv;
		} else if (!strcmp(key, "freezer-dir"))
			r->freezer_dir = v;
		else if (!strcmp(key, "kill-file"))
			r->kill_file = v;
		else if (!strcmp(key, "hook")) {
			struct hook *hs = realloc(r->hooks, (r->nhooks + 1) * sizeof *hs);
			if (!hs)
				fail("out of memory");
			r->hooks = hs;
			h = &hs[r->nhooks++];
			memset(h, 0, sizeof *h);
			h->kind = v;
		} else if (!strcmp(key, "hook-path") && h)
			h->path = v;
		else if (!strcmp(key, "hook-arg") && h)
			push(&h->argv, &h->nargv, v);
		else if (!strcmp(key, "hook-env") && h)
			push(&h->env, &h->nenv, v);
		else if (!strcmp(key, "hook-timeout") && h) {
			if (!number(v, &h->timeout))
				return 0;
		} else
			return 0;
	}
	if (!ended || r->nann % 2 || !r->id || !r->start_time || !r->oci_version || !r->bundle || !r->rootfs ||
	    !r->created || !r->owner || r->pid <= 0 || (r->ncg && !r->freezer_version))
		return 0;
	for (size_t i = 0; i < r->nhooks; i++) {
		if (!r->hooks[i].path || !r->hooks[i].nargv)
			return 0;
		if (!r->hooks[i].env && !(r->hooks[i].env = calloc(1, sizeof(char *))))
			fail("out of memory");
	}
	return 1;
}

enum load rec_load(const char *root, const char *id, struct rec *r)
{
	memset(r, 0, sizeof *r);
	struct buf dir = {0}, path = {0}, fifo = {0}, text = {0};
	buf_fmt(&dir, "%s/%s", root, id);
	buf_fmt(&path, "%s/verbs", dir.p);
	buf_fmt(&fifo, "%s/exec.fifo", dir.p);
	r->dir = dir.p;
	r->fifo = fifo.p;
	if (read_file(path.p, &text) < 0) {
		int e = errno;
		free(path.p);
		if (e != ENOENT)
			return LOAD_USE_NODE;
		if (access(dir.p, F_OK) < 0 && errno == ENOENT)
			return LOAD_NO_CONTAINER;
		struct buf st = {0};
		buf_fmt(&st, "%s/state.json", dir.p);
		int none = access(st.p, F_OK) < 0 && errno == ENOENT;
		free(st.p);
		return none ? LOAD_NO_STATE : LOAD_USE_NODE;
	}
	free(path.p);
	if (!parse(text.p, text.len, r) || strcmp(r->id, id))
		return LOAD_USE_NODE;
	return LOAD_OK;
}

int proc_stat(long pid, char *state, char *start, size_t startsz)
{
	struct buf path = {0}, text = {0};
	buf_fmt(&path, "/proc/%ld/stat", pid);
	int ok = read_file(path.p, &text) == 0;
	free(path.p);
	if (!ok)
		return 0;
	/* The comm field may hold spaces and parentheses: the fields start after the last ')'. The
	 * rules of src/sys/procfs.ts, TypeScript's one parser; here in C because the front runs without Node. */
	char *close = strrchr(text.p, ')');
	ok = 0;
	if (close && close[1] == ' ') {
		char *f = close + 2;
		for (int i = 0; i < 19 && f; i++) {
			if (i == 0)
				*state = *f;
			f = strchr(f, ' ');
			if (f)
				f++;
		}
		if (f) {
			size_t n = strcspn(f, " \n");
			if (n > 0 && n < startsz) {
				memcpy(start, f, n);
				start[n] = 0;
				ok = 1;
			}
		}
	}
	free(text.p);
	return ok;
}

int same_live_process(long pid, const char *start)
{
	char state = 0, st[32];
	if (pid <= 0 || !proc_stat(pid, &state, st, sizeof st))
		return 0;
	return !strcmp(st, start) && state != 'Z' && state != 'X';
}

enum status rec_status(const struct rec *r)
{
	if (r->pid <= 0)
		return ST_CREATING;
	if (!same_live_process(r->pid, r->start_time))
		return ST_STOPPED;
	if (access(r->fifo, F_OK) == 0)
		return ST_CREATED;
	return r->ncg && cg_freezer_state(r) != FZ_THAWED ? ST_PAUSED : ST_RUNNING;
}

void state_json(struct buf *b, const struct rec *r, long pid, const char *status, int pretty)
{
	const char *sep = pretty ? ",\n  " : ",", *colon = pretty ? ": " : ":";
	buf_str(b, pretty ? "{\n  " : "{");
	const char *keys[] = {"ociVersion", "id", NULL, NULL, "bundle", "rootfs", "created", "owner"};
	const char *vals[] = {r->oci_version, r->id, NULL, NULL, r->bundle, r->rootfs, r->created, r->owner};
	for (int i = 0; i < 8; i++) {
		if (i)
			buf_str(b, sep);
		if (i == 2)
			buf_fmt(b, "\"pid\"%s%ld", colon, pid);
		else if (i == 3) {
			buf_fmt(b, "\"status\"%s", colon);
			buf_json(b, status);
		} else {
			buf_json(b, keys[i]);
			buf_str(b, colon);
			buf_json(b, vals[i]);
		}
	}
	if (r->nann) {
		buf_fmt(b, "%s\"annotations\"%s{", sep, colon);
		for (size_t i = 0; i < r->nann; i += 2) {
			buf_str(b, i ? (pretty ? ",\n    " : ",") : (pretty ? "\n    " : ""));
			buf_json(b, r->ann[i]);
			buf_str(b, colon);
			buf_json(b, r->ann[i + 1]);
		}
		buf_str(b, pretty ? "\n  }" : "}");
	}
	buf_str(b, pretty ? "\n}" : "}");
}
