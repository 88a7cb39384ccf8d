/* exec.h — the op interpreter: runs a range of a decoded plan (docs/plan-protocol.md, "Ops").
 *
 * Used by stage0 (pre-clone and parent ops) and by the container's init (child ops). Every
 * system call goes through `sys` (sys.h). It allocates nothing and uses no stdio: after clone
 * only async-signal-safe code may run. A failing op reports an ERROR frame (or, once the sync
 * socket is closed, a line on stderr) and exits 1; it never returns. */
#ifndef BERTH_EXEC_H
#define BERTH_EXEC_H

#include <sys/types.h>

#include "plan.h"

struct ctx {
	const struct plan *plan;
	int syncfd;        /* -1 once READY closed it */
	pid_t child;       /* stage0 after clone: the container's init; killed if a parent op fails */
	int rootfd;        /* O_PATH of the rootfs, base of in-root paths; -1 before ROOTFS */
	const char *rootfs;
	int fifofd;        /* O_PATH of the exec FIFO, from MKFIFO or OPEN_FIFO */
	int fddirfd;       /* without a mount namespace: O_PATH of /proc/self/fd, kept across CHROOT for WAIT_FIFO */
	const char *exec_path; /* the program RESOLVE_EXEC found: EXEC runs exactly it */
	int procfd;        /* stage0: O_PATH of the /proc it saw at start (where the clone's pid is valid) */
	int cgroupfd;      /* stage0: the cgroup2 directory of CGROUP_INTO (clone3 CLONE_INTO_CGROUP), or -1 */
	const char *cgroup_path; /* its path, for the cgroup.procs fallback */
};

void ctx_init(struct ctx *c, const struct plan *p, int syncfd);

/* Runs ops [from, to) of the plan. */
void exec_ops(struct ctx *c, uint32_t from, uint32_t to);

/* stage0, after the parent ops: sends PID (the child's pid and its start time, field 22 of
 * /proc/<pid>/stat, read through procfd while the child still waits for GO). */
void exec_send_pid(struct ctx *c);

/* Reports an error that belongs to no op (framing, re-exec, clone) and exits 1. */
__attribute__((noreturn)) void exec_die(struct ctx *c, int err, const char *what);

/* Sends an ERROR frame (or writes stderr if the sync fd is closed); does not exit. */
void exec_report(struct ctx *c, int err, const char *text);

#endif
