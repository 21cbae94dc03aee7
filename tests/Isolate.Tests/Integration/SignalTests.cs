using Isolate.Tests.Support;

namespace Isolate.Tests.Integration;

/// <summary>Signals end to end: forwarded to PID 1, 128+N when it dies of one, and
/// no container outlives Isolate.</summary>
public sealed class SignalTests(BusyboxRootfs rootfs) : ContainerTest(rootfs)
{
    private const int SIGHUP = 1, SIGINT = 2, SIGQUIT = 3, SIGKILL = 9, SIGUSR1 = 10, SIGUSR2 = 12, SIGTERM = 15;

    private RunningIsolate Start(string script) =>
        IsolateBinary.Start(["run", "--rootfs", Rootfs.Path, "--", "sh", "-c", script]);

    [ContainerFact]
    public void A_container_killed_from_the_host_with_SIGKILL_exits_137()
    {
        using var isolate = Start("echo ready; exec sleep 100");
        Assert.Equal(0, kill(isolate.ContainerPid(), SIGKILL));

        Assert.Equal(137, isolate.WaitForExit().ExitCode);
    }

    [ContainerFact]
    public void SIGTERM_to_isolate_stops_a_pid_1_without_a_handler_with_143()
    {
        // `sleep` as PID 1 installs no handler: the kernel alone would drop SIGTERM.
        using var isolate = Start("echo ready; exec sleep 100");
        Assert.Equal(0, kill(isolate.Pid, SIGTERM));

        var result = isolate.WaitForExit(TimeSpan.FromSeconds(10));
        Assert.Equal(143, result.ExitCode);
    }

    [ContainerTheory]
    [InlineData(SIGHUP, "HUP")]
    [InlineData(SIGINT, "INT")]
    [InlineData(SIGQUIT, "QUIT")]
    [InlineData(SIGUSR1, "USR1")]
    [InlineData(SIGUSR2, "USR2")]
    [InlineData(SIGTERM, "TERM")]
    public void Signals_to_isolate_reach_a_pid_1_that_handles_them(int signal, string name)
    {
        using var isolate = Start($"trap 'echo got {name}; exit 42' {name}; echo ready; while :; do sleep 0.05; done");
        Assert.Equal(0, kill(isolate.Pid, signal));

        var result = isolate.WaitForExit(TimeSpan.FromSeconds(10));
        Assert.Equal(42, result.ExitCode);
        Assert.Contains($"got {name}", result.Stdout);
    }

    [ContainerFact]
    public void A_pid_1_that_ignores_a_signal_keeps_running()
    {
        using var isolate = Start("trap '' TERM; echo ready; sleep 1; echo survived");
        Assert.Equal(0, kill(isolate.Pid, SIGTERM));

        var result = isolate.WaitForExit(TimeSpan.FromSeconds(10));
        Assert.Equal(0, result.ExitCode);
        Assert.Contains("survived", result.Stdout);
    }

    [ContainerFact]
    public void When_isolate_is_killed_the_container_dies_with_it()
    {
        using var isolate = Start("sleep 100 & echo ready; exec sleep 100");
        int container = isolate.ContainerPid();
        Assert.Equal(0, kill(isolate.Pid, SIGKILL));

        HostProcesses.WaitUntilGone(container, TimeSpan.FromSeconds(10));
        Assert.False(HostProcesses.Exists(container), "the container's PID 1 outlived isolate");
        // the base class checks that no process of the container (the background sleep too) is left
    }

    [ContainerFact]
    public void A_signal_the_caller_ignores_stays_ignored()
    {
        // as under nohup, or a background job of a non-interactive shell
        var result = IsolateBinary.RunFromShell(
            $"trap '' HUP; \"$ISOLATE\" run --rootfs {Rootfs.Path} -- sh -c 'sleep 1; echo done' & sleep 0.3; kill -HUP $!; wait $!");

        Assert.Equal(0, result.ExitCode);
        Assert.Equal("done\n", result.Stdout);
    }

    [ContainerFact]
    public void An_inherited_ignored_SIGCHLD_does_not_lose_the_exit_status()
    {
        var result = IsolateBinary.RunFromShell($"trap '' CHLD; exec \"$ISOLATE\" run --rootfs {Rootfs.Path} -- sh -c 'exit 3'");
        Assert.Equal(3, result.ExitCode);
        Assert.Equal("", result.Stderr);
    }

    [ContainerFact]
    public void A_signal_during_start_up_stops_the_container_every_time()
    {
        // Sent at every moment of the start: before the clone, at the gate, during the
        // mounts, just after exec. Whatever the moment, SIGTERM must end the container.
        var result = IsolateBinary.RunFromShell(
            $"for i in $(seq 40); do \"$ISOLATE\" run --rootfs {Rootfs.Path} -- sleep 5 & p=$!; " +
            "sleep 0.00$((i % 7)); kill -TERM $p; wait $p; echo $?; done",
            timeout: TimeSpan.FromSeconds(120));

        Assert.Equal(Enumerable.Repeat("143", 40), result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        // (a signal that lands before Isolate installed its handlers kills Isolate itself,
        // also 143, and the shell says "Terminated"; Isolate never reports an error)
        Assert.DoesNotContain("isolate:", result.Stderr);
    }

    [System.Runtime.InteropServices.DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int signal);
}
