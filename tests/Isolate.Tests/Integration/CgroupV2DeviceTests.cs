using System.Diagnostics;
using Isolate.Cgroups;
using Isolate.Interop;
using Isolate.Spec;

namespace Isolate.Tests.Integration;

/// <summary>The cgroup v2 device program for real. This host is hybrid (v1 controllers, and a
/// cgroup2 without controllers at /sys/fs/cgroup/unified), but the kernel runs a device program
/// attached to a group of that cgroup2 for every process in the group, beside v1's devices
/// controller. So the v2 driver makes its group there, exactly as on a v2 host (CgroupV2.Create
/// on the real filesystem), and a shell moved into it tries the devices.</summary>
public sealed class CgroupV2DeviceTests : IDisposable
{
    private static readonly string? Unified = FindUnified();

    private readonly string _parent = $"isolate-test-v2devices-{Environment.ProcessId}-{Guid.NewGuid():N}"[..48];
    private readonly List<ContainerCgroup> _groups = [];

    private static string? FindUnified()
    {
        var layout = CgroupLayout.Detect();
        return layout.UnifiedRoot is { } root && Libc.GetEffectiveUserId() == 0 ? root : null;
    }

    public sealed class UnifiedFactAttribute : FactAttribute
    {
        public UnifiedFactAttribute()
        {
            if (Unified is null)
                Skip = "needs root and a cgroup2 mount (a v2 or hybrid host)";
        }
    }

    private static readonly DeviceRule DenyAll = new(false, 'a', null, null, "rwm");
    private static readonly DeviceRule AllowNull = new(true, 'c', 1, 3, "rwm");

    private ContainerCgroup Create(string name, params DeviceRule[] rules)
    {
        var cgroup = CgroupV2.Create(CgroupFilesystem.Instance, Unified!, _parent, name, new ResourceLimits { DeviceRules = rules },
            w => Assert.Fail("unexpected warning: " + w));
        _groups.Add(cgroup);
        return cgroup;
    }

    /// <summary>busybox sh joins the group, then runs <paramref name="script"/>: stdout and stderr together.</summary>
    private static string RunIn(ContainerCgroup cgroup, string script)
    {
        var start = new ProcessStartInfo("/bin/busybox") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string arg in new[] { "sh", "-c", $"echo $$ > {cgroup.Directories[0]}/cgroup.procs || exit 99; {script}" })
            start.ArgumentList.Add(arg);
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        string output = process.StandardOutput.ReadToEnd() + stderr.Result;
        process.WaitForExit();
        Assert.NotEqual(99, process.ExitCode);
        return output;
    }

    private const string Probe =
        "head -c 3 /dev/zero | wc -c; echo x > /dev/null && echo null-write-ok; cat /dev/null && echo null-read-ok; echo x > /dev/zero && echo zero-write-ok";

    [UnifiedFact]
    public void Deny_all_then_dev_null_blocks_dev_zero_until_an_update_allows_reading_it()
    {
        var cgroup = Create("c1", DenyAll, AllowNull);

        string before = RunIn(cgroup, Probe);
        Assert.Contains("/dev/zero: Operation not permitted", before);
        Assert.Contains("null-write-ok", before);
        Assert.Contains("null-read-ok", before);
        Assert.DoesNotContain("zero-write-ok", before);

        cgroup.Update(new ResourceLimits { DeviceRules = [DenyAll, AllowNull, new(true, 'c', 1, 5, "r")] }, _ => { });
        string after = RunIn(cgroup, Probe);
        Assert.Contains("3\n", after);                                  // read from /dev/zero
        Assert.DoesNotContain("zero-write-ok", after);                  // but not written: only r
        Assert.Contains("/dev/zero: Operation not permitted", after);
        Assert.Contains("null-write-ok", after);

        // the update replaced the program: one attached, not two
        using var dir = FileDescriptor.Open(cgroup.Directories[0], OpenFlags.O_RDONLY | OpenFlags.O_DIRECTORY);
        Assert.Single(Bpf.QueryCgroupDevice(dir)!);

        // and an update without device rules leaves it
        cgroup.Update(new ResourceLimits(), _ => { });
        Assert.Contains("3\n", RunIn(cgroup, "head -c 3 /dev/zero | wc -c"));
    }

    [UnifiedFact]
    public void Without_a_rule_for_every_device_only_the_named_access_is_taken_away()
    {
        // what --device /dev/zero:r makes: writes to that node denied, everything else as before
        var cgroup = Create("c2", new(false, 'c', 1, 5, "rw"), new(true, 'c', 1, 5, "r"));

        string output = RunIn(cgroup, Probe);
        Assert.Contains("3\n", output);
        Assert.Contains("null-write-ok", output);
        Assert.DoesNotContain("zero-write-ok", output);
        Assert.Contains("/dev/zero: Operation not permitted", output);
    }

    [UnifiedFact]
    public void A_program_the_verifier_refuses_is_one_line_with_the_verifiers_words()
    {
        var cgroup = Create("c3", DenyAll);
        // r0 = 2; exit: a device program may answer only 0 or 1
        byte[] bad = DeviceFilter.Encode([new(0xb7, 0, 0, 0, 2), new(0x95, 0, 0, 0, 0)]);

        var error = Assert.Throws<IsolateException>(() => CgroupFilesystem.Instance.SetDeviceProgram(cgroup.Directories[0], bad));

        Assert.StartsWith($"cgroup v2 device rules: load the eBPF program for {cgroup.Directories[0]}: Invalid argument; the verifier said: ", error.Message);
        Assert.Contains("R0", error.Message);
        Assert.DoesNotContain("\n", error.Message);
    }

    public void Dispose()
    {
        foreach (var cgroup in _groups)
        {
            cgroup.KillAll();
            cgroup.Remove();
        }
        if (Unified != null && Directory.Exists(Path.Combine(Unified, _parent)))
            Directory.Delete(Path.Combine(Unified, _parent));
    }
}

