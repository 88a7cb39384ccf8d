/* File reading, errno names, time (the buffer and JSON escaping: ../common.c). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "front.h"

int read_file(const char *path, struct buf *b)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	b->len = 0;
	buf_grow(b, 4096);
	for (;;) {
		buf_grow(b, 4096);
		ssize_t n = read(fd, b->p + b->len, b->cap - b->len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			close(fd);
			errno = e;
			return -1;
		}
		if (n == 0)
			break;
		b->len += (size_t)n;
	}
	b->p[b->len] = 0;
	close(fd);
	return 0;
}

const char *errno_name(int e)
{
	switch (e) {
	case EPERM: return "EPERM";
	case ENOENT: return "ENOENT";
	case ESRCH: return "ESRCH";
	case EINTR: return "EINTR";
	case EIO: return "EIO";
	case E2BIG: return "E2BIG";
	case ENOEXEC: return "ENOEXEC";
	case EBADF: return "EBADF";
	case EAGAIN: return "EAGAIN";
	case ENOMEM: return "ENOMEM";
	case EACCES: return "EACCES";
	case EBUSY: return "EBUSY";
	case EEXIST: return "EEXIST";
	case ENOTDIR: return "ENOTDIR";
	case EISDIR: return "EISDIR";
	case EINVAL: return "EINVAL";
	case ENOSPC: return "ENOSPC";
	case EROFS: return "EROFS";
	case ENAMETOOLONG: return "ENAMETOOLONG";
	case ENOTEMPTY: return "ENOTEMPTY";
	case ELOOP: return "ELOOP";
	case ENOSYS: return "ENOSYS";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	case ETXTBSY: return "ETXTBSY";
	default: {
		static char other[16];
		snprintf(other, sizeof other, "errno %d", e);
		return other;
	}
	}
}

void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

pid_t spawn_with(int (*child)(void *arg), void *arg, int *exec_errno)
{
	int ex[2];
	*exec_errno = 0;
	if (pipe2(ex, O_CLOEXEC) < 0) {
		*exec_errno = errno;
		return -1;
	}
	pid_t pid = fork();
	if (pid < 0) {
		*exec_errno = errno;
		close(ex[0]);
		close(ex[1]);
		return -1;
	}
	if (pid == 0) {
		int e = child(arg);
		(void)!write(ex[1], &e, sizeof e);
		_exit(127);
	}
	close(ex[1]);
	int e = 0;
	ssize_t got;
	while ((got = read(ex[0], &e, sizeof e)) < 0 && errno == EINTR)
		;
	close(ex[0]);
	if (got == (ssize_t)sizeof e) {
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		*exec_errno = e;
		return -1;
	}
	return pid;
}

struct plain_spawn {
	const char *path;
	char *const *argv, *const *envp;
	int fds[3];
};

static int plain_child(void *arg)
{
	struct plain_spawn *p = arg;
	for (int i = 0; i < 3; i++)
		if (dup2(p->fds[i], i) < 0)
			return errno;
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	if (p->envp)
		execve(p->path, p->argv, p->envp);
	else
		execvp(p->path, p->argv);
	return errno;
}

pid_t spawn(const char *path, char *const argv[], char *const envp[], int fd0, int fd1, int fd2, int *exec_errno)
{
	struct plain_spawn p = {path, argv, envp, {fd0, fd1, fd2}};
	return spawn_with(plain_child, &p, exec_errno);
}
