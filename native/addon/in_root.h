// Opening a path inside a directory tree as if that directory were "/": a symlink or ".." in the
// tree can never lead out of it. Kept free of N-API so that the rule is readable on its own.
#ifndef BERTH_IN_ROOT_H
#define BERTH_IN_ROOT_H

#include <sys/types.h>

// Opens `path` below `root_fd` with `flags` (O_CLOEXEC is always added) and `mode` (used only with
// O_CREAT/O_TMPFILE). Uses openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS); if the kernel lacks
// openat2 (ENOSYS), or `force_walk` is set, resolves component by component instead.
// Returns the fd, or -errno with *failed_syscall naming the call that failed.
int berth_open_in_root(int root_fd, const char *path, int flags, mode_t mode, bool force_walk,
                       const char **failed_syscall);

#endif
