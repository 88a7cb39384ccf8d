// Path resolution confined to a root directory (see in_root.h).
//
// The walk is the fallback for kernels without openat2 (before 5.6, or a seccomp profile that
// answers ENOSYS). It never lets the kernel follow a symlink or "..": every component is opened
// with O_PATH|O_NOFOLLOW relative to the directory fd reached so far, a symlink's text is read and
// spliced into the remaining path (an absolute target restarts at the root), and ".." pops a stack
// of directory fds that bottoms out at the root. A concurrent rename can therefore make the walk
// fail, but never make it leave the tree.
#include "in_root.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <deque>
#include <string>
#include <vector>

namespace {

// The kernel's own limit on symlinks followed in one lookup.
constexpr int kMaxSymlinks = 40;

// Directory fds from the root (exclusive) down to the current directory; closes what it holds.
class DirStack {
 public:
  explicit DirStack(int root_fd) : root_fd_(root_fd) {}
  ~DirStack() { Clear(); }
  DirStack(const DirStack &) = delete;
  DirStack &operator=(const DirStack &) = delete;

  int Current() const { return fds_.empty() ? root_fd_ : fds_.back(); }
  void Push(int fd) { fds_.push_back(fd); }
  // ".." at the root stays at the root, as it does for the real "/".
  void Pop() {
    if (fds_.empty()) return;
    close(fds_.back());
    fds_.pop_back();
  }
  void Clear() {
    for (int fd : fds_) close(fd);
    fds_.clear();
  }

 private:
  int root_fd_;
  std::vector<int> fds_;
};

// Puts the components of `path` in front of `rest`, in order. Empty components ("a//b") vanish.
void PrependComponents(std::deque<std::string> &rest, const std::string &path) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    if (end > start) parts.push_back(path.substr(start, end - start));
    start = end + 1;
  }
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) rest.push_front(*it);
}

int Fail(const char **failed_syscall, const char *name) {
  int err = errno;
  *failed_syscall = name;
  return -err;
}

// Reads the target of the symlink opened (O_PATH|O_NOFOLLOW) as `fd`.
int ReadLink(int fd, std::string &out, const char **failed_syscall) {
  char buf[PATH_MAX];
  ssize_t n = readlinkat(fd, "", buf, sizeof buf);
  if (n < 0) return Fail(failed_syscall, "readlinkat");
  if (static_cast<size_t>(n) >= sizeof buf) {
    *failed_syscall = "readlinkat";
    return -ENAMETOOLONG;
  }
  out.assign(buf, static_cast<size_t>(n));
  return 0;
}

int Walk(int root_fd, const char *path, int flags, mode_t mode, const char **failed_syscall) {
  if (path[0] == '\0') {
    *failed_syscall = "openat";
    return -ENOENT;  // as openat2 answers for an empty path
  }
  const std::string p(path);
  // "dir/" must name a directory, as in a normal lookup.
  if (p.back() == '/' && !(flags & O_CREAT)) flags |= O_DIRECTORY;

  DirStack dirs(root_fd);
  std::deque<std::string> rest;
  PrependComponents(rest, p);
  int symlinks = 0;

  while (!rest.empty()) {
    const std::string name = rest.front();
    rest.pop_front();
    if (name == ".") continue;
    if (name == "..") {
      dirs.Pop();
      continue;
    }
    const bool last = rest.empty();

    int fd = openat(dirs.Current(), name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
      // A missing last component may be created; O_NOFOLLOW makes a symlink planted there in the
      // meantime fail (ELOOP) instead of being followed out of the root.
      if (last && errno == ENOENT && (flags & O_CREAT)) {
        int r = openat(dirs.Current(), name.c_str(), flags | O_NOFOLLOW | O_CLOEXEC, mode);
        return r >= 0 ? r : Fail(failed_syscall, "openat");
      }
      return Fail(failed_syscall, "openat");
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
      int r = Fail(failed_syscall, "fstat");
      close(fd);
      return r;
    }

    // The caller asked not to follow a last-component symlink (O_NOFOLLOW), or asked for a new
    // file (O_CREAT|O_EXCL never follows): let openat give its usual answer (ELOOP, EEXIST, or
    // the link itself with O_PATH).
    const bool follow =
        !last || ((flags & O_NOFOLLOW) == 0 && (flags & (O_CREAT | O_EXCL)) != (O_CREAT | O_EXCL));
    if (S_ISLNK(st.st_mode) && follow) {
      std::string target;
      int r = ReadLink(fd, target, failed_syscall);
      close(fd);
      if (r < 0) return r;
      if (++symlinks > kMaxSymlinks) {
        *failed_syscall = "openat";
        return -ELOOP;
      }
      if (!target.empty() && target[0] == '/') dirs.Clear();
      PrependComponents(rest, target);
      continue;
    }

    if (last) {
      close(fd);
      int r = openat(dirs.Current(), name.c_str(), flags | O_NOFOLLOW | O_CLOEXEC, mode);
      return r >= 0 ? r : Fail(failed_syscall, "openat");
    }
    if (!S_ISDIR(st.st_mode)) {
      close(fd);
      *failed_syscall = "openat";
      return -ENOTDIR;
    }
    dirs.Push(fd);
  }

  // The path ended on a directory reached by ".", ".." or a symlink ("/", "a/..", "link-to-dir").
  int r = openat(dirs.Current(), ".", flags | O_CLOEXEC, mode);
  return r >= 0 ? r : Fail(failed_syscall, "openat");
}

}  // namespace

int berth_open_in_root(int root_fd, const char *path, int flags, mode_t mode, bool force_walk,
                       const char **failed_syscall) {
  if (!force_walk) {
    struct open_how how = {};
    how.flags = static_cast<unsigned long long>(flags | O_CLOEXEC);
    // openat2 rejects a mode without O_CREAT/O_TMPFILE (EINVAL), unlike openat.
    how.mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0;
    how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
    // EAGAIN: a rename elsewhere raced with a ".." in the lookup; the kernel asks us to retry.
    for (int attempt = 0; attempt < 32; attempt++) {
      long fd = syscall(SYS_openat2, root_fd, path, &how, sizeof how);
      if (fd >= 0) return static_cast<int>(fd);
      if (errno != EAGAIN && errno != EINTR) break;
    }
    if (errno != ENOSYS) return Fail(failed_syscall, "openat2");
  }
  return Walk(root_fd, path, flags, mode, failed_syscall);
}
