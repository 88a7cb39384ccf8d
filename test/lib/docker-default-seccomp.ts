// A profile equivalent to Docker's default seccomp profile, built from a structured description:
// deny by default with EPERM, allow an explicit list of syscalls, allow more when the container
// holds the capability that makes them meaningful, restrict clone's namespace flags and
// personality's domains by argument, and answer clone3 with ENOSYS so that libcs fall back to
// clone (whose flags the filter can see). It is rendered for one architecture family and one
// capability set, as Docker renders its profile per container. Not byte-identical to moby's
// JSON (the facts, the syscall names and conditions, are those of moby's current profile; io_uring
// is denied there); used by the seccomp tests. Some names are newer than Debian 12's libseccomp
// (2.5.4) and are left out by the compiler, which the tests expect.
import type { LinuxSeccomp, LinuxSeccompArch, LinuxSyscall } from '../../src/oci/runtime-spec.ts';

const words = (s: string): string[] => s.trim().split(/\s+/);

/** Allowed for every container, grouped by what they are for. */
const ALWAYS: Record<string, string[]> = {
  files: words(`
    access faccessat faccessat2 chdir fchdir getcwd chmod fchmod fchmodat chown chown32 fchown
    fchown32 fchownat fchmodat2 lchown lchown32 creat open openat openat2 close close_range dup dup2 dup3
    fcntl fcntl64 flock fsync fdatasync sync syncfs sync_file_range fallocate fadvise64
    fadvise64_64 readahead cachestat truncate truncate64 ftruncate ftruncate64 link linkat symlink symlinkat
    unlink unlinkat rename renameat renameat2 mkdir mkdirat rmdir mknod mknodat readlink readlinkat
    stat stat64 lstat lstat64 fstat fstat64 fstatat64 newfstatat statx statfs statfs64 fstatfs
    fstatfs64 getdents getdents64 lseek _llseek umask utime utimes utimensat utimensat_time64
    futimesat name_to_handle_at copy_file_range sendfile sendfile64 splice tee vmsplice`),
  io: words(`
    read readv pread64 preadv preadv2 write writev pwrite64 pwritev pwritev2 ioctl pipe pipe2
    select _newselect pselect6 pselect6_time64 poll ppoll ppoll_time64 epoll_create epoll_create1
    epoll_ctl epoll_ctl_old epoll_wait epoll_wait_old epoll_pwait epoll_pwait2 eventfd eventfd2
    signalfd signalfd4 timerfd_create timerfd_gettime timerfd_gettime64 timerfd_settime
    timerfd_settime64 inotify_init inotify_init1 inotify_add_watch inotify_rm_watch fanotify_mark
    io_setup io_destroy io_submit io_cancel io_getevents io_pgetevents io_pgetevents_time64`),
  xattrs: words(`
    getxattr lgetxattr fgetxattr setxattr lsetxattr fsetxattr listxattr llistxattr flistxattr
    removexattr lremovexattr fremovexattr getxattrat setxattrat listxattrat removexattrat`),
  memory: words(`
    brk mmap mmap2 munmap mremap mprotect madvise mincore msync mlock mlock2 mlockall munlock
    munlockall remap_file_pages membarrier memfd_create memfd_secret pkey_alloc pkey_free
    pkey_mprotect mseal map_shadow_stack`),
  processes: words(`
    execve execveat exit exit_group fork vfork wait4 waitid waitpid kill tkill tgkill getpid getppid
    gettid getpgid setpgid getpgrp getsid setsid set_tid_address set_robust_list get_robust_list
    rseq prctl restart_syscall pidfd_open pidfd_send_signal process_mrelease getpriority setpriority
    ioprio_get ioprio_set sched_yield sched_getaffinity sched_setaffinity sched_getattr
    sched_setattr sched_getparam sched_setparam sched_getscheduler sched_setscheduler
    sched_get_priority_max sched_get_priority_min sched_rr_get_interval
    sched_rr_get_interval_time64 get_thread_area set_thread_area getcpu getrlimit ugetrlimit
    setrlimit prlimit64 getrusage times sysinfo uname getrandom seccomp landlock_create_ruleset
    landlock_add_rule landlock_restrict_self listmount statmount uretprobe riscv_hwprobe`),
  credentials: words(`
    getuid getuid32 geteuid geteuid32 getgid getgid32 getegid getegid32 getresuid getresuid32
    getresgid getresgid32 getgroups getgroups32 setuid setuid32 setgid setgid32 setreuid setreuid32
    setregid setregid32 setresuid setresuid32 setresgid setresgid32 setfsuid setfsuid32 setfsgid
    setfsgid32 setgroups setgroups32 capget capset`),
  signals: words(`
    rt_sigaction rt_sigprocmask rt_sigpending rt_sigqueueinfo rt_tgsigqueueinfo rt_sigreturn
    rt_sigsuspend rt_sigtimedwait rt_sigtimedwait_time64 sigaltstack sigprocmask sigreturn pause
    alarm`),
  time: words(`
    time gettimeofday clock_gettime clock_gettime64 clock_getres clock_getres_time64 clock_nanosleep
    clock_nanosleep_time64 nanosleep adjtimex clock_adjtime clock_adjtime64 getitimer setitimer
    timer_create timer_delete timer_getoverrun timer_gettime timer_gettime64 timer_settime
    timer_settime64 futex futex_time64 futex_waitv futex_wait futex_wake futex_requeue`),
  network: words(`
    socketpair socketcall bind connect listen accept accept4 getsockname getpeername getsockopt
    setsockopt shutdown send sendto sendmsg sendmmsg recv recvfrom recvmsg recvmmsg recvmmsg_time64`),
  ipc: words(`
    ipc msgget msgctl msgsnd msgrcv semget semctl semop semtimedop semtimedop_time64 shmget shmctl
    shmat shmdt mq_open mq_unlink mq_getsetattr mq_notify mq_timedsend mq_timedsend_time64
    mq_timedreceive mq_timedreceive_time64`),
  // Since Linux 4.8 seccomp runs after ptrace, so ptrace can no longer be used to bypass it.
  tracing: words('ptrace process_vm_readv process_vm_writev'),
};

