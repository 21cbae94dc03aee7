using System.Text.Json;
using Isolate.Tests.Support;

namespace Isolate.Tests.Integration;

/// <summary>Cgroup limits on this host's real hierarchy (v1 here; the v2 writer is unit-tested
/// and run for real in CgroupV2VmTests), checked from inside and through the cgroup files.</summary>
public sealed class ResourceLimitTests(BusyboxRootfs rootfs) : ContainerTest(rootfs)
{
    /// <summary>100 MB held in a shell variable: busybox alone can allocate it.</summary>
    private const string Allocate100MB = "x=$(head -c 100000000 /dev/zero | tr '\\0' a); echo allocated";

    private static string Hierarchy(string controller) => $"/sys/fs/cgroup/{controller}";

    private static bool IsV1 => Directory.Exists("/sys/fs/cgroup/memory") && !File.Exists("/sys/fs/cgroup/cgroup.controllers");

    private static string HierarchyOf(string controller) => IsV1 ? Hierarchy(controller) : "/sys/fs/cgroup";

    /// <summary>The groups under the parent this test's containers use: its own parent (which
    /// the helpers pass), or Isolate's default one for a test about that.</summary>
    private List<string> ContainerGroups(string controller = "memory")
    {
        if (Scope.CgroupParent is { } own)
        {
            string root = Path.Combine(HierarchyOf(controller), own);
            return Directory.Exists(root) ? Directory.GetDirectories(root).ToList() : [];
        }
        return Scope.LeftCgroups().Where(g => g.StartsWith(Path.Combine(HierarchyOf(controller), "isolate") + "/", StringComparison.Ordinal)).ToList();
    }

    /// <summary>Isolate removes its default parent when its last group goes; other containers on
    /// this host may hold groups there meanwhile, so the parent is either gone or not empty
    /// (and holds none of this test's).</summary>
    private void AssertDefaultParentRemovedUnlessInUse(string controller, string because)
    {
        string parent = Path.Combine(HierarchyOf(controller), "isolate");
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(5);
        while (true)
        {
            bool ok = !Directory.Exists(parent) || SafeGroups(parent).Count > 0;
            if (ok || DateTime.UtcNow > deadline) // an empty parent for a moment: another run is between its mkdirs or its rmdirs
            {
                Assert.True(ok, because);
                Assert.Empty(ContainerGroups(controller));
                return;
            }
            Thread.Sleep(20);
        }
    }

    private static List<string> SafeGroups(string parent)
    {
        try
        {
            return Directory.GetDirectories(parent).ToList();
        }
        catch (DirectoryNotFoundException)
        {
            return [];
        }
    }

    [ContainerFact]
    public void A_memory_limit_kills_a_100MB_allocation_with_137_and_says_so()
    {
        var limited = Sh(Allocate100MB, "--memory", "32m");
        var free = Sh(Allocate100MB);

        Assert.Equal(137, limited.ExitCode);
        Assert.Equal("isolate: container killed: out of memory (limit 32 MiB)\n", limited.Stderr);
        Assert.Equal((0, "allocated\n"), (free.ExitCode, free.Stdout));
    }

    [ContainerFact]
    public void The_eleventh_process_cannot_be_forked_under_pids_limit_10()
    {
        // sh is the first; it starts sleeps until fork fails (busybox sh then exits 2)
        var result = Sh("i=0; while [ $i -lt 12 ]; do sleep 1 & i=$((i+1)); echo $i; done", "--pids-limit", "10", "--stats=json");
        using var stats = JsonDocument.Parse(result.Stderr.Trim().Split('\n')[^1]);

        Assert.Equal(2, result.ExitCode);
        Assert.StartsWith("sh: can't fork: Resource temporarily unavailable", result.Stderr);
        Assert.Equal("9", result.Stdout.Trim().Split('\n')[^1]); // nine sleeps beside sh: the tenth sleep was the 11th process
        Assert.Equal(10, stats.RootElement.GetProperty("pids_peak").GetInt64());
    }

    [ContainerFact]
    public void Half_a_cpu_gives_about_half_a_cpu_of_time()
    {
        // a busy loop of two seconds of wall time; the cgroup's own CPU counter over it
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var result = Sh("start=$(cut -d' ' -f1 /proc/uptime); while :; do now=$(cut -d' ' -f1 /proc/uptime); " +
            "[ $(echo \"$now $start\" | awk '{ print ($1 - $2 >= 2) }') = 1 ] && break; done", "--cpus", "0.5", "--stats=json");
        double wall = clock.Elapsed.TotalSeconds;
        using var stats = JsonDocument.Parse(result.Stderr.Trim().Split('\n')[^1]);
        double cpu = (stats.RootElement.GetProperty("cpu_user_usec").GetInt64() + stats.RootElement.GetProperty("cpu_system_usec").GetInt64()) / 1e6;

        Assert.Equal(0, result.ExitCode);
        // at most about half a CPU (unlimited, the loop takes a whole one); at least some: on a
        // machine busy with other work the loop gets less than its half
        Assert.InRange(cpu / wall, 0.05, 0.6);
    }

