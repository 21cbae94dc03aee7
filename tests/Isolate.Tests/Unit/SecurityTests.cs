using Isolate.Security;
using Isolate.Tests.Support;

namespace Isolate.Tests.Unit;

/// <summary>Capabilities, users and seccomp as data: the filters are run through a BPF
/// interpreter, so what is checked is what the kernel will decide.</summary>
public sealed class SecurityTests
{
    private const uint Allow = 0x7fff0000, EpermRet = 0x00050001, EnosysRet = 0x00050026, Kill = 0x80000000;

    private static int Nr(string name) => SyscallTable.X86_64[name];

    [Fact]
    public void Dockers_default_capability_set_is_the_known_mask()
    {
        Assert.Equal(0xa80425fbUL, Capabilities.DockerDefault);
        Assert.Equal(["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP",
            "CAP_NET_BIND_SERVICE", "CAP_NET_RAW", "CAP_SYS_CHROOT", "CAP_MKNOD", "CAP_AUDIT_WRITE", "CAP_SETFCAP"], Capabilities.Describe(Capabilities.DockerDefault));
    }

    [Fact]
    public void Cap_add_and_drop_follow_dockers_rules()
    {
        ulong all = Capabilities.All(40);
        Assert.Equal(1UL << 12, Capabilities.Resolve(["NET_ADMIN"], ["ALL"], false, 40, all));
        Assert.Equal(Capabilities.DockerDefault | (1UL << 21), Capabilities.Resolve(["cap_sys_admin"], [], false, 40, all));
        Assert.Equal(all, Capabilities.Resolve([], [], true, 40, all));
        Assert.Equal(all & ~(1UL << 24), Capabilities.Resolve([], [], true, 40, all & ~(1UL << 24))); // only what is held
        Assert.Equal("unknown capability 'NET_TELEPORT': use a name from capabilities(7), such as NET_ADMIN or CAP_SYS_PTRACE, or ALL",
            Assert.Throws<IsolateException>(() => Capabilities.Resolve(["NET_TELEPORT"], [], false, 40, all)).Message);
    }

    private const string Passwd = "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n# comment\nweb:x:33:33::/var/www:/bin/sh\n";
    private const string Group = "root:x:0:\napp:x:1000:\nstaff:x:50:app,web\nwww:x:33:\n";

    [Fact]
    public void Users_resolve_from_the_given_files_as_docker_does()
    {
        Same(1000, 1000, [50], "/home/app", UserResolver.Resolve("app", [], Passwd, Group));
        Same(33, 50, [50], "/var/www", UserResolver.Resolve("web:staff", [], Passwd, Group));
        Same(1000, 33, [50], "/home/app", UserResolver.Resolve("1000:www", [], Passwd, Group));
        Same(5000, 0, [], "/", UserResolver.Resolve("5000", [], Passwd, Group));
        Same(5000, 7, [33, 99], "/", UserResolver.Resolve("5000:7", ["www", "99"], Passwd, Group));
        Same(0, 0, [], "/root", UserResolver.Resolve(null, [], Passwd, Group));
    }

    private static void Same(uint uid, uint gid, uint[] groups, string home, ProcessUser actual)
    {
        Assert.Equal((uid, gid, home), (actual.Uid, actual.Gid, actual.Home));
        Assert.Equal(groups, actual.Groups.ToArray());
    }

    [Theory]
    [InlineData("ghost", "unknown user 'ghost': it is not in the container's /etc/passwd; give a UID or add the user to the image")]
    [InlineData("app:ghosts", "unknown group 'ghosts': it is not in the container's /etc/group; give a GID or add the group to the image")]
    [InlineData(":1", "invalid --user ':1': use UID[:GID] or NAME[:GROUP]")]
    [InlineData("app:", "invalid --user 'app:': use UID[:GID] or NAME[:GROUP]")]
    public void Bad_users_are_one_line_errors(string user, string message) =>
        Assert.Equal(message, Assert.Throws<IsolateException>(() => UserResolver.Resolve(user, [], Passwd, Group)).Message);

