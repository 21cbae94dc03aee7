using Isolate.Tests.Support;

namespace Isolate.Tests.Integration;

/// <summary>Everyday docker habits on a private state root: exec with and without a terminal,
/// and a foreground container named for ps, exec, stop and kill (a service from an init script).</summary>
public sealed class EverydayPathTests : StateRootTest
{

    public EverydayPathTests(BusyboxRootfs rootfs) : base(rootfs, "isolate-everyday-")
    {
    }

    private string Detached(string script)
    {
        var run = Isolate("run", "-d", "--rootfs", Rootfs.Path, "--", "sh", "-c", script);
        Assert.True(run.ExitCode == 0, run.ToString());
        return run.Stdout.Trim();
    }

    [ContainerFact]
    public void Exec_it_without_a_terminal_is_refused_as_run_it_is_and_t_alone_takes_no_input()
    {
        string id = Detached("sleep 60");
        // before: the shell waited on its terminal for input a pipe never gave, forever
        var refused = IsolateBinary.Run(["--root", StateRoot, "exec", "-it", id, "sh"], stdin: "echo piped\n", TimeSpan.FromSeconds(20));
        Assert.Equal(125, refused.ExitCode);
        Assert.Equal("isolate: exec -it: the input device is not a terminal; drop -i to give the command a terminal without your input, or -t to pass stdin through as it is\n", refused.Stderr);

        var tty = IsolateBinary.Run(["--root", StateRoot, "exec", "-t", id, "sh", "-c", "tty >/dev/null && echo on-a-tty"], stdin: "ignored\n", TimeSpan.FromSeconds(20));
        Assert.Equal((0, "on-a-tty\r\n"), (tty.ExitCode, tty.Stdout));
        var piped = IsolateBinary.Run(["--root", StateRoot, "exec", "-i", id, "cat"], stdin: "through\n", TimeSpan.FromSeconds(20));
        Assert.Equal((0, "through\n"), (piped.ExitCode, piped.Stdout));
        Assert.Equal("", Isolate("exec", id, "sh", "-c", "ps -o stat | grep Z || true").Stdout); // nothing left behind
    }

    [ContainerFact]
    public void An_exec_whose_isolate_is_killed_leaves_no_process_and_no_zombie_in_the_container()
    {
        string id = Detached("sleep 60");
        using var exec = IsolateBinary.Start(["--root", StateRoot, "exec", id, "sh", "-c", "echo ready; sleep 100"]);
        Assert.Equal(0, kill(exec.Pid, 9));
        exec.WaitForExit(TimeSpan.FromSeconds(30));
        // its command dies with it (parent death signal) and, its parent being outside the
        // container, is reaped there (by the host's init or a subreaper), never left to PID 1
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        string left;
        while ((left = Isolate("exec", id, "sh", "-c", "ps -o pid,stat,comm | grep -v -E ' (ps|sh|grep)$|COMMAND' || true").Stdout) != "    1 S    sleep\n")
        {
            Assert.True(DateTime.UtcNow < deadline, "left in the container:\n" + left);
            Thread.Sleep(100);
        }
    }

    [ContainerFact]
    public void A_foreground_container_with_a_name_is_listed_and_reached_by_exec_and_stop_and_leaves_nothing()
    {
        // a service as an init script or a systemd unit starts it: isolate stays in the foreground
        using var running = IsolateBinary.Start(["--root", StateRoot, "run", "--name", "svc", "--rootfs", Rootfs.Path, "--",
            "sh", "-c", "trap 'echo stopping; exit 3' TERM; echo ready; while :; do sleep 0.1; done"]);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (!Isolate("ps").Stdout.Split('\n').Any(row => row.StartsWith("svc ", StringComparison.Ordinal)))
        {
            Assert.True(DateTime.UtcNow < deadline, "ps never listed svc: " + Isolate("ps"));
            Thread.Sleep(20); // its PID is recorded just after the command starts
        }
        Assert.Equal("svc\n", Isolate("exec", "svc", "hostname").Stdout);

        var stop = Isolate("stop", "svc");
        Assert.True(stop.ExitCode == 0, stop.ToString());
        var ended = running.WaitForExit(TimeSpan.FromSeconds(30));
        Assert.Equal(3, ended.ExitCode); // the container's own status, as without --name
        Assert.Contains("stopping\n", ended.Stdout);
        Assert.False(Directory.Exists(Path.Combine(StateRoot, "svc")), "the name is free again");
        Assert.Equal(0, Isolate("run", "--name", "svc", "--rootfs", Rootfs.Path, "--", "true").ExitCode);
    }

    [ContainerFact]
    public void A_name_left_by_a_killed_foreground_isolate_is_taken_again()
    {
        using var running = IsolateBinary.Start(["--root", StateRoot, "run", "--name", "again", "--rootfs", Rootfs.Path, "--",
            "sh", "-c", "echo ready; sleep 100"]);
        Assert.Equal(0, kill(running.Pid, 9));
        running.WaitForExit(TimeSpan.FromSeconds(30));
        Assert.True(Directory.Exists(Path.Combine(StateRoot, "again")));
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        RunResult rerun;
        // its container dies with it (parent death); then the name is free
        while ((rerun = Isolate("run", "--name", "again", "--rootfs", Rootfs.Path, "--", "echo", "second")).ExitCode != 0 && DateTime.UtcNow < deadline)
            Thread.Sleep(100);
        Assert.Equal((0, "second\n"), (rerun.ExitCode, rerun.Stdout));
        // a name a running container holds is refused
        string id = Detached("sleep 60");
        Assert.Equal(125, Isolate("run", "--name", id, "--rootfs", Rootfs.Path, "--", "true").ExitCode);
    }

    [System.Runtime.InteropServices.DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int signal);
}