    [ContainerFact]
    public void The_container_sees_its_own_group_as_root_and_the_limits_are_in_its_files()
    {
        var result = Sh("cat /proc/self/cgroup", "--memory", "64m");
        Assert.Equal(0, result.ExitCode);
        Assert.All(result.Stdout.Trim().Split('\n'), line => Assert.EndsWith(":/", line)); // a cgroup namespace at its own group
    }

    [ContainerFact]
    public void The_groups_exist_with_their_limits_while_running_and_are_gone_after()
    {
        using (var isolate = IsolateBinary.Start(["run", "--rootfs", Rootfs.Path, "--memory", "64m", "--pids-limit", "50", "--cpus", "1.5",
                   "--", "sh", "-c", "echo ready; exec sleep 100"]))
        {
            int container = isolate.ContainerPid();
            var groups = ContainerGroups();
            string group = Assert.Single(groups);
            string name = Path.GetFileName(group);
            Assert.Matches($"^[0-9a-f]{{12}}\\.{isolate.Pid}$", name);
            if (IsV1)
            {
                Assert.Equal("67108864", File.ReadAllText(Path.Combine(Hierarchy("memory"), CgroupParent, name, "memory.limit_in_bytes")).Trim());
                Assert.Equal("50", File.ReadAllText(Path.Combine(Hierarchy("pids"), CgroupParent, name, "pids.max")).Trim());
                Assert.Equal("150000", File.ReadAllText(Path.Combine(Hierarchy("cpu"), CgroupParent, name, "cpu.cfs_quota_us")).Trim());
                Assert.Contains(container.ToString(), File.ReadAllText(Path.Combine(Hierarchy("pids"), CgroupParent, name, "cgroup.procs")));
            }
            Assert.Equal(0, kill(container, 9));
            Assert.Equal(137, isolate.WaitForExit().ExitCode);
        }
        Assert.Empty(ContainerGroups());
    }

    [ContainerFact]
    public void The_default_parent_is_used_without_cgroup_parent_and_removed_when_empty()
    {
        Scope.UseDefaultCgroupParent();
        using (var isolate = IsolateBinary.Start(["run", "--rootfs", Rootfs.Path, "--memory", "64m", "--", "sh", "-c", "echo ready; exec sleep 100"]))
        {
            string group = Assert.Single(ContainerGroups());
            Assert.Matches($"^[0-9a-f]{{12}}\\.{isolate.Pid}$", Path.GetFileName(group));
            Assert.Equal(0, kill(isolate.ContainerPid(), 9));
            Assert.Equal(137, isolate.WaitForExit().ExitCode);
        }
        AssertDefaultParentRemovedUnlessInUse("memory", "the default parent group is removed when empty");
    }

    [ContainerFact]
    public void After_SIGKILL_to_isolate_the_reaper_removes_the_groups()
    {
        using (var isolate = IsolateBinary.Start(["run", "--rootfs", Rootfs.Path, "--memory", "64m", "--", "sh", "-c", "sleep 100 & echo ready; exec sleep 100"]))
        {
            Assert.Single(ContainerGroups());
            int reaper = isolate.ReaperPid();
            Assert.Equal("isolate-reaper", HostProcesses.Comm(reaper));
            Assert.Equal(0, kill(isolate.Pid, 9));
            isolate.WaitForExit();
            HostProcesses.WaitUntilGone(reaper, TimeSpan.FromSeconds(10));
            Assert.False(HostProcesses.Exists(reaper), "the reaper did not finish");
        }
        Assert.Empty(ContainerGroups());
        foreach (string controller in new[] { "memory", "pids", "freezer" })
            Assert.Empty(ContainerGroups(controller));
    }

    [ContainerFact]
    public void Killing_isolates_whole_process_group_spares_the_reaper()
    {
        // as `kill -- -PGID` or a terminal's Ctrl-\ would: the reaper has a session of its own
        var result = IsolateBinary.RunFromShell(
            $"setsid \"$ISOLATE\" run --rootfs {Rootfs.Path} --memory 64m -- sleep 100 & p=$!; sleep 0.5; /bin/kill -9 -- -$p; wait $p; echo $?");

        Assert.Equal("137\n", result.Stdout);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (ContainerGroups().Count > 0 && DateTime.UtcNow < deadline)
            Thread.Sleep(20);
        Assert.Empty(ContainerGroups());
    }

