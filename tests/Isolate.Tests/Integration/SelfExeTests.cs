using System.Security.Cryptography;
using Isolate.Tests.Support;

namespace Isolate.Tests.Integration;

/// <summary>CVE-2019-5736: a container gets Isolate's binary run inside it (a command that is a
/// "#!/proc/self/exe" script), keeps a handle on that process's /proc/PID/exe, and writes the
/// host's file once Isolate has exited. Every Isolate process that enters a container runs
/// from a copy nothing can open for writing (native/selfexe.c), so the write fails with EROFS
/// and the binary is unchanged. The binary under test is a copy of out/isolate in a temp
/// directory, never out/isolate itself: without the protection the attack does overwrite it.</summary>
public sealed class SelfExeTests : ContainerTest, IDisposable
{
    private readonly string _work;
    private readonly string _binary;
    private readonly string _state;

    public SelfExeTests(BusyboxRootfs rootfs) : base(rootfs)
    {
        _work = Own(Directory.CreateTempSubdirectory("isolate-selfexe-").FullName);
        _binary = Path.Combine(_work, "isolate");
        File.Copy(IsolateBinary.Path, _binary);
        _state = Path.Combine(_work, "state");
    }

    void IDisposable.Dispose()
    {
        foreach (string dir in Directory.Exists(_state) ? Directory.GetDirectories(_state) : [])
        {
            Copy("delete", "--force", Path.GetFileName(dir));
            Copy("rm", "-f", Path.GetFileName(dir));
        }
        Directory.Delete(_work, recursive: true);
        Dispose();
    }

    /// <summary>The copy under test, on the test's own state root.</summary>
    private RunResult Copy(params string[] args)
    {
        var info = IsolateBinary.StartInfo(["--root", _state, .. args]);
        info.FileName = _binary;
        return IsolateBinary.RunToEnd(info);
    }

    [System.Runtime.InteropServices.DllImport("libc", SetLastError = true)]
    private static extern int fstatvfs(Microsoft.Win32.SafeHandles.SafeFileHandle fd, byte[] buf);

    /// <summary>statvfs's f_flag (at byte 72 of struct statvfs on 64-bit Linux) has ST_RDONLY.</summary>
    private static bool IsReadOnlyMount(Microsoft.Win32.SafeHandles.SafeFileHandle fd)
    {
        var buf = new byte[112];
        Assert.Equal(0, fstatvfs(fd, buf));
        return (BitConverter.ToUInt64(buf, 72) & 1) != 0;
    }

