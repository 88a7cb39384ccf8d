// berth_addon: the system calls berth's TypeScript side needs and Node does not offer (fd passing,
// confined path resolution, mount, pidfd, fifo/device nodes, memfd seals, child subreaper,
// xattrs without following symlinks), libseccomp's filter compiler, and loading the cgroup v2
// device filter (bpf(2)).
//
// Each function is a thin, synchronous wrapper over one kernel interface: it checks its arguments,
// makes the call, and on failure throws an Error shaped like Node's own system errors (code = errno
// name, errno, syscall, path or fd, and a message naming them). It holds no state and makes no
// policy decisions; src/sys/native.ts is its only caller.
//
// It must never change the state of the whole process behind Node's back: no setns (but the one
// bounded, thread-local use in netnsSocket, which says why it is safe), unshare,
// fork, chroot or credential changes (spawn.cc's posix_spawn execs at once and shares nothing). Node runs several threads (V8 workers, libuv's pool) and such
// calls would either fail (EINVAL for setns into a user or mount namespace from a multithreaded
// process) or apply to one thread only. Those live in native/berth-init, a single-threaded program.
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <sched.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include <seccomp.h>

#include <napi.h>
// V8's own API, for LowMemoryNotification (node-addon-api has none); its headers trip -Wunused-parameter.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include <v8.h>
#pragma GCC diagnostic pop

#include <string>
#include <vector>

#include "bpf_device.h"
#include "in_root.h"
#include "spawn.h"

namespace {

// SCM_MAX_FD in the kernel: more fds than this in one message are refused (EINVAL).
constexpr int kMaxFdsPerMessage = 253;

// ---- errors -----------------------------------------------------------------------------------

// Throws an Error like Node's fs errors: "ENOENT: No such file or directory, open '/x'".
// `errno` is the positive kernel value (Node's own errors carry the negated libuv value).
Napi::Error ErrnoError(Napi::Env env, int err, const char *syscall_name, const std::string &where,
                       const char *path = nullptr, int fd = -1) {
  const char *name = strerrorname_np(err);
  std::string code = name ? name : "E" + std::to_string(err);
  Napi::Error e = Napi::Error::New(env, code + ": " + strerror(err) + ", " + syscall_name + " " + where);
  e.Set("code", Napi::String::New(env, code));
  e.Set("errno", Napi::Number::New(env, err));
  e.Set("syscall", Napi::String::New(env, syscall_name));
  if (path != nullptr) e.Set("path", Napi::String::New(env, path));
  if (fd >= 0) e.Set("fd", Napi::Number::New(env, fd));
  return e;
}

[[noreturn]] void ThrowErrno(Napi::Env env, int err, const char *syscall_name,
                             const std::string &where, const char *path = nullptr, int fd = -1) {
  throw ErrnoError(env, err, syscall_name, where, path, fd);
}

std::string Quoted(const std::string &s) { return "'" + s + "'"; }
std::string FdWhere(int fd) { return "(fd " + std::to_string(fd) + ")"; }

[[noreturn]] void ThrowFd(Napi::Env env, int err, const char *syscall_name, int fd) {
  ThrowErrno(env, err, syscall_name, FdWhere(fd), nullptr, fd);
}
[[noreturn]] void ThrowPath(Napi::Env env, int err, const char *syscall_name, const std::string &path) {
  ThrowErrno(env, err, syscall_name, Quoted(path), path.c_str());
}

// ---- arguments --------------------------------------------------------------------------------

[[noreturn]] void ThrowArg(Napi::Env env, const char *fn, const char *arg, const char *expected) {
  Napi::TypeError e = Napi::TypeError::New(
      env, std::string("berth_addon.") + fn + ": argument '" + arg + "' must be " + expected);
  e.Set("code", Napi::String::New(env, "ERR_INVALID_ARG_TYPE"));
  throw e;
}

int64_t ArgInt(const Napi::CallbackInfo &info, size_t i, const char *fn, const char *arg,
               int64_t min = INT32_MIN, int64_t max = INT32_MAX) {
  if (i >= info.Length() || !info[i].IsNumber()) ThrowArg(info.Env(), fn, arg, "an integer");
  double d = info[i].As<Napi::Number>().DoubleValue();
  if (d != static_cast<double>(static_cast<int64_t>(d)) || d < static_cast<double>(min) ||
      d > static_cast<double>(max)) {
    std::string expected = "an integer in [" + std::to_string(min) + ", " + std::to_string(max) + "]";
    ThrowArg(info.Env(), fn, arg, expected.c_str());
  }
  return static_cast<int64_t>(d);
}

int ArgFd(const Napi::CallbackInfo &info, size_t i, const char *fn, const char *arg) {
  return static_cast<int>(ArgInt(info, i, fn, arg, 0, INT32_MAX));
}

std::string ArgString(const Napi::CallbackInfo &info, size_t i, const char *fn, const char *arg) {
  if (i >= info.Length() || !info[i].IsString()) ThrowArg(info.Env(), fn, arg, "a string");
  std::string s = info[i].As<Napi::String>().Utf8Value();
  // A NUL would silently cut the path the kernel sees.
  if (s.find('\0') != std::string::npos) ThrowArg(info.Env(), fn, arg, "a string without NUL bytes");
  return s;
}

// null or undefined -> nullptr-able: returns false when absent.
bool ArgOptString(const Napi::CallbackInfo &info, size_t i, const char *fn, const char *arg,
                  std::string &out) {
  if (i >= info.Length() || info[i].IsNull() || info[i].IsUndefined()) return false;
  if (!info[i].IsString()) ThrowArg(info.Env(), fn, arg, "a string or null");
  out = ArgString(info, i, fn, arg);
  return true;
}

// ---- a socket in another network namespace --------------------------------------------------------

// netnsSocket(netnsPath): fd of a new AF_INET SOCK_STREAM socket (non-blocking, close-on-exec, not
// connected) that belongs to the network namespace at `netnsPath`; the caller connects it. CRI
// port-forward reaches 127.0.0.1:PORT inside a pod this way, with no helper process (socat, nsenter)
// to spawn or leave behind. A socket keeps the namespace it was made in for its whole life, so only
// its creation must happen inside.
//
// Why this setns is safe in Node's multithreaded process, unlike the ones the header forbids: a
// network namespace is per thread (task), and setns(CLONE_NEWNET) moves the calling thread only; the
// kernel allows it in a multithreaded process (only user and mount namespaces refuse). The call runs
// synchronously on the event-loop thread, which runs nothing else between entering and leaving:
// three system calls (setns, socket, setns) with no allocation, no callback and no JavaScript. libuv's
// pool and V8's threads are never moved. If returning fails the thread would make later sockets in
// the pod's namespace, which must never happen: the process aborts instead (it cannot fail for a
// namespace fd of our own, opened from /proc/thread-self before leaving).
// A new socket of `type` (SOCK_STREAM or SOCK_DGRAM) made inside the network namespace at `path`;
// throws (naming `fn`) on failure.
static int SocketInNetns(Napi::Env env, const char *fn, const std::string &path, int type) {
  int target = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (target < 0) ThrowPath(env, errno, "open", path);
  int home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (home < 0) {
    int err = errno;
    close(target);
    ThrowPath(env, err, "open", "/proc/thread-self/ns/net");
  }
  if (setns(target, CLONE_NEWNET) < 0) {
    int err = errno;
    close(home);
    close(target);
    ThrowPath(env, err, "setns", path);
  }
  int fd = socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int socket_err = errno;
  if (setns(home, CLONE_NEWNET) < 0) {
    fprintf(stderr, "berth_addon: %s could not return the thread to its network namespace: %s\n", fn, strerror(errno));
    abort();
  }
  close(home);
  close(target);
  if (fd < 0) ThrowPath(env, socket_err, "socket", path);
  return fd;
}

Napi::Value NetnsSocket(const Napi::CallbackInfo &info) {
  std::string path = ArgString(info, 0, "netnsSocket", "netnsPath");
  return Napi::Number::New(info.Env(), SocketInNetns(info.Env(), "netnsSocket", path, SOCK_STREAM));
}

// netnsBind(netnsPath, type, address, port): [fd, port]. A socket of the namespace at `netnsPath`
// (type "tcp" or "udp", non-blocking, close-on-exec, SO_REUSEADDR) bound to the IPv4 `address` and
// `port` there (0: one the kernel picks, returned). Not listening: Node adopts the fd (net's
// listen({fd}), dgram's bind({fd})). berthd's embedded DNS server answers inside each container's
// namespace this way, with no process there. Only the socket call enters the namespace, as above;
// bind acts on the socket, which keeps its namespace.
Napi::Value NetnsBind(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  const char *fn = "netnsBind";
  std::string path = ArgString(info, 0, fn, "netnsPath");
  std::string type = ArgString(info, 1, fn, "type");
  std::string address = ArgString(info, 2, fn, "address");
  int port = static_cast<int>(ArgInt(info, 3, fn, "port", 0, 65535));
  if (type != "tcp" && type != "udp") ThrowArg(env, fn, "type", "\"tcp\" or \"udp\"");
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, address.c_str(), &sa.sin_addr) != 1) ThrowArg(env, fn, "address", "an IPv4 address");
  int fd = SocketInNetns(env, fn, path, type == "tcp" ? SOCK_STREAM : SOCK_DGRAM);
  int one = 1;
  socklen_t len = sizeof sa;
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
      bind(fd, reinterpret_cast<struct sockaddr *>(&sa), sizeof sa) < 0 ||
      getsockname(fd, reinterpret_cast<struct sockaddr *>(&sa), &len) < 0) {
    int err = errno;
    close(fd);
    ThrowPath(env, err, "bind", address + " in " + path);
  }
  Napi::Array out = Napi::Array::New(env, 2);
  out.Set(0u, Napi::Number::New(env, fd));
  out.Set(1u, Napi::Number::New(env, ntohs(sa.sin_port)));
  return out;
}

