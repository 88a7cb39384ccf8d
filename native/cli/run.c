/* `berth run [--rm]` without -i, -t or -d, as the TypeScript CLI runs it (src/cli/berth/container-verbs.ts,
 * run and createRequest; src/client/client.ts, run and wait): one request, POST /v1/containers/run
 * with the CreateRequest, upgraded: berthd creates the container, attaches this connection and
 * starts it, and the connection carries the shim's frames to the exit frame. With --rm, a second
 * connection asks POST /v1/containers/<id>/wait?condition=removed as soon as the 101 names the
 * container, and the front returns once berthd has removed it, as docker's client does. A run that
 * fails exits 127, 126 or 125 as docker's. An image that is not here goes to Node, which pulls it:
 * a not-found answer is checked with GET /v1/images/inspect (the CLI's withPull), and only when the
 * image is missing is the command line handed over (nothing was made: the run failed). */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* The container's wait (POST /v1/containers/<id>/wait[?condition=removed]) sent on fd; its
 * exitCode, or -1 when it names none. A failure is the CLI's error: status 1. */
static long wait_answer(int fd, const char *path)
{
	struct buf err = {0};
	struct answer a = {0};
	if (req_read(fd, "POST", path, &a, &err))
		die(&err, 1);
	if (a.head.status >= 400) {
		answer_error(&a, &err);
		die(&err, 1);
	}
	long code;
	return exit_code_of(&a.body, &code) ? -1 : code;
}

static void json_list(struct buf *b, const char *key, const char **v)
{
	buf_fmt(b, ",\"%s\":[", key);
	for (const char **x = v; *x; x++) {
		if (x != v)
			buf_add(b, ",", 1);
		buf_json(b, *x);
	}
	buf_add(b, "]", 1);
}

static void json_field(struct buf *b, const char *key, const char *v)
{
	if (!v)
		return;
	buf_fmt(b, ",\"%s\":", key);
	buf_json(b, v);
}

/* A run that failed with a not-found answer: the CLI asks whether the image is here. */
static _Noreturn void not_found(const struct run_req *r, struct buf *run_err)
{
	struct buf path = {0}, err = {0};
	struct answer a = {0};
	buf_str(&path, "/v1/images/inspect?ref=");
	buf_form(&path, r->image);
	int fd = req_send(-1, r->socket, "GET", path.p, NULL, 0, &err);
	if (fd < 0 || req_read(fd, "GET", path.p, &a, &err))
		die(&err, failure_status(err.p, 125));
	if (a.head.status < 400)
		die(run_err, failure_status(run_err->p, 125)); /* the image is here: another thing was not found */
	if (answer_not_found(&a))
		exec_node(); /* Node pulls it and runs again */
	answer_error(&a, &err);
	die(&err, failure_status(err.p, 125));
}

int verb_run(int fd, const struct run_req *r)
{
	struct buf body = {0}, err = {0};
	buf_str(&body, "{\"image\":");
	buf_json(&body, r->image);
	if (*r->cmd)
		json_list(&body, "cmd", r->cmd);
	json_field(&body, "name", r->name);
	if (*r->env)
		json_list(&body, "env", r->env);
	json_field(&body, "network", r->network);
	json_field(&body, "workdir", r->workdir);
	json_field(&body, "user", r->user);
	if (r->rm)
		buf_str(&body, ",\"autoRemove\":true");
	buf_add(&body, "}", 1);

	const char *path = "/v1/containers/run";
	struct answer a = {0};
	fd = req_send(fd, r->socket, "POST", path, &body, 1, &err);
	if (fd < 0 || req_read(fd, "POST", path, &a, &err))
		die(&err, failure_status(err.p, 125));
	if (a.head.status >= 400) {
		answer_error(&a, &err);
		if (answer_not_found(&a))
			not_found(r, &err);
	} else if (a.head.status != 101)
		buf_fmt(&err, "POST /containers/run: berthd answered %d, expected 101 Switching Protocols", a.head.status);
	if (err.len)
		die(&err, failure_status(err.p, 125));
	char *id = wire_header(&a.head, "x-berth-container-id");
	if (!id || !*id) {
		buf_str(&err, "run: berthd's answer named no container (x-berth-container-id missing)");
		die(&err, 125);
	}
	struct buf wait = {0};
	buf_str(&wait, "/v1/containers/");
	buf_uri(&wait, id);
	buf_str(&wait, "/wait");
	size_t plain = wait.len;
	buf_str(&wait, "?condition=removed");

	/* Sent now, so that it is waiting in berthd when the exit comes. */
	int removed = -1;
	struct buf removed_err = {0};
	if (r->rm)
		removed = req_send(-1, r->socket, "POST", wait.p, NULL, 0, &removed_err);
	long code;
	int have = stream_frames(fd, &a.head, &code);
	if (have == 2)
		return 0; /* detached, as docker's run: the container runs on */
	if (r->rm) {
		if (removed < 0)
			die(&removed_err, 1);
		long c = wait_answer(removed, wait.p);
		if (!have && c >= 0)
			code = c, have = 1;
	}
	if (have)
		return (int)code;
	wait.len = plain;
	wait.p[plain] = 0;
	fd = req_send(-1, r->socket, "POST", wait.p, NULL, 0, &err);
	if (fd < 0)
		die(&err, 1);
	long c = wait_answer(fd, wait.p);
	return c >= 0 ? (int)c : 0;
}
