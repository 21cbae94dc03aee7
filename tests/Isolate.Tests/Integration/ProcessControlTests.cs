using System.Diagnostics;
using Isolate.Tests.Support;

namespace Isolate.Tests.Integration;

/// <summary>--init, stop signals and timeouts, stdio through pipes, rlimits, --env-file,
/// --oom-score-adj, --pid-file and --die-with-parent: each checked from inside a real
/// container or from the host, as a user would.</summary>
public sealed class ProcessControlTests(BusyboxRootfs rootfs) : ContainerTest(rootfs)
{
    private const int SIGKILL = 9, SIGUSR1 = 10, SIGTERM = 15;

    private RunningIsolate Start(string[] options, string script) =>
        IsolateBinary.Start(["run", "--rootfs", Rootfs.Path, .. options, "--", "sh", "-c", script]);

    // --init

    [ContainerFact]
    public void Init_is_pid_1_and_the_command_pid_2()
    {
        var result = Sh("echo $$; cat /proc/1/comm; ps -o pid,comm | awk '$1 == 1 || $1 == 2 {print $1, $2}'; tr '\\0' '|' </proc/1/cmdline",
            "--init");

        Assert.Equal(0, result.ExitCode);
        // PID 1 is a copy of Isolate: its command line (with the host's rootfs path) is not shown
        Assert.Equal("2\nisolate-init\n1 isolate-init\n2 sh\nisolate-init|", result.Stdout);
    }

    [ContainerFact]
    public void Init_reaps_fifty_orphaned_zombies()
    {
        // each inner shell starts a sleep and exits at once: the sleep is orphaned, handed to
        // PID 1, and becomes a zombie when it ends unless PID 1 waits for it (3 s: all fifty are
        // still running when counted, also on a host busy with other containers)
        const string script =
            "i=0; while [ $i -lt 50 ]; do sh -c 'sleep 3 & exit 0'; i=$((i+1)); done; " +
            "orphans=0; for s in /proc/[0-9]*/status; do " +
            "  grep -q '^Name:.sleep$' $s 2>/dev/null && grep -q '^PPid:.1$' $s && orphans=$((orphans+1)); done; " +
            "echo orphans $orphans; sleep 4; " +
            "zombies=0; for s in /proc/[0-9]*/status; do grep -q '^State:.Z' $s 2>/dev/null && zombies=$((zombies+1)); done; " +
            "echo zombies $zombies; exit 7";

        var result = Sh(script, "--init");

        Assert.Equal(7, result.ExitCode);
        Assert.Equal("orphans 50\nzombies 0\n", result.Stdout);
    }

    [ContainerTheory]
    [InlineData(false, 5)]
    [InlineData(true, 0)]
    public void Zombies_pile_up_under_a_pid_1_that_never_waits_unless_init_reaps_them(bool init, int zombies)
    {
        // the command ends as `sleep`, which never waits: five orphans handed to PID 1 stay
        // zombies - unless --init is PID 1 and the command only PID 2
        using var isolate = Start(init ? ["--init"] : [],
            "i=0; while [ $i -lt 5 ]; do sh -c 'sleep 0.2 & exit 0'; i=$((i+1)); done; echo ready; exec sleep 100");
        Thread.Sleep(1000);

        // the children of this container's PID 1 (not any process of another pid namespace:
        // other tests' containers run meanwhile)
        int pid1 = isolate.ContainerPid();
        var children = HostProcesses.All().Where(p => HostProcesses.ParentOf(p) == pid1).ToList();
        Assert.Equal(zombies, children.Count(p => File.ReadAllText($"/proc/{p}/stat").Split(") ")[1].StartsWith('Z')));
        Assert.Equal(0, kill(isolate.Pid, SIGTERM));
        isolate.WaitForExit();
    }

