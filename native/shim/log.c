/* log.c — the container's log file (docs/shim.md, "Log formats").
 *
 * Owns: turning each read from the container's stdout/stderr into log entries, and rotation.
 * Nothing is held back between reads: the complete lines of a read are written as full entries,
 * and a trailing piece without a newline is written at once as a partial entry (CRI `P`; in
 * json-file, a "log" value that does not end in "\n"). Readers join partials until the next full
 * entry of the same stream. So the shim never buffers a line, and a crash loses nothing it read. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shim.h"

static const struct config *cfg;
static int log_fd = -1;
static long long log_size;
/* One entry: at most READ_CHUNK bytes of payload, each escaped to at most 6 (json-file). */
static char entry[READ_CHUNK * 6 + 256];

static int open_current(int flags)
{
	log_fd = open(cfg->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | flags, 0640);
	if (log_fd < 0)
		return -errno;
	struct stat st;
	log_size = fstat(log_fd, &st) == 0 ? st.st_size : 0;
	return 0;
}

int log_open(const struct config *c)
{
	cfg = c;
	return open_current(0);
}

/* log → log.1 → … → log.(max-1); the oldest falls off. With one file, the log is truncated. */
static void rotate(void)
{
	char from[4200], to[4200];
	fsync(log_fd);
	close(log_fd);
	log_fd = -1;
	for (int i = cfg->log_max_files - 1; i >= 1; i--) {
		if (i == 1)
			snprintf(from, sizeof from, "%s", cfg->log_path);
		else
			snprintf(from, sizeof from, "%s.%d", cfg->log_path, i - 1);
		snprintf(to, sizeof to, "%s.%d", cfg->log_path, i);
		if (rename(from, to) < 0 && errno != ENOENT)
			shim_log("log rotation: rename %s to %s: %s", from, to, strerror(errno));
	}
	if (open_current(O_TRUNC) < 0)
		shim_log("log rotation: reopening %s: %s", cfg->log_path, strerror(errno));
}

static void emit(const char *stream, const char *data, size_t n, int partial)
{
	char ts[48];
	size_t tl = rfc3339_now(ts, sizeof ts);
	size_t len = 0;
	if (cfg->log_format == LOG_CRI) {
		/* <time> <stream> <P|F> <bytes>\n — the payload is raw; it has no newline in it */
		len = (size_t)snprintf(entry, sizeof entry, "%.*s %s %c ", (int)tl, ts, stream, partial ? 'P' : 'F');
		memcpy(entry + len, data, n);
		len += n;
		entry[len++] = '\n';
	} else {
		memcpy(entry, "{\"log\":\"", 8);
		len = json_escape(entry, sizeof entry, 8, data, n);
		if (!partial)
			len = json_escape(entry, sizeof entry, len, "\n", 1);
		len += (size_t)snprintf(entry + len, sizeof entry - len, "\",\"stream\":\"%s\",\"time\":\"%.*s\"}\n", stream,
					(int)tl, ts);
	}
	if (log_fd < 0)
		return;
	if (cfg->log_max_size > 0 && log_size > 0 && log_size + (long long)len > cfg->log_max_size)
		rotate();
	if (log_fd < 0)
		return;
	for (size_t off = 0; off < len;) {
		ssize_t w = write(log_fd, entry + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			/* ENOSPC and friends: the container must keep running; the entry is lost and said so */
			shim_log("writing the log %s: %s", cfg->log_path, strerror(errno));
			return;
		}
		off += (size_t)w;
	}
	log_size += (long long)len;
}

void log_write(int stream, const char *data, size_t len)
{
	const char *name = stream == FRAME_STDERR ? "stderr" : "stdout";
	while (len > 0) {
		const char *nl = memchr(data, '\n', len);
		if (!nl) {
			emit(name, data, len, 1);
			return;
		}
		size_t line = (size_t)(nl - data);
		emit(name, data, line, 0);
		data += line + 1;
		len -= line + 1;
	}
}

/* The kubelet renames the CRI log and asks for a reopen (ReopenContainerLog): entries go to a new
 * file at the same path from here on; the old one is complete (fsync'd) when this returns. */
int log_reopen(void)
{
	log_close();
	return open_current(0);
}

void log_close(void)
{
	if (log_fd < 0)
		return;
	fsync(log_fd);
	close(log_fd);
	log_fd = -1;
}