    private string Hash() => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(_binary)));

    private static RootfsVariant WithSelfExeScript(BusyboxRootfs rootfs)
    {
        var root = rootfs.CreateVariant();
        File.Copy(rootfs.HostPath("bin/probe"), root.HostPath("bin/probe"));
        File.WriteAllText(root.HostPath("bin/entry"), "#!/proc/self/exe\n");
        File.SetUnixFileMode(root.HostPath("bin/entry"), (UnixFileMode)0x1ED);
        return root;
    }

    [ContainerFact(Needs = "/usr/bin/strace", Why = "to see the order of the execs and the runtime's first thread")]
    public void The_re_exec_comes_before_the_runtime_starts_so_that_it_starts_once()
    {
        // native/early.c: the exec from the read-only binary is the process's first act for a
        // verb that enters a container (after global options too), before the .NET runtime
        // starts its first thread; a verb that does not enter one never re-execs
        foreach (var (args, reexecs) in new (string[], bool)[]
        {
            (["--log-format", "text", "run", "--rootfs", Rootfs.Path, "--", "true"], true),
            // every global option that takes a value (GlobalOptions.Extract), --storage among them
            (["--storage", Path.Combine(_work, "images"), "--cdi-spec-dir", _work, "--nvidia-driver-root", _work, "--log", Path.Combine(_work, "log"), "run", "--rootfs", Rootfs.Path, "--", "true"], true),
            (["state", "nosuch"], false),
        })
        {
            string log = Path.Combine(_work, "strace.log");
            var info = new System.Diagnostics.ProcessStartInfo("/usr/bin/strace", ["-o", log, "-e", "trace=execve,execveat,clone3", _binary, "--root", _state, .. args])
            {
                RedirectStandardInput = true,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            IsolateBinary.RunToEnd(info);
            var calls = File.ReadAllLines(log).Where(l => l.StartsWith("execve", StringComparison.Ordinal) || l.StartsWith("clone3", StringComparison.Ordinal))
                .Select(l => l[..l.IndexOf('(')]).ToList();
            Assert.Equal("execve", calls[0]); // strace starting the binary
            if (reexecs)
                Assert.Equal("execveat", calls[1]); // before any thread
            else
                Assert.DoesNotContain("execveat", calls);
        }
    }

    [ContainerFact]
    public void A_container_that_gets_isolates_binary_run_inside_cannot_overwrite_it()
    {
        string before = Hash();
        using var root = WithSelfExeScript(Rootfs);
        string bundle = Path.Combine(_work, "bundle");
        Directory.CreateDirectory(bundle);
        // the probe waits for a foreign exe, holds it, and writes it once it is no longer
        // busy; CAP_DAC_OVERRIDE so that only the kernel's mount rule can stop it
        var config = OciBundleWriter.Start(bundle, root.Path, ["probe", "overwrite-runtime"]);
        foreach (string set in new[] { "bounding", "effective", "permitted" })
            config["process"]!["capabilities"]![set]!.AsArray().Add("CAP_DAC_OVERRIDE");
        OciBundleWriter.Save(bundle, config);
        string id = "selfexe-" + Guid.NewGuid().ToString("N")[..8];
        string output = Path.Combine(_work, "out");
        var info = IsolateBinary.StartInfo([]);
        info.FileName = "/bin/sh";
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add($"exec \"$ISOLATE\" --root {_state} create --bundle {bundle} {id} </dev/null >{output} 2>&1");
        info.Environment["ISOLATE"] = _binary;
        var create = IsolateBinary.RunToEnd(info);
        Assert.True(create.ExitCode == 0, create.ToString());
        var start = Copy("start", id);
        Assert.True(start.ExitCode == 0, start + File.ReadAllText(output));

        // exec's process runs the script: the kernel runs exec's own binary as its
        // interpreter, inside the container; again until the probe has caught one
        string Said() => File.ReadAllText(output).Trim();
        for (int i = 0; i < 50 && Said() == ""; i++)
        {
            var exec = Copy("exec", id, "/bin/entry");
            if (i == 0) // the probe is still waiting for it: it was Isolate that ran
                Assert.Contains("unknown command '/bin/entry'", exec.Stderr);
        }
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (Said() == "" && DateTime.UtcNow < deadline)
            Thread.Sleep(50);

        Assert.Equal("errno EROFS", Said());
        Assert.Equal(before, Hash());
    }

    [ContainerFact]
    public void The_container_init_and_the_monitor_run_from_a_read_only_copy_of_the_binary()
    {
        var run = Copy("run", "-d", "--init", "--name", "sealed", "--rootfs", Rootfs.Path, "--", "sh", "-c", "sleep 30");
        Assert.True(run.ExitCode == 0, run.ToString());
        var state = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(_state, "sealed", "state.json")))!;
        foreach (string key in new[] { "pid", "monitorPid" })
        {
            // the --init (PID 1 of the container) and the monitor are Isolate's processes:
            // their binary is a read-only bind that no mount namespace holds
            string pid = state[key]!.ToString();
            Assert.NotEqual(_binary, new FileInfo($"/proc/{pid}/exe").LinkTarget);
            using (var exe = File.OpenHandle($"/proc/{pid}/exe"))
                Assert.True(IsReadOnlyMount(exe), $"{key}'s binary is on a writable mount");
            Assert.DoesNotContain(File.ReadAllLines("/proc/self/mountinfo"), l => l.Contains(_work));
        }
        // ps and pgrep still know the monitor by its name, not by the fd it was exec'd from
        Assert.Equal("isolate", File.ReadAllText($"/proc/{state["monitorPid"]}/comm").Trim());
        var rm = Copy("rm", "-f", "sealed");
        Assert.True(rm.ExitCode == 0, rm.ToString());
    }

    [ContainerFact]
    public void A_command_that_is_a_self_exe_script_runs_the_read_only_copy_not_the_host_file()
    {
        // docker's face: the container's first process is then Isolate's binary, from the copy
        string before = Hash();
        using var root = WithSelfExeScript(Rootfs);
        var result = Copy("run", "--rootfs", root.Path, "--", "/bin/entry");
        Assert.Equal(125, result.ExitCode);
        Assert.Contains("unknown command '/bin/entry'", result.Stderr);
        Assert.Equal(before, Hash());
    }
}