    [Fact]
    public void The_default_filter_denies_the_dangerous_and_allows_the_ordinary()
    {
        var program = SeccompCompiler.Compile(DefaultSeccompProfile.Build(Capabilities.DockerDefault, new Version(6, 1)));

        foreach (string name in new[] { "keyctl", "add_key", "request_key", "kexec_load", "init_module", "bpf", "perf_event_open", "open_by_handle_at",
                     "mount", "umount2", "pivot_root", "setns", "unshare", "swapon", "reboot", "settimeofday", "io_uring_setup", "fsopen" })
            Assert.True(BpfInterpreter.Run(program, Nr(name)) == EpermRet, name);
        foreach (string name in new[] { "read", "write", "openat", "execve", "fork", "chroot", "ptrace", "socket", "setuid", "capset" })
            Assert.True(BpfInterpreter.Run(program, Nr(name)) == Allow, name);
        Assert.Equal(EnosysRet, BpfInterpreter.Run(program, Nr("clone3")));
    }

    [Fact]
    public void Clone_is_refused_only_with_a_namespace_flag()
    {
        var program = SeccompCompiler.Compile(DefaultSeccompProfile.Build(Capabilities.DockerDefault));
        const ulong SIGCHLD = 17, CLONE_THREAD_FLAGS = 0x003D0F00;
        Assert.Equal(Allow, BpfInterpreter.Run(program, Nr("clone"), args: SIGCHLD));
        Assert.Equal(Allow, BpfInterpreter.Run(program, Nr("clone"), args: CLONE_THREAD_FLAGS));
        // docker's mask; CLONE_NEWTIME (0x80) is not in it: clone() reads its low byte as the exit signal
        foreach (ulong flag in new ulong[] { 0x10000000, 0x20000000, 0x00020000, 0x40000000, 0x02000000, 0x04000000, 0x08000000 })
            Assert.Equal(EpermRet, BpfInterpreter.Run(program, Nr("clone"), args: SIGCHLD | flag));
        // the high word of the 64-bit argument is not confused with the flags
        Assert.Equal(Allow, BpfInterpreter.Run(program, Nr("clone"), args: (0x10000000UL << 32) | SIGCHLD));
    }

    [Fact]
    public void Capabilities_open_their_system_calls_as_in_dockers_profile()
    {
        ulong withAdmin = Capabilities.DockerDefault | (1UL << Capabilities.Number("SYS_ADMIN"));
        var program = SeccompCompiler.Compile(DefaultSeccompProfile.Build(withAdmin));
        Assert.Equal(Allow, BpfInterpreter.Run(program, Nr("mount")));
        Assert.Equal(Allow, BpfInterpreter.Run(program, Nr("clone"), args: 0x10000000UL | 17));
        Assert.Equal(EpermRet, BpfInterpreter.Run(program, Nr("reboot"))); // SYS_BOOT still missing
    }

    [Fact]
    public void Ptrace_is_denied_on_kernels_before_4_8()
    {
        var old = SeccompCompiler.Compile(DefaultSeccompProfile.Build(Capabilities.DockerDefault, new Version(4, 4)));
        Assert.Equal(EpermRet, BpfInterpreter.Run(old, Nr("ptrace")));
    }

    [Fact]
    public void Foreign_architectures_and_x32_numbers_are_killed()
    {
        var program = SeccompCompiler.Compile(DefaultSeccompProfile.Build(Capabilities.DockerDefault));
        Assert.Equal(Kill, BpfInterpreter.Run(program, 20, BpfInterpreter.I386));
        Assert.Equal(Kill, BpfInterpreter.Run(program, Nr("getpid") | 0x40000000));
    }

