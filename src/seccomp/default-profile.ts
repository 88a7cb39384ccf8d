// berth's default seccomp profile: the facts of moby's profiles/seccomp/default.json (its syscall
// list, its capability- and architecture-conditioned entries, its archMap, EPERM as the default
// errno), kept in docker's profile format so that seccomp-profile.ts renders it per container as
// dockerd does. A container gets it unless it is privileged or asks for another profile
// (src/engine/security-options.ts decides).
//
// Data only. When moby's profile changes, change this and the test oracle
// (test/lib/docker-default-seccomp.ts) independently; default-profile.test.ts compares them.
import type { LinuxSeccomp } from '../oci/runtime-spec.ts';
import {
  hostFacts,
  type ProfileHost,
  type ProfileSyscall,
  renderSeccompProfile,
  type SeccompProfile,
} from './seccomp-profile.ts';

const words = (s: string): string[] => s.trim().split(/\s+/);

/** Allowed to every container: nothing here reaches beyond the container's own namespaces. */
const ALWAYS_ALLOWED = words(`
  _llseek _newselect accept accept4 access adjtimex alarm bind brk cachestat capget capset chdir
  chmod chown chown32 clock_adjtime clock_adjtime64 clock_getres clock_getres_time64 clock_gettime
  clock_gettime64 clock_nanosleep clock_nanosleep_time64 close close_range connect copy_file_range
  creat dup dup2 dup3 epoll_create epoll_create1 epoll_ctl epoll_ctl_old epoll_pwait epoll_pwait2
  epoll_wait epoll_wait_old eventfd eventfd2 execve execveat exit exit_group faccessat faccessat2
  fadvise64 fadvise64_64 fallocate fanotify_mark fchdir fchmod fchmodat fchmodat2 fchown fchown32
  fchownat fcntl fcntl64 fdatasync fgetxattr flistxattr flock fork fremovexattr fsetxattr fstat
  fstat64 fstatat64 fstatfs fstatfs64 fsync ftruncate ftruncate64 futex futex_requeue futex_time64
  futex_wait futex_waitv futex_wake futimesat get_robust_list get_thread_area getcpu getcwd getdents
  getdents64 getegid getegid32 geteuid geteuid32 getgid getgid32 getgroups getgroups32 getitimer
  getpeername getpgid getpgrp getpid getppid getpriority getrandom getresgid getresgid32 getresuid
  getresuid32 getrlimit getrusage getsid getsockname getsockopt gettid gettimeofday getuid getuid32
  getxattr getxattrat inotify_add_watch inotify_init inotify_init1 inotify_rm_watch io_cancel
  io_destroy io_getevents io_pgetevents io_pgetevents_time64 io_setup io_submit ioctl ioprio_get
  ioprio_set ipc kill landlock_add_rule landlock_create_ruleset landlock_restrict_self lchown
  lchown32 lgetxattr link linkat listen listmount listxattr listxattrat llistxattr lremovexattr
  lseek lsetxattr lstat lstat64 madvise map_shadow_stack membarrier memfd_create memfd_secret
  mincore mkdir mkdirat mknod mknodat mlock mlock2 mlockall mmap mmap2 mprotect mq_getsetattr
  mq_notify mq_open mq_timedreceive mq_timedreceive_time64 mq_timedsend mq_timedsend_time64
  mq_unlink mremap mseal msgctl msgget msgrcv msgsnd msync munlock munlockall munmap
  name_to_handle_at nanosleep newfstatat open openat openat2 pause pidfd_open pidfd_send_signal pipe
  pipe2 pkey_alloc pkey_free pkey_mprotect poll ppoll ppoll_time64 prctl pread64 preadv preadv2
  prlimit64 process_mrelease pselect6 pselect6_time64 pwrite64 pwritev pwritev2 read readahead
  readlink readlinkat readv recv recvfrom recvmmsg recvmmsg_time64 recvmsg remap_file_pages
  removexattr removexattrat rename renameat renameat2 restart_syscall riscv_hwprobe rmdir rseq
  rt_sigaction rt_sigpending rt_sigprocmask rt_sigqueueinfo rt_sigreturn rt_sigsuspend
  rt_sigtimedwait rt_sigtimedwait_time64 rt_tgsigqueueinfo sched_get_priority_max
  sched_get_priority_min sched_getaffinity sched_getattr sched_getparam sched_getscheduler
  sched_rr_get_interval sched_rr_get_interval_time64 sched_setaffinity sched_setattr sched_setparam
  sched_setscheduler sched_yield seccomp select semctl semget semop semtimedop semtimedop_time64
  send sendfile sendfile64 sendmmsg sendmsg sendto set_robust_list set_thread_area set_tid_address
  setfsgid setfsgid32 setfsuid setfsuid32 setgid setgid32 setgroups setgroups32 setitimer setpgid
  setpriority setregid setregid32 setresgid setresgid32 setresuid setresuid32 setreuid setreuid32
  setrlimit setsid setsockopt setuid setuid32 setxattr setxattrat shmat shmctl shmdt shmget shutdown
  sigaltstack signalfd signalfd4 sigprocmask sigreturn socketcall socketpair splice stat stat64
  statfs statfs64 statmount statx symlink symlinkat sync sync_file_range syncfs sysinfo tee tgkill
  time timer_create timer_delete timer_getoverrun timer_gettime timer_gettime64 timer_settime
  timer_settime64 timerfd_create timerfd_gettime timerfd_gettime64 timerfd_settime timerfd_settime64
  times tkill truncate truncate64 ugetrlimit umask uname unlink unlinkat uretprobe utime utimensat
  utimensat_time64 utimes vfork vmsplice wait4 waitid waitpid write writev
`);

