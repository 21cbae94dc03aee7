using System.Diagnostics;
using Isolate.Tests.Support;

namespace Isolate.Tests.Integration;

/// <summary>What a plain `isolate run --rootfs` container gets without asking, as docker's and
/// podman's do: a device cgroup that lets it make any node (CAP_MKNOD is among docker's default
/// capabilities) but open only the standard ones and its --device ones, and a PID limit of 2048.
/// Opening is checked from inside (the shell's own open, in a subshell: `(exec 3&lt;PATH)`); the limits, which the
/// container cannot see, from the host's side of its cgroup.</summary>
public sealed class DefaultConfinementTests(BusyboxRootfs rootfs) : ContainerTest(rootfs)
{
    private static bool IsV1 => Directory.Exists("/sys/fs/cgroup/pids") && !File.Exists("/sys/fs/cgroup/cgroup.controllers");

    /// <summary>A host block device this machine has (a loop device, else the first listed): "7 0".</summary>
    private static string HostBlockDevice()
    {
        var numbers = Directory.GetFileSystemEntries("/sys/dev/block").Select(Path.GetFileName).OrderBy(n => n!.StartsWith("7:", StringComparison.Ordinal) ? 0 : 1).First()!;
        return numbers.Replace(':', ' ');
    }

    /// <summary>Opens each node for reading, one line each: "PATH ok" or the shell's error.</summary>
    private static string OpenEach(params string[] paths) =>
        string.Join("; ", paths.Select(p => $"(exec 3<{p}) && echo '{p} ok'"));

    [ContainerFact]
    public void A_node_made_for_a_host_device_cannot_be_opened()
    {
        var result = Sh($"mknod /tmp/sda b {HostBlockDevice()} && echo made-b; mknod /tmp/kmsg c 1 11 && echo made-kmsg; " +
                        $"mknod /dev/tty0 c 4 0 && echo made-tty0; mknod /dev/console c 5 1 && echo made-console; " +
                        OpenEach("/tmp/sda", "/tmp/kmsg", "/dev/tty0", "/dev/console") + "; true");
        Assert.True(result.ExitCode == 0, result.ToString());
        // making them is allowed (docker allows mknod too), opening is not
        Assert.Equal("made-b\nmade-kmsg\nmade-tty0\nmade-console\n", result.Stdout);
        foreach (string node in new[] { "/tmp/sda", "/tmp/kmsg", "/dev/tty0", "/dev/console" })
            Assert.Matches($"{node}.*Operation not permitted", result.Stderr);
    }

    [ContainerFact]
    public void The_standard_nodes_stay_usable()
    {
        var result = Sh(OpenEach("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom") +
                        "; echo x > /dev/null && echo null-written; head -c 3 /dev/zero | wc -c; head -c 3 /dev/urandom | wc -c; " +
                        "(exec 4<>/dev/pts/ptmx) && echo ptmx ok; (exec 5<>/dev/ptmx) && echo ptmx-link ok");
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal("/dev/null ok\n/dev/zero ok\n/dev/full ok\n/dev/random ok\n/dev/urandom ok\nnull-written\n3\n3\nptmx ok\nptmx-link ok\n", result.Stdout);
        Assert.Equal("", result.Stderr);
    }

    [ContainerFact]
    public void The_terminal_of_a_t_container_opens_as_dev_tty()
    {
        using var terminal = new PseudoTerminal(24, 80);
        var info = new ProcessStartInfo("/bin/sh") { UseShellExecute = false };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add("exec setsid -w -c \"$@\" <\"$PTS\" >\"$PTS\" 2>&1");
        foreach (string arg in new[] { "sh", IsolateBinary.Path, "run", "-t", "--cgroup-parent", CgroupParent, "--rootfs", Rootfs.Path, "--",
                     "sh", "-c", "(exec 3<>/dev/tty) && echo tty-opened; echo x > /dev/tty && echo tty-written" })
            info.ArgumentList.Add(arg);
        info.Environment["PTS"] = terminal.SlavePath;
        using var isolate = Process.Start(info)!;
        Assert.True(isolate.WaitForExit(TimeSpan.FromSeconds(30)), $"isolate did not exit; the terminal shows:\n{terminal.Output}");
        Assert.True(isolate.ExitCode == 0, terminal.Output);
        terminal.WaitFor("tty-written");
        Assert.Contains("tty-opened", terminal.Output);
    }

