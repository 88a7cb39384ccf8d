/* trace-main.c — berth-init-trace PLANFILE: runs a plan over the recording fake (sys-trace.c).
 *
 * Same decoder and interpreter as berth-init, none of its process plumbing: it never re-execs
 * and never clones. It runs the pre-clone, parent and child ops in order in one process, as if
 * CLONE had returned in both, and prints every call it would make. The sync socket is fd 3
 * (fake); the child's pid is 4242; the /proc stage0 opened at start is fd 99. Used by unit tests that need no root. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "exec.h"
#include "plan.h"
#include "sys.h"

#define TRACE_SYNC_FD 3
#define TRACE_CHILD_PID 4242
#define TRACE_PROC_FD 99 /* the fake /proc stage0 opened at start */

void trace_ns_flags(unsigned long v);

int main(int argc, char **argv)
{
	static struct ctx c;
	static struct plan plan;
	static struct msg err;

	if (argc != 2) {
		fputs("usage: berth-init-trace PLANFILE\n", stderr);
		return 2;
	}
	FILE *f = fopen(argv[1], "rb");
	if (!f) {
		perror(argv[1]);
		return 2;
	}
	static uint8_t buf[PLAN_MAX + 1];
	size_t len = fread(buf, 1, sizeof buf, f);
	fclose(f);
	ctx_init(&c, &plan, TRACE_SYNC_FD);
	if (len > PLAN_MAX)
		exec_die(&c, EMSGSIZE, "PLAN frame larger than 16 MiB");

	size_t alen = plan_arena_size(len);
	void *arena = mmap(NULL, alen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (arena == MAP_FAILED)
		exec_die(&c, errno, "mapping the plan arena");
	if (plan_decode(&plan, buf, len, arena, alen, &err) < 0) {
		exec_report(&c, EINVAL, msg_cstr(&err)); /* the message is the whole story */
		sys.exit(1);
	}

	c.procfd = TRACE_PROC_FD;
	exec_ops(&c, 0, plan.clone_at);
	fputs(c.cgroupfd >= 0 ? "clone3(" : "clone(", stdout);
	if (plan.clone_flags) {
		trace_ns_flags((unsigned long)plan.clone_flags);
		putchar('|');
	}
	if (c.cgroupfd >= 0)
		printf("CLONE_INTO_CGROUP cgroup=%d, ", c.cgroupfd);
	printf("SIGCHLD) = %d\n", TRACE_CHILD_PID);
	c.child = TRACE_CHILD_PID;
	exec_ops(&c, plan.clone_at + 1, plan.child_at);
	exec_send_pid(&c);
	c.child = 0;
	exec_ops(&c, plan.child_at, plan.count);
	sys.exit(0);
}