const allow = (names: string[], more: Omit<ProfileSyscall, 'names' | 'action'> = {}): ProfileSyscall => ({
  names,
  action: 'SCMP_ACT_ALLOW',
  ...more,
});
const eq0 = (value: number): ProfileSyscall['args'] => [{ index: 0, value, op: 'SCMP_CMP_EQ' }];
/** CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET: without CAP_SYS_ADMIN, clone makes no namespace. */
const CLONE_NAMESPACE_FLAGS = 0x7e020000;
const ENOSYS = 38;

export const DEFAULT_SECCOMP_PROFILE: SeccompProfile = {
  defaultAction: 'SCMP_ACT_ERRNO',
  defaultErrnoRet: 1,
  archMap: [
    { architecture: 'SCMP_ARCH_X86_64', subArchitectures: ['SCMP_ARCH_X86', 'SCMP_ARCH_X32'] },
    { architecture: 'SCMP_ARCH_AARCH64', subArchitectures: ['SCMP_ARCH_ARM'] },
    { architecture: 'SCMP_ARCH_MIPS64', subArchitectures: ['SCMP_ARCH_MIPS', 'SCMP_ARCH_MIPS64N32'] },
    { architecture: 'SCMP_ARCH_MIPS64N32', subArchitectures: ['SCMP_ARCH_MIPS', 'SCMP_ARCH_MIPS64'] },
    { architecture: 'SCMP_ARCH_MIPSEL64', subArchitectures: ['SCMP_ARCH_MIPSEL', 'SCMP_ARCH_MIPSEL64N32'] },
    { architecture: 'SCMP_ARCH_MIPSEL64N32', subArchitectures: ['SCMP_ARCH_MIPSEL', 'SCMP_ARCH_MIPSEL64'] },
    { architecture: 'SCMP_ARCH_S390X', subArchitectures: ['SCMP_ARCH_S390'] },
    { architecture: 'SCMP_ARCH_RISCV64', subArchitectures: [] },
  ],
  syscalls: [
    allow(ALWAYS_ALLOWED),
    // Since 4.8 seccomp is checked after ptrace's changes, so ptrace no longer escapes the filter.
    allow(words('process_vm_readv process_vm_writev ptrace'), { includes: { minKernel: '4.8' } }),
    // Every socket family but AF_ALG (38, the kernel crypto API) and AF_VSOCK (40, reaches the host).
    allow(['socket'], { args: [{ index: 0, value: 38, op: 'SCMP_CMP_LT' }] }),
    allow(['socket'], { args: [{ index: 0, value: 39, op: 'SCMP_CMP_EQ' }] }),
    allow(['socket'], { args: [{ index: 0, value: 40, op: 'SCMP_CMP_GT' }] }),
    // personality(2): PER_LINUX, PER_LINUX32, UNAME26, UNAME26|PER_LINUX32, and the query.
    ...[0x0, 0x8, 0x20000, 0x20008, 0xffffffff].map((p) => allow(['personality'], { args: eq0(p) })),
    allow(words('sync_file_range2 swapcontext'), { includes: { arches: ['ppc64le'] } }),
    allow(words('arm_fadvise64_64 arm_sync_file_range sync_file_range2 breakpoint cacheflush set_tls'), {
      includes: { arches: ['arm', 'arm64'] },
    }),
    allow(['arch_prctl'], { includes: { arches: ['amd64', 'x32'] } }),
    allow(['modify_ldt'], { includes: { arches: ['amd64', 'x32', 'x86'] } }),
    allow(words('s390_pci_mmio_read s390_pci_mmio_write s390_runtime_instr'), {
      includes: { arches: ['s390', 's390x'] },
    }),
    allow(['riscv_flush_icache'], { includes: { arches: ['riscv64'] } }),
    allow(['open_by_handle_at'], { includes: { caps: ['CAP_DAC_READ_SEARCH'] } }),
    allow(
      words(`bpf clone clone3 fanotify_init fsconfig fsmount fsopen fspick lookup_dcookie lsm_get_self_attr
        lsm_list_modules lsm_set_self_attr mount mount_setattr move_mount open_tree perf_event_open quotactl
        quotactl_fd setdomainname sethostname setns syslog umount umount2 unshare`),
      { includes: { caps: ['CAP_SYS_ADMIN'] } },
    ),
    allow(['clone'], {
      args: [{ index: 0, value: CLONE_NAMESPACE_FLAGS, op: 'SCMP_CMP_MASKED_EQ' }],
      excludes: { caps: ['CAP_SYS_ADMIN'], arches: ['s390', 's390x'] },
    }),
    // s390 passes clone's flags second.
    allow(['clone'], {
      args: [{ index: 1, value: CLONE_NAMESPACE_FLAGS, op: 'SCMP_CMP_MASKED_EQ' }],
      includes: { arches: ['s390', 's390x'] },
      excludes: { caps: ['CAP_SYS_ADMIN'] },
    }),
    // clone3's flags are in memory, out of the filter's sight: ENOSYS makes libcs fall back to clone.
    { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: ENOSYS, excludes: { caps: ['CAP_SYS_ADMIN'] } },
    allow(['reboot'], { includes: { caps: ['CAP_SYS_BOOT'] } }),
    allow(['chroot'], { includes: { caps: ['CAP_SYS_CHROOT'] } }),
    allow(words('delete_module init_module finit_module'), { includes: { caps: ['CAP_SYS_MODULE'] } }),
    allow(['acct'], { includes: { caps: ['CAP_SYS_PACCT'] } }),
    allow(words('kcmp pidfd_getfd process_madvise process_vm_readv process_vm_writev ptrace'), {
      includes: { caps: ['CAP_SYS_PTRACE'] },
    }),
    allow(words('iopl ioperm'), { includes: { caps: ['CAP_SYS_RAWIO'] } }),
    allow(words('settimeofday stime clock_settime clock_settime64'), { includes: { caps: ['CAP_SYS_TIME'] } }),
    allow(['vhangup'], { includes: { caps: ['CAP_SYS_TTY_CONFIG'] } }),
    allow(words('get_mempolicy mbind set_mempolicy set_mempolicy_home_node'), { includes: { caps: ['CAP_SYS_NICE'] } }),
    allow(['syslog'], { includes: { caps: ['CAP_SYSLOG'] } }),
    allow(['bpf'], { includes: { caps: ['CAP_BPF'] } }),
    allow(['perf_event_open'], { includes: { caps: ['CAP_PERFMON'] } }),
  ],
};

/** The default profile for a container holding `capabilities`, on this host (or `host`'s). */
export function defaultSeccomp(
  capabilities: readonly string[],
  host: ProfileHost = hostFacts(capabilities),
): LinuxSeccomp {
  return renderSeccompProfile(DEFAULT_SECCOMP_PROFILE, { ...host, capabilities }, 'berth default seccomp profile');
}
