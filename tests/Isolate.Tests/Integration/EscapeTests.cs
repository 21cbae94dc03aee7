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
    public void X32_system_calls_are_killed_by_architecture()
    {
        // x32 numbers (bit 30 set) would slip past every x86_64 rule
        Assert.Equal("killed SYS", Probe("x32"));
    }

    [I386Fact]
    public void I386_system_calls_are_killed_by_architecture()
    {
        // i386 numbers (int 0x80) would slip past every x86_64 rule
        Assert.Equal("killed SYS", Probe("i386"));
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

    // A "#!/proc/self/exe" command: SelfExeTests (the runtime's binary it reaches is a read-only copy)

    [ContainerFact]
    public void The_containers_exe_links_lead_to_its_own_programs_never_to_isolate()
    {
        // CVE-2019-5736 by the other road: an fd on /proc/PID/exe of a runtime process. Only
        // the container's own processes are there, and their exe is the container's program.
        string before = Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(IsolateBinary.Path)));
        var result = Sh("readlink /proc/1/exe; echo /proc/[0-9]*; probe write-exe");
        Assert.True(result.ExitCode == 0, result.ToString());
        // PID 1 is busybox sh, the only process while it expands the glob itself; the probe's
        // own exe, opened for writing, is busy - and it is the container's file anyway
        Assert.Equal("/bin/busybox\n/proc/1\nerrno ETXTBSY\n", result.Stdout);
        Assert.Equal(before, Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(IsolateBinary.Path))));
    }

    [ContainerTheory]
    [InlineData("1000")]
    [InlineData("0")]
    public void The_setup_is_not_dumpable_so_the_containers_user_cannot_trace_it(string uid)
    {
        // The shim, already the container's user with the container's capabilities and about
        // to exec, is held by `create` until `start`. A process with the same uid and
        // capabilities - any process of the container's - cannot read its memory or
        // environment, or trace it: only because it is not dumpable.
        string work = Own(Directory.CreateTempSubdirectory("isolate-dumpable-").FullName);
        string bundle = Path.Combine(work, "bundle"), state = Path.Combine(work, "state");
        Directory.CreateDirectory(bundle);
        var config = OciBundleWriter.Start(bundle, Rootfs.Path, ["true"]);
        config["process"]!["user"]!["uid"] = int.Parse(uid);
        config["process"]!["user"]!["gid"] = int.Parse(uid);
        OciBundleWriter.Save(bundle, config);
        string id = "dumpable-" + uid;
        try
        {
            var create = IsolateBinary.RunFromShell($"exec \"$ISOLATE\" --root {state} create --bundle {bundle} {id} </dev/null >{work}/out 2>&1");
            Assert.True(create.ExitCode == 0, create.ToString());
            int shim = (int)System.Text.Json.Nodes.JsonNode.Parse(IsolateBinary.Run("--root", state, "state", id).Stdout)!["pid"]!;
            var read = ReadAsContainerUser(shim, uid);

            Assert.Equal(uid, StatusUid(read.Stdout));
            Assert.Contains($"cat: /proc/{shim}/environ: Permission denied", read.Stderr);
        }
        finally
        {
            IsolateBinary.Run("--root", state, "delete", "--force", id);
            Directory.Delete(work, recursive: true);
        }
    }

    /// <summary>As the container's uid with docker's capabilities (setpriv), on the host: the
    /// shim's uid from /proc/PID/status (readable by all), then its environment (needs ptrace
    /// access).</summary>
    private static RunResult ReadAsContainerUser(int pid, string uid) => IsolateBinary.RunToEnd(new System.Diagnostics.ProcessStartInfo("setpriv",
        ["--reuid", uid, "--regid", uid, "--clear-groups",
         "--bounding-set", "-all,+chown,+dac_override,+fowner,+fsetid,+kill,+setgid,+setuid,+setpcap,+net_bind_service,+net_raw,+sys_chroot,+mknod,+audit_write,+setfcap",
         "sh", "-c", $"grep '^Uid:' /proc/{pid}/status; cat /proc/{pid}/environ"])
    { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true });

    private static string StatusUid(string statusLine) => statusLine.Split('\t', StringSplitOptions.RemoveEmptyEntries).ElementAtOrDefault(1) ?? "";

    [ContainerFact]
    public void Ordinary_programs_still_work_under_the_defaults()
    {
        var result = Sh("httpd -p 127.0.0.1:8080 -h /etc && wget -q -O - http://127.0.0.1:8080/not-executable && ls /bin/sh && ps | wc -l && chroot / true && echo fine");
        Assert.Equal(0, result.ExitCode);
        Assert.StartsWith("just text\n/bin/sh\n", result.Stdout);
        Assert.EndsWith("fine\n", result.Stdout);
    }
}

/// <summary>A container test that needs the kernel to run i386 system calls (int 0x80) at all:
/// some kernels (IA32 emulation off, or a hypervisor without it) kill them with SIGSEGV before
/// any filter sees them, and then there is nothing for the filter to stop. Asked of the probe
/// on the host, outside any container.</summary>
public sealed class I386FactAttribute : FactAttribute
{
    public I386FactAttribute()
    {
        if (!Environment.IsPrivilegedProcess)
        {
            Skip = "needs root: containers create namespaces and mounts";
            return;
        }
        string probe = Path.Combine(IsolateBinary.RepoRoot, "build", "native", "probe");
        if (!File.Exists(probe))
            return; // the test itself says what is missing
        var info = new System.Diagnostics.ProcessStartInfo(probe, "i386") { RedirectStandardOutput = true };
        using var process = System.Diagnostics.Process.Start(info)!;
        string answer = process.StandardOutput.ReadToEnd().Trim();
        process.WaitForExit();
        if (answer != "exited 0")
            Skip = $"this kernel runs no i386 system calls (int 0x80 without a filter: {answer}): IA32 emulation is off here";
    }
}