/// <summary>The whole path on a pure cgroup v2 host: tests/v2-device-check.sh (what the lead
/// runs on a v2 machine) inside a VM (Support/QemuVm) whose /init mounts only the unified
/// hierarchy, with the built binary: `isolate run --device` and OCI bundles with device rules.</summary>
public sealed class CgroupV2DeviceVmTests(Support.BusyboxRootfs rootfs) : Support.ContainerTest(rootfs)
{
    private static string CheckScript([System.Runtime.CompilerServices.CallerFilePath] string here = "") =>
        Path.GetFullPath(Path.Combine(Path.GetDirectoryName(here)!, "..", "..", "v2-device-check.sh"));

    [Support.VmFact]
    public void The_v2_device_check_passes_on_the_unified_hierarchy()
    {
        string init = string.Join('\n',
            "#!/bin/sh",
            "/bin/busybox --install -s /bin 2>/dev/null",
            "mount -t proc proc /proc",
            "mount -t devtmpfs dev /dev",
            "mount -t sysfs sys /sys",
            "mount -t cgroup2 none /sys/fs/cgroup",
            "mount -t tmpfs tmp /tmp",
            "mkdir -p /mnt /run", // where isolate stages a container (the rootfs is under /tmp)
            "cat > /v2-device-check.sh <<'V2_DEVICE_CHECK'",
            File.ReadAllText(CheckScript()).TrimEnd('\n'),
            "V2_DEVICE_CHECK",
            "sh /v2-device-check.sh /isolate /bin/busybox 2>&1 | while IFS= read -r line; do echo \"@@ $line\"; done",
            "poweroff -f");

        var boot = Support.QemuVm.Run(Rootfs, init);
        string report = string.Join('\n', boot.Report);

        Assert.True(boot.Report.Any(l => l.StartsWith("INFO cgroup v2 at /sys/fs/cgroup", StringComparison.Ordinal)), report + "\n" + boot.Console);
        var checks = boot.Report.Where(l => l.StartsWith("PASS ", StringComparison.Ordinal) || l.StartsWith("FAIL ", StringComparison.Ordinal)).ToList();
        Assert.True(checks.Count == 8, report);
        Assert.All(checks, line => Assert.True(line.StartsWith("PASS ", StringComparison.Ordinal), report));
        Assert.Contains("ALL PASS", boot.Report);
    }
}
