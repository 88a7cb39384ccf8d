// Loading and attaching the cgroup v2 device filter (see bpf_device.h).
//
// The sequence, as runc does it: query the programs already attached to the cgroup, load the new
// one, attach it with BPF_F_ALLOW_MULTI, then detach the old berth ones. With ALLOW_MULTI the
// kernel runs every attached device program and allows an access only if all of them do, so while
// old and new are both attached the container gets at most what both allow: a moment of "too
// strict", never one of "too loose". (BPF_F_REPLACE would swap atomically, but only one program,
// and only if exactly one is there; the plain sequence covers every case with one path.)
#include "bpf_device.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <utility>

namespace {

// The verifier's log for a refused program. Level 1 logs only the path that failed, so this is
// plenty for a device filter (a few hundred instructions at most); since Linux 6.4 the kernel keeps
// the end of a longer log, which is where the reason is.
constexpr uint32_t kLogSize = 256 * 1024;

// BPF_PROG_QUERY is asked again with a bigger buffer while it says ENOSPC, up to this many ids.
constexpr uint32_t kMaxQueryIds = 1 << 16;

class UniqueFd {
 public:
  explicit UniqueFd(int fd = -1) : fd_(fd) {}
  ~UniqueFd() {
    if (fd_ >= 0) close(fd_);
  }
  UniqueFd(UniqueFd &&o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  UniqueFd &operator=(UniqueFd &&o) noexcept {
    if (this != &o) {
      if (fd_ >= 0) close(fd_);
      fd_ = o.fd_;
      o.fd_ = -1;
    }
    return *this;
  }
  UniqueFd(const UniqueFd &) = delete;
  UniqueFd &operator=(const UniqueFd &) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

uint64_t Ptr(const void *p) { return static_cast<uint64_t>(reinterpret_cast<uintptr_t>(p)); }

// bpf(2). EAGAIN from BPF_PROG_LOAD is transient (the verifier was interrupted); libbpf retries it
// too, a few times.
long Bpf(int cmd, union bpf_attr *attr) {
  long r;
  int again = 0;
  do {
    r = syscall(__NR_bpf, cmd, attr, sizeof *attr);
  } while (r < 0 && (errno == EINTR || (errno == EAGAIN && ++again < 5)));
  return r;
}

bool Fail(BpfFailure *f, int err, const char *call, const char *command) {
  f->err = err;
  f->call = call;
  f->command = command;
  return false;
}

bool OpenCgroup(const char *dir, UniqueFd *out, BpfFailure *f) {
  int fd = open(dir, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Fail(f, errno, "open", "");
  *out = UniqueFd(fd);
  return true;
}

bool QueryIds(int cgroup_fd, std::vector<uint32_t> *ids, BpfFailure *f) {
  for (uint32_t cap = 16;; cap *= 2) {
    ids->assign(cap, 0);
    union bpf_attr a;
    memset(&a, 0, sizeof a);
    a.query.target_fd = static_cast<uint32_t>(cgroup_fd);
    a.query.attach_type = BPF_CGROUP_DEVICE;
    a.query.prog_ids = Ptr(ids->data());
    a.query.prog_cnt = cap;
    if (Bpf(BPF_PROG_QUERY, &a) == 0) {
      ids->resize(a.query.prog_cnt < cap ? a.query.prog_cnt : cap);
      return true;
    }
    // ENOSPC: more programs than ids fit; prog_cnt now holds how many there are.
    if (errno != ENOSPC || cap >= kMaxQueryIds) return Fail(f, errno, "bpf", "BPF_PROG_QUERY");
  }
}

// An fd for the program `id`, or -1 with errno (ENOENT when it was freed since the query).
int ProgFd(uint32_t id) {
  union bpf_attr a;
  memset(&a, 0, sizeof a);
  a.prog_id = id;
  return static_cast<int>(Bpf(BPF_PROG_GET_FD_BY_ID, &a));
}

bool ProgName(int prog_fd, std::string *name, BpfFailure *f) {
  struct bpf_prog_info info;
  memset(&info, 0, sizeof info);
  union bpf_attr a;
  memset(&a, 0, sizeof a);
  a.info.bpf_fd = static_cast<uint32_t>(prog_fd);
  a.info.info_len = sizeof info;
  a.info.info = Ptr(&info);
  if (Bpf(BPF_OBJ_GET_INFO_BY_FD, &a) < 0) return Fail(f, errno, "bpf", "BPF_OBJ_GET_INFO_BY_FD");
  name->assign(info.name, strnlen(info.name, sizeof info.name));
  return true;
}

// Calls `each(id, fd, name)` for every device program attached to the cgroup; a program freed
// between the query and the lookup is skipped.
template <typename Each>
bool ForEachAttached(int cgroup_fd, BpfFailure *f, Each each) {
  std::vector<uint32_t> ids;
  if (!QueryIds(cgroup_fd, &ids, f)) return false;
  for (uint32_t id : ids) {
    UniqueFd fd(ProgFd(id));
    if (fd.get() < 0) {
      if (errno == ENOENT) continue;
      return Fail(f, errno, "bpf", "BPF_PROG_GET_FD_BY_ID");
    }
    std::string name;
    if (!ProgName(fd.get(), &name, f)) return false;
    each(id, std::move(fd), name);
  }
  return true;
}

bool LoadProgram(const uint8_t *insns, size_t insn_bytes, const char *license, UniqueFd *out, BpfFailure *f) {
  union bpf_attr a;
  memset(&a, 0, sizeof a);
  a.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
  a.insns = Ptr(insns);
  a.insn_cnt = static_cast<uint32_t>(insn_bytes / sizeof(struct bpf_insn));
  a.license = Ptr(license);
  static_assert(sizeof kBerthDeviceFilterName <= sizeof a.prog_name, "prog_name holds BPF_OBJ_NAME_LEN bytes");
  memcpy(a.prog_name, kBerthDeviceFilterName, sizeof kBerthDeviceFilterName);
  // First without a log: a log makes every load slower, and a too-small one fails a good program
  // with ENOSPC. Only a refused program is loaded again, with the log, to say why.
  long fd = Bpf(BPF_PROG_LOAD, &a);
  if (fd >= 0) {
    *out = UniqueFd(static_cast<int>(fd));
    return true;
  }
  int err = errno;
  std::vector<char> log(kLogSize, '\0');
  a.log_level = 1;
  a.log_size = kLogSize;
  a.log_buf = Ptr(log.data());
  fd = Bpf(BPF_PROG_LOAD, &a);
  if (fd >= 0) {
    // Accepted the second time (a transient failure): use it.
    *out = UniqueFd(static_cast<int>(fd));
    return true;
  }
  size_t n = strnlen(log.data(), log.size());
  while (n > 0 && (log[n - 1] == '\n' || log[n - 1] == ' ')) n--;
  f->log.assign(log.data(), n);
  return Fail(f, err, "bpf", "BPF_PROG_LOAD");
}

}  // namespace

bool berth_bpf_attach_device_filter(const char *cgroup_dir, const uint8_t *insns, size_t insn_bytes,
                                    const char *license, BpfFailure *f) {
  UniqueFd cgroup;
  if (!OpenCgroup(cgroup_dir, &cgroup, f)) return false;

  // The old berth programs, held by fd: an id could be reused by another program once freed.
  std::vector<UniqueFd> old;
  bool listed = ForEachAttached(cgroup.get(), f, [&](uint32_t, UniqueFd fd, const std::string &name) {
    if (name == kBerthDeviceFilterName) old.push_back(std::move(fd));
  });
  if (!listed) return false;

  UniqueFd prog;
  if (!LoadProgram(insns, insn_bytes, license, &prog, f)) return false;

  union bpf_attr a;
  memset(&a, 0, sizeof a);
  a.target_fd = static_cast<uint32_t>(cgroup.get());
  a.attach_bpf_fd = static_cast<uint32_t>(prog.get());
  a.attach_type = BPF_CGROUP_DEVICE;
  a.attach_flags = BPF_F_ALLOW_MULTI;
  if (Bpf(BPF_PROG_ATTACH, &a) < 0) return Fail(f, errno, "bpf", "BPF_PROG_ATTACH");

  for (const UniqueFd &o : old) {
    memset(&a, 0, sizeof a);
    a.target_fd = static_cast<uint32_t>(cgroup.get());
    a.attach_bpf_fd = static_cast<uint32_t>(o.get());
    a.attach_type = BPF_CGROUP_DEVICE;
    // ENOENT: a concurrent update detached it already, which is what was wanted.
    if (Bpf(BPF_PROG_DETACH, &a) < 0 && errno != ENOENT) return Fail(f, errno, "bpf", "BPF_PROG_DETACH");
  }
  return true;
}

bool berth_bpf_device_filters(const char *cgroup_dir, std::vector<BpfAttachedProgram> *out, BpfFailure *f) {
  UniqueFd cgroup;
  if (!OpenCgroup(cgroup_dir, &cgroup, f)) return false;
  return ForEachAttached(cgroup.get(), f, [&](uint32_t id, UniqueFd, const std::string &name) {
    out->push_back(BpfAttachedProgram{id, name});
  });
}
