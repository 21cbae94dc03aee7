using Isolate.Security;
using Isolate.Tests.Support;

namespace Isolate.Tests.Unit;

/// <summary>Isolate's default filter against the reference: the default profile of docker's
/// lineage as installed here by podman's golang-github-containers-common
/// (/usr/share/containers/seccomp.json). Both go through Isolate's own compiler (the reference
/// through the reader of docker's profile format, for docker's default capabilities), both
/// programs run on the BPF interpreter, and every system call 0..470 is tried with the
/// argument values either profile names, on x86_64, i386 and x32. Every difference must be one
/// listed below with its reason; any other fails the test with the call and the arguments.</summary>
public sealed class SeccompParityTests
{
    private const string ReferencePath = "/usr/share/containers/seccomp.json";
    private const uint Allow = 0x7fff0000, Eperm = 0x00050001, Enosys = 0x00050026, Kill = 0x80000000;
    private const int LastSyscall = 470;

    /// <summary>Where Isolate (docker's profile) and containers-common 0.50 disagree, and why.
    /// Isolate follows docker's moby/profiles default.json; containers-common is older and
    /// more permissive in places.</summary>
    private static readonly (string Why, Func<string, ulong[], bool> Applies, uint Isolate, uint Reference)[] AllowedDifferences =
    [
        ("system calls newer than containers-common 0.50 (2022) that docker's profile has since allowed: libc calls them first and "
            + "falls back only on ENOSYS, so they are allowed",
            (name, _) => name is "cachestat" or "fchmodat2" or "map_shadow_stack" or "futex_wake" or "futex_wait" or "futex_requeue"
                or "mseal" or "futex_waitv" or "setxattrat" or "getxattrat" or "listxattrat" or "removexattrat" or "uretprobe",
            Allow, Enosys),
        ("AF_VSOCK: docker's profile refuses socket(AF_VSOCK) since vsock was found not to be network-namespaced (a --network none "
            + "container held a port in the host's vsock space); containers-common 0.50 predates that rule",
            (name, args) => name == "socket" && args[0] == DefaultSeccompProfile.AfVsock, Eperm, Allow),
        ("clone/clone3/unshare/setns and the mount calls without CAP_SYS_ADMIN: docker allows clone only without namespace flags "
            + "and clone3 not at all (ENOSYS: its flags are out of a filter's reach), mount and unshare only with CAP_SYS_ADMIN; "
            + "containers-common allows them all, leaving the refusal to capabilities",
            (name, args) => name is "unshare" or "mount" or "umount2" or "pivot_root" or "fsopen" or "fsconfig" or "fsmount" or "fspick"
                    or "open_tree" or "move_mount" or "mount_setattr" or "setns" or "sethostname" or "setdomainname"
                || (name == "clone" && (args[0] & DefaultSeccompProfile.NamespaceFlags) != 0),
            Eperm, Allow),
        ("clone3 without CAP_SYS_ADMIN: docker reports ENOSYS so that libc falls back to clone, whose flags the filter can see",
            (name, _) => name == "clone3", Enosys, Allow),
        ("pidfd_getfd: docker allows it only with CAP_SYS_PTRACE (it takes a file descriptor out of another process); "
            + "containers-common allows it",
            (name, _) => name is "pidfd_getfd", Eperm, Allow),
        ("syslog, reboot, mbind/set_mempolicy/get_mempolicy: docker allows them only with CAP_SYSLOG (or CAP_SYS_ADMIN), "
            + "CAP_SYS_BOOT and CAP_SYS_NICE, none in its default set; containers-common allows them and leaves the refusal to capabilities",
            (name, _) => name is "syslog" or "reboot" or "mbind" or "set_mempolicy" or "get_mempolicy", Eperm, Allow),
        ("keyctl: the kernel keyring is not namespaced, so docker's profile does not list keyctl (nor add_key, request_key); "
            + "containers-common allows keyctl",
            (name, _) => name == "keyctl", Eperm, Allow),
        ("vmsplice and io_pgetevents: containers-common 0.50 refuses them in its own EPERM rule; docker's profile allows both",
            (name, _) => name is "vmsplice" or "io_pgetevents", Allow, Eperm),
        ("listmount and statmount: refused (issue 14, as containers-common 0.50 does); docker's newest profile allows them, "
            + "which is a matter of listing the two names in DefaultSeccompProfile",
            (name, _) => name is "listmount" or "statmount", Eperm, Enosys),
        ("containers-common refuses what it does not list with ENOSYS (defaultErrnoRet 38); docker, and Isolate, with EPERM (defaultErrnoRet 1)",
            (_, _) => true, Eperm, Enosys),
    ];

