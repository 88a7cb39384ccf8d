/* shim.h — berth-shim, the per-container supervisor (docs/shim.md).
 *
 * One shim per container (or per exec'd process): it runs the runtime's create (or exec), becomes
 * the container's parent (a subreaper), holds its stdio, writes its log, serves attach clients and
 * records the exit status. It decides nothing about the container: berthd tells it what to run. */
#ifndef BERTH_SHIM_H
#define BERTH_SHIM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum log_format { LOG_JSON_FILE, LOG_CRI };

/* Streams, as numbered on the attach socket (docs/shim.md, "Attach protocol"). */
enum frame_type {
	FRAME_STDIN = 0,       /* client → shim: bytes for the container's stdin */
	FRAME_STDOUT = 1,      /* shim → client */
	FRAME_STDERR = 2,      /* shim → client */
	FRAME_RESIZE = 3,      /* client → shim: u16 rows, u16 cols (little-endian) */
	FRAME_CLOSE_STDIN = 4, /* client → shim: empty; closes the container's stdin */
	FRAME_EXIT = 5,        /* shim → client: the exit.json text; nothing follows */
	FRAME_ATTACHED = 6,    /* shim → client: empty; sent on accept, output from here on is yours */
	FRAME_REOPEN_LOG = 7,  /* client → shim: empty; reopen the log by its path (the kubelet rotated it) */
	FRAME_LOG_REOPENED = 8, /* shim → that client: "" once reopened, else the error text */
};

#define FRAME_HEADER 5          /* u8 type, u32 little-endian length */
#define FRAME_MAX_IN 8192       /* largest payload a client may send */
#define CLIENT_OUT_MAX 65536    /* output queued for one slow client before it is dropped */
#define MAX_CLIENTS 16
#define READ_CHUNK 8192         /* one read from the container's stdout/stderr */

struct config {
	const char *id;
	const char *bundle;
	const char *runtime;      /* path of the runc-compatible binary */
	const char *runtime_root; /* its --root */
	const char *state_dir;
	const char *log_path;
	enum log_format log_format;
	long long log_max_size;   /* bytes; 0: never rotate */
	int log_max_files;        /* files kept in all, the current one included (≥ 1) */
	int terminal;
	int stdin_open;
	const char *exec_process; /* --exec: process.json for `runtime exec`; NULL: create mode */
	int drain_ms;             /* after the init's exit, how long to wait for the pipes' EOF */
	int grace_ms;             /* after exit.json, how long attach clients may stay */
	int create_timeout_ms;    /* the runtime's create/exec must finish within this */
	int await_attach_ms;      /* --exec: hold the output (unread) until the first attach client, at most this; 0: no hold */
	int pace_ms;              /* the container's output waits for a lagging attach client, dropped after this long full; 0: dropped at once */
	const char *init;         /* --init: berth-init's path; berthd drives the create over SYNC_FD and CTL_FD; NULL: run the runtime */
};

/* --init: the fds berthd hands the shim (through the spawner): the sync socket berth-init gets, and
 * the control socket on which berthd sends its verdict (docs/shim.md, "Create through berth-init"). */
#define SYNC_FD 3
#define CTL_FD 4

/* What the loop holds: fds the supervisor owns once the container exists. */
struct shim {
	const struct config *cfg;
	pid_t init_pid;   /* the container's init (or the exec'd process) */
	int out_fd;       /* container stdout pipe, or the pty master (both streams) */
	int err_fd;       /* container stderr pipe; -1 with a terminal */
	int stdin_fd;     /* write end of the stdin pipe, or the master (--terminal --stdin); -1 */
	int master_fd;    /* pty master for resize; -1 without a terminal */
	int listen_fd;    /* attach.sock */
	int sig_fd;       /* signalfd: SIGCHLD, SIGTERM, SIGINT */
};

/* log.c */
int log_open(const struct config *cfg);              /* 0, or -errno */
void log_write(int stream, const char *data, size_t len);
void log_close(void);                                 /* fsync and close */
int log_reopen(void);                                 /* 0, or -errno: the path again (after a rename) */

/* loop.c: runs until the shim should exit; returns the process exit status. */
int loop_run(struct shim *s);

/* util (main.c) */
void shim_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Appends `s` as a JSON string body (no quotes) to buf; returns the new length (truncates). */
size_t json_escape(char *buf, size_t cap, size_t len, const char *s, size_t n);
/* RFC 3339 UTC time with nanoseconds into buf (at least 40 bytes); returns its length. */
size_t rfc3339_now(char *buf, size_t cap);
/* Writes `data` to dir/name atomically: dir/name.tmp, fsync, rename, fsync of the dir. */
int write_atomic(const char *dir, const char *name, const char *data, size_t len);
/* Reads a small file whole (one read) into buf, NUL-terminated; its length, or -1 if it cannot be read or is empty. */
ssize_t read_small(const char *path, char *buf, size_t cap);

#endif