// netnsCreate(path): a new network namespace with its loopback up, bind-mounted on `path` (an
// existing file on a private mount), as `ip netns add` makes one. berthd makes one per pod and per
// container on a network; done here it costs a few system calls instead of two processes
// (util-linux unshare, then the CNI loopback plugin, tens of ms each on a pod's start).
// The calling (event-loop) thread unshares its network namespace, brings `lo` up with an ioctl on a
// socket of the new namespace, bind-mounts /proc/thread-self/ns/net (the new namespace; mounts are
// the process's, not the thread's) onto `path`, and returns to its own namespace with setns: safe for
// the reasons SocketInNetns gives (unshare(CLONE_NEWNET), like setns, moves the calling thread only,
// and the kernel allows it in a multithreaded process), and it aborts likewise if it cannot return.
// The namespace lives as long as the mount; a failure after the unshare leaves nothing (the
// namespace goes when the thread leaves it).
Napi::Value NetnsCreate(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  std::string path = ArgString(info, 0, "netnsCreate", "path");
  int home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (home < 0) ThrowPath(env, errno, "open", "/proc/thread-self/ns/net");
  if (unshare(CLONE_NEWNET) < 0) {
    int err = errno;
    close(home);
    ThrowPath(env, err, "unshare(CLONE_NEWNET)", path);
  }
  int err = 0;
  const char *failed = "";
  int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  if (sock < 0) {
    err = errno;
    failed = "socket";
  } else if (ioctl(sock, SIOCGIFFLAGS, &ifr) < 0) {
    err = errno;
    failed = "ioctl(SIOCGIFFLAGS) of lo";
  } else {
    ifr.ifr_flags |= IFF_UP;
    if (ioctl(sock, SIOCSIFFLAGS, &ifr) < 0) {
      err = errno;
      failed = "ioctl(SIOCSIFFLAGS) of lo";
    } else if (mount("/proc/thread-self/ns/net", path.c_str(), nullptr, MS_BIND, nullptr) < 0) {
      err = errno;
      failed = "mount(MS_BIND) of the new network namespace";
    }
  }
  if (sock >= 0) close(sock);
  if (setns(home, CLONE_NEWNET) < 0) {
    fprintf(stderr, "berth_addon: netnsCreate could not return the thread to its network namespace: %s\n",
            strerror(errno));
    abort();
  }
  close(home);
  if (err != 0) ThrowPath(env, err, failed, path);
  return env.Undefined();
}

// ---- fd passing ---------------------------------------------------------------------------------

// socketpair(): [number, number]. AF_UNIX SOCK_STREAM, both ends close-on-exec.
Napi::Value SocketPair(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
    ThrowErrno(env, errno, "socketpair", "(AF_UNIX, SOCK_STREAM)");
  }
  Napi::Array out = Napi::Array::New(env, 2);
  out.Set(0u, Napi::Number::New(env, sv[0]));
  out.Set(1u, Napi::Number::New(env, sv[1]));
  return out;
}

// Waits until `fd` is ready for `events`; used only to finish a message already partly sent on
// a non-blocking socket (the fds went with the first byte, so the rest must follow).
void WaitFor(Napi::Env env, int fd, short events, const char *syscall_name) {
  struct pollfd p = {fd, events, 0};
  while (poll(&p, 1, -1) < 0) {
    if (errno != EINTR) ThrowFd(env, errno, syscall_name, fd);
  }
}