    [ContainerFact]
    public void With_init_SIGTERM_ends_a_command_that_installed_no_handler()
    {
        // the command is PID 2, not a namespace's init: SIGTERM's default action applies
        using var isolate = Start(["--init", "--stop-timeout", "60s"], "echo ready; exec sleep 100");
        Assert.Equal(0, kill(isolate.Pid, SIGTERM));

        Assert.Equal(143, isolate.WaitForExit(TimeSpan.FromSeconds(20)).ExitCode); // not 137: no SIGKILL was needed
    }

    [ContainerFact]
    public void With_init_signals_are_forwarded_and_the_status_kept()
    {
        using var isolate = Start(["--init"], "trap 'echo got usr1; exit 5' USR1; echo ready; while :; do sleep 0.05; done");
        Assert.Equal(0, kill(isolate.Pid, SIGUSR1));

        var result = isolate.WaitForExit(TimeSpan.FromSeconds(10));
        Assert.Equal(5, result.ExitCode);
        Assert.Contains("got usr1", result.Stdout);
    }

    [ContainerTheory]
    [InlineData("exit 0", 0)]
    [InlineData("exit 42", 42)]
    [InlineData("kill -USR1 $$", 138)]
    [InlineData("kill -KILL $$", 137)]
    public void With_init_the_exit_status_is_the_commands(string script, int expected)
    {
        Assert.Equal(expected, Sh(script, "--init").ExitCode);
    }

    [ContainerFact]
    public void Init_keeps_no_fd_the_command_was_given()
    {
        // the command may close a preserved fd to tell a reader it is done: init must not hold it
        var info = new ProcessStartInfo("/bin/sh") { UseShellExecute = false, RedirectStandardOutput = true };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add($"exec \"$ISOLATE\" run --init --preserve-fds 1 --rootfs {Rootfs.Path} -- sh -c 'echo ready; exec sleep 100' 3</etc/hostname");
        info.Environment["ISOLATE"] = IsolateBinary.Path;
        using var isolate = Process.Start(info)!;
        Assert.Equal("ready", isolate.StandardOutput.ReadLine());

        string? ours = HostProcesses.PidNamespace(Environment.ProcessId);
        int init = HostProcesses.ChildrenOf(isolate.Id).Single(p => HostProcesses.PidNamespace(p) != ours);
        int command = HostProcesses.ChildrenOf(init).Single();
        Assert.Equal(["0", "1", "2"], Fds(init));
        Assert.Equal(["0", "1", "2", "3"], Fds(command));

        Assert.Equal(0, kill(isolate.Id, SIGTERM));
        Assert.True(isolate.WaitForExit(TimeSpan.FromSeconds(20)));
        Assert.Equal(143, isolate.ExitCode);
    }

    private static string[] Fds(int pid) =>
        Directory.GetFileSystemEntries($"/proc/{pid}/fd").Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray()!;

    [ContainerFact]
    public void A_stop_signal_whose_default_is_not_deadly_gets_the_grace_period()
    {
        // SIGWINCH (httpd's graceful stop) to a PID 1 without a handler: dropped by the kernel,
        // and not worth a SIGKILL in its stead; the grace period runs out first
        using var isolate = Start(["--stop-signal", "WINCH", "--stop-timeout", "1s"], "echo ready; exec sleep 100");
        var clock = Stopwatch.StartNew();
        Assert.Equal(0, kill(isolate.Pid, SIGTERM));

        Assert.Equal(137, isolate.WaitForExit(TimeSpan.FromSeconds(20)).ExitCode);
        Assert.True(clock.Elapsed.TotalSeconds >= 0.9, $"killed after {clock.Elapsed.TotalSeconds:0.00} s, before the grace period ended");
    }

    [ContainerFact]
    public void With_init_a_missing_command_is_127()
    {
        var result = RunIn(["--init"], "no-such-command");
        Assert.Equal(127, result.ExitCode);
        Assert.Contains("no-such-command", result.Stderr);
    }

    // stop signal, stop timeout, timeout