    [ContainerFact]
    public void A_device_given_with_r_is_readable_and_not_writable()
    {
        // a loop device (/dev/kmsg would need CAP_SYSLOG to read, whatever the cgroup says)
        var result = Sh(OpenEach("/dev/xvda") + "; if echo x > /dev/xvda; then echo written; fi", "--device", "/dev/loop0:/dev/xvda:r");
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal("/dev/xvda ok\n", result.Stdout);
        Assert.Matches("/dev/xvda.*Operation not permitted", result.Stderr);
    }

    [ContainerFact]
    public void A_device_given_whole_opens_while_the_same_kind_of_node_made_by_hand_does_not()
    {
        // c 4:0 allowed by --device; c 4:1 (tty1), made inside, is not
        var result = Sh("mknod /dev/tty1 c 4 1; " + OpenEach("/dev/xtty0", "/dev/tty1") + "; true", "--device", "/dev/tty0:/dev/xtty0");
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal("/dev/xtty0 ok\n", result.Stdout);
        Assert.Matches("/dev/tty1.*Operation not permitted", result.Stderr);
    }

    [ContainerFact]
    public void A_device_cgroup_rule_lets_the_container_open_nodes_it_makes_of_that_kind()
    {
        // docker's --device-cgroup-rule: c 4:* rw opens any tty the container makes; 4:1 is
        // readable and writable but c 1:11 (kmsg) stays refused
        var result = Sh("mknod /dev/tty1 c 4 1; mknod /tmp/kmsg c 1 11; " + OpenEach("/dev/tty1", "/tmp/kmsg") + "; true",
            "--device-cgroup-rule", "c 4:* rw");
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal("/dev/tty1 ok\n", result.Stdout);
        Assert.Matches("/tmp/kmsg.*Operation not permitted", result.Stderr);

        var bad = Sh("true", "--device-cgroup-rule", "c 4 rw");
        Assert.Equal(125, bad.ExitCode);
        Assert.Contains("invalid --device-cgroup-rule 'c 4 rw'", bad.Stderr);
    }

    [ContainerFact]
    public void A_privileged_container_opens_a_host_node_it_makes()
    {
        var result = Sh($"mknod /tmp/sda b {HostBlockDevice()}; mknod /dev/tty0 c 4 0; " + OpenEach("/tmp/sda", "/dev/tty0"), "--privileged");
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal("/tmp/sda ok\n/dev/tty0 ok\n", result.Stdout);
    }

    [ContainerFact]
    public void A_container_without_a_cgroup_starts_and_has_no_device_rules()
    {
        var result = Sh("mknod /dev/tty0 c 4 0; " + OpenEach("/dev/tty0", "/dev/null"), "--cgroups", "disabled");
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal("/dev/tty0 ok\n/dev/null ok\n", result.Stdout);
    }

    /// <summary>The container's group under the test's parent, read while it sleeps.</summary>
    private (string PidsMax, string? DevicesList) LimitsOf(params string[] options)
    {
        using var isolate = IsolateBinary.Start(["run", "--rootfs", Rootfs.Path, .. options, "--", "sh", "-c", "echo ready; exec sleep 100"]);
        int container = isolate.ContainerPid();
        string Group(string controller) =>
            Assert.Single(Directory.GetDirectories(Path.Combine(IsV1 ? $"/sys/fs/cgroup/{controller}" : "/sys/fs/cgroup", CgroupParent)));
        string pids = File.ReadAllText(Path.Combine(Group("pids"), "pids.max")).Trim();
        Assert.Contains(container.ToString(), File.ReadAllText(Path.Combine(Group("pids"), "cgroup.procs")));
        // v1 only (v2's rules are an eBPF program), and only where the group is in the hierarchy
        string devicesParent = Path.Combine("/sys/fs/cgroup/devices", CgroupParent);
        string? devices = IsV1 && Directory.Exists(devicesParent) ? File.ReadAllText(Path.Combine(Group("devices"), "devices.list")) : null;
        Process.GetProcessById(container).Kill();
        Assert.Equal(137, isolate.WaitForExit().ExitCode);
        return (pids, devices);
    }

    [ContainerFact]
    public void The_pids_limit_is_2048_by_default_and_the_device_list_is_the_standard_one()
    {
        var (pids, devices) = LimitsOf();
        Assert.Equal("2048", pids);
        if (IsV1)
        {
            Assert.NotNull(devices);
            Assert.DoesNotContain("a *:* rwm", devices);
            Assert.Contains("c 1:3 rwm", devices);
            Assert.Contains("c 136:* rwm", devices);
        }
    }