// sendFds(sockFd, fds, data?): number of bytes sent. The fds travel with the first byte; a stream
// socket cannot carry ancillary data without payload, so an absent or empty `data` sends one 0 byte.
// Blocks until all of `data` is written (polling if the socket is non-blocking).
Napi::Value SendFds(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  const char *fn = "sendFds";
  int sock = ArgFd(info, 0, fn, "sockFd");
  if (info.Length() < 2 || !info[1].IsArray()) ThrowArg(env, fn, "fds", "an array of fds");
  Napi::Array arr = info[1].As<Napi::Array>();
  if (arr.Length() > static_cast<uint32_t>(kMaxFdsPerMessage)) {
    ThrowArg(env, fn, "fds", "an array of at most 253 fds");
  }
  std::vector<int> fds;
  for (uint32_t i = 0; i < arr.Length(); i++) {
    Napi::Value v = arr.Get(i);
    if (!v.IsNumber()) ThrowArg(env, fn, "fds", "an array of integer fds");
    double d = v.As<Napi::Number>().DoubleValue();
    if (d < 0 || d > INT32_MAX || d != static_cast<double>(static_cast<int>(d))) {
      ThrowArg(env, fn, "fds", "an array of integer fds");
    }
    fds.push_back(static_cast<int>(d));
  }
  static const uint8_t kZero = 0;
  const uint8_t *data = &kZero;
  size_t len = 1;
  if (info.Length() > 2 && !info[2].IsUndefined() && !info[2].IsNull()) {
    if (!info[2].IsBuffer()) ThrowArg(env, fn, "data", "a Buffer");
    Napi::Buffer<uint8_t> buf = info[2].As<Napi::Buffer<uint8_t>>();
    if (buf.Length() > 0) {
      data = buf.Data();
      len = buf.Length();
    }
  }

  struct iovec iov = {const_cast<uint8_t *>(data), len};
  struct msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  std::vector<char> control;
  if (!fds.empty()) {
    control.assign(CMSG_SPACE(sizeof(int) * fds.size()), 0);
    msg.msg_control = control.data();
    msg.msg_controllen = control.size();
    struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    memcpy(CMSG_DATA(cmsg), fds.data(), sizeof(int) * fds.size());
  }
  ssize_t n;
  do {
    n = sendmsg(sock, &msg, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  if (n < 0) ThrowFd(env, errno, "sendmsg", sock);
  size_t sent = static_cast<size_t>(n);
  while (sent < len) {
    ssize_t m = send(sock, data + sent, len - sent, MSG_NOSIGNAL);
    if (m < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        WaitFor(env, sock, POLLOUT, "sendmsg");
        continue;
      }
      ThrowFd(env, errno, "sendmsg", sock);
    }
    sent += static_cast<size_t>(m);
  }
  return Napi::Number::New(env, static_cast<double>(sent));
}

// recvFds(sockFd, maxFds, maxData): { fds, data }. One recvmsg: blocks on a blocking socket,
// throws EAGAIN on an empty non-blocking one; data of length 0 means the peer closed.
// Received fds are close-on-exec (MSG_CMSG_CLOEXEC), so no child inherits them by accident.
Napi::Value RecvFds(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  const char *fn = "recvFds";
  int sock = ArgFd(info, 0, fn, "sockFd");
  int max_fds = static_cast<int>(ArgInt(info, 1, fn, "maxFds", 0, kMaxFdsPerMessage));
  size_t max_data = static_cast<size_t>(ArgInt(info, 2, fn, "maxData", 1, 1 << 30));

  std::vector<uint8_t> data(max_data);
  struct iovec iov = {data.data(), max_data};
  struct msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  std::vector<char> control(max_fds > 0 ? CMSG_SPACE(sizeof(int) * static_cast<size_t>(max_fds)) : 0);
  if (!control.empty()) {
    msg.msg_control = control.data();
    // CMSG_LEN, not the padded CMSG_SPACE: the kernel fits as many fds as the length allows, and
    // the padding would let one more through than the caller asked for.
    msg.msg_controllen = CMSG_LEN(sizeof(int) * static_cast<size_t>(max_fds));
  }
  ssize_t n;
  do {
    n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n < 0) ThrowFd(env, errno, "recvmsg", sock);

  std::vector<int> fds;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; i++) {
      int fd;
      memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
      fds.push_back(fd);
    }
  }
  if ((msg.msg_flags & MSG_CTRUNC) || fds.size() > static_cast<size_t>(max_fds)) {
    // The kernel dropped the fds that did not fit: the message is incomplete, so fail loudly
    // rather than hand out part of it.
    for (int fd : fds) close(fd);
    ThrowErrno(env, EMSGSIZE, "recvmsg",
               FdWhere(sock) + ": more fds than maxFds=" + std::to_string(max_fds), nullptr, sock);
  }
  Napi::Object out = Napi::Object::New(env);
  Napi::Array fd_arr = Napi::Array::New(env, fds.size());
  for (uint32_t i = 0; i < fds.size(); i++) fd_arr.Set(i, Napi::Number::New(env, fds[i]));
  out.Set("fds", fd_arr);
  out.Set("data", Napi::Buffer<uint8_t>::Copy(env, data.data(), static_cast<size_t>(n)));
  return out;
}

// ---- paths ------------------------------------------------------------------------------------

// openInRoot(rootFd, path, flags, mode, forceWalk): fd. See in_root.h.
Napi::Value OpenInRoot(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  const char *fn = "openInRoot";
  int root_fd = ArgFd(info, 0, fn, "rootFd");
  std::string path = ArgString(info, 1, fn, "path");
  int flags = static_cast<int>(ArgInt(info, 2, fn, "flags"));
  mode_t mode = 0;
  if (info.Length() > 3 && !info[3].IsUndefined()) mode = static_cast<mode_t>(ArgInt(info, 3, fn, "mode", 0, 07777));
  bool force_walk = info.Length() > 4 && info[4].ToBoolean().Value();
  const char *failed = "openat2";
  int fd = berth_open_in_root(root_fd, path.c_str(), flags, mode, force_walk, &failed);
  if (fd < 0) {
    ThrowErrno(env, -fd, failed, Quoted(path) + " in root " + FdWhere(root_fd), path.c_str(), root_fd);
  }
  return Napi::Number::New(env, fd);
}

// mount(source|null, target, fstype|null, flags, data|null): undefined.
Napi::Value Mount(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  const char *fn = "mount";
  std::string source, fstype, data;
  bool has_source = ArgOptString(info, 0, fn, "source", source);
  std::string target = ArgString(info, 1, fn, "target");
  bool has_fstype = ArgOptString(info, 2, fn, "fstype", fstype);
  // MS_* flags fill the low 32 bits (MS_NOUSER is bit 31), hence the unsigned range.
  unsigned long flags = static_cast<unsigned long>(ArgInt(info, 3, fn, "flags", 0, UINT32_MAX));
  bool has_data = ArgOptString(info, 4, fn, "data", data);
  if (mount(has_source ? source.c_str() : nullptr, target.c_str(), has_fstype ? fstype.c_str() : nullptr,
            flags, has_data ? data.c_str() : nullptr) < 0) {
    int err = errno;
    std::string where = Quoted(has_source ? source : "none") + " -> " + Quoted(target) + " (type " +
                        (has_fstype ? fstype : "none") + ", flags 0x";
    char hex[16];
    snprintf(hex, sizeof hex, "%lx", flags);
    where += std::string(hex) + ")";
    ThrowErrno(env, err, "mount", where, target.c_str());
  }
  return env.Undefined();
}

