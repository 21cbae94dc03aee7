using Isolate.Interop;

namespace Isolate.Security;

/// <summary>Isolate's default filter for `isolate run`: docker's default seccomp profile
/// (moby/profiles seccomp/default.json), rule for rule, for x86_64. It is an allow-list: the
/// system calls below are allowed, some only with arguments docker allows or with the
/// capability docker asks for, and everything else fails with EPERM (docker's defaultErrnoRet).
/// So a system call added to the kernel later is refused until it is listed here.
/// tests/Isolate.Tests/Unit/SeccompParityTests.cs compiles this and the installed reference
/// profile and compares their decisions on every system call.</summary>
public static class DefaultSeccompProfile
{
    /// <summary>CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER |
    /// CLONE_NEWPID | CLONE_NEWNET (docker's 2114060288). CLONE_NEWTIME (0x80) cannot be given
    /// to clone(): its low byte is the exit signal.</summary>
    public const ulong NamespaceFlags = 0x7E020000;

    /// <summary>AF_VSOCK: vsock is not network-namespaced, so a container with no network
    /// would still reach (and hold ports in) the host's vsock space.</summary>
    public const ulong AfVsock = 40;

    /// <summary>The personality(2) values docker allows: PER_LINUX, PER_LINUX | UNAME26,
    /// PER_LINUX32, PER_LINUX32 | UNAME26, and 0xffffffff (a query). Flags such as
    /// ADDR_NO_RANDOMIZE and READ_IMPLIES_EXEC are refused.</summary>
    public static readonly ulong[] PersonalityValues = [0x0, 0x8, 0x20000, 0x20008, 0xffffffff];

    /// <summary>Allowed with any arguments (docker's first rule, its x86_64 names, plus
    /// arch_prctl and modify_ldt, which docker allows on amd64). Not listed, as in docker's
    /// profile: the kernel keyring, kexec, userfaultfd, io_uring, swapon/off, and the
    /// capability-gated calls below.</summary>
    private static readonly string[] Allowed =
    [
            "accept", "accept4", "access", "adjtimex", "alarm", "bind", "brk", "cachestat", "capget", "capset",
            "chdir", "chmod", "chown", "clock_adjtime", "clock_getres", "clock_gettime", "clock_nanosleep", "close",
            "close_range", "connect", "copy_file_range", "creat", "dup", "dup2", "dup3", "epoll_create",
            "epoll_create1", "epoll_ctl", "epoll_ctl_old", "epoll_pwait", "epoll_pwait2", "epoll_wait",
            "epoll_wait_old", "eventfd", "eventfd2", "execve", "execveat", "exit", "exit_group", "faccessat",
            "faccessat2", "fadvise64", "fallocate", "fanotify_mark", "fchdir", "fchmod", "fchmodat", "fchmodat2",
            "fchown", "fchownat", "fcntl", "fdatasync", "fgetxattr", "flistxattr", "flock", "fork", "fremovexattr",
            "fsetxattr", "fstat", "fstatfs", "fsync", "ftruncate", "futex", "futex_requeue", "futex_wait",
            "futex_waitv", "futex_wake", "futimesat", "getcpu", "getcwd", "getdents", "getdents64", "getegid",
            "geteuid", "getgid", "getgroups", "getitimer", "getpeername", "getpgid", "getpgrp", "getpid", "getppid",
            "getpriority", "getrandom", "getresgid", "getresuid", "getrlimit", "get_robust_list", "getrusage",
            "getsid", "getsockname", "getsockopt", "get_thread_area", "gettid", "gettimeofday", "getuid", "getxattr",
            "getxattrat", "inotify_add_watch", "inotify_init", "inotify_init1", "inotify_rm_watch", "io_cancel",
            "ioctl", "io_destroy", "io_getevents", "io_pgetevents", "ioprio_get", "ioprio_set", "io_setup",
            "io_submit", "kill", "landlock_add_rule", "landlock_create_ruleset", "landlock_restrict_self", "lchown",
            "lgetxattr", "link", "linkat", "listen", "listxattr", "listxattrat", "llistxattr", "lremovexattr",
            "lseek", "lsetxattr", "lstat", "madvise", "map_shadow_stack", "membarrier", "memfd_create",
            "memfd_secret", "mincore", "mkdir", "mkdirat", "mknod", "mknodat", "mlock", "mlock2", "mlockall", "mmap",
            "mprotect", "mq_getsetattr", "mq_notify", "mq_open", "mq_timedreceive", "mq_timedsend", "mq_unlink",
            "mremap", "mseal", "msgctl", "msgget", "msgrcv", "msgsnd", "msync", "munlock", "munlockall", "munmap",
            "name_to_handle_at", "nanosleep", "newfstatat", "open", "openat", "openat2", "pause", "pidfd_open",
            "pidfd_send_signal", "pipe", "pipe2", "pkey_alloc", "pkey_free", "pkey_mprotect", "poll", "ppoll",
            "prctl", "pread64", "preadv", "preadv2", "prlimit64", "process_mrelease", "pselect6", "pwrite64",
            "pwritev", "pwritev2", "read", "readahead", "readlink", "readlinkat", "readv", "recvfrom", "recvmmsg",
            "recvmsg", "remap_file_pages", "removexattr", "removexattrat", "rename", "renameat", "renameat2",
            "restart_syscall", "rmdir", "rseq", "rt_sigaction", "rt_sigpending", "rt_sigprocmask", "rt_sigqueueinfo",
            "rt_sigreturn", "rt_sigsuspend", "rt_sigtimedwait", "rt_tgsigqueueinfo", "sched_getaffinity",
            "sched_getattr", "sched_getparam", "sched_get_priority_max", "sched_get_priority_min",
            "sched_getscheduler", "sched_rr_get_interval", "sched_setaffinity", "sched_setattr", "sched_setparam",
            "sched_setscheduler", "sched_yield", "seccomp", "select", "semctl", "semget", "semop", "semtimedop",
            "sendfile", "sendmmsg", "sendmsg", "sendto", "setfsgid", "setfsuid", "setgid", "setgroups", "setitimer",
            "setpgid", "setpriority", "setregid", "setresgid", "setresuid", "setreuid", "setrlimit",
            "set_robust_list", "setsid", "setsockopt", "set_thread_area", "set_tid_address", "setuid", "setxattr",
            "setxattrat", "shmat", "shmctl", "shmdt", "shmget", "shutdown", "sigaltstack", "signalfd", "signalfd4",
            "socketpair", "splice", "stat", "statfs", "statx", "symlink", "symlinkat", "sync", "sync_file_range",
            "syncfs", "sysinfo", "tee", "tgkill", "time", "timer_create", "timer_delete", "timer_getoverrun",
            "timer_gettime", "timer_settime", "timerfd_create", "timerfd_gettime", "timerfd_settime", "times",
            "tkill", "truncate", "umask", "uname", "unlink", "unlinkat", "uretprobe", "utime", "utimensat", "utimes",
            "vfork", "vmsplice", "wait4", "waitid", "write", "writev",
            "arch_prctl", "modify_ldt",
    ];

