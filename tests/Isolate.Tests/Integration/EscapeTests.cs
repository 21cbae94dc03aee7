using Isolate.Tests.Support;

namespace Isolate.Tests.Integration;

/// <summary>The escape suite: each attempt runs inside a real container (native/test/probe.c
/// makes it) and must fail for the reason that matters - EPERM from the seccomp filter, a
/// missing capability, a killed foreign-ABI call - not just fail. Beside each, the attempt
/// without the protection, to show the test would notice if the protection went away.</summary>
public sealed class EscapeTests(BusyboxRootfs rootfs) : ContainerTest(rootfs)
{
    private string Probe(string attempt, params string[] options)
    {
        var result = RunIn(options, "probe", attempt);
        Assert.True(result.ExitCode == 0, result.ToString());
        return result.Stdout.Trim();
    }

    [ContainerTheory]
    [InlineData("keyctl")]            // the kernel keyring is shared by every namespace
    [InlineData("add_key")]
    [InlineData("kexec_load")]
    [InlineData("init_module")]
    [InlineData("bpf")]
    [InlineData("perf_event_open")]
    [InlineData("open_by_handle_at")] // the "shocker" escape
    [InlineData("swapon")]
    [InlineData("reboot")]
    [InlineData("settimeofday")]
    [InlineData("io_uring_setup")]
    [InlineData("mount")]
    [InlineData("unshare-mount")]
    [InlineData("unshare-user")]      // a user namespace would give back every capability inside it
    [InlineData("clone-newuser")]
    public void Dangerous_system_calls_fail_with_EPERM_from_the_filter(string attempt)
    {
        Assert.Equal("errno EPERM", Probe(attempt));
    }

    [ContainerFact]
    public void Without_the_filter_those_calls_reach_the_kernel()
    {
        // the kernel answers for itself: these are what the filter stands in front of
        Assert.Equal("errno ENOKEY", Probe("keyctl", "--security-opt", "seccomp=unconfined"));
        Assert.Equal("ok", Probe("unshare-user", "--security-opt", "seccomp=unconfined"));
    }

    [ContainerFact]
    public void Clone3_reports_ENOSYS_so_libc_falls_back_to_a_clone_the_filter_can_read()
    {
        Assert.Equal("errno ENOSYS", Probe("clone3"));
    }

    [ContainerFact]
    public void Foreign_abi_system_calls_are_killed_by_architecture()
    {
        // i386 (int 0x80) and x32 numbers would slip past every x86_64 rule
        Assert.Equal("killed SYS", Probe("i386"));
        Assert.Equal("killed SYS", Probe("x32"));
        Assert.Equal("exited 0", Probe("i386", "--security-opt", "seccomp=unconfined"));
    }

    [ContainerFact]
    public void Mount_needs_sys_admin_and_with_it_the_filter_lets_mount_through()
    {
        Assert.Equal("errno EPERM", Probe("mount", "--security-opt", "seccomp=unconfined")); // no CAP_SYS_ADMIN
        Assert.Equal("ok", Probe("mount", "--cap-add", "SYS_ADMIN"));                        // filter and caps agree
    }

    [ContainerFact]
    public void The_container_has_no_controlling_terminal_to_push_input_into()
    {
        // CVE-2017-5226: TIOCSTI on the caller's terminal. The container is a session of its
        // own: /dev/tty is no terminal of its, and TIOCSTI is refused.
        Assert.Equal("errno ENXIO", Probe("tty"));
        var onTerminal = IsolateBinary.RunFromShell(
            $"script -qec '\"$ISOLATE\" run --rootfs {Rootfs.Path} -- probe tiocsti' /dev/null");
        Assert.Contains("errno EPERM", onTerminal.Stdout); // a terminal, but not its controlling one
    }

    [ContainerFact]
    public void No_new_privileges_keeps_a_setuid_binary_from_raising_the_user()
    {
        Assert.Equal("euid 1000", Probe("euid-suid", "-u", "1000"));
        Assert.Equal("euid 0", Probe("euid-suid", "-u", "1000", "--security-opt", "no-new-privileges=false"));
    }

    [ContainerTheory]
    [InlineData("#!/proc/self/exe\n")]
    [InlineData("#!/proc/1/exe\n")]
    [InlineData("#! /proc/self/root/proc/self/exe -x\n")]
    public void A_script_cannot_run_isolates_own_binary_as_its_interpreter(string shebang)
    {
        // CVE-2019-5736: the container would get the host's isolate binary to hold and overwrite
        string before = Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(IsolateBinary.Path)));
        using var root = Rootfs.CreateVariant();
        File.WriteAllText(root.HostPath("bin/entry"), shebang);
        File.SetUnixFileMode(root.HostPath("bin/entry"), (UnixFileMode)0x1ED);
        File.CreateSymbolicLink(root.HostPath("bin/chained"), "entry");
        File.WriteAllText(root.HostPath("bin/outer"), "#!/bin/chained\n");
        File.SetUnixFileMode(root.HostPath("bin/outer"), (UnixFileMode)0x1ED);

        foreach (string command in new[] { "/bin/entry", "entry", "outer", "/proc/self/exe" })
        {
            var result = IsolateBinary.Run(["run", "--rootfs", root.Path, "--", command], stdin: null);
            Assert.Equal(126, result.ExitCode);
            Assert.Contains("Isolate's own binary; refused", result.Stderr);
        }
        Assert.Equal(before, Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(IsolateBinary.Path))));
    }

    [ContainerFact]
    public void Ordinary_programs_still_work_under_the_defaults()
    {
        var result = Sh("httpd -p 127.0.0.1:8080 -h /etc && wget -q -O - http://127.0.0.1:8080/not-executable && ls /bin/sh && ps | wc -l && chroot / true && echo fine");
        Assert.Equal(0, result.ExitCode);
        Assert.StartsWith("just text\n/bin/sh\n", result.Stdout);
        Assert.EndsWith("fine\n", result.Stdout);
    }
}
