/* `berth exec` without -i, -t or -d, as the TypeScript CLI runs it (src/cli/berth/container-verbs.ts,
 * execVerb; src/client/client.ts, execStart and execWait): one request,
 * POST /v1/containers/<id>/exec/start with the ExecRequest, upgraded to the attach protocol; the
 * connection then carries the shim's frames (src/api/attach-frames.ts) from the exec's first output
 * to its exit frame, whose exitCode is the status. A connection that ends without one asks
 * POST /v1/exec/<execId>/wait. An exec that could not start exits 127 or 126 as docker's, else 1. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* POST /v1/exec/<id>/wait: the exec's exit code (0 when the answer names none, as the CLI's `?? 0`). */
static int exec_wait(const char *socket, const char *exec_id)
{
	struct buf path = {0}, err = {0};
	struct answer a = {0};
	buf_fmt(&path, "/v1/exec/%s/wait", exec_id);
	int fd = req_send(-1, socket, "POST", path.p, NULL, 0, &err);
	if (fd < 0 || req_read(fd, "POST", path.p, &a, &err))
		die(&err, 1);
	if (a.head.status >= 400) {
		answer_error(&a, &err);
		die(&err, 1);
	}
	long code;
	return exit_code_of(&a.body, &code) ? 0 : (int)code;
}

int verb_exec(int fd, const struct exec_req *r)
{
	struct buf body = {0}, route = {0}, path = {0}, err = {0};
	buf_str(&body, "{\"cmd\":[");
	for (const char **c = r->cmd; *c; c++) {
		if (c != r->cmd)
			buf_add(&body, ",", 1);
		buf_json(&body, *c);
	}
	buf_str(&body, "],\"tty\":false,\"openStdin\":false");
	if (*r->env) {
		buf_str(&body, ",\"env\":[");
		for (const char **e = r->env; *e; e++) {
			if (e != r->env)
				buf_add(&body, ",", 1);
			buf_json(&body, *e);
		}
		buf_add(&body, "]", 1);
	}
	if (r->workdir) {
		buf_str(&body, ",\"workdir\":");
		buf_json(&body, r->workdir);
	}
	if (r->user) {
		buf_str(&body, ",\"user\":");
		buf_json(&body, r->user);
	}
	buf_add(&body, "}", 1);
	buf_str(&route, "/containers/");
	buf_uri(&route, r->id);
	buf_str(&route, "/exec/start");
	buf_fmt(&path, "/v1%s", route.p);

	struct answer a = {0};
	fd = req_send(fd, r->socket, "POST", path.p, &body, 1, &err);
	if (fd < 0 || req_read(fd, "POST", path.p, &a, &err))
		die(&err, failure_status(err.p, 1));
	if (a.head.status >= 400)
		answer_error(&a, &err);
	else if (a.head.status != 101)
		buf_fmt(&err, "POST %s: berthd answered %d, expected 101 Switching Protocols", route.p, a.head.status);
	if (err.len)
		die(&err, failure_status(err.p, 1));
	char *exec_id = wire_header(&a.head, "x-berth-exec-id");
	if (!exec_id || !*exec_id) {
		buf_str(&err, "exec: berthd's answer named no exec (x-berth-exec-id missing)");
		die(&err, 1);
	}
	long code;
	int end = stream_frames(fd, &a.head, &code);
	if (end == 2) {
		static const char m[] = "read escape sequence\n"; /* docker's words; the process runs on */
		out_write(2, m, sizeof m - 1);
		return 1;
	}
	if (end == 1)
		return (int)code;
	return exec_wait(r->socket, exec_id);
}
