// The cgroup v2 device filter's kernel side: loading an eBPF program of type
// BPF_PROG_TYPE_CGROUP_DEVICE and making it the one berth program attached to a cgroup directory.
// Kept free of N-API (as in_root.h is) so that the sequence of bpf(2) calls reads on its own.
// The program itself is generated in TypeScript (src/cgroups/device-filter.ts); nothing here decides
// which devices are allowed.
#ifndef BERTH_BPF_DEVICE_H
#define BERTH_BPF_DEVICE_H

#include <stddef.h>
#include <stdint.h>

#include <string>
#include <vector>

// The prog_name berth gives its device filters (at most 15 characters: BPF_OBJ_NAME_LEN - 1).
// Replacement detaches only programs with this name, so a program someone else attached to the
// cgroup stays (device programs attached with BPF_F_ALLOW_MULTI must all allow an access, so one
// left attached can only narrow what the container may use, never widen it).
inline constexpr const char kBerthDeviceFilterName[] = "berth_devices";

// What failed: `err` is the positive errno, `call` the system call ("open" or "bpf"), `command`
// the bpf(2) command ("BPF_PROG_LOAD", …; empty for open), `log` the verifier's log when the kernel
// refused the program.
struct BpfFailure {
  int err = 0;
  const char *call = "";
  const char *command = "";
  std::string log;
};

struct BpfAttachedProgram {
  uint32_t id;
  std::string name;
};

// Loads `insns` (`insn_bytes` bytes of struct bpf_insn) as a BPF_PROG_TYPE_CGROUP_DEVICE program
// named kBerthDeviceFilterName, attaches it to the cgroup directory `cgroup_dir` (BPF_CGROUP_DEVICE,
// BPF_F_ALLOW_MULTI), then detaches the berth device filters that were attached before it. The new
// program is attached before the old ones go, so the cgroup is never without a filter. Every fd it
// opens is closed before it returns. Returns false and fills *failure on the first failing call; the
// old programs stay attached if anything before their detach fails.
bool berth_bpf_attach_device_filter(const char *cgroup_dir, const uint8_t *insns, size_t insn_bytes,
                                    const char *license, BpfFailure *failure);

// The device programs attached directly to `cgroup_dir` (not inherited), in the kernel's order.
bool berth_bpf_device_filters(const char *cgroup_dir, std::vector<BpfAttachedProgram> *out,
                              BpfFailure *failure);

#endif