// umount2(target, flags): undefined.
Napi::Value Umount2(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  std::string target = ArgString(info, 0, "umount2", "target");
  int flags = static_cast<int>(ArgInt(info, 1, "umount2", "flags", 0, INT32_MAX));
  if (umount2(target.c_str(), flags) < 0) ThrowPath(env, errno, "umount2", target);
  return env.Undefined();
}

// mkfifo(path, mode): undefined. (Node has no mkfifo; spawning mkfifo(1) costs a process.)
Napi::Value MkFifo(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  std::string path = ArgString(info, 0, "mkfifo", "path");
  mode_t mode = static_cast<mode_t>(ArgInt(info, 1, "mkfifo", "mode", 0, 07777));
  if (mkfifo(path.c_str(), mode) < 0) ThrowPath(env, errno, "mkfifo", path);
  return env.Undefined();
}

// mknod(path, mode, major, minor): undefined. `mode` includes the type (S_IFCHR, S_IFBLK, S_IFIFO).
Napi::Value MkNod(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  const char *fn = "mknod";
  std::string path = ArgString(info, 0, fn, "path");
  mode_t mode = static_cast<mode_t>(ArgInt(info, 1, fn, "mode", 0, 0177777));
  unsigned int major_n = static_cast<unsigned int>(ArgInt(info, 2, fn, "major", 0, 0xfff));
  unsigned int minor_n = static_cast<unsigned int>(ArgInt(info, 3, fn, "minor", 0, 0xfffff));
  if (mknod(path.c_str(), mode, makedev(major_n, minor_n)) < 0) ThrowPath(env, errno, fn, path);
  return env.Undefined();
}

// ---- processes --------------------------------------------------------------------------------

// pidfdOpen(pid): fd (always close-on-exec). A pidfd names one process for good: unlike a pid,
// it can never come to mean a different process after the first one is reaped.
Napi::Value PidfdOpen(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int pid = static_cast<int>(ArgInt(info, 0, "pidfdOpen", "pid", 1, INT32_MAX));
  long fd = syscall(SYS_pidfd_open, pid, 0);
  if (fd < 0) {
    int err = errno;
    ThrowErrno(env, err, "pidfd_open", "(pid " + std::to_string(pid) + ")");
  }
  return Napi::Number::New(env, static_cast<double>(fd));
}

// peerCred(sockFd): { pid, uid, gid } of the process that connected a unix socket (SO_PEERCRED,
// as the kernel recorded it at connect), so that a server can check who asks.
Napi::Value PeerCred(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int sock = ArgFd(info, 0, "peerCred", "sockFd");
  struct ucred cred = {};
  socklen_t len = sizeof cred;
  if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) ThrowFd(env, errno, "getsockopt SO_PEERCRED", sock);
  Napi::Object out = Napi::Object::New(env);
  out.Set("pid", Napi::Number::New(env, static_cast<double>(cred.pid)));
  out.Set("uid", Napi::Number::New(env, static_cast<double>(cred.uid)));
  out.Set("gid", Napi::Number::New(env, static_cast<double>(cred.gid)));
  return out;
}

// mallocTrim(): whether glibc gave freed memory back to the kernel (malloc_trim(0), every arena).
// free() keeps what it frees for reuse, so a long-lived process holds its peak: berthd after an
// image's layers were unpacked in a worker thread (the worker's isolate is gone, its arena stays).
Napi::Value MallocTrim(const Napi::CallbackInfo &info) {
  return Napi::Boolean::New(info.Env(), malloc_trim(0) == 1);
}

// releaseFilePages(): bytes of clean file pages unmapped. Start-up reads much of the node binary
// once (its snapshot, builtin sources, the dynamic symbol table, code that runs only at start),
// and those pages stay mapped, counted in RSS, for the life of the process. For each private,
// non-writable file mapping (/proc/self/maps) none of whose pages is a private copy (pagemap: a
// present page without PM_FILE), madvise(MADV_DONTNEED) drops the mappings of its pages: they
// stay in the page cache, and a page used again is mapped back by a minor fault. A mapping with a
// private copy (relocated RELRO data) is left alone: DONTNEED would revert it to the file's bytes.
Napi::Value ReleaseFilePages(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  FILE *maps = fopen("/proc/self/maps", "re");
  if (!maps) ThrowPath(env, errno, "open", "/proc/self/maps");
  std::vector<std::pair<uintptr_t, uintptr_t>> ranges;
  char line[4096];
  while (fgets(line, sizeof line, maps)) {
    uintptr_t lo, hi;
    char perms[8];
    unsigned long long off;
    unsigned int maj, min;
    unsigned long inode;
    // A file's mapping: private (p), not writable, with an inode (not anonymous, [vdso] or [vvar]).
    if (sscanf(line, "%lx-%lx %7s %llx %x:%x %lu", &lo, &hi, perms, &off, &maj, &min, &inode) == 7 &&
        inode != 0 && perms[1] != 'w' && perms[3] == 'p')
      ranges.emplace_back(lo, hi);
  }
  fclose(maps);
  int pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
  if (pm < 0) ThrowPath(env, errno, "open", "/proc/self/pagemap");
  const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  constexpr uint64_t kPresent = 1ULL << 63, kFile = 1ULL << 61;
  double released = 0;
  std::vector<uint64_t> entries;
  for (const auto &[lo, hi] : ranges) {
    size_t n = (hi - lo) / page;
    entries.resize(n);
    ssize_t got = pread(pm, entries.data(), n * 8, static_cast<off_t>(lo / page * 8));
    if (got != static_cast<ssize_t>(n * 8)) continue;
    size_t present = 0;
    bool copied = false;
    for (uint64_t e : entries) {
      if (!(e & kPresent)) continue;
      present++;
      if (!(e & kFile)) copied = true;
    }
    if (copied || present == 0) continue;
    if (madvise(reinterpret_cast<void *>(lo), hi - lo, MADV_DONTNEED) == 0)
      released += static_cast<double>(present * page);
  }
  close(pm);
  return Napi::Number::New(env, released);
}

// lowMemoryNotification(): V8's full, compacting collections of the calling isolate (berthd's main
// one), which also give its free pages back to the kernel. The loop is blocked meanwhile.
Napi::Value LowMemoryNotification(const Napi::CallbackInfo &info) {
  v8::Isolate *isolate = v8::Isolate::GetCurrent();
  if (isolate) isolate->LowMemoryNotification();
  return info.Env().Undefined();
}

