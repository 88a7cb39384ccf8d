/* berth: the command line's front door. `berth [--host S | -H S] exec [-e K=V]... [-w DIR]
 * [-u USER] CONTAINER CMD [ARG...]` and `berth [--host S] run [--rm] [--name N] [--network NET]
 * [-e K=V]... [-w DIR] [-u USER] IMAGE [CMD [ARG...]]` (and `container exec|run`) run here; every other command, flag or
 * form (-i, -t, -d, --help, --debug, --ip, --mac-address, --network-alias, --network's long form
 * name=N,…, a missing argument, invalid UTF-8, an unreachable berthd …)
 * is handed unchanged to the Node bundle beside this binary (berth-node), which parses docker's
 * command line in full and words every error. So this front parses only what it can act on, as
 * src/cli/berth/main.ts and the exec verb (src/cli/berth/container-verbs.ts) parse it. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli.h"

#define DEFAULT_SOCKET "/run/berth/berthd.sock"

const char prog_name[] = "berth";
static char **args;

_Noreturn void exec_node(void)
{
	signal(SIGPIPE, SIG_DFL); /* as we were started: Node sets its own */
	const char *tried = exec_beside("berth-node", args);
	if (!tried)
		dprintf(2, "berth: cannot find the Node part of berth: readlink /proc/self/exe: %s\n", strerror(errno));
	else
		dprintf(2, "berth: cannot run %s (the Node part of berth, for this command): %s\n", tried, strerror(errno));
	exit(1);
}

/* Node reads the command line and the environment as UTF-8, replacing what is not: such a string
 * would not be the one Node sends, so it goes to Node. */
static int utf8_valid(const unsigned char *s)
{
	while (*s) {
		unsigned c = *s++;
		if (c < 0x80)
			continue;
		int more;
		unsigned cp;
		if (c >= 0xc2 && c <= 0xdf)
			more = 1, cp = c & 0x1f;
		else if (c >= 0xe0 && c <= 0xef)
			more = 2, cp = c & 0x0f;
		else if (c >= 0xf0 && c <= 0xf4)
			more = 3, cp = c & 0x07;
		else
			return 0;
		for (int k = 0; k < more; k++, s++) {
			if ((*s & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (*s & 0x3f);
		}
		if ((more == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) || (more == 3 && (cp < 0x10000 || cp > 0x10ffff)))
			return 0;
	}
	return 1;
}

static const char *value_of(const struct flag *f, int argc, int *i)
{
	if (f->value)
		return f->value;
	if (*i + 1 >= argc)
		exec_node(); /* "flag needs an argument", in Node's words */
	return args[++*i];
}

int main(int argc, char **argv)
{
	args = argv;
	std_fds_open(); /* the socket must not become stdout */
	const char *force = getenv("BERTH_CLI_NODE");
	const char *trace = getenv("BERTH_TRACE_TIMING");
	const char *sn = getenv("BERTH_SNAPSHOTTER");
	if ((force && *force) || (trace && !strcmp(trace, "1")) ||
	    (sn && strcmp(sn, "auto") && strcmp(sn, "overlay") && strcmp(sn, "native")))
		exec_node(); /* forced; the timing trace; a snapshotter main.ts refuses */
	for (int k = 1; k < argc; k++)
		if (!utf8_valid((const unsigned char *)argv[k]))
			exec_node();

	/* Global flags: only --host (-H). */
	const char *host = NULL;
	int i = 1;
	for (; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
		if (!strcmp(argv[i], "--"))
			exec_node();
		struct flag f = split_flag(argv[i]);
		if (flag_is(&f, "host") || flag_is(&f, "H"))
			host = value_of(&f, argc, &i);
		else
			exec_node(); /* --root, --debug, --help, --version, --snapshotter, an unknown flag */
	}
	if (i < argc && !strcmp(argv[i], "container"))
		i++;
	if (i >= argc || (strcmp(argv[i], "exec") && strcmp(argv[i], "run")))
		exec_node();
	int run = !strcmp(argv[i++], "run");

	/* The verb's flags, up to its first positional (expandShortFlags, then parseFlags). */
	const char **env = calloc((size_t)argc + 1, sizeof *env);
	if (!env)
		exec_node();
	size_t nenv = 0;
	const char *workdir = NULL, *user = NULL, *name = NULL, *network = NULL;
	int rm = 0;
	for (; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--")) {
			i++;
			break;
		}
		if (a[0] != '-' || !a[1])
			break;
		struct flag f = split_flag(a);
		if (flag_is(&f, "env") || flag_is(&f, "e")) {
			env[nenv] = value_of(&f, argc, &i);
			if (run && !strchr(env[nenv], '='))
				exec_node(); /* run's `-e NAME` takes NAME's value from the environment */
			nenv++;
		} else if (flag_is(&f, "workdir") || flag_is(&f, "w"))
			workdir = value_of(&f, argc, &i);
		else if (flag_is(&f, "user") || flag_is(&f, "u"))
			user = value_of(&f, argc, &i);
		else if (run && flag_is(&f, "name"))
			name = value_of(&f, argc, &i);
		else if (run && !network && (flag_is(&f, "network") || flag_is(&f, "net"))) {
			network = value_of(&f, argc, &i);
			if (strchr(network, '='))
				exec_node(); /* docker's long form, name=N,alias=A,…: Node parses it */
		}
		else if (run && flag_is(&f, "rm") && !f.value)
			rm = 1;
		else
			exec_node(); /* -i, -t, -d, --format, --help, a cluster such as -it, a second --network, … */
	}
	if (argc - i < (run ? 1 : 2))
		exec_node(); /* the usage error */

	/* The socket: --host as given, else $BERTH_HOST without unix://, else the default. */
	const char *path = host;
	if (!path) {
		const char *h = getenv("BERTH_HOST");
		if (h && !utf8_valid((const unsigned char *)h))
			exec_node();
		path = h ? (strncmp(h, "unix://", 7) ? h : h + 7) : DEFAULT_SOCKET;
	}
	if (!*path || strlen(path) >= sizeof ((struct sockaddr_un *)0)->sun_path)
		exec_node();
	int fd = wire_connect(path);
	if (fd < 0)
		exec_node(); /* berthd not running: Node's message ("cannot reach berthd at …") */
	/* A closed stdout or stderr is now EPIPE (status 141), as in Node. */
	signal(SIGPIPE, SIG_IGN);

	if (run) {
		/* createRequest: --name, --network, -w and -u go as given, even empty. */
		struct run_req r = {
			.socket = path,
			.image = argv[i],
			.name = name,
			.network = network,
			.workdir = workdir,
			.user = user,
			.rm = rm,
			.env = env,
			.cmd = (const char **)argv + i + 1,
		};
		return verb_run(fd, &r);
	}
	/* execVerb: an empty -w or -u is left out. */
	struct exec_req r = {
		.socket = path,
		.id = argv[i],
		.workdir = workdir && *workdir ? workdir : NULL,
		.user = user && *user ? user : NULL,
		.env = env,
		.cmd = (const char **)argv + i + 1,
	};
	return verb_exec(fd, &r);
}