    [ContainerFact]
    public void The_reaper_leaves_no_zombie_after_a_normal_run()
    {
        // only this run's reaper (a fork of its Isolate: the command line names the test's
        // root), not those of other containers on this host
        var result = IsolateBinary.RunFromShell(
            $"\"$ISOLATE\" run --rootfs {Rootfs.Path} -- true; for p in /proc/[0-9]*; do grep -q '^isolate-reaper' $p/comm 2>/dev/null && " +
            $"tr '\\0' ' ' < $p/cmdline | grep -qF {Rootfs.Path} && echo $p; done | wc -l");
        Assert.Equal("0\n", result.Stdout);
    }

    [ContainerFact]
    public void A_group_a_crashed_run_left_is_removed_by_the_next_run()
    {
        // as if an Isolate died a minute ago, before its reaper could act: nobody holds its lock
        Scope.UseDefaultCgroupParent(); // what it checks: Isolate removes its own parent, in every hierarchy
        string stale = "0123456789ab.999999";
        foreach (string controller in new[] { "memory", "pids", "freezer", "cpuacct" })
        {
            string dir = Path.Combine(IsV1 ? Hierarchy(controller) : "/sys/fs/cgroup", "isolate", stale);
            Directory.CreateDirectory(dir);
            Directory.SetLastWriteTimeUtc(dir, DateTime.UtcNow.AddMinutes(-1));
        }

        var result = RunIn("true");

        Assert.Equal(0, result.ExitCode);
        foreach (string controller in new[] { "memory", "pids", "freezer", "cpuacct" })
            Assert.False(Directory.Exists(Path.Combine(HierarchyOf(controller), "isolate", stale)), $"the stale group is still in {controller}");
        AssertDefaultParentRemovedUnlessInUse("memory", "the default parent is removed when empty");
        AssertDefaultParentRemovedUnlessInUse("cpuacct", "a hierarchy this run did not use kept the parent");
    }

    [ContainerFact]
    public void Another_runs_janitor_spares_a_live_container_whatever_its_binary_is_called()
    {
        // Liveness is the group's lock, not the name or PID of the process that made it.
        string renamed = Path.Combine(Path.GetTempPath(), "isolate-renamed-" + Guid.NewGuid().ToString("N")[..8]);
        File.Copy(IsolateBinary.Path, renamed);
        File.SetUnixFileMode(renamed, (UnixFileMode)0x1ED);
        try
        {
            var result = IsolateBinary.RunFromShell(
                $"{renamed} run --rootfs {Rootfs.Path} --memory 64m -- sh -c 'sleep 1; echo first-done' & p=$!; sleep 0.4; " +
                $"unshare --pid --fork --mount-proc \"$ISOLATE\" run --rootfs {Rootfs.Path} -- true; echo second $?; wait $p; echo first $?");

            Assert.Equal("second 0\nfirst-done\nfirst 0\n", result.Stdout);
            Assert.DoesNotContain("isolate:", result.Stderr);
        }
        finally
        {
            File.Delete(renamed);
        }
    }

    [ContainerFact]
    public void A_limit_the_kernel_refuses_is_125_and_leaves_no_group_and_no_parent()
    {
        Scope.UseDefaultCgroupParent(); // Isolate removes only its own parent on the failure
        var result = RunIn(["--pids-limit", "99999999999"], "true");

        Assert.Equal(125, result.ExitCode);
        Assert.Contains("Invalid argument", result.Stderr);
        AssertDefaultParentRemovedUnlessInUse("pids", "the default parent is left after the failure");
    }

    [ContainerFact]
    public void Concurrent_runs_sharing_the_parent_all_succeed_and_leave_nothing()
    {
        var result = IsolateBinary.RunFromShell(
            $"for i in $(seq 24); do \"$ISOLATE\" run --rootfs {Rootfs.Path} --memory 16m --pids-limit 20 -- true & done; " +
            "fails=0; for job in $(jobs -p); do wait $job || fails=$((fails+1)); done; echo fails=$fails",
            timeout: TimeSpan.FromMinutes(2));

        Assert.Equal("fails=0\n", result.Stdout);
        Assert.Equal("", result.Stderr);
    }

    [ContainerFact]
    public void A_4MiB_limit_is_enough_to_run_bin_true()
    {
        // Isolate's own footprint in the container's group must be tiny: crun runs under 512 KiB.
        var result = RunIn(["--memory", "4m", "--stats"], "/bin/true");
        Assert.Equal(0, result.ExitCode);
        Assert.StartsWith("isolate: stats: memory peak ", result.Stderr);
    }