    [ContainerFact]
    public void Pids_limit_minus_one_lifts_the_limit_and_a_given_one_wins()
    {
        Assert.Equal("max", LimitsOf("--pids-limit", "-1").PidsMax);
        Assert.Equal("100", LimitsOf("--pids-limit", "100").PidsMax);
    }

    /// <summary>The same defaults on cgroup v2 (an eBPF device program, pids.max), in a VM whose
    /// /init mounts only the unified hierarchy; there the container sees its own pids.max.</summary>
    [VmFact]
    public void On_cgroup_v2_a_made_node_is_denied_and_pids_max_is_2048()
    {
        string init = QemuVm.OnUnifiedHierarchy("""
            /isolate run --rootfs /rootfs --no-overlay -- sh -c 'mknod /tmp/d0 c 4 0; (exec 3</tmp/d0) 2>&1 | sed "s/^/@@ default error /"; (exec 3</dev/null) && echo "@@ default null ok"; echo "@@ default pids $(cat /sys/fs/cgroup/pids.max)"'
            /isolate run --rootfs /rootfs --no-overlay --privileged -- sh -c 'mknod /tmp/p0 c 4 0; (exec 3</tmp/p0) && echo "@@ privileged opened"'
            /isolate run --rootfs /rootfs --no-overlay --pids-limit -1 -- sh -c 'echo "@@ lifted pids $(cat /sys/fs/cgroup/pids.max)"'
            """);
        var boot = QemuVm.Run(Rootfs, init);
        string report = string.Join('\n', boot.Report) + "\n" + boot.Console;
        Assert.True(boot.Report.Any(l => l.StartsWith("default error", StringComparison.Ordinal) && l.Contains("Operation not permitted")), report);
        Assert.True(boot.Report.Contains("default null ok"), report);
        Assert.True(boot.Report.Contains("default pids 2048"), report);
        Assert.True(boot.Report.Contains("privileged opened"), report);
        Assert.True(boot.Report.Contains("lifted pids max"), report);
    }
}

/// <summary>Which defaults <see cref="Isolate.Docker.DefaultConfinement"/> adds on which host,
/// without a container: the rules and the limit as the cgroup writers receive them.</summary>
public sealed class DefaultConfinementRuleTests
{
    private static readonly Isolate.Spec.DeviceRule DenyAll = new(false, 'a', null, null, "rwm");

    private static Isolate.Cgroups.CgroupLayout V1(params string[] controllers) =>
        new(Isolate.Cgroups.CgroupVersion.V1, null, controllers.ToDictionary(c => c, c => "/sys/fs/cgroup/" + c));

    [Fact]
    public void Deny_all_then_the_standard_nodes_then_each_device_and_2048_pids()
    {
        var loop = new Isolate.Spec.DeviceRule(true, 'b', 7, 0, "r");
        var partial = new Isolate.Spec.DeviceRule(false, 'b', 7, 0, "rw");
        var limits = Isolate.Docker.DefaultConfinement.Apply(new Isolate.Spec.ResourceLimits { DeviceRules = [partial, loop] }, [loop],
            privileged: false, pidsLimitGiven: false, V1("memory", "pids", "devices"));
        Assert.Equal([DenyAll, .. Isolate.Plan.DeviceNodes.DefaultCgroupRules, loop, partial, loop], limits.DeviceRules);
        Assert.Equal(2048, limits.PidsLimit);
    }

    [Fact]
    public void Privileged_keeps_every_device_and_a_given_pids_limit_stays()
    {
        var partial = new Isolate.Spec.DeviceRule(false, 'b', 7, 0, "rw");
        var limits = Isolate.Docker.DefaultConfinement.Apply(new Isolate.Spec.ResourceLimits { DeviceRules = [partial], PidsLimit = -1 }, [],
            privileged: true, pidsLimitGiven: true, V1("memory", "pids", "devices"));
        Assert.Equal([partial], limits.DeviceRules);
        Assert.Equal(-1, limits.PidsLimit);
    }

    [Fact]
    public void A_host_without_the_controllers_gets_no_defaults_rather_than_a_refusal()
    {
        var limits = Isolate.Docker.DefaultConfinement.Apply(new Isolate.Spec.ResourceLimits(), [], privileged: false, pidsLimitGiven: false, V1("memory"));
        Assert.Empty(limits.DeviceRules);
        Assert.Null(limits.PidsLimit);
        var none = new Isolate.Cgroups.CgroupLayout(Isolate.Cgroups.CgroupVersion.None, null, new Dictionary<string, string>());
        Assert.False(Isolate.Docker.DefaultConfinement.Apply(new Isolate.Spec.ResourceLimits(), [], false, false, none).Any);
    }
}