// pidfdSendSignal(pidfd, sig): undefined.
Napi::Value PidfdSendSignal(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int fd = ArgFd(info, 0, "pidfdSendSignal", "pidfd");
  int sig = static_cast<int>(ArgInt(info, 1, "pidfdSendSignal", "sig", 0, 64));
  if (syscall(SYS_pidfd_send_signal, fd, sig, nullptr, 0) < 0) {
    int err = errno;
    ThrowErrno(env, err, "pidfd_send_signal", FdWhere(fd) + " signal " + std::to_string(sig), nullptr, fd);
  }
  return env.Undefined();
}

int64_t NowMs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

// pidfdWait(pidfd, timeoutMs): true once the process has exited, false on timeout. A pidfd polls
// readable when its process exits, whoever reaps it. timeoutMs < 0 waits forever; 0 only checks.
Napi::Value PidfdWait(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int fd = ArgFd(info, 0, "pidfdWait", "pidfd");
  int64_t timeout = ArgInt(info, 1, "pidfdWait", "timeoutMs", -1, INT32_MAX);
  const int64_t deadline = NowMs() + timeout;
  for (;;) {
    int wait_ms = -1;
    if (timeout >= 0) {
      int64_t left = deadline - NowMs();
      wait_ms = static_cast<int>(left < 0 ? 0 : left);
    }
    struct pollfd p = {fd, POLLIN, 0};
    int r = poll(&p, 1, wait_ms);
    if (r < 0) {
      if (errno == EINTR) continue;
      ThrowFd(env, errno, "poll", fd);
    }
    if (r > 0 && (p.revents & POLLNVAL)) ThrowFd(env, EBADF, "poll", fd);
    return Napi::Boolean::New(env, r > 0);
  }
}

// prctlSetChildSubreaper(on): undefined. Orphaned descendants are re-parented to this process
// instead of to pid 1, so a shim can reap (and learn the exit status of) a container init whose
// intermediate parent exited.
Napi::Value PrctlSetChildSubreaper(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  bool on = info.Length() > 0 && info[0].ToBoolean().Value();
  if (prctl(PR_SET_CHILD_SUBREAPER, on ? 1 : 0, 0, 0, 0) < 0) {
    ThrowErrno(env, errno, "prctl", "(PR_SET_CHILD_SUBREAPER)");
  }
  return env.Undefined();
}

// ---- memfd ------------------------------------------------------------------------------------

// memfdCreate(name, flags): fd. MFD_CLOEXEC is always added.
Napi::Value MemfdCreate(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  std::string name = ArgString(info, 0, "memfdCreate", "name");
  unsigned int flags = static_cast<unsigned int>(ArgInt(info, 1, "memfdCreate", "flags", 0, INT32_MAX));
  int fd = memfd_create(name.c_str(), flags | MFD_CLOEXEC);
  if (fd < 0) ThrowErrno(env, errno, "memfd_create", Quoted(name));
  return Napi::Number::New(env, fd);
}

// addSeals(fd, seals): undefined (fcntl F_ADD_SEALS).
Napi::Value AddSeals(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int fd = ArgFd(info, 0, "addSeals", "fd");
  int seals = static_cast<int>(ArgInt(info, 1, "addSeals", "seals", 0, INT32_MAX));
  if (fcntl(fd, F_ADD_SEALS, seals) < 0) ThrowFd(env, errno, "fcntl", fd);
  return env.Undefined();
}

// getSeals(fd): number (fcntl F_GET_SEALS).
Napi::Value GetSeals(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int fd = ArgFd(info, 0, "getSeals", "fd");
  int seals = fcntl(fd, F_GET_SEALS);
  if (seals < 0) ThrowFd(env, errno, "fcntl", fd);
  return Napi::Number::New(env, seals);
}

// ---- xattrs -----------------------------------------------------------------------------------
// The l* variants only: a symlink in an image layer carries its own xattrs, and following it
// could read or write a file outside the layer.

// lsetxattr(path, name, value: Buffer, flags): undefined.
Napi::Value LSetXattr(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  const char *fn = "lsetxattr";
  std::string path = ArgString(info, 0, fn, "path");
  std::string name = ArgString(info, 1, fn, "name");
  if (info.Length() < 3 || !info[2].IsBuffer()) ThrowArg(env, fn, "value", "a Buffer");
  Napi::Buffer<uint8_t> value = info[2].As<Napi::Buffer<uint8_t>>();
  int flags = 0;
  if (info.Length() > 3 && !info[3].IsUndefined()) flags = static_cast<int>(ArgInt(info, 3, fn, "flags", 0, INT32_MAX));
  if (lsetxattr(path.c_str(), name.c_str(), value.Data(), value.Length(), flags) < 0) {
    ThrowErrno(env, errno, fn, Quoted(path) + " name " + Quoted(name), path.c_str());
  }
  return env.Undefined();
}

// lgetxattr(path, name): Buffer, or undefined when the file has no such attribute (ENODATA).
Napi::Value LGetXattr(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  const char *fn = "lgetxattr";
  std::string path = ArgString(info, 0, fn, "path");
  std::string name = ArgString(info, 1, fn, "name");
  std::vector<uint8_t> buf;
  for (;;) {
    // Ask for the size, then read; the value may grow in between (ERANGE), so go round again.
    ssize_t size = lgetxattr(path.c_str(), name.c_str(), nullptr, 0);
    if (size >= 0) {
      buf.resize(static_cast<size_t>(size) + 1);
      size = lgetxattr(path.c_str(), name.c_str(), buf.data(), buf.size());
      if (size >= 0) return Napi::Buffer<uint8_t>::Copy(env, buf.data(), static_cast<size_t>(size));
    }
    if (errno == ERANGE) continue;
    if (errno == ENODATA) return env.Undefined();
    ThrowErrno(env, errno, fn, Quoted(path) + " name " + Quoted(name), path.c_str());
  }
}

// llistxattr(path): string[] (the names, in the file system's order).
Napi::Value LListXattr(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  const char *fn = "llistxattr";
  std::string path = ArgString(info, 0, fn, "path");
  std::vector<char> buf;
  ssize_t size;
  for (;;) {
    size = llistxattr(path.c_str(), nullptr, 0);
    if (size >= 0) {
      buf.resize(static_cast<size_t>(size) + 1);
      size = llistxattr(path.c_str(), buf.data(), buf.size());
      if (size >= 0) break;
    }
    if (errno == ERANGE) continue;
    ThrowPath(env, errno, fn, path);
  }
  Napi::Array out = Napi::Array::New(env);
  uint32_t n = 0;
  for (size_t i = 0; i < static_cast<size_t>(size);) {
    size_t len = strnlen(buf.data() + i, static_cast<size_t>(size) - i);
    if (len > 0) out.Set(n++, Napi::String::New(env, buf.data() + i, len));
    i += len + 1;
  }
  return out;
}