    [Theory]
    [InlineData("SCMP_CMP_EQ", 5UL, 0UL, new ulong[] { 5 }, new ulong[] { 4, 6, 5UL | (1UL << 32) })]
    [InlineData("SCMP_CMP_NE", 5UL, 0UL, new ulong[] { 4, 5UL | (1UL << 32) }, new ulong[] { 5 })]
    [InlineData("SCMP_CMP_LT", 5UL, 0UL, new ulong[] { 4, 0 }, new ulong[] { 5, 6, 1UL << 32 })]
    [InlineData("SCMP_CMP_LE", 5UL, 0UL, new ulong[] { 5, 4 }, new ulong[] { 6, 1UL << 32 })]
    [InlineData("SCMP_CMP_GT", 5UL, 0UL, new ulong[] { 6, 1UL << 32 }, new ulong[] { 5, 0 })]
    [InlineData("SCMP_CMP_GE", 5UL, 0UL, new ulong[] { 5, 1UL << 32 }, new ulong[] { 4 })]
    [InlineData("SCMP_CMP_MASKED_EQ", 0xF0UL, 0x30UL, new ulong[] { 0x35, 0x3F }, new ulong[] { 0x40, 0x05 })]
    public void Argument_conditions_compare_all_64_bits(string op, ulong value, ulong valueTwo, ulong[] match, ulong[] noMatch)
    {
        string json = $$"""
            { "defaultAction": "SCMP_ACT_ALLOW",
              "syscalls": [ { "names": ["personality"], "action": "SCMP_ACT_ERRNO", "errnoRet": 22,
                              "args": [ { "index": 0, "value": {{value}}, "valueTwo": {{valueTwo}}, "op": "{{op}}" } ] } ] }
            """;
        var program = SeccompCompiler.Compile(DockerSeccompProfile.Parse(json, 0, "test.json"));
        foreach (ulong arg in match)
            Assert.True(BpfInterpreter.Run(program, Nr("personality"), args: arg) == (0x00050000 | 22u), $"{op} {value}: {arg} should match");
        foreach (ulong arg in noMatch)
            Assert.True(BpfInterpreter.Run(program, Nr("personality"), args: arg) == Allow, $"{op} {value}: {arg} should not match");
    }

    [Fact]
    public void A_docker_profile_is_an_allow_list_with_capability_conditions()
    {
        const string json = """
            {
              "defaultAction": "SCMP_ACT_ERRNO",
              "defaultErrnoRet": 1,
              "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
              "syscalls": [
                { "names": ["read", "write", "exit_group", "no_such_call_in_this_kernel"], "action": "SCMP_ACT_ALLOW" },
                { "names": ["mount"], "action": "SCMP_ACT_ALLOW", "includes": { "caps": ["CAP_SYS_ADMIN"] } },
                { "names": ["ptrace"], "action": "SCMP_ACT_ALLOW", "excludes": { "caps": ["CAP_SYS_PTRACE"] } },
                { "names": ["kill"], "action": "SCMP_ACT_KILL_PROCESS" }
              ]
            }
            """;
        var plain = SeccompCompiler.Compile(DockerSeccompProfile.Parse(json, Capabilities.DockerDefault, "p.json"));
        var admin = SeccompCompiler.Compile(DockerSeccompProfile.Parse(json, Capabilities.DockerDefault | (1UL << 21) | (1UL << 19), "p.json"));

        Assert.Equal(Allow, BpfInterpreter.Run(plain, Nr("read")));
        Assert.Equal(EpermRet, BpfInterpreter.Run(plain, Nr("openat")));      // not listed: the default
        Assert.Equal(EpermRet, BpfInterpreter.Run(plain, Nr("mount")));       // includes CAP_SYS_ADMIN: not held
        Assert.Equal(Allow, BpfInterpreter.Run(admin, Nr("mount")));
        Assert.Equal(Allow, BpfInterpreter.Run(plain, Nr("ptrace")));
        Assert.Equal(EpermRet, BpfInterpreter.Run(admin, Nr("ptrace")));      // excluded when CAP_SYS_PTRACE is held
        Assert.Equal(Kill, BpfInterpreter.Run(plain, Nr("kill")));
    }

    [Theory]
    [InlineData("{", "seccomp profile p.json: line 1, byte 2: not valid JSON")]
    [InlineData("{}", "seccomp profile p.json: defaultAction is missing")]
    [InlineData("""{"defaultAction":"SCMP_ACT_MAYBE"}""", "seccomp profile p.json: defaultAction: unknown action 'SCMP_ACT_MAYBE'")]
    [InlineData("""{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":1,"op":"SCMP_CMP_ABOUT"}]}]}""",
        "seccomp profile p.json: syscalls[0].args[0].op: unknown operator 'SCMP_CMP_ABOUT'")]
    [InlineData("""{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ERRNO","args":[{"index":9,"value":1,"op":"SCMP_CMP_EQ"}]}]}""",
        "seccomp profile p.json: syscalls[0].args[0].index: 9 is not an argument (0 to 5)")]
    public void Bad_profiles_name_the_json_path(string json, string message) =>
        Assert.StartsWith(message, Assert.Throws<IsolateException>(() => DockerSeccompProfile.Parse(json, 0, "p.json")).Message);
}
