/* berth-runtime: the command line's front door. The plan-free verbs (start, state, kill, delete,
 * list, pause, resume, ps) run here from the verbs file that create wrote; every other verb, and
 * every case this front does not handle (help, version, a flag it does not know, a record without
 * a verbs file …), is handed unchanged to the Node bundle beside this binary
 * (berth-runtime-node), which parses runc's command line in full and words every error. So this
 * front parses only what it can act on, and never words a usage error itself. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "front.h"
#include "verbs.h"

const char prog_name[] = "berth-runtime";
static char **args;

_Noreturn void exec_node(void)
{
	const char *tried = exec_beside("berth-runtime-node", args);
	if (!tried)
		fail("cannot find the Node part of berth-runtime: readlink /proc/self/exe: %s", strerror(errno));
	fail("cannot run %s (the Node part of berth-runtime, for this command): %s", tried, strerror(errno));
}

static int is_flag(const char *a)
{
	return a[0] == '-' && a[1] != 0;
}

/* A boolean flag: bare, =true or =false; anything else goes to Node for its error. */
static int bool_value(const struct flag *f)
{
	if (!f->value || !strcmp(f->value, "true"))
		return 1;
	if (!strcmp(f->value, "false"))
		return 0;
	exec_node();
}

static const char *string_value(const struct flag *f, int argc, int *i)
{
	if (f->value)
		return f->value;
	if (*i + 1 >= argc)
		exec_node();
	return args[++*i];
}

int main(int argc, char **argv)
{
	args = argv;
	/* Started with stdin, stdout or stderr closed, a log line or the state JSON would otherwise be
	 * written into a cgroup file we opened. */
	std_fds_open();
	const char *root = "/run/berth-runtime", *log = NULL, *log_format = "text";
	int debug = 0, i = 1;
	for (; i < argc && is_flag(argv[i]); i++) {
		if (!strcmp(argv[i], "--"))
			exec_node();
		struct flag f = split_flag(argv[i]);
		if (flag_is(&f, "root"))
			root = string_value(&f, argc, &i);
		else if (flag_is(&f, "log"))
			log = string_value(&f, argc, &i);
		else if (flag_is(&f, "log-format"))
			log_format = string_value(&f, argc, &i);
		else if (flag_is(&f, "rootless") || flag_is(&f, "criu"))
			string_value(&f, argc, &i);
		else if (flag_is(&f, "debug"))
			debug = bool_value(&f);
		else if (flag_is(&f, "systemd-cgroup")) {
			if (bool_value(&f))
				exec_node(); /* refused, in Node's words */
		} else
			exec_node(); /* --help, --version, or an unknown flag */
	}
	if (i >= argc || (strcmp(log_format, "text") && strcmp(log_format, "json")) || !*root)
		exec_node();
	log_setup(log, !strcmp(log_format, "json"), debug);
	const char *verb = argv[i++];

	/* The verb's flags (anywhere among its arguments, as runc's parser takes them) and positionals. */
	int all = 0, force = 0, quiet = 0;
	const char *format = "table";
	char **pos = calloc((size_t)argc + 1, sizeof *pos);
	int npos = 0;
	int known = !strcmp(verb, "start") || !strcmp(verb, "state") || !strcmp(verb, "kill") || !strcmp(verb, "delete") ||
		    !strcmp(verb, "list") || !strcmp(verb, "pause") || !strcmp(verb, "resume") || !strcmp(verb, "ps");
	if (!known)
		serve_or_return(verb, argc, argv);
	if (!known || !pos)
		exec_node();
	for (; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--")) {
			while (++i < argc)
				pos[npos++] = argv[i];
			break;
		}
		if (!is_flag(a)) {
			pos[npos++] = argv[i];
			continue;
		}
		struct flag f = split_flag(a);
		if (!strcmp(verb, "kill") && (flag_is(&f, "all") || flag_is(&f, "a")))
			all = bool_value(&f);
		else if (!strcmp(verb, "delete") && (flag_is(&f, "force") || flag_is(&f, "f")))
			force = bool_value(&f);
		else if (!strcmp(verb, "list") && (flag_is(&f, "quiet") || flag_is(&f, "q")))
			quiet = bool_value(&f);
		else if ((!strcmp(verb, "list") || !strcmp(verb, "ps")) && (flag_is(&f, "format") || flag_is(&f, "f")))
			format = string_value(&f, argc, &i);
		else
			exec_node(); /* --help, or a flag the verb does not take */
	}
	if (!strcmp(verb, "list"))
		return verb_list(root, format, quiet);
	if (npos == 0 || !valid_id(pos[0]))
		exec_node(); /* Node words the error: "requires a container id", "container id \"x\": expected …" */
	const char *id = pos[0];
	if (!strcmp(verb, "state"))
		return verb_state(root, id);
	if (!strcmp(verb, "start"))
		return verb_start(root, id);
	if (!strcmp(verb, "kill"))
		return verb_kill(root, id, npos > 1 ? pos[1] : "SIGTERM", all);
	if (!strcmp(verb, "delete"))
		return verb_delete(root, id, force);
	if (!strcmp(verb, "pause") || !strcmp(verb, "resume"))
		return verb_pause(root, id, !strcmp(verb, "pause"));
	return verb_ps(root, id, format, pos + 1, npos - 1);
}
