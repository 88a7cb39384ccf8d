/* create, run and exec through berth-runtime's plan server (docs/native.md, "The plan server").
 *
 * The server is the Node bundle kept running (berth-runtime-node --plan-server SOCKET): it parses
 * the command line and the config and builds the plan, as the Node verb does, so that a create
 * does not pay Node's start-up. This front stays what it is for the other verbs, mechanism: it
 * sends the command line, spawns berth-init as the server tells it (so that the container's init
 * is this process's child, as it is runc's), hands the server the other end of the sync socket, and
 * then does what the server says: exit with a status, or start the container (run -d) and, for a
 * foreground run, wait for it and delete it with its own start and delete verbs.
 *
 * One server per identity: the bundle's file, the caller's credentials, namespaces, capabilities,
 * umask, LSM label and BERTH_* and NODE_* environment; a caller differing in any of these reaches another socket (and the
 * server checks the same against SO_PEERCRED). When there is no server yet, this front starts one
 * and hands this command to Node as before. Whatever goes wrong before berth-init is spawned hands
 * the command to Node too: nothing has been changed by then. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "front.h"
#include "verbs.h"

#define SERVER_DIR "/run/berth-runtime-plans"
/* The connection's fd and the fds received move at least this high, so that no --preserve-fds
 * number (the server refuses more than 64) can be one of them. */
#define OWN_FD_FLOOR 100

enum frame { F_REQUEST = 1, F_SPAWNED = 2, F_FALLBACK = 10, F_OUTPUT = 11, F_SPAWN = 12, F_DONE = 13 };

static int conn = -1;
static pid_t stage0 = -1;
static const char *done_root, *done_id;

static const char *const namespaces[] = {"cgroup", "ipc", "mnt", "net", "pid", "user", "uts"};
static const char *const status_keys[] = {"Umask",  "Uid",    "Gid",    "Groups", "NoNewPrivs", "Seccomp",
					  "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"};

