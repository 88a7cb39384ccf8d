/* runc's logging as berth-runtime's Node verbs do it: with --log, every line goes to that file
 * (--log-format json: {"level","msg","time"}, which containerd and podman read back; text:
 * time="…" level=… msg="…"); without it, every line but errors goes to stderr. An error ends the
 * verb: logged, then "berth-runtime: <msg>" on stderr, exit status 1. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "front.h"

static const char *log_file;
static int log_json, log_debug;

void log_setup(const char *file, int json, int debug)
{
	log_file = file;
	log_json = json;
	log_debug = debug;
}

void write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

static void log_line(const char *level, const char *msg)
{
	if (!strcmp(level, "debug") && !log_debug)
		return;
	/* new Date().toISOString() */
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	char when[96];
	snprintf(when, sizeof when, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
	struct buf b = {0};
	if (log_json) {
		buf_str(&b, "{\"level\":");
		buf_json(&b, level);
		buf_str(&b, ",\"msg\":");
		buf_json(&b, msg);
		buf_str(&b, ",\"time\":");
		buf_json(&b, when);
		buf_str(&b, "}\n");
	} else {
		buf_fmt(&b, "time=\"%s\" level=%s msg=", when, level);
		buf_json(&b, msg);
		buf_str(&b, "\n");
	}
	if (log_file) {
		int fd = open(log_file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
		if (fd >= 0) {
			write_all(fd, b.p, b.len);
			close(fd);
			free(b.p);
			return;
		}
	}
	if (strcmp(level, "error"))
		write_all(2, b.p, b.len);
	free(b.p);
}

void warn(const char *fmt, ...)
{
	struct buf m = {0};
	va_list ap;
	va_start(ap, fmt);
	char *s = NULL;
	if (vasprintf(&s, fmt, ap) >= 0) {
		buf_str(&m, s);
		free(s);
	}
	va_end(ap);
	log_line("warning", m.p ? m.p : "");
	free(m.p);
}

void (*fail_cleanup)(void);
int fail_quiet;

_Noreturn void fail(const char *fmt, ...)
{
	/* Cleaning up may fail in turn: that failure ends the process with the first message's status. */
	void (*cleanup)(void) = fail_cleanup;
	fail_cleanup = NULL;
	if (cleanup)
		cleanup();
	if (fail_quiet)
		exit(1);
	va_list ap;
	va_start(ap, fmt);
	char *s = NULL;
	if (vasprintf(&s, fmt, ap) < 0)
		s = "(message lost: out of memory)";
	va_end(ap);
	log_line("error", s);
	struct buf b = {0};
	buf_fmt(&b, "berth-runtime: %s\n", s);
	write_all(2, b.p, b.len);
	exit(1);
}
