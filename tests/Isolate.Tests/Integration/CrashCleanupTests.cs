using Isolate.Tests.Support;

namespace Isolate.Tests.Integration;

/// <summary>SIGKILL of `run -d` and of `exec` at any moment: whatever they (or the monitor) made
/// is recorded before it is made, so `rm -f` afterwards leaves no process, cgroup, mount or
/// state of the test's behind.</summary>
public sealed class CrashCleanupTests : StateRootTest
{
    public CrashCleanupTests(BusyboxRootfs rootfs) : base(rootfs, "isolate-crash-")
    {
    }

    private const int Rounds = 30;

    /// <summary>The test's processes: in a cgroup under its own parent, or naming its state root
    /// (a monitor, a killed client's children) or the marker its commands carry.</summary>
    private List<int> LeftProcesses(string marker) =>
        HostProcesses.All().Where(p => p != Environment.ProcessId && HostProcesses.Exists(p) && (InOwnCgroup(p)
            || HostProcesses.CommandLine(p) is { } cmdline && (cmdline.Contains(StateRoot, StringComparison.Ordinal) || cmdline.Contains(marker, StringComparison.Ordinal))))
            .ToList();

    private bool InOwnCgroup(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/cgroup").Contains("/" + CgroupParent + "/", StringComparison.Ordinal);
        }
        catch (IOException)
        {
            return false;
        }
    }

    private List<string> LeftCgroups() =>
        TestScope.HierarchyRoots().Select(r => Path.Combine(r, CgroupParent)).Where(Directory.Exists)
            .SelectMany(d => Directory.GetDirectories(d, "*", SearchOption.AllDirectories)).ToList();

    private List<string> LeftMounts() =>
        File.ReadAllLines("/proc/self/mountinfo").Where(l => l.Contains(StateRoot, StringComparison.Ordinal)).ToList();

    /// <summary>What is left, counted; processes and cgroups get a few seconds to go (a killed
    /// process is a zombie until its parent or init reaps it).</summary>
    private string Leftovers(string marker)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(5);
        List<int> processes;
        List<string> cgroups;
        while (((processes = LeftProcesses(marker)).Count > 0 || (cgroups = LeftCgroups()).Count > 0) && DateTime.UtcNow < deadline)
            Thread.Sleep(50);
        processes = LeftProcesses(marker);
        cgroups = LeftCgroups();
        var mounts = LeftMounts();
        // an empty .layers is the state root's own parent of layers, left by a kill between its
        // mkdir and the layer's; the next run that ends removes it when it is empty
        var states = Directory.GetDirectories(StateRoot)
            .Where(d => !(Path.GetFileName(d) == ".layers" && !Directory.EnumerateFileSystemEntries(d).Any())).ToArray();
        return $"{processes.Count} processes, {cgroups.Count} cgroups, {mounts.Count} mounts, {states.Length} state dirs"
            + string.Concat(processes.Take(5).Select(p => $"\n  process {p}: {HostProcesses.CommandLine(p)?.Replace('\0', ' ').Trim()}"))
            + string.Concat(cgroups.Take(5).Select(c => "\n  cgroup " + c))
            + string.Concat(mounts.Take(5).Select(m => "\n  mount " + m))
            + string.Concat(states.Take(5).Select(s => "\n  state " + s));
    }

    private const string Nothing = "0 processes, 0 cgroups, 0 mounts, 0 state dirs";

    [ContainerFact]
    public void Run_detached_killed_at_any_moment_leaves_nothing_that_rm_f_does_not_remove()
    {
        var refused = new List<string>();
        for (int i = 0; i < Rounds; i++)
        {
            // SIGKILL after 0 to 58 ms (a run -d takes about 40 until it returns): before the
            // state, between the state and the monitor, while the monitor makes the cgroup and
            // spawns, after the container runs
            string name = $"crash{i}";
            var killed = IsolateBinary.RunFromShell(
                $"\"$ISOLATE\" --root {StateRoot} run -d --cgroup-parent {CgroupParent} --name {name} --rootfs {Rootfs.Path} -- sleep 100.{i} " +
                $"</dev/null >/dev/null 2>&1 & p=$!; sleep 0.0{2 * i:D2}; kill -KILL $p; wait $p; true");
            Assert.Equal(0, killed.ExitCode);
            var rm = Isolate("rm", "-f", name);
            if (rm.ExitCode != 0 && !rm.Stderr.Contains("does not exist"))
                refused.Add($"round {i}: {rm.Stderr.Trim()}");
        }
        // a monitor the rm missed would start its container only now
        Thread.Sleep(1000);
        foreach (string dir in Directory.GetDirectories(StateRoot))
            Isolate("rm", "-f", Path.GetFileName(dir));
        string left = Leftovers("sleep 100.");
        Assert.True(left == Nothing && refused.Count == 0,
            $"after {Rounds} killed run -d: {left}\nrm -f refused {refused.Count} times{string.Concat(refused.Take(3).Select(r => "\n  " + r))}");
    }

    [ContainerFact]
    public void Exec_killed_at_any_moment_leaves_only_the_containers_own_processes_and_rm_f_removes_all()
    {
        var run = Isolate("run", "-d", "--cgroup-parent", CgroupParent, "--name", "box", "--rootfs", Rootfs.Path, "--", "sleep", "1000");
        Assert.True(run.ExitCode == 0, run.ToString());
        for (int i = 0; i < Rounds; i++)
        {
            var killed = IsolateBinary.RunFromShell(
                // every other one detached: its command outlives it by design, in the container
                $"\"$ISOLATE\" --root {StateRoot} exec {(i % 2 == 1 ? "-d " : "")}box sleep 77.{i} </dev/null >/dev/null 2>&1 & p=$!; " +
                $"sleep 0.0{2 * i:D2}; kill -KILL $p; wait $p; true");
            Assert.Equal(0, killed.ExitCode);
        }
        // every exec'd command that outlived its killed exec is the container's: in its cgroup
        var outside = LeftProcesses("sleep 77.").Where(p => !InOwnCgroup(p) && HostProcesses.CommandLine(p)!.Contains("sleep 77.")).ToList();
        Assert.True(outside.Count == 0, $"{outside.Count} exec'd commands outside the container's cgroup");
        var rm = Isolate("rm", "-f", "box");
        Assert.True(rm.ExitCode == 0, rm.ToString());
        string left = Leftovers("sleep 77.");
        Assert.True(left == Nothing, $"after {Rounds} killed exec and rm -f: {left}");
    }

    [ContainerFact]
    public void After_SIGKILL_to_isolate_the_reaper_removes_groups_the_container_made_inside_its_own_and_its_layer()
    {
        // as systemd as PID 1 does (init.scope inside its group): the container's PID 1 moved into
        // a group two levels down in every hierarchy its group is in
        using (var isolate = IsolateBinary.Start(["--root", StateRoot, "run", "--rootfs", Rootfs.Path, "--", "sh", "-c", "echo written > /w; echo ready; exec sleep 100"]))
        {
            string layers = Path.Combine(StateRoot, ".layers");
            Assert.True(File.Exists(Path.Combine(Assert.Single(Directory.GetDirectories(layers)), "upper", "w")), "the write is not in the layer");
            int container = isolate.ContainerPid();
            int reaper = isolate.ReaperPid();
            foreach (string parent in TestScope.HierarchyRoots().Select(r => Path.Combine(r, CgroupParent)).Where(Directory.Exists))
            {
                string deeper = Path.Combine(Assert.Single(Directory.GetDirectories(parent)), "inner", "deeper");
                Directory.CreateDirectory(deeper);
                File.WriteAllText(Path.Combine(deeper, "cgroup.procs"), container.ToString());
            }
            Assert.Equal(0, kill(isolate.Pid, 9));
            isolate.WaitForExit();
            HostProcesses.WaitUntilGone(reaper, TimeSpan.FromSeconds(10));
            Assert.False(HostProcesses.Exists(reaper), "the reaper did not finish");
        }
        Assert.Empty(LeftCgroups());
        // and the container's copy-on-write layer went with it (no run would sweep it up)
        Assert.False(Directory.Exists(Path.Combine(StateRoot, ".layers")), "the killed run's layer stays: " +
            string.Join(", ", Directory.GetFileSystemEntries(StateRoot, "*", SearchOption.AllDirectories)));
    }

    [ContainerFact]
    public void The_reaper_is_the_binary_started_afresh_not_a_copy_of_the_running_isolate()
    {
        // a fork of the .NET process would share its pages copy-on-write for the whole run
        using var isolate = IsolateBinary.Start(["--root", StateRoot, "run", "--rootfs", Rootfs.Path, "--", "sh", "-c", "echo ready; exec sleep 100"]);
        int reaper = isolate.ReaperPid();
        string[] args = File.ReadAllText($"/proc/{reaper}/cmdline").Split('\0');
        Assert.True(args.Length > 2 && args[1] == "--isolate-internal-reaper", "the reaper's command line: " + string.Join(' ', args));
        long reaperKiB = ResidentKiB(reaper), isolateKiB = ResidentKiB(isolate.Pid);
        Assert.True(reaperKiB * 3 < isolateKiB, $"the reaper holds {reaperKiB} KiB, isolate {isolateKiB} KiB");
        // it still does its job: covered by the SIGKILL tests above; here it leaves when told to
        Assert.Equal(0, kill(isolate.ContainerPid(), 9));
        Assert.Equal(137, isolate.WaitForExit().ExitCode);
        Assert.False(HostProcesses.Exists(reaper), "the reaper outlived the run");
        Assert.Empty(LeftCgroups());
    }

    [Fact]
    public void The_reaper_argument_typed_by_hand_touches_nothing()
    {
        string directory = Directory.CreateTempSubdirectory("isolate-reaper-typed-").FullName;
        try
        {
            // fd 7 is a file, not the pipe a run gives its reaper; fd 0 is below any the run uses
            foreach (string fd in new[] { "7", "0", "x" })
            {
                var result = IsolateBinary.RunFromShell($"exec 7</etc/passwd; exec \"$ISOLATE\" --isolate-internal-reaper {fd} 0 '' '' {directory}");
                Assert.Equal(125, result.ExitCode);
                Assert.True(Directory.Exists(directory), $"fd {fd}: the directory was removed");
            }
        }
        finally
        {
            Directory.Delete(directory);
        }
    }

    private static long ResidentKiB(int pid) =>
        long.Parse(File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal))
            .Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]);

    [System.Runtime.InteropServices.DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int signal);
}