    [Fact]
    public void The_default_filter_decides_every_system_call_as_the_reference_profile_does()
    {
        Assert.True(File.Exists(ReferencePath), $"{ReferencePath} is missing: install golang-github-containers-common (podman depends on it)");
        var reference = DockerSeccompProfile.Parse(File.ReadAllText(ReferencePath), Capabilities.DockerDefault, ReferencePath);
        var isolate = DefaultSeccompProfile.Build(Capabilities.DockerDefault, new Version(6, 1));
        var referenceProgram = SeccompCompiler.Compile(reference);
        var isolateProgram = SeccompCompiler.Compile(isolate);
        var names = SyscallTable.X86_64.ToDictionary(kv => kv.Value, kv => kv.Key);

        var unexplained = new List<string>();
        var used = new HashSet<string>();
        foreach (var args in Probes(isolate, reference))
        {
            for (int nr = 0; nr <= LastSyscall; nr++)
            {
                string name = names.GetValueOrDefault(nr, $"#{nr}");
                uint mine = BpfInterpreter.Run(isolateProgram, nr, BpfInterpreter.X86_64, args);
                uint theirs = BpfInterpreter.Run(referenceProgram, nr, BpfInterpreter.X86_64, args);
                if (mine == theirs)
                    continue;
                var why = AllowedDifferences.FirstOrDefault(d => d.Isolate == mine && d.Reference == theirs && d.Applies(name, args));
                if (why.Why is null && !unexplained.Any(u => u.StartsWith($"{name} ({nr}) ", StringComparison.Ordinal)))
                    unexplained.Add($"{name} ({nr}) args [{string.Join(", ", args.Select(a => $"0x{a:x}"))}]: Isolate {Describe(mine)}, reference {Describe(theirs)}");
                else if (why.Why is not null)
                    used.Add(why.Why);
            }
        }
        Assert.True(unexplained.Count == 0, "differences with no reason listed:\n" + string.Join("\n", unexplained));
        // and no reason is kept for a difference that no longer exists
        Assert.Equal([], AllowedDifferences.Select(d => d.Why).Where(w => !used.Contains(w)));
    }

    [Fact]
    public void Foreign_architectures_and_x32_numbers_are_decided_alike()
    {
        // Both compile through SeccompCompiler, which lets only the native x86_64 ABI through: an
        // i386 or x32 system call is killed, where docker's archMap (x86, x32 sub-architectures)
        // would look it up by that ABI's own numbers. Deliberate: Isolate carries no i386/x32
        // table, and a number of one ABI read as the other would slip past every rule.
        var reference = SeccompCompiler.Compile(DockerSeccompProfile.Parse(File.ReadAllText(ReferencePath), Capabilities.DockerDefault, ReferencePath));
        var isolate = SeccompCompiler.Compile(DefaultSeccompProfile.Build(Capabilities.DockerDefault));
        for (int nr = 0; nr <= LastSyscall; nr++)
        {
            Assert.Equal(Kill, BpfInterpreter.Run(isolate, nr, BpfInterpreter.I386));
            Assert.Equal(Kill, BpfInterpreter.Run(reference, nr, BpfInterpreter.I386));
            Assert.Equal(Kill, BpfInterpreter.Run(isolate, nr | 0x40000000));
            Assert.Equal(Kill, BpfInterpreter.Run(reference, nr | 0x40000000));
        }
    }

    [Theory]
    [InlineData(0x0UL, true)]
    [InlineData(0x8UL, true)]            // UNAME26
    [InlineData(0x20000UL, true)]        // PER_LINUX32
    [InlineData(0x20008UL, true)]
    [InlineData(0xffffffffUL, true)]     // query
    [InlineData(0x0400000UL, false)]     // READ_IMPLIES_EXEC
    [InlineData(0x0040000UL, false)]     // ADDR_NO_RANDOMIZE
    [InlineData(0x1ffffffffUL, false)]   // the high word counts
    public void Personality_takes_only_dockers_values(ulong persona, bool allowed)
    {
        var program = SeccompCompiler.Compile(DefaultSeccompProfile.Build(Capabilities.DockerDefault));
        Assert.Equal(allowed ? Allow : Eperm, BpfInterpreter.Run(program, SyscallTable.X86_64["personality"], args: persona));
    }

    [Fact]
    public void Socket_refuses_only_af_vsock()
    {
        var program = SeccompCompiler.Compile(DefaultSeccompProfile.Build(Capabilities.DockerDefault));
        int socket = SyscallTable.X86_64["socket"];
        foreach (ulong family in new ulong[] { 1, 2, 10, 16, 17, 38, 39, 41, 45 })
            Assert.Equal(Allow, BpfInterpreter.Run(program, socket, args: family));
        Assert.Equal(Eperm, BpfInterpreter.Run(program, socket, args: 40));
    }

    /// <summary>Argument vectors: zeros, the issue's values, and for every condition of either
    /// profile the value it names and its neighbours, alone and all of a rule's at once.</summary>
    private static IEnumerable<ulong[]> Probes(params SeccompProfile[] profiles)
    {
        var probes = new List<ulong[]> { new ulong[6] };
        void One(int index, ulong value)
        {
            var args = new ulong[6];
            args[index] = value;
            probes.Add(args);
        }
        const ulong Sigchld = 17, CloneNewUser = 0x10000000, CloneNewNs = 0x20000;
        foreach (ulong v in new ulong[] { 0x0, 0x8, 0x20000, 0x20008, 0xffffffff, 0x0400000, 0x0040000, 0x0440000, 2, 10, 40,
                     Sigchld, Sigchld | CloneNewUser, Sigchld | CloneNewNs, 0x80 | Sigchld, 0x003D0F00, (CloneNewUser << 32) | Sigchld })
            One(0, v);
        foreach (var rule in profiles.SelectMany(p => p.Rules).Where(r => r.Conditions.Count > 0))
        {
            var all = new ulong[6];
            foreach (var c in rule.Conditions)
            {
                ulong hit = c.Operator == SeccompOperator.MaskedEqual ? c.ValueTwo : c.Value;
                all[c.Index] = hit;
                foreach (ulong v in new[] { hit, hit + 1, hit - 1, c.Value, ~c.Value })
                    One(c.Index, v);
            }
            probes.Add(all);
        }
        return probes.DistinctBy(p => string.Join(",", p));
    }

    private static string Describe(uint ret) => ret switch
    {
        Allow => "allows",
        Kill => "kills",
        _ when (ret & 0xffff0000) == 0x00050000 => $"errno {ret & 0xffff}",
        _ => $"returns 0x{ret:x8}",
    };
}