    [ContainerFact]
    public void The_stop_signal_is_what_SIGTERM_to_isolate_sends()
    {
        using var isolate = Start(["--stop-signal", "USR1"],
            "trap 'echo got usr1; exit 7' USR1; trap 'echo got term; exit 8' TERM; echo ready; while :; do sleep 0.05; done");
        Assert.Equal(0, kill(isolate.Pid, SIGTERM));

        var result = isolate.WaitForExit(TimeSpan.FromSeconds(10));
        Assert.Equal(7, result.ExitCode);
        Assert.Contains("got usr1", result.Stdout);
    }

    [ContainerFact]
    public void A_container_that_ignores_the_stop_is_killed_after_the_stop_timeout()
    {
        using var isolate = Start(["--stop-timeout", "1s"], "trap '' TERM; echo ready; while :; do sleep 0.05; done");
        var clock = Stopwatch.StartNew();
        Assert.Equal(0, kill(isolate.Pid, SIGTERM));

        var result = isolate.WaitForExit(TimeSpan.FromSeconds(20));
        Assert.Equal(137, result.ExitCode);
        Assert.InRange(clock.Elapsed.TotalSeconds, 0.9, 15);
    }

    [ContainerFact]
    public void Timeout_stops_a_long_command_with_124_and_says_so()
    {
        var clock = Stopwatch.StartNew();
        var result = RunIn(["--timeout", "1s"], "sleep", "100");

        Assert.Equal(124, result.ExitCode);
        Assert.InRange(clock.Elapsed.TotalSeconds, 0.9, 10); // "about a second", nowhere near 100
        Assert.Equal("isolate: container stopped: it ran longer than --timeout 1s\n", result.Stderr);
    }

    [ContainerFact]
    public void Timeout_kills_a_command_that_ignores_the_stop_signal()
    {
        var result = Sh("trap '' TERM; while :; do sleep 0.05; done", "--timeout", "0.5s", "--stop-timeout", "0.5s");

        Assert.Equal(124, result.ExitCode);
        Assert.Equal("isolate: container stopped: it ran longer than --timeout 0.5s (killed)\n", result.Stderr);
    }

    [ContainerFact]
    public void A_command_that_ends_in_time_keeps_its_status()
    {
        var result = Sh("exit 3", "--timeout", "30s");
        Assert.Equal(3, result.ExitCode);
        Assert.Equal("", result.Stderr);
    }

    [ContainerTheory]
    [InlineData("--timeout", "abc", "invalid --timeout 'abc'")]
    [InlineData("--timeout", "0s", "--timeout")]
    [InlineData("--stop-timeout", "-1s", "--stop-timeout")]
    [InlineData("--stop-signal", "NOPE", "--stop-signal")]
    [InlineData("--ulimit", "bad", "invalid --ulimit 'bad'")]
    [InlineData("--ulimit", "nofile=10:5", "--ulimit")]
    [InlineData("--oom-score-adj", "1001", "--oom-score-adj")]
    [InlineData("--pid-file", "/no/such/dir/pid", "--pid-file")]
    public void Bad_process_options_are_one_line_errors_with_125(string option, string value, string expected)
    {
        var result = RunIn([option, value], "true");

        Assert.Equal(125, result.ExitCode);
        Assert.StartsWith("isolate: ", result.Stderr);
        Assert.Contains(expected, result.Stderr);
        Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal("", result.Stdout);
    }

    // stdio