    /// <summary>Allowed only when the container holds the capability (docker's
    /// "includes": {"caps": [...]} rules).</summary>
    private static readonly (string Capability, string[] Syscalls)[] AllowedWithCapability =
    [
        ("DAC_READ_SEARCH", ["open_by_handle_at"]),
        ("SYS_ADMIN", [
            "bpf", "clone", "clone3", "fanotify_init", "fsconfig", "fsmount", "fsopen", "fspick", "lookup_dcookie",
            "lsm_get_self_attr", "lsm_list_modules", "lsm_set_self_attr", "mount", "mount_setattr", "move_mount",
            "open_tree", "perf_event_open", "quotactl", "quotactl_fd", "setdomainname", "sethostname", "setns",
            "syslog", "umount2", "unshare",
        ]),
        ("SYS_BOOT", ["reboot"]),
        ("SYS_CHROOT", ["chroot"]),
        ("SYS_MODULE", ["delete_module", "init_module", "finit_module"]),
        ("SYS_PACCT", ["acct"]),
        ("SYS_PTRACE", ["kcmp", "pidfd_getfd", "process_madvise", "process_vm_readv", "process_vm_writev", "ptrace"]),
        ("SYS_RAWIO", ["iopl", "ioperm"]),
        ("SYS_TIME", ["settimeofday", "clock_settime"]),
        ("SYS_TTY_CONFIG", ["vhangup"]),
        ("SYS_NICE", ["get_mempolicy", "mbind", "set_mempolicy", "set_mempolicy_home_node"]),
        ("SYSLOG", ["syslog"]),
        ("BPF", ["bpf"]),
        ("PERFMON", ["perf_event_open"]),
    ];

    /// <param name="kernel">The running kernel: before 4.8 ptrace could step past a seccomp
    /// filter, so there ptrace and process_vm_* need CAP_SYS_PTRACE (docker's minKernel 4.8).</param>
    public static SeccompProfile Build(ulong capabilities, Version? kernel = null)
    {
        bool Has(string cap) => (capabilities & (1UL << Capabilities.Number(cap))) != 0;
        var allow = SeccompAction.Allow;
        var rules = new List<SeccompRule> { new(Numbers(Allowed), allow, []) };
        if (kernel is null || kernel >= new Version(4, 8))
            rules.Add(new SeccompRule(Numbers(["process_vm_readv", "process_vm_writev", "ptrace"]), allow, []));
        rules.Add(new SeccompRule(Numbers(["socket"]), allow, [new SeccompCondition(0, SeccompOperator.NotEqual, AfVsock)]));
        foreach (ulong value in PersonalityValues)
            rules.Add(new SeccompRule(Numbers(["personality"]), allow, [new SeccompCondition(0, SeccompOperator.Equal, value)]));
        foreach (var (cap, syscalls) in AllowedWithCapability.Where(c => Has(c.Capability)))
            rules.Add(new SeccompRule(Numbers(syscalls), allow, []));
        if (!Has("SYS_ADMIN"))
        {
            // clone without a namespace flag (a user namespace above all); clone3 passes its
            // flags in memory, out of a filter's reach, so it reports ENOSYS and libc falls back to clone
            rules.Add(new SeccompRule(Numbers(["clone"]), allow, [new SeccompCondition(0, SeccompOperator.MaskedEqual, NamespaceFlags, 0)]));
            rules.Add(new SeccompRule(Numbers(["clone3"]), SeccompAction.Errno(Errno.ENOSYS), []));
        }
        return new SeccompProfile(SeccompAction.Errno(Errno.EPERM), rules);
    }

    private static int[] Numbers(IEnumerable<string> names) => names.Select(n => SyscallTable.X86_64[n]).ToArray();
}