// ---- seccomp ----------------------------------------------------------------------------------
// Compiles a filter with libseccomp and returns the BPF program; it never loads one (that would
// confine Node itself). berth-init loads the bytes as the last step before execve. All policy
// (which actions, which errno, skipping rules equal to the default) is decided in src/seccomp.

// libseccomp returns negative errno values.
[[noreturn]] void ThrowSeccomp(Napi::Env env, int rc, const char *call, const std::string &where) {
  ThrowErrno(env, rc < 0 ? -rc : EINVAL, call, where);
}

struct SeccompCtx {
  scmp_filter_ctx ctx;
  ~SeccompCtx() {
    if (ctx != nullptr) seccomp_release(ctx);
  }
};

struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) close(fd);
  }
};

uint32_t PropU32(Napi::Object o, const char *key, const char *what) {
  Napi::Value v = o.Get(key);
  if (!v.IsNumber()) ThrowArg(o.Env(), "seccompCompile", what, "an integer in [0, 2^32)");
  double d = v.As<Napi::Number>().DoubleValue();
  if (d < 0 || d > UINT32_MAX || d != static_cast<double>(static_cast<uint32_t>(d))) {
    ThrowArg(o.Env(), "seccompCompile", what, "an integer in [0, 2^32)");
  }
  return static_cast<uint32_t>(d);
}

uint64_t PropU64(Napi::Object o, const char *key, const char *what) {
  Napi::Value v = o.Get(key);
  if (!v.IsBigInt()) ThrowArg(o.Env(), "seccompCompile", what, "a bigint in [0, 2^64)");
  bool lossless = false;
  uint64_t r = v.As<Napi::BigInt>().Uint64Value(&lossless);
  if (!lossless) ThrowArg(o.Env(), "seccompCompile", what, "a bigint in [0, 2^64)");
  return r;
}

Napi::Array PropArray(Napi::Object o, const char *key, const char *what) {
  Napi::Value v = o.Get(key);
  if (!v.IsArray()) ThrowArg(o.Env(), "seccompCompile", what, "an array");
  return v.As<Napi::Array>();
}

std::string ActionHex(uint32_t action) {
  char hex[16];
  snprintf(hex, sizeof hex, "0x%08x", action);
  return hex;
}

// seccompCompile({ defaultAction, arches: string[], optimize, rules: [{ syscall, action,
//   args: [{ index, op, value: bigint, valueTwo: bigint }] }] }): { program: Buffer, skipped: string[] }
// Actions are the full 32-bit SCMP_ACT_* values (SCMP_ACT_ERRNO(n) already includes n). Arches
// are libseccomp names ("x86_64", "x86", "x32"); the native one is always kept, as runc and crun
// do. A syscall name this libseccomp does not know is left out and returned in `skipped`.
Napi::Value SeccompCompile(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  const char *fn = "seccompCompile";
  if (info.Length() < 1 || !info[0].IsObject()) ThrowArg(env, fn, "profile", "an object");
  Napi::Object profile = info[0].As<Napi::Object>();
  uint32_t default_action = PropU32(profile, "defaultAction", "profile.defaultAction");
  Napi::Array arches = PropArray(profile, "arches", "profile.arches");
  Napi::Array rules = PropArray(profile, "rules", "profile.rules");
  uint32_t optimize = profile.Get("optimize").IsUndefined() ? 1 : PropU32(profile, "optimize", "profile.optimize");

  SeccompCtx f{seccomp_init(default_action)};
  if (f.ctx == nullptr) {
    // seccomp_init gives no errno; an action the running kernel lacks is the usual cause.
    ThrowErrno(env, EINVAL, "seccomp_init", "(default action " + ActionHex(default_action) + ")");
  }
  int rc;
  // berth-init sets no_new_privs itself when the config asks for it (the NO_NEW_PRIVS op); the
  // filter must not force it. (Only seccomp_load reads this; set for clarity of intent.)
  if ((rc = seccomp_attr_set(f.ctx, SCMP_FLTATR_CTL_NNP, 0)) < 0) {
    ThrowSeccomp(env, rc, "seccomp_attr_set", "(SCMP_FLTATR_CTL_NNP)");
  }
  if (optimize != 1 && (rc = seccomp_attr_set(f.ctx, SCMP_FLTATR_CTL_OPTIMIZE, optimize)) < 0) {
    ThrowSeccomp(env, rc, "seccomp_attr_set", "(SCMP_FLTATR_CTL_OPTIMIZE " + std::to_string(optimize) + ")");
  }
  for (uint32_t i = 0; i < arches.Length(); i++) {
    Napi::Value v = arches.Get(i);
    if (!v.IsString()) ThrowArg(env, fn, "profile.arches", "an array of architecture names");
    std::string name = v.As<Napi::String>().Utf8Value();
    uint32_t token = seccomp_arch_resolve_name(name.c_str());
    if (token == 0) ThrowErrno(env, EINVAL, "seccomp_arch_resolve_name", Quoted(name) + ": not an architecture libseccomp " +
                                                std::to_string(SCMP_VER_MAJOR) + "." + std::to_string(SCMP_VER_MINOR) + " knows");
    rc = seccomp_arch_add(f.ctx, token);
    if (rc < 0 && rc != -EEXIST) ThrowSeccomp(env, rc, "seccomp_arch_add", Quoted(name));
  }

  Napi::Array skipped = Napi::Array::New(env);
  uint32_t n_skipped = 0;
  for (uint32_t i = 0; i < rules.Length(); i++) {
    Napi::Value rv = rules.Get(i);
    if (!rv.IsObject()) ThrowArg(env, fn, "profile.rules", "an array of rule objects");
    Napi::Object rule = rv.As<Napi::Object>();
    Napi::Value sv = rule.Get("syscall");
    if (!sv.IsString()) ThrowArg(env, fn, "rule.syscall", "a string");
    std::string name = sv.As<Napi::String>().Utf8Value();
    uint32_t action = PropU32(rule, "action", "rule.action");
    Napi::Array args = PropArray(rule, "args", "rule.args");
    if (args.Length() > 6) ThrowArg(env, fn, "rule.args", "an array of at most 6 comparisons");
    std::vector<struct scmp_arg_cmp> cmps;
    for (uint32_t k = 0; k < args.Length(); k++) {
      Napi::Value av = args.Get(k);
      if (!av.IsObject()) ThrowArg(env, fn, "rule.args", "an array of comparison objects");
      Napi::Object a = av.As<Napi::Object>();
      uint32_t index = PropU32(a, "index", "arg.index");
      uint32_t op = PropU32(a, "op", "arg.op");
      if (index > 5) ThrowArg(env, fn, "arg.index", "an integer in [0, 5]");
      if (op <= _SCMP_CMP_MIN || op >= _SCMP_CMP_MAX) ThrowArg(env, fn, "arg.op", "an SCMP_CMP_* value (1..7)");
      struct scmp_arg_cmp c = {};
      c.arg = index;
      c.op = static_cast<enum scmp_compare>(op);
      c.datum_a = PropU64(a, "value", "arg.value");
      c.datum_b = PropU64(a, "valueTwo", "arg.valueTwo");
      cmps.push_back(c);
    }
    int nr = seccomp_syscall_resolve_name(name.c_str());
    if (nr == __NR_SCMP_ERROR) {
      skipped.Set(n_skipped++, Napi::String::New(env, name));
      continue;
    }
    rc = seccomp_rule_add_array(f.ctx, action, nr, static_cast<unsigned int>(cmps.size()), cmps.empty() ? nullptr : cmps.data());
    if (rc < 0) {
      ThrowSeccomp(env, rc, "seccomp_rule_add", Quoted(name) + " (action " + ActionHex(action) + ", " +
                                                    std::to_string(cmps.size()) + " argument comparisons)");
    }
  }

  // libseccomp 2.5 exports only to an fd; a memfd avoids a pipe's capacity limit.
  Fd mem{memfd_create("berth-seccomp", MFD_CLOEXEC)};
  if (mem.fd < 0) ThrowErrno(env, errno, "memfd_create", "'berth-seccomp'");
  if ((rc = seccomp_export_bpf(f.ctx, mem.fd)) < 0) ThrowSeccomp(env, rc, "seccomp_export_bpf", FdWhere(mem.fd));
  struct stat st;
  if (fstat(mem.fd, &st) < 0) ThrowFd(env, errno, "fstat", mem.fd);
  std::vector<uint8_t> prog(static_cast<size_t>(st.st_size));
  size_t got = 0;
  while (got < prog.size()) {
    ssize_t r = pread(mem.fd, prog.data() + got, prog.size() - got, static_cast<off_t>(got));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) ThrowFd(env, errno, "pread", mem.fd);
    if (r == 0) break;
    got += static_cast<size_t>(r);
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("program", Napi::Buffer<uint8_t>::Copy(env, prog.data(), got));
  out.Set("skipped", skipped);
  return out;
}

