using Isolate.Interop;

namespace Isolate.Security;

/// <summary>Isolate's default filter, with the intent of docker's default profile: the system
/// calls a container has no business making - loading kernel code, changing the clock, the
/// kernel keyring, mounting, new namespaces, tracing other processes, rebooting - fail with
/// EPERM, unless the container holds the capability that would make them legitimate (as
/// docker's profile allows them with that capability). Everything else is allowed. x32 and
/// i386 system calls are killed (see SeccompCompiler).</summary>
public static class DefaultSeccompProfile
{
    // clone flags that create namespaces (CLONE_NEWNS .. CLONE_NEWCGROUP, CLONE_NEWTIME)
    private const ulong NamespaceFlags = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000 | 0x00000080;

    /// <summary>(system calls, the capability that allows them or null for never).</summary>
    private static readonly (string Capability, string[] Syscalls)[] Denied =
    [
        ("", [
            "add_key", "keyctl", "request_key",                     // the kernel keyring is not namespaced
            "kexec_load", "kexec_file_load",
            "create_module", "get_kernel_syms", "query_module", "nfsservctl",
            "userfaultfd", "uselib", "ustat", "sysfs", "_sysctl",
            "io_uring_setup", "io_uring_enter", "io_uring_register", // a large attack surface, as docker decided
        ]),
        ("SYS_MODULE", ["init_module", "finit_module", "delete_module"]),
        ("SYS_ADMIN", [
            "mount", "umount2", "pivot_root", "setns", "unshare", "swapon", "swapoff", "quotactl", "quotactl_fd",
            "fsopen", "fsconfig", "fsmount", "fspick", "open_tree", "move_mount", "mount_setattr",
            "fanotify_init", "lookup_dcookie", "bpf", "perf_event_open",
        ]),
        ("SYS_BOOT", ["reboot"]),
        ("SYS_TIME", ["settimeofday", "clock_settime", "clock_adjtime", "stime"]),
        ("SYS_RAWIO", ["iopl", "ioperm"]),
        ("SYS_PTRACE", ["kcmp", "process_vm_readv", "process_vm_writev", "pidfd_getfd"]),
        ("SYS_NICE", ["mbind", "set_mempolicy", "move_pages"]),
        ("SYS_PACCT", ["acct"]),
        ("SYSLOG", ["syslog"]),
        ("SYS_TTY_CONFIG", ["vhangup"]),
        ("DAC_READ_SEARCH", ["open_by_handle_at"]),
    ];

    /// <param name="kernel">The running kernel: before 4.8 ptrace could step past a seccomp
    /// filter, so there ptrace is denied too, as docker's profile does.</param>
    public static SeccompProfile Build(ulong capabilities, Version? kernel = null)
    {
        bool Has(string cap) => cap.Length > 0 && (capabilities & (1UL << Capabilities.Number(cap))) != 0;
        var rules = new List<SeccompRule>();
        var deny = SeccompAction.Errno(Errno.EPERM);
        foreach (var (cap, syscalls) in Denied.Where(d => !Has(d.Capability)))
            rules.Add(new SeccompRule(Numbers(syscalls), deny, []));
        if (kernel != null && kernel < new Version(4, 8) && !Has("SYS_PTRACE"))
            rules.Add(new SeccompRule(Numbers(["ptrace"]), deny, []));
        if (!Has("SYS_ADMIN"))
        {
            // clone: no new namespaces (a user namespace above all); clone3 passes its flags in
            // memory, out of a filter's reach, so it reports ENOSYS and libc falls back to clone
            rules.AddRange(CloneRules(deny));
            rules.Add(new SeccompRule(Numbers(["clone3"]), SeccompAction.Errno(Errno.ENOSYS), []));
        }
        return new SeccompProfile(SeccompAction.Allow, rules);
    }

    /// <summary>One rule per namespace flag: clone with that flag set is refused.</summary>
    private static IEnumerable<SeccompRule> CloneRules(SeccompAction deny)
    {
        for (int bit = 0; bit < 64; bit++)
        {
            ulong flag = 1UL << bit;
            if ((NamespaceFlags & flag) != 0)
                yield return new SeccompRule(Numbers(["clone"]), deny, [new SeccompCondition(0, SeccompOperator.MaskedEqual, flag, flag)]);
        }
    }

    private static int[] Numbers(IEnumerable<string> names) =>
        names.Where(SyscallTable.X86_64.ContainsKey).Select(n => SyscallTable.X86_64[n]).ToArray();
}