    [ContainerFact]
    public void Stats_are_one_line_or_one_json_object_on_stderr()
    {
        var text = Sh("echo out", "--stats");
        var json = Sh("sleep 0.2 & sleep 0.2 & wait; exit 3", "--stats=json");

        Assert.Equal("out\n", text.Stdout);
        Assert.Matches(@"^isolate: stats: memory peak [0-9.]+ (B|KiB|MiB), cpu user [0-9.]+ s, system [0-9.]+ s, pids peak [0-9]+, exit 0\n$", text.Stderr);
        Assert.Equal(3, json.ExitCode);
        using var doc = JsonDocument.Parse(json.Stderr);
        var root = doc.RootElement;
        Assert.Equal(3, root.GetProperty("exit_code").GetInt32());
        Assert.True(root.GetProperty("memory_peak_bytes").GetInt64() > 0);
        Assert.InRange(root.GetProperty("pids_peak").GetInt64(), 3, 5); // sh and two sleeps
        Assert.False(root.GetProperty("out_of_memory").GetBoolean());
        Assert.Equal(0, root.GetProperty("oom_kills").GetInt64());
    }

    [ContainerFact]
    public void Bad_limits_are_125_and_create_no_cgroup()
    {
        var cases = new (string[] Args, string Message)[]
        {
            (["--memory", "10x"], "invalid --memory '10x': use a number with an optional unit b, k, m or g (256m, 1g)"),
            (["--memory", "-5m"], "invalid --memory '-5m': use a number with an optional unit b, k, m or g (256m, 1g)"),
            (["--cpus", "0"], $"invalid --cpus '0': use a number from 0.01 to {Environment.ProcessorCount}, the CPUs this machine has"),
            (["--cpuset-cpus", "0-99"], "invalid --cpuset-cpus '0-99': CPU "),
            (["--pids-limit", "-3"], "invalid --pids-limit '-3': use a number of processes above 0, or -1 for no limit"),
            (["--stats=xml"], "invalid --stats 'xml': use --stats for a line or --stats=json"),
            (["--cgroups", "disabled", "--memory", "1g"], "--cgroups=disabled leaves no cgroup to set limits on or read --stats from; drop one or the other"),
        };
        foreach (var (args, message) in cases)
        {
            var result = IsolateBinary.Run(["run", "--rootfs", Rootfs.Path, .. args, "--", "true"], stdin: null);
            Assert.Equal(125, result.ExitCode);
            Assert.StartsWith($"isolate: {message}", result.Stderr);
            Assert.False(Directory.Exists(Path.Combine(HierarchyOf("memory"), CgroupParent)), $"{string.Join(' ', args)} created a cgroup");
        }
    }

    [ContainerFact]
    public void Sizes_below_the_floor_are_125_naming_it_and_create_nothing()
    {
        var cases = new (string[] Args, string Message)[]
        {
            (["run", "--rootfs", Rootfs.Path, "--memory", "256", "--", "true"], "--memory 256: below the minimum of 4 MiB; give a size with a unit, such as 256m"),
            (["run", "--rootfs", Rootfs.Path, "--memory", "64m", "--memory-swap", "1k", "--", "true"], "invalid --memory-swap '1k': it is memory plus swap, so it must be at least --memory"),
            (["run", "--rootfs", Rootfs.Path, "--tmpfs", "/t:size=1024", "--", "true"], "--tmpfs /t:size=1024: below the minimum of 4 KiB; give a size with a unit, such as 1024m"),
            (["update", "--memory", "256", "no-such-container"], "--memory 256: below the minimum of 4 MiB; give a size with a unit, such as 256m"),
        };
        foreach (var (args, message) in cases)
        {
            var result = IsolateBinary.Run(args, stdin: null);
            Assert.Equal(125, result.ExitCode);
            Assert.Equal($"isolate: {message}\n", result.Stderr);
            Assert.False(Directory.Exists(Path.Combine(HierarchyOf("memory"), CgroupParent)), $"{string.Join(' ', args)} created a cgroup");
        }
        Assert.Equal(0, RunIn(["--memory", "4m"], "true").ExitCode);
    }

    [ContainerFact]
    public void Cgroups_disabled_runs_without_a_group_of_its_own()
    {
        var result = Sh("cat /proc/self/cgroup", "--cgroups", "disabled");
        Assert.Equal(0, result.ExitCode);
        Assert.Equal(File.ReadAllText("/proc/self/cgroup"), result.Stdout); // the caller's, no namespace either
    }

    [System.Runtime.InteropServices.DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int signal);

}