/** Allowed only with the capability that gives them meaning (Docker's per-capability grants). */
const WITH_CAP: Array<[cap: string, names: string[]]> = [
  ['CAP_DAC_READ_SEARCH', ['open_by_handle_at']],
  [
    'CAP_SYS_ADMIN',
    words(`
      bpf clone clone3 fanotify_init fsconfig fsmount fsopen fspick lookup_dcookie lsm_get_self_attr
      lsm_list_modules lsm_set_self_attr mount mount_setattr move_mount open_tree perf_event_open quotactl quotactl_fd setdomainname sethostname setns syslog
      umount umount2 unshare`),
  ],
  ['CAP_SYS_BOOT', ['reboot']],
  ['CAP_SYS_CHROOT', ['chroot']],
  ['CAP_SYS_MODULE', words('init_module finit_module delete_module')],
  ['CAP_SYS_PACCT', ['acct']],
  ['CAP_SYS_PTRACE', words('kcmp pidfd_getfd process_madvise process_vm_readv process_vm_writev ptrace')],
  ['CAP_SYS_RAWIO', words('iopl ioperm')],
  ['CAP_SYS_TIME', words('settimeofday stime clock_settime clock_settime64')],
  ['CAP_SYS_TTY_CONFIG', ['vhangup']],
  ['CAP_SYS_NICE', words('get_mempolicy set_mempolicy set_mempolicy_home_node mbind')],
  ['CAP_SYSLOG', ['syslog']],
  ['CAP_BPF', ['bpf']],
  ['CAP_PERFMON', ['perf_event_open']],
];

/** Architecture-specific allowances, by Go's GOARCH-style family names. */
const FOR_ARCH: Array<[families: string[], names: string[]]> = [
  [['amd64', 'x32'], ['arch_prctl']],
  [['amd64', 'x32', 'x86'], ['modify_ldt']],
  [['arm', 'arm64'], words('arm_fadvise64_64 arm_sync_file_range sync_file_range2 breakpoint cacheflush set_tls')],
];

/** CLONE_NEWNS|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET|NEWCGROUP: clone may create no namespace. */
export const CLONE_NAMESPACE_FLAGS = 0x7e020000;
/** personality(2) domains a container may switch to: PER_LINUX, PER_LINUX32, UNAME26, UNAME26|PER_LINUX32, and the 0xffffffff query. */
export const PERSONALITY_ALLOWED = [0x0, 0x8, 0x20000, 0x20008, 0xffffffff];
/** Socket families refused: AF_ALG (38, the kernel's crypto API) and AF_VSOCK (40, which reaches the host). */
export const SOCKET_FAMILIES_DENIED = [38, 40] as const;
const ENOSYS = 38;

export interface DockerDefaultOptions {
  /** Architecture family of the host (process.arch names). Default: this host's. */
  arch?: 'x64' | 'arm64';
  /** Capabilities the container holds. Default: Docker's default set. */
  capabilities?: string[];
}

export const DOCKER_DEFAULT_CAPABILITIES = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_MKNOD',
  'CAP_NET_RAW',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETFCAP',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
  'CAP_AUDIT_WRITE',
];

/** The profile as Docker would hand it to the runtime for a container with these capabilities. */
export function dockerDefaultSeccomp(opts: DockerDefaultOptions = {}): LinuxSeccomp {
  const arch = opts.arch ?? (process.arch === 'arm64' ? 'arm64' : 'x64');
  const caps = new Set(opts.capabilities ?? DOCKER_DEFAULT_CAPABILITIES);
  const family = arch === 'x64' ? 'amd64' : 'arm64';
  const architectures: LinuxSeccompArch[] =
    arch === 'x64' ? ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'] : ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM'];

  const allow = (names: string[], args?: LinuxSyscall['args']): LinuxSyscall => ({
    names,
    action: 'SCMP_ACT_ALLOW',
    ...(args ? { args } : {}),
  });
  const syscalls: LinuxSyscall[] = [allow(Object.values(ALWAYS).flat().sort())];
  // Every socket family but the refused ones: below 38, 39, above 40 (three ORed rules).
  syscalls.push(allow(['socket'], [{ index: 0, value: 38, op: 'SCMP_CMP_LT' }]));
  syscalls.push(allow(['socket'], [{ index: 0, value: 39, op: 'SCMP_CMP_EQ' }]));
  syscalls.push(allow(['socket'], [{ index: 0, value: 40, op: 'SCMP_CMP_GT' }]));
  for (const p of PERSONALITY_ALLOWED)
    syscalls.push(allow(['personality'], [{ index: 0, value: p, op: 'SCMP_CMP_EQ' }]));
  for (const [families, names] of FOR_ARCH) if (families.includes(family)) syscalls.push(allow(names));
  for (const [cap, names] of WITH_CAP) if (caps.has(cap)) syscalls.push(allow(names));
  if (!caps.has('CAP_SYS_ADMIN')) {
    // clone's flags are its first argument here (not on s390): no namespace flag may be set.
    syscalls.push(
      allow(['clone'], [{ index: 0, value: CLONE_NAMESPACE_FLAGS, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }]),
    );
    // clone3 passes its flags in memory, out of the filter's sight: say it does not exist.
    syscalls.push({ names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: ENOSYS });
  }
  return { defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: 1, architectures, syscalls };
}
