// spawn.cc: starting a helper program (berth-init) and watching it, without node:child_process.
//
// Why by hand: child_process forks the whole Node process (its page tables: ~3 ms here) and, with
// net for the pipes, costs ~3 ms more to load; berth-init is started once per create, run and
// exec, so both were on every container's critical path. posix_spawn uses vfork semantics (no
// copy of the address space) and execs at once, which is safe in a multithreaded process; the
// child gets only the fds it is given, every signal at its default disposition and an empty mask
// (as libuv's spawn does).
//
// watchChild runs one small thread per child: it reads the child's sync socket until EOF, passing
// each chunk to JavaScript, then waits for the child and passes its exit status. A dedicated thread
// rather than libuv's pool: a foreground container keeps its watcher waiting for its whole life.
#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

extern char **environ;

namespace berth {

namespace {

[[noreturn]] void Throw(Napi::Env env, int err, const char *call, const std::string &what) {
  const char *name = strerrorname_np(err);
  std::string code = name ? name : "E" + std::to_string(err);
  Napi::Error e = Napi::Error::New(env, code + ": " + strerror(err) + ", " + call + " " + what);
  e.Set("code", Napi::String::New(env, code));
  e.Set("errno", Napi::Number::New(env, err));
  e.Set("syscall", Napi::String::New(env, call));
  throw e;
}

[[noreturn]] void ThrowType(Napi::Env env, const char *fn, const char *arg, const char *expected) {
  Napi::TypeError e = Napi::TypeError::New(env, std::string("berth_addon.") + fn + ": argument '" + arg + "' must be " + expected);
  e.Set("code", Napi::String::New(env, "ERR_INVALID_ARG_TYPE"));
  throw e;
}

std::string String(const Napi::CallbackInfo &info, size_t i, const char *fn, const char *arg) {
  if (i >= info.Length() || !info[i].IsString()) ThrowType(info.Env(), fn, arg, "a string");
  std::string s = info[i].As<Napi::String>().Utf8Value();
  if (s.find('\0') != std::string::npos) ThrowType(info.Env(), fn, arg, "a string without NUL bytes");
  return s;
}

int Int(const Napi::CallbackInfo &info, size_t i, const char *fn, const char *arg, int min) {
  if (i >= info.Length() || !info[i].IsNumber()) ThrowType(info.Env(), fn, arg, "an integer");
  double d = info[i].As<Napi::Number>().DoubleValue();
  if (d != static_cast<double>(static_cast<int>(d)) || d < min) ThrowType(info.Env(), fn, arg, "an integer in range");
  return static_cast<int>(d);
}

// Closes the parent's temporary copies whatever happens.
struct FdList {
  std::vector<int> fds;
  ~FdList() {
    for (int fd : fds)
      if (fd >= 0) close(fd);
  }
};

struct SpawnAttrs {
  posix_spawnattr_t attr;
  posix_spawn_file_actions_t actions;
  SpawnAttrs() {
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_init(&actions);
  }
  ~SpawnAttrs() {
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
  }
};

}  // namespace

// spawnProcess(path, argv, fds): pid. The child runs `path` with `argv` (argv[0] included) and the
// current environment; its fd i is the caller's fds[i] (-1: /dev/null), and no other fd is open.
Napi::Value SpawnProcess(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  const char *fn = "spawnProcess";
  std::string path = String(info, 0, fn, "path");
  if (info.Length() < 3 || !info[1].IsArray() || !info[2].IsArray()) ThrowType(env, fn, "argv, fds", "arrays");
  Napi::Array argv_in = info[1].As<Napi::Array>();
  Napi::Array fds_in = info[2].As<Napi::Array>();
  std::vector<std::string> args;
  for (uint32_t i = 0; i < argv_in.Length(); i++) {
    Napi::Value v = argv_in.Get(i);
    if (!v.IsString()) ThrowType(env, fn, "argv", "an array of strings");
    args.push_back(v.As<Napi::String>().Utf8Value());
  }
  if (args.empty()) ThrowType(env, fn, "argv", "a non-empty array (argv[0] included)");
  const uint32_t n = fds_in.Length();
  if (n < 3 || n > 1024) ThrowType(env, fn, "fds", "an array of 3 to 1024 fds");

  // Each source is first copied above every target number, so that dup2(copy, i) can never
  // clobber a source that a later target still needs; the copies are close-on-exec.
  FdList copies;
  SpawnAttrs sa;
  for (uint32_t i = 0; i < n; i++) {
    Napi::Value v = fds_in.Get(i);
    if (!v.IsNumber()) ThrowType(env, fn, "fds", "an array of integers");
    int src = v.As<Napi::Number>().Int32Value();
    if (src < 0) {
      copies.fds.push_back(-1);
      posix_spawn_file_actions_addopen(&sa.actions, static_cast<int>(i), "/dev/null", O_RDWR, 0);
      continue;
    }
    int copy = fcntl(src, F_DUPFD_CLOEXEC, static_cast<int>(n));
    if (copy < 0) Throw(env, errno, "fcntl", "(F_DUPFD_CLOEXEC of fd " + std::to_string(src) + ")");
    copies.fds.push_back(copy);
    posix_spawn_file_actions_adddup2(&sa.actions, copy, static_cast<int>(i));
  }
  posix_spawn_file_actions_addclosefrom_np(&sa.actions, static_cast<int>(n));

  sigset_t all, none;
  sigfillset(&all);
  sigemptyset(&none);
  posix_spawnattr_setsigdefault(&sa.attr, &all);
  posix_spawnattr_setsigmask(&sa.attr, &none);
  posix_spawnattr_setflags(&sa.attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);

  std::vector<char *> argv;
  for (std::string &a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid;
  int err = posix_spawn(&pid, path.c_str(), &sa.actions, &sa.attr, argv.data(), environ);
  if (err != 0) Throw(env, err, "posix_spawn", "'" + path + "'");
  return Napi::Number::New(env, pid);
}

namespace {

struct Event {
  enum Kind { kData, kEof, kExit } kind;
  std::vector<uint8_t> data;
  int status = 0;
};

void Deliver(Napi::Env env, Napi::Function cb, Event *e) {
  if (env != nullptr && cb != nullptr) {
    switch (e->kind) {
      case Event::kData:
        cb.Call({Napi::String::New(env, "data"), Napi::Buffer<uint8_t>::Copy(env, e->data.data(), e->data.size())});
        break;
      case Event::kEof:
        cb.Call({Napi::String::New(env, "eof"), env.Undefined()});
        break;
      case Event::kExit:
        cb.Call({Napi::String::New(env, "exit"), Napi::Number::New(env, e->status)});
        break;
    }
  }
  delete e;
}

}  // namespace

// watchChild(pid, fd, callback): undefined. Calls back ("data", Buffer) for what `fd` delivers
// (fd -1: nothing is read), ("eof") when it ends, then ("exit", status) once the child `pid` of
// this process has exited and been reaped: its exit code, or 128+n when signal n killed it. The
// fd stays the caller's: close it only after "eof". The watch keeps the event loop alive.
Napi::Value WatchChild(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  const char *fn = "watchChild";
  int pid = Int(info, 0, fn, "pid", 1);
  int fd = Int(info, 1, fn, "fd", -1);
  if (info.Length() < 3 || !info[2].IsFunction()) ThrowType(env, fn, "callback", "a function");
  auto tsfn = Napi::ThreadSafeFunction::New(env, info[2].As<Napi::Function>(), "berth-watch-child", 0, 1);
  std::thread([tsfn, pid, fd]() mutable {
    if (fd >= 0) {
      uint8_t buf[16384];
      for (;;) {
        ssize_t r = read(fd, buf, sizeof buf);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        auto *e = new Event{Event::kData, std::vector<uint8_t>(buf, buf + r)};
        if (tsfn.BlockingCall(e, Deliver) != napi_ok) delete e;
      }
      auto *e = new Event{Event::kEof, {}};
      if (tsfn.BlockingCall(e, Deliver) != napi_ok) delete e;
    }
    int status = 0;
    pid_t r;
    do
      r = waitpid(pid, &status, 0);
    while (r < 0 && errno == EINTR);
    int code = r < 0 ? 127 : WIFEXITED(status) ? WEXITSTATUS(status) : WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 1;
    auto *e = new Event{Event::kExit, {}, code};
    if (tsfn.BlockingCall(e, Deliver) != napi_ok) delete e;
    tsfn.Release();
  }).detach();
  return env.Undefined();
}

}  // namespace berth