// ---- cgroup v2 device filter --------------------------------------------------------------------
// Loads the program src/cgroups/device-filter.ts generated; see bpf_device.h for the sequence.

// struct bpf_insn is 8 bytes; the kernel takes at most BPF_COMPLEXITY_LIMIT_INSNS (1M) of them.
constexpr size_t kBpfInsnSize = 8;
constexpr size_t kMaxBpfInsns = 1000000;

[[noreturn]] void ThrowBpf(Napi::Env env, const BpfFailure &f, const std::string &dir, const std::string &detail) {
  std::string where = f.command[0] != '\0' ? std::string(f.command) + " " : std::string();
  where += Quoted(dir) + detail;
  // The kernel's answer to a directory outside cgroup2 (or a file) is a bare EBADF.
  if (f.err == EBADF && strcmp(f.call, "bpf") == 0) where += ": not a cgroup v2 directory";
  if (!f.log.empty()) where += "; the verifier says:\n" + f.log;
  Napi::Error e = ErrnoError(env, f.err, f.call, where, dir.c_str());
  if (f.command[0] != '\0') e.Set("bpfCommand", Napi::String::New(env, f.command));
  if (!f.log.empty()) e.Set("verifierLog", Napi::String::New(env, f.log));
  throw e;
}

// bpfAttachDeviceFilter(cgroupDir, program: Uint8Array, license): undefined. Loads `program` as a
// BPF_PROG_TYPE_CGROUP_DEVICE program, attaches it to the cgroup (BPF_F_ALLOW_MULTI) and detaches
// the berth device filters attached there before.
Napi::Value BpfAttachDeviceFilter(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  const char *fn = "bpfAttachDeviceFilter";
  std::string dir = ArgString(info, 0, fn, "cgroupDir");
  const char *insns_expected = "a Uint8Array of struct bpf_insn (a non-zero multiple of 8 bytes, at most 1000000 instructions)";
  if (info.Length() < 2 || !info[1].IsTypedArray() ||
      info[1].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    ThrowArg(env, fn, "program", insns_expected);
  }
  Napi::Uint8Array program = info[1].As<Napi::Uint8Array>();
  size_t bytes = program.ByteLength();
  if (bytes == 0 || bytes % kBpfInsnSize != 0 || bytes / kBpfInsnSize > kMaxBpfInsns) {
    ThrowArg(env, fn, "program", insns_expected);
  }
  std::string license = ArgString(info, 2, fn, "license");
  // The JS memory stays put during this synchronous call, but a copy keeps the kernel's reads
  // independent of whatever the caller does with the array afterwards.
  std::vector<uint8_t> insns(program.Data(), program.Data() + bytes);
  BpfFailure f;
  if (!berth_bpf_attach_device_filter(dir.c_str(), insns.data(), insns.size(), license.c_str(), &f)) {
    ThrowBpf(env, f, dir,
             " (BPF_PROG_TYPE_CGROUP_DEVICE, " + std::to_string(bytes / kBpfInsnSize) +
                 (bytes == kBpfInsnSize ? " instruction" : " instructions") + ", license " + Quoted(license) + ")");
  }
  return env.Undefined();
}

// bpfDeviceFilters(cgroupDir): [{ id, name, berth }] — the device programs attached to the cgroup
// itself (not inherited), `berth` when the name is the one bpfAttachDeviceFilter gives.
Napi::Value BpfDeviceFilters(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  std::string dir = ArgString(info, 0, "bpfDeviceFilters", "cgroupDir");
  std::vector<BpfAttachedProgram> progs;
  BpfFailure f;
  if (!berth_bpf_device_filters(dir.c_str(), &progs, &f)) ThrowBpf(env, f, dir, "");
  Napi::Array out = Napi::Array::New(env, progs.size());
  for (uint32_t i = 0; i < progs.size(); i++) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("id", Napi::Number::New(env, progs[i].id));
    o.Set("name", Napi::String::New(env, progs[i].name));
    o.Set("berth", Napi::Boolean::New(env, progs[i].name == kBerthDeviceFilterName));
    out.Set(i, o);
  }
  return out;
}

// ---- module -----------------------------------------------------------------------------------

