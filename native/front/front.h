/* berth-runtime's native front: the plan-free verbs (start, state, kill, delete, list, pause,
 * resume, ps) executed from the verbs file that TypeScript wrote at create (src/runtime/verbs-file.ts),
 * and an exec of the Node bundle for every other verb and every case it does not handle
 * (docs/native.md). Mechanism only: it parses no config and decides no policy. */
#pragma once
#include <stddef.h>
#include <sys/types.h>

#include "../common.h"

/* The whole file; -1 with errno set when it cannot be read. */
int read_file(const char *path, struct buf *b);
/* EBUSY → "EBUSY": the names Node gives errors, for messages that read as the Node verbs' do. */
const char *errno_name(int e);
void sleep_ms(long ms);
/* Runs path (envp NULL: a PATH lookup in our environment) with fd0-2 as its stdio, signals
 * unblocked and at their defaults; the pid, or -1 with *exec_errno when it could not be run
 * (known before returning: the exec reports through a close-on-exec pipe). */
pid_t spawn(const char *path, char *const argv[], char *const envp[], int fd0, int fd1, int fd2, int *exec_errno);
/* Forks; the child runs child(arg), which sets itself up and execs, or returns the errno of what
 * failed. The pid, or -1 with *exec_errno (known before returning, through a close-on-exec pipe). */
pid_t spawn_with(int (*child)(void *arg), void *arg, int *exec_errno);
/* write(2) until all of it is written or the fd fails. */
void write_all(int fd, const char *p, size_t n);
long long now_ms(void);

/* log.c: runc's --log / --log-format lines, as the Node verbs write them. */
void log_setup(const char *file, int json, int debug);
void warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Logs the error, prints "berth-runtime: msg" on stderr, exits 1. First runs fail_cleanup, when
 * set (once); with fail_quiet, only exits. */
_Noreturn void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
extern void (*fail_cleanup)(void);
extern int fail_quiet;

/* serve.c: create, run and exec through the plan server (docs/native.md, "The plan server"). Returns
 * when the command is Node's to run (no server, or the server handed it back) before anything was
 * changed; otherwise exits with the verb's status. */
void serve_or_return(const char *verb, int argc, char **argv);

/* main.c: hands the command line, unchanged, to the Node bundle. */
_Noreturn void exec_node(void);

enum status { ST_CREATING, ST_CREATED, ST_RUNNING, ST_PAUSED, ST_STOPPED };
extern const char *const status_names[];

struct hook {
	const char *kind, *path;
	const char **argv, **env; /* NULL-terminated */
	size_t nargv, nenv;
	long timeout; /* seconds; 0: none */
};

/* One container's verbs file. Strings point into the file's buffer. */
struct rec {
	char *dir, *fifo;
	const char *oci_version, *id, *start_time, *bundle, *rootfs, *created, *owner;
	long pid;
	const char **ann; /* key, value, key, value … */
	size_t nann;
	const char **cg_dirs, **prune;
	size_t ncg, nprune;
	int freezer_version;
	const char *freezer_dir, *kill_file;
	struct hook *hooks;
	size_t nhooks;
};

enum load { LOAD_OK, LOAD_NO_CONTAINER, LOAD_NO_STATE, LOAD_USE_NODE };
/* LOAD_NO_CONTAINER: no directory; LOAD_NO_STATE: a directory without state.json (an aborted
 * create); LOAD_USE_NODE: a record this front cannot read (no verbs file: an older berth, a torn
 * or unknown file): the Node verbs handle it from state.json. */
enum load rec_load(const char *root, const char *id, struct rec *r);
int valid_id(const char *id);
enum status rec_status(const struct rec *r);
/* /proc/<pid>/stat's state letter and start time; 0 when the process is gone. */
int proc_stat(long pid, char *state, char *start, size_t startsz);
int same_live_process(long pid, const char *start);
/* The runtime spec's state document with runc's fields, as the Node verbs print it. */
void state_json(struct buf *b, const struct rec *r, long pid, const char *status, int pretty);

/* cgroup.c: the cgroup files behind pause, resume, ps, kill --all and delete. */
enum freezer { FZ_THAWED, FZ_FREEZING, FZ_FROZEN };
enum freezer cg_freezer_state(const struct rec *r);
void cg_freeze(const struct rec *r);
void cg_thaw(const struct rec *r, const char *what);
/* Every pid of the container's cgroups and their descendants, sorted; *n set. */
long *cg_pids(const struct rec *r, size_t *n);
void cg_kill_all(const struct rec *r, int sig);
void cg_destroy(const struct rec *r);

/* hook.c: poststart and poststop hooks; failures are warnings, as the spec asks. */
void run_hooks_warn(const struct rec *r, const char *kind, const char *state);
int signal_number(const char *s);
const char *signal_name(int sig);
