using Isolate.Tests.Support;

namespace Isolate.Tests.Integration;

/// <summary>docker's face: `run -d`, then ps, logs, exec, stop, wait and rm on the container,
/// on a private state root; checked from the host (processes, exit status) and from inside.</summary>
public sealed class DetachedContainerTests : StateRootTest
{
    public DetachedContainerTests(BusyboxRootfs rootfs) : base(rootfs, "isolate-detached-")
    {
    }


    private string[] PsRow(string id, bool all = true) =>
        Isolate(all ? ["ps", "-a"] : ["ps"]).Stdout.Split('\n').Skip(1)
            .Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)).FirstOrDefault(r => r.Length > 0 && r[0] == id) ?? [];

    private void WaitForLog(string id, string text)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (!Isolate("logs", id).Stdout.Contains(text, StringComparison.Ordinal))
        {
            Assert.True(DateTime.UtcNow < deadline, $"the log of {id} never showed '{text}'");
            Thread.Sleep(20);
        }
    }

    [ContainerFact]
    public void A_detached_container_is_named_by_its_id_inside_and_its_monitor_runs_the_spec_it_was_given()
    {
        // the id printed, the hostname inside, $HOSTNAME and /etc/hostname-free uname all agree:
        // the monitor launches the client's finished spec, never a second conversion of the arguments
        var run = Detach([], "hostname; echo $HOSTNAME; sleep 30");
        Assert.True(run.ExitCode == 0, run.ToString());
        string id = run.Stdout.Trim();
        Assert.Matches("^[0-9a-f]{12}$", id);
        WaitForLog(id, id + "\n" + id + "\n");
        Assert.Equal(id + "\n", Isolate("exec", id, "hostname").Stdout);
        Assert.True(File.Exists(Path.Combine(StateRoot, id, "spec.json")), "the launched spec is kept beside the state");

        // a --name that is a hostname is the hostname too; --hostname still wins
        Assert.Equal(0, Detach(["--name", "named-one"], "sleep 30").ExitCode);
        Assert.Equal("named-one\n", Isolate("exec", "named-one", "hostname").Stdout);
        Assert.Equal(0, Detach(["--name", "other", "--hostname", "given"], "sleep 30").ExitCode);
        Assert.Equal("given\n", Isolate("exec", "other", "hostname").Stdout);
    }

    [ContainerFact]
    public void A_detached_container_runs_logs_execs_stops_and_is_removed()
    {
        var run = Detach(["--name", "web"], "echo started; trap 'echo bye; exit 3' TERM; while :; do sleep 0.05; done");
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal("web\n", run.Stdout);

        Assert.Equal("Up", PsRow("web", all: false)[1]);
        WaitForLog("web", "started\n");

        // exec: in its PID namespace, with its capabilities and its seccomp filter
        var exec = Isolate("exec", "web", "sh", "-c",
            "echo $$; grep -E '^(CapEff|Seccomp):' /proc/self/status | tr -s '\\t' ' '; grep CapEff /proc/1/status | tr -s '\\t' ' '");
        Assert.Equal(0, exec.ExitCode);
        var lines = exec.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.NotEqual("1", lines[0]);
        Assert.Equal(lines[3], lines[1]); // the same capabilities as the container's PID 1
        Assert.Equal("Seccomp: 2", lines[2]); // filtered, as the container is

        var stop = Isolate("stop", "web");
        Assert.Equal("web\n", stop.Stdout);
        Assert.Equal("3\n", Isolate("wait", "web").Stdout);
        Assert.Equal(["web", "Exited", "(3)"], PsRow("web")[..3]);
        Assert.Empty(PsRow("web", all: false));
        Assert.Equal("started\nbye\n", Isolate("logs", "web").Stdout);

        Assert.Equal("web\n", Isolate("rm", "web").Stdout);
        Assert.Empty(PsRow("web"));
        Assert.Empty(Directory.GetDirectories(StateRoot));
    }

    [ContainerFact]
    public void Without_a_name_the_id_is_generated()
    {
        var run = Detach([], "sleep 100");
        Assert.Equal(0, run.ExitCode);
        string id = run.Stdout.Trim();
        Assert.Matches("^[0-9a-f]{12}$", id);
        Assert.Equal(id + "\n", Isolate("ps", "-q").Stdout);
        Assert.Equal(0, Isolate("rm", "-f", id).ExitCode);
    }

    [ContainerFact]
    public void A_command_that_cannot_start_is_reported_as_isolate_run_would_and_leaves_nothing()
    {
        var run = Isolate("run", "-d", "--name", "broken", "--rootfs", Rootfs.Path, "--", "no-such-command");

        Assert.Equal(127, run.ExitCode);
        Assert.Contains("no-such-command", run.Stderr);
        Assert.Empty(Directory.GetDirectories(StateRoot));
    }

    [ContainerFact]
    public void A_command_that_ends_at_once_is_exited_and_exec_into_it_is_refused()
    {
        // it is a zombie by the time its start is recorded: it must never read as running
        // (an exec would then join no namespace at all and run on the host)
        var run = Detach(["--name", "brief"], "exit 0");
        Assert.Equal(0, run.ExitCode);
        Assert.Equal("0\n", Isolate("wait", "brief").Stdout);
        Assert.Equal("Exited", PsRow("brief")[1]);

        var exec = Isolate("exec", "brief", "true");
        Assert.NotEqual(0, exec.ExitCode);
        Assert.Contains("cannot exec in container brief: it is stopped", exec.Stderr);
        Assert.Equal(0, Isolate("rm", "brief").ExitCode);
    }

    [ContainerFact]
    public void A_stateStateRoot_others_may_write_to_is_refused()
    {
        string shared = Path.Combine(StateRoot, "shared");
        Directory.CreateDirectory(shared);
        File.SetUnixFileMode(shared, (UnixFileMode)0x1FF); // 0777, as a planted /tmp/isolate-UID might be

        var run = IsolateBinary.Run(["--root", shared, "run", "-d", "--rootfs", Rootfs.Path, "--", "true"]);
        Assert.Equal(125, run.ExitCode);
        Assert.Contains("must belong to uid 0 and be writable by no one else", run.Stderr);
        Directory.Delete(shared);
    }

    [ContainerFact]
    public void Rm_refuses_a_running_container_unless_forced()
    {
        Assert.Equal(0, Detach(["--name", "busy"], "sleep 100").ExitCode);

        var rm = Isolate("rm", "busy");
        Assert.NotEqual(0, rm.ExitCode);
        Assert.Contains("cannot remove container busy: it is running", rm.Stderr);

        Assert.Equal(0, Isolate("rm", "-f", "busy").ExitCode);
        Assert.Empty(Directory.GetDirectories(StateRoot)); // and the base class: no process, no cgroup
    }

    [ContainerFact]
    public void Stop_kills_a_container_that_ignores_its_stop_signal_after_the_timeout()
    {
        Assert.Equal(0, Detach(["--name", "stubborn"], "trap '' TERM; echo ready; while :; do sleep 0.05; done").ExitCode);
        WaitForLog("stubborn", "ready");

        var clock = System.Diagnostics.Stopwatch.StartNew();
        Assert.Equal(0, Isolate("stop", "-t", "1", "stubborn").ExitCode);
        Assert.InRange(clock.Elapsed.TotalSeconds, 0.9, 15);
        Assert.Equal("137\n", Isolate("wait", "stubborn").Stdout);
        Assert.Equal(0, Isolate("rm", "stubborn").ExitCode);
    }

    [ContainerFact]
    public void Logs_follow_until_the_container_stops()
    {
        Assert.Equal(0, Detach(["--name", "talker"], "for i in 1 2 3; do echo line $i; sleep 0.2; done").ExitCode);

        var logs = Isolate("logs", "-f", "talker");
        Assert.Equal("line 1\nline 2\nline 3\n", logs.Stdout);
        Assert.Equal(["talker", "Exited", "(0)"], PsRow("talker")[..3]);
    }

    [ContainerFact]
    public void A_killed_monitor_takes_its_container_with_it_and_rm_cleans_up()
    {
        Assert.Equal(0, Detach(["--name", "orphan"], "sleep 100").ExitCode);
        int monitor = MonitorPid("orphan");

        Assert.Equal(0, kill(monitor, 9));
        HostProcesses.WaitUntilGone(monitor, TimeSpan.FromSeconds(10));
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (PsRow("orphan", all: false).Length > 0 && DateTime.UtcNow < deadline)
            Thread.Sleep(20);
        Assert.Equal("Exited", PsRow("orphan")[1]);
        Assert.Equal(0, Isolate("rm", "orphan").ExitCode);
        // the base class checks that the container's processes and cgroup went too
    }

    [ContainerFact]
    public void The_monitor_keeps_none_of_its_callers_open_files()
    {
        // a caller's fd 7 (a lock file here): a monitor that kept it would hold it, and any flock on it, for the container's life
        string held = Path.Combine(StateRoot, "callers-file");
        var run = IsolateBinary.RunFromShell($"exec 7>>'{held}'; exec \"$ISOLATE\" --root '{StateRoot}' run -d --rootfs '{Rootfs.Path}' --name keeper -- sleep 100");
        Assert.True(run.ExitCode == 0, run.ToString());
        int monitor = MonitorPid("keeper");
        string[] open = [.. Directory.GetFiles($"/proc/{monitor}/fd").Select(fd => new FileInfo(fd).LinkTarget ?? "")];
        Assert.NotEmpty(open);
        Assert.DoesNotContain(held, open);
        Assert.Equal(0, Isolate("rm", "-f", "keeper").ExitCode);
    }

    [ContainerTheory]
    [InlineData(new[] { "--name", "../up" }, "invalid container id '../up'")]
    [InlineData(new[] { "--name", "x", "-t" }, "-d with -t")]
    public void Bad_detached_options_are_refused(string[] options, string expected)
    {
        var run = Isolate(["run", "-d", "--rootfs", Rootfs.Path, .. options, "--", "true"]);
        Assert.Equal(125, run.ExitCode);
        Assert.Contains(expected, run.Stderr);
        Assert.Empty(Directory.GetDirectories(StateRoot));
    }

    [System.Runtime.InteropServices.DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int signal);
}