Napi::Object Constants(Napi::Env env) {
  Napi::Object c = Napi::Object::New(env);
  auto set = [&](const char *name, double v) { c.Set(name, Napi::Number::New(env, v)); };
#define BERTH_CONST(name) set(#name, static_cast<double>(name))
  BERTH_CONST(MS_RDONLY);
  BERTH_CONST(MS_NOSUID);
  BERTH_CONST(MS_NODEV);
  BERTH_CONST(MS_NOEXEC);
  BERTH_CONST(MS_SYNCHRONOUS);
  BERTH_CONST(MS_REMOUNT);
  BERTH_CONST(MS_MANDLOCK);
  BERTH_CONST(MS_DIRSYNC);
  BERTH_CONST(MS_NOSYMFOLLOW);
  BERTH_CONST(MS_NOATIME);
  BERTH_CONST(MS_NODIRATIME);
  BERTH_CONST(MS_BIND);
  BERTH_CONST(MS_MOVE);
  BERTH_CONST(MS_REC);
  BERTH_CONST(MS_SILENT);
  BERTH_CONST(MS_POSIXACL);
  BERTH_CONST(MS_UNBINDABLE);
  BERTH_CONST(MS_PRIVATE);
  BERTH_CONST(MS_SLAVE);
  BERTH_CONST(MS_SHARED);
  BERTH_CONST(MS_RELATIME);
  BERTH_CONST(MS_STRICTATIME);
  BERTH_CONST(MS_LAZYTIME);
  BERTH_CONST(MS_I_VERSION);
  BERTH_CONST(MNT_FORCE);
  BERTH_CONST(MNT_DETACH);
  BERTH_CONST(MNT_EXPIRE);
  BERTH_CONST(UMOUNT_NOFOLLOW);
  BERTH_CONST(O_RDONLY);
  BERTH_CONST(O_WRONLY);
  BERTH_CONST(O_RDWR);
  BERTH_CONST(O_CREAT);
  BERTH_CONST(O_EXCL);
  BERTH_CONST(O_TRUNC);
  BERTH_CONST(O_APPEND);
  BERTH_CONST(O_NONBLOCK);
  BERTH_CONST(O_DIRECTORY);
  BERTH_CONST(O_NOFOLLOW);
  BERTH_CONST(O_CLOEXEC);
  BERTH_CONST(O_PATH);
  BERTH_CONST(S_IFIFO);
  BERTH_CONST(S_IFCHR);
  BERTH_CONST(S_IFBLK);
  BERTH_CONST(S_IFREG);
  BERTH_CONST(S_IFDIR);
  BERTH_CONST(MFD_CLOEXEC);
  BERTH_CONST(MFD_ALLOW_SEALING);
  BERTH_CONST(F_SEAL_SEAL);
  BERTH_CONST(F_SEAL_SHRINK);
  BERTH_CONST(F_SEAL_GROW);
  BERTH_CONST(F_SEAL_WRITE);
  BERTH_CONST(F_SEAL_FUTURE_WRITE);
  BERTH_CONST(XATTR_CREATE);
  BERTH_CONST(XATTR_REPLACE);
  BERTH_CONST(SCMP_ACT_KILL_PROCESS);
  BERTH_CONST(SCMP_ACT_KILL_THREAD);
  BERTH_CONST(SCMP_ACT_TRAP);
  BERTH_CONST(SCMP_ACT_NOTIFY);
  set("SCMP_ACT_ERRNO", SCMP_ACT_ERRNO(0));
  set("SCMP_ACT_TRACE", SCMP_ACT_TRACE(0));
  BERTH_CONST(SCMP_ACT_LOG);
  BERTH_CONST(SCMP_ACT_ALLOW);
  BERTH_CONST(SCMP_CMP_NE);
  BERTH_CONST(SCMP_CMP_LT);
  BERTH_CONST(SCMP_CMP_LE);
  BERTH_CONST(SCMP_CMP_EQ);
  BERTH_CONST(SCMP_CMP_GE);
  BERTH_CONST(SCMP_CMP_GT);
  BERTH_CONST(SCMP_CMP_MASKED_EQ);
#undef BERTH_CONST
  return c;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("socketpair", Napi::Function::New(env, SocketPair, "socketpair"));
  exports.Set("netnsSocket", Napi::Function::New(env, NetnsSocket, "netnsSocket"));
  exports.Set("netnsBind", Napi::Function::New(env, NetnsBind, "netnsBind"));
  exports.Set("netnsCreate", Napi::Function::New(env, NetnsCreate, "netnsCreate"));
  exports.Set("sendFds", Napi::Function::New(env, SendFds, "sendFds"));
  exports.Set("recvFds", Napi::Function::New(env, RecvFds, "recvFds"));
  exports.Set("peerCred", Napi::Function::New(env, PeerCred, "peerCred"));
  exports.Set("openInRoot", Napi::Function::New(env, OpenInRoot, "openInRoot"));
  exports.Set("mount", Napi::Function::New(env, Mount, "mount"));
  exports.Set("umount2", Napi::Function::New(env, Umount2, "umount2"));
  exports.Set("mkfifo", Napi::Function::New(env, MkFifo, "mkfifo"));
  exports.Set("mknod", Napi::Function::New(env, MkNod, "mknod"));
  exports.Set("pidfdOpen", Napi::Function::New(env, PidfdOpen, "pidfdOpen"));
  exports.Set("mallocTrim", Napi::Function::New(env, MallocTrim, "mallocTrim"));
  exports.Set("lowMemoryNotification", Napi::Function::New(env, LowMemoryNotification, "lowMemoryNotification"));
  exports.Set("releaseFilePages", Napi::Function::New(env, ReleaseFilePages, "releaseFilePages"));
  exports.Set("pidfdSendSignal", Napi::Function::New(env, PidfdSendSignal, "pidfdSendSignal"));
  exports.Set("pidfdWait", Napi::Function::New(env, PidfdWait, "pidfdWait"));
  exports.Set("prctlSetChildSubreaper", Napi::Function::New(env, PrctlSetChildSubreaper, "prctlSetChildSubreaper"));
  exports.Set("memfdCreate", Napi::Function::New(env, MemfdCreate, "memfdCreate"));
  exports.Set("addSeals", Napi::Function::New(env, AddSeals, "addSeals"));
  exports.Set("getSeals", Napi::Function::New(env, GetSeals, "getSeals"));
  exports.Set("lsetxattr", Napi::Function::New(env, LSetXattr, "lsetxattr"));
  exports.Set("lgetxattr", Napi::Function::New(env, LGetXattr, "lgetxattr"));
  exports.Set("llistxattr", Napi::Function::New(env, LListXattr, "llistxattr"));
  exports.Set("seccompCompile", Napi::Function::New(env, SeccompCompile, "seccompCompile"));
  exports.Set("bpfAttachDeviceFilter", Napi::Function::New(env, BpfAttachDeviceFilter, "bpfAttachDeviceFilter"));
  exports.Set("bpfDeviceFilters", Napi::Function::New(env, BpfDeviceFilters, "bpfDeviceFilters"));
  exports.Set("spawnProcess", Napi::Function::New(env, berth::SpawnProcess, "spawnProcess"));
  exports.Set("watchChild", Napi::Function::New(env, berth::WatchChild, "watchChild"));
  exports.Set("constants", Constants(env));
  return exports;
}

}  // namespace

NODE_API_MODULE(berth_addon, Init)