static int by_string(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The identity text the server computes too (src/cli/runtime/plan-server.ts, identityText):
 * byte for byte the same, or the server hands every command back. */
static int identity(struct buf *b, const char *exe)
{
	struct stat st;
	if (stat(exe, &st) < 0)
		return -1;
	buf_str(b, "berth-runtime plan server 1\n");
	buf_fmt(b, "exe %llu:%llu:%lld:%lld\n", (unsigned long long)st.st_dev, (unsigned long long)st.st_ino,
		(long long)st.st_size, (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec);
	for (size_t i = 0; i < sizeof namespaces / sizeof *namespaces; i++) {
		char path[64], link[256];
		snprintf(path, sizeof path, "/proc/self/ns/%s", namespaces[i]);
		ssize_t n = readlink(path, link, sizeof link - 1);
		if (n < 0)
			return -1;
		link[n] = 0;
		buf_fmt(b, "ns %s %s\n", namespaces[i], link);
	}
	struct buf status = {0};
	if (read_file("/proc/self/status", &status) < 0)
		return -1;
	for (size_t i = 0; i < sizeof status_keys / sizeof *status_keys; i++) {
		size_t klen = strlen(status_keys[i]);
		const char *line = status.p, *found = NULL;
		while (line && *line) {
			if (!strncmp(line, status_keys[i], klen) && line[klen] == ':') {
				found = line;
				break;
			}
			line = strchr(line, '\n');
			if (line)
				line++;
		}
		if (found) {
			const char *end = strchr(found, '\n');
			buf_add(b, found, end ? (size_t)(end - found) : strlen(found));
			buf_str(b, "\n");
		} else
			buf_fmt(b, "%s: -\n", status_keys[i]);
	}
	free(status.p);
	struct buf file = {0};
	buf_str(b, "attr ");
	if (read_file("/proc/self/attr/current", &file) < 0)
		buf_str(b, "-");
	else
		buf_add(b, file.p, file.len);
	buf_str(b, "\n");
	free(file.p);
	/* berth's switches and Node's, sorted: the environment the server's code reads. */
	extern char **environ;
	size_t n = 0;
	for (char **e = environ; *e; e++)
		n++;
	const char **env = calloc(n + 1, sizeof *env);
	if (!env)
		return -1;
	size_t k = 0;
	for (char **e = environ; *e; e++)
		if ((!strncmp(*e, "BERTH_", 6) || !strncmp(*e, "NODE_", 5)) &&
		    strncmp(*e, "BERTH_RUNTIME_PLAN_SERVER", 25))
			env[k++] = *e;
	qsort(env, k, sizeof *env, by_string);
	for (size_t i = 0; i < k; i++)
		buf_fmt(b, "env %s\n", env[i]);
	free(env);
	return 0;
}

static uint64_t fnv1a(const char *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static int send_frame(uint32_t type, const char *p, size_t n)
{
	uint32_t head[2] = {type, (uint32_t)n};
	struct buf b = {0};
	buf_add(&b, (const char *)head, sizeof head);
	buf_add(&b, p, n);
	size_t off = 0;
	while (off < b.len) {
		ssize_t w = send(conn, b.p + off, b.len - off, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			free(b.p);
			return -1;
		}
		off += (size_t)w;
	}
	free(b.p);
	return 0;
}

/* Reads exactly n bytes, keeping any fds that come with them (moved above OWN_FD_FLOOR). */
static int recv_full(char *p, size_t n, int *fds, int *nfds, int maxfds)
{
	size_t got = 0;
	while (got < n) {
		char control[CMSG_SPACE(sizeof(int) * 4)];
		struct iovec iov = {p + got, n - got};
		struct msghdr msg = {0};
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		msg.msg_control = control;
		msg.msg_controllen = sizeof control;
		ssize_t r = recvmsg(conn, &msg, MSG_CMSG_CLOEXEC);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
			if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
				continue;
			size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			for (size_t i = 0; i < count; i++) {
				int fd;
				memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
				int high = fcntl(fd, F_DUPFD_CLOEXEC, OWN_FD_FLOOR);
				close(fd);
				if (high < 0 || *nfds >= maxfds) {
					if (high >= 0)
						close(high);
					return -1;
				}
				fds[(*nfds)++] = high;
			}
		}
		got += (size_t)r;
	}
	return 0;
}

/* One frame from the server; its payload NUL-terminated in b. -1 at EOF or a broken frame. */
static int recv_frame(uint32_t *type, struct buf *b, int *fds, int *nfds)
{
	uint32_t head[2];
	*nfds = 0;
	if (recv_full((char *)head, sizeof head, fds, nfds, 4) < 0 || head[1] > (16u << 20))
		return -1;
	*type = head[0];
	b->len = 0;
	buf_grow(b, head[1]);
	if (recv_full(b->p, head[1], fds, nfds, 4) < 0)
		return -1;
	b->len = head[1];
	b->p[b->len] = 0;
	return 0;
}

/* The next NUL-terminated string of a payload, or NULL past its end. */
static const char *field(const struct buf *b, size_t *off)
{
	if (*off >= b->len)
		return NULL;
	const char *s = b->p + *off;
	*off += strlen(s) + 1;
	return s;
}

/* Starts a server on path, detached (its own session, stdio on /dev/null, no other fds), and does
 * not wait for it: this command goes to Node meanwhile. */
static void start_server(const char *path)
{
	pid_t p = fork();
	if (p < 0)
		return;
	if (p == 0) {
		setsid();
		if (fork() != 0)
			_exit(0);
		/* A daemon: no directory of its first caller's kept busy, no terminal, no fds. */
		if (chdir("/") < 0)
			_exit(127);
		int null = open("/dev/null", O_RDWR);
		for (int i = 0; i < 3; i++)
			dup2(null, i);
		closefrom(3);
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		char *argv[] = {"berth-runtime-node", "--plan-server", (char *)path, NULL};
		exec_beside("berth-runtime-node", argv);
		_exit(127);
	}
	while (waitpid(p, NULL, 0) < 0 && errno == EINTR)
		;
}

/* Connects to this caller's server; starts one when there is none. -1: Node runs this command. */
static int connect_server(void)
{
	if (geteuid() != 0)
		return -1; /* the server's directory is root's; other users run the Node verbs */
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 32);
	if (n < 0)
		return -1;
	self[n] = 0;
	char *slash = strrchr(self, '/');
	if (!slash)
		return -1;
	strcpy(slash + 1, "berth-runtime-node");
	struct buf id = {0};
	if (identity(&id, self) < 0) {
		free(id.p);
		return -1;
	}
	char path[sizeof ((struct sockaddr_un *)0)->sun_path];
	snprintf(path, sizeof path, "%s/%016llx.sock", SERVER_DIR, (unsigned long long)fnv1a(id.p, id.len));
	free(id.p);
	if (mkdir(SERVER_DIR, 0700) < 0 && errno != EEXIST)
		return -1;
	struct stat st;
	if (lstat(SERVER_DIR, &st) < 0 || !S_ISDIR(st.st_mode) || st.st_uid != 0 || (st.st_mode & 077))
		return -1;
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -1;
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	strcpy(a.sun_path, path);
	if (connect(s, (struct sockaddr *)&a, sizeof a) < 0) {
		close(s);
		/* No server yet, or a dead one's socket; PATH.off: one could not run for this identity. */
		char off[sizeof path + 8];
		snprintf(off, sizeof off, "%s.off", path);
		if ((errno == ENOENT || errno == ECONNREFUSED) && access(off, F_OK) < 0)
			start_server(path);
		return -1;
	}
	int high = fcntl(s, F_DUPFD_CLOEXEC, OWN_FD_FLOOR);
	close(s);
	return high;
}

struct init_spawn {
	const char *init;
	int preserve;
	const int *fds;
	int nfds;
};

static int init_child(void *arg)
{
	struct init_spawn *p = arg;
	char sync_arg[16];
	snprintf(sync_arg, sizeof sync_arg, "%d", 3 + p->preserve + p->nfds - 1);
	for (int i = 3; i < 3 + p->preserve; i++)
		if (fcntl(i, F_SETFD, 0) < 0)
			return errno; /* a --preserve-fds fd that is not open */
	for (int i = 0; i < p->nfds; i++)
		if (dup2(p->fds[i], 3 + p->preserve + i) < 0)
			return errno;
	umask(0);
	char *argv[] = {"berth-init", sync_arg, NULL};
	execv(p->init, argv);
	return errno;
}

/* Spawns berth-init: fds 0-2 and the --preserve-fds ones as ours, then the console socket (when
 * given) and the sync socket, umask 0 (berth-init's contract), argv berth-init <sync fd>. The pid,
 * or -1 with *err. */
static pid_t spawn_init(const char *init, int preserve, const int *fds, int nfds, int *err)
{
	struct init_spawn p = {init, preserve, fds, nfds};
	return spawn_with(init_child, &p, err);
}

static void forward(int sig)
{
	if (stage0 > 0)
		kill(stage0, sig);
}

/* stage0's status as the Node verbs report it: its exit code, or 128+n when killed by signal n. */
static int reap_stage0(void)
{
	int st = 0;
	while (waitpid(stage0, &st, 0) < 0) {
		if (errno != EINTR)
			return 1;
	}
	stage0 = -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* What Node's runDetached does when start fails: delete --force, its own failure unsaid. */
static void delete_quietly(void)
{
	pid_t p = fork();
	if (p == 0) {
		fail_quiet = 1;
		_exit(verb_delete(done_root, done_id, 1));
	}
	if (p > 0)
		while (waitpid(p, NULL, 0) < 0 && errno == EINTR)
			;
}

static void kill_stage0(void)
{
	if (stage0 > 0) {
		kill(stage0, SIGKILL);
		reap_stage0();
	}
}

/* A foreground run whose start failed: as Node's, the container goes. */
static void end_run(void)
{
	kill_stage0();
	delete_quietly();
}

void serve_or_return(const char *verb, int argc, char **argv)
{
	if (strcmp(verb, "create") && strcmp(verb, "run") && strcmp(verb, "exec"))
		return;
	const char *off = getenv("BERTH_RUNTIME_PLAN_SERVER");
	if (off && !strcmp(off, "0"))
		return;
	conn = connect_server();
	if (conn < 0)
		return;

	/* REQUEST: cwd, argc, the arguments. */
	struct buf req = {0};
	char cwd[PATH_MAX];
	if (!getcwd(cwd, sizeof cwd))
		goto node;
	buf_add(&req, cwd, strlen(cwd) + 1);
	buf_fmt(&req, "%d", argc - 1);
	buf_add(&req, "", 1);
	for (int i = 1; i < argc; i++)
		buf_add(&req, argv[i], strlen(argv[i]) + 1);
	if (send_frame(F_REQUEST, req.p, req.len) < 0)
		goto node;
	free(req.p);
	req.p = NULL;

	struct buf b = {0};
	int fds[4], nfds = 0, spawned = 0, foreground = 0;
	uint32_t type;
	for (;;) {
		if (recv_frame(&type, &b, fds, &nfds) < 0) {
			if (!spawned)
				goto node;
			/* The server went away with berth-init started: the create did not finish. */
			kill_stage0();
			fail("the plan server ended during %s of container %s: run `berth-runtime delete --force %s`",
			     verb, done_id, done_id);
		}
		if (type == F_FALLBACK && !spawned)
			goto node;
		if (type == F_OUTPUT && b.len > 0) {
			write_all(b.p[0] == 1 ? 1 : 2, b.p + 1, b.len - 1);
			continue;
		}
		if (type == F_SPAWN && !spawned && nfds >= 1) {
			size_t o = 0;
			const char *init = field(&b, &o), *preserve = field(&b, &o), *fg = field(&b, &o);
			done_root = field(&b, &o);
			done_id = field(&b, &o);
			if (!done_id)
				fail("the plan server sent a broken SPAWN frame");
			/* Kept: b is reused for the next frames. */
			init = strdup(init);
			done_root = strdup(done_root);
			done_id = strdup(done_id);
			foreground = !strcmp(fg, "1");
			int err = 0;
			stage0 = spawn_init(init, atoi(preserve), fds, nfds, &err);
			for (int i = 0; i < nfds; i++)
				close(fds[i]);
			spawned = 1;
			char reply[32];
			snprintf(reply, sizeof reply, "%ld %d", (long)(stage0 > 0 ? stage0 : 0), err);
			if (stage0 > 0 && foreground) {
				/* As Node's run: signals for berth-runtime go to the container (stage0 passes them on). */
				struct sigaction sa = {.sa_handler = forward, .sa_flags = SA_RESTART};
				int sigs[] = {SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGINT};
				for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++)
					sigaction(sigs[i], &sa, NULL);
			}
			send_frame(F_SPAWNED, reply, strlen(reply) + 1);
			continue;
		}
		if (type == F_DONE)
			break;
		for (int i = 0; i < nfds; i++)
			close(fds[i]);
		if (spawned)
			kill_stage0();
		fail("the plan server sent an unexpected frame (type %u)", type);
	}
	size_t o = 0;
	const char *code = field(&b, &o), *then = field(&b, &o);
	close(conn);
	int status = code ? atoi(code) : 1;
	if (status != 0 || !then) {
		kill_stage0();
		exit(status ? status : 1);
	}
	if (!strcmp(then, "exit")) {
		/* create: stage0 exits once the init waits on the exec FIFO. */
		int st = reap_stage0();
		if (st != 0)
			warn("berth-init stage0 exited with status %d", st);
		exit(0);
	}
	if (!strcmp(then, "wait"))
		exit(reap_stage0()); /* exec: stage0 exits with the process's status */
	if (!strcmp(then, "detached")) {
		reap_stage0(); /* exec --detach: stage0 exits once the process runs */
		exit(0);
	}
	if (!strcmp(then, "start")) {
		/* run --detach: create, then start; a failed start deletes the container. */
		int st = reap_stage0();
		if (st != 0)
			warn("berth-init stage0 exited with status %d", st);
		fail_cleanup = delete_quietly;
		verb_start(done_root, done_id);
		exit(0);
	}
	/* run in the foreground: start, wait for the container (stage0 exits with its status), delete. */
	fail_cleanup = end_run;
	verb_start(done_root, done_id);
	fail_cleanup = NULL;
	int st = reap_stage0();
	verb_delete(done_root, done_id, 1);
	exit(st);

node:
	free(req.p);
	close(conn);
	conn = -1;
}