    [ContainerTheory]
    [InlineData(false)]
    [InlineData(true)]
    public void Ten_megabytes_of_binary_data_pass_through_stdin_and_stdout_unchanged(bool interactive)
    {
        string[] options = interactive ? ["-i"] : [];
        var data = new byte[10 * 1024 * 1024];
        new Random(6).NextBytes(data);
        var info = IsolateBinary.StartInfo(["run", "--rootfs", Rootfs.Path, .. options, "--", "cat"]);
        using var process = Process.Start(info)!;
        var stdout = new MemoryStream();
        var reading = process.StandardOutput.BaseStream.CopyToAsync(stdout);
        var stderr = process.StandardError.ReadToEndAsync();
        process.StandardInput.BaseStream.Write(data);
        process.StandardInput.Close();
        Assert.True(process.WaitForExit(TimeSpan.FromSeconds(60)));
        reading.Wait();

        Assert.Equal(0, process.ExitCode);
        Assert.Equal("", stderr.Result);
        Assert.Equal(data.Length, stdout.Length);
        Assert.True(data.AsSpan().SequenceEqual(stdout.ToArray()), "the bytes that came out differ from those that went in");
    }

    [ContainerFact]
    public void Pipes_work_and_the_status_survives_a_pipeline()
    {
        var result = IsolateBinary.RunFromShell(
            $"echo hi | \"$ISOLATE\" run -i --rootfs {Rootfs.Path} -- sh -c 'cat; exit 3' | tr a-z A-Z; echo \"status $?\"; " +
            $"bash -c 'set -o pipefail; echo hi | \"$ISOLATE\" run -i --rootfs {Rootfs.Path} -- sh -c \"cat; exit 3\" | cat; echo \"pipefail $?\"'");

        Assert.Equal("HI\nstatus 0\nhi\npipefail 3\n", result.Stdout);
    }

    // rlimits, environment, OOM score

    [ContainerFact]
    public void Ulimits_are_the_commands_limits()
    {
        var result = Sh("ulimit -n; ulimit -Hn; ulimit -c; grep -E 'Max (open files|processes)' /proc/self/limits | awk '{print $1, $2, $3, $4, $5}'",
            "--ulimit", "nofile=100:200", "--ulimit", "core=0", "--ulimit", "nproc=300");

        Assert.Equal(0, result.ExitCode);
        Assert.Equal("100\n200\n0\nMax processes 300 300 processes\nMax open files 100 200\n", result.Stdout);
    }

    [ContainerFact]
    public void A_ulimit_above_what_isolate_may_grant_is_a_clear_error()
    {
        var result = RunIn(["--ulimit", "nofile=2000000000"], "true");

        Assert.Equal(125, result.ExitCode);
        Assert.Contains("--ulimit nofile", result.Stderr);
        Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [ContainerFact]
    public void Env_files_are_read_in_order_and_minus_e_wins()
    {
        string dir = Directory.CreateTempSubdirectory("isolate-envfile-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(dir, "a.env"), "# a comment\n\nGREETING=hello world\nCOLOR=red\nEMPTY=\n");
            File.WriteAllText(Path.Combine(dir, "b.env"), "COLOR=blue\nSHAPE=round\n");
            var result = Sh("echo \"$GREETING|$COLOR|$SHAPE|${EMPTY-unset}|$SIZE\"",
                "--env-file", Path.Combine(dir, "a.env"), "--env-file", Path.Combine(dir, "b.env"), "-e", "SHAPE=square", "-e", "SIZE=9");

            Assert.Equal(0, result.ExitCode);
            Assert.Equal("hello world|blue|square||9\n", result.Stdout);

            var missing = RunIn(["--env-file", Path.Combine(dir, "missing.env")], "true");
            Assert.Equal(125, missing.ExitCode);
            Assert.Contains("missing.env", missing.Stderr);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [ContainerFact]
    public void Oom_score_adj_is_the_commands()
    {
        var result = RunIn(["--oom-score-adj", "500"], "cat", "/proc/self/oom_score_adj");
        Assert.Equal(0, result.ExitCode);
        Assert.Equal("500\n", result.Stdout);

        // lowering it below Isolate's own needs CAP_SYS_RESOURCE, which root may lack (it does here)
        var lower = RunIn(["--oom-score-adj", "-500"], "cat", "/proc/self/oom_score_adj");
        if (HasCapability(24 /* CAP_SYS_RESOURCE */))
        {
            Assert.Equal(0, lower.ExitCode);
            Assert.Equal("-500\n", lower.Stdout);
        }
        else
        {
            Assert.Equal(125, lower.ExitCode);
            Assert.Contains("CAP_SYS_RESOURCE", lower.Stderr);
        }
    }

    private static bool HasCapability(int cap)
    {
        string line = File.ReadAllLines("/proc/self/status").Single(l => l.StartsWith("CapEff:", StringComparison.Ordinal));
        ulong effective = Convert.ToUInt64(line["CapEff:".Length..].Trim(), 16);
        return (effective & (1UL << cap)) != 0;
    }

    // --pid-file, --die-with-parent

    [ContainerTheory]
    [InlineData(false)]
    [InlineData(true)]
    public void The_pid_file_holds_the_containers_pid_1_while_it_runs(bool init)
    {
        string pidFile = Path.Combine(Path.GetTempPath(), $"isolate-test-{Guid.NewGuid():N}.pid");
        using var isolate = Start(init ? ["--init", "--pid-file", pidFile] : ["--pid-file", pidFile], "echo ready; exec sleep 100");

        Assert.Equal($"{isolate.ContainerPid()}\n", File.ReadAllText(pidFile));
        // as an init script stops a service: kill $(cat pidfile) reaches the container's PID 1
        Assert.Equal(0, kill(isolate.ContainerPid(), SIGKILL));
        Assert.Equal(137, isolate.WaitForExit().ExitCode);
        Assert.False(File.Exists(pidFile), "the pid file was left behind");
    }

    [ContainerFact]
    public void Die_with_parent_stops_the_container_when_isolates_parent_dies()
    {
        var info = new ProcessStartInfo("/bin/sh") { UseShellExecute = false, RedirectStandardOutput = true };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add($"\"$ISOLATE\" run --die-with-parent --rootfs {Rootfs.Path} -- sleep 100 & echo $!; wait");
        info.Environment["ISOLATE"] = IsolateBinary.Path;
        using var parent = Process.Start(info)!;
        int isolate = int.Parse(parent.StandardOutput.ReadLine()!);
        WaitForContainer(isolate);

        parent.Kill(); // SIGKILL: isolate's parent dies without a word

        HostProcesses.WaitUntilGone(isolate, TimeSpan.FromSeconds(15));
        Assert.False(HostProcesses.Exists(isolate), "isolate outlived its parent");
        // the base class checks that the container's processes are gone too
    }

    [ContainerFact]
    public void Without_die_with_parent_a_background_isolate_outlives_its_parent()
    {
        // an init script may start isolate and exit: the service keeps running
        var info = new ProcessStartInfo("/bin/sh") { UseShellExecute = false, RedirectStandardOutput = true };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add($"\"$ISOLATE\" run --rootfs {Rootfs.Path} -- sleep 100 </dev/null >/dev/null 2>&1 & echo $!; wait");
        info.Environment["ISOLATE"] = IsolateBinary.Path;
        using var parent = Process.Start(info)!;
        int isolate = int.Parse(parent.StandardOutput.ReadLine()!);
        WaitForContainer(isolate);

        parent.Kill();
        parent.WaitForExit();
        Thread.Sleep(500);
        Assert.True(HostProcesses.Exists(isolate), "isolate died with its parent");

        Assert.Equal(0, kill(isolate, SIGTERM));
        HostProcesses.WaitUntilGone(isolate, TimeSpan.FromSeconds(15));
    }

    private static void WaitForContainer(int isolate)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!HostProcesses.ChildrenOf(isolate).Any(p => HostProcesses.Comm(p) == "sleep"))
        {
            Assert.True(DateTime.UtcNow < deadline, "the container never started");
            Thread.Sleep(20);
        }
    }

    [System.Runtime.InteropServices.DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int signal);
}
