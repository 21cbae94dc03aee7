using System.Runtime.InteropServices;
using Isolate.Tests.Support;

namespace Isolate.Tests.Integration;

/// <summary>What a docker user types, on `run -d` containers (issue 12): kill's default signal
/// and -s, --rm, the remove command a reused name suggests, and ps's status words and columns.</summary>
public sealed class DockerHabitTests : StateRootTest
{
    public DockerHabitTests(BusyboxRootfs rootfs) : base(rootfs, "isolate-habits-")
    {
    }


    private void WaitForLog(string id, string text)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (!Isolate("logs", id).Stdout.Contains(text, StringComparison.Ordinal))
        {
            Assert.True(DateTime.UtcNow < deadline, $"the log of {id} never showed '{text}'");
            Thread.Sleep(20);
        }
    }

    private string PsLine(string id, params string[] options) =>
        Isolate(["ps", "-a", .. options]).Stdout.Split('\n').FirstOrDefault(l => l.StartsWith(id + " ", StringComparison.Ordinal)) ?? "";

    [ContainerFact]
    public void Kill_without_a_signal_kills_a_detached_container_whose_PID_1_ignores_TERM()
    {
        // sh as PID 1 with no TERM handler: the kernel drops a TERM sent to it from the host
        Assert.Equal(0, Detach(["--name", "deaf"], "echo ready; while :; do sleep 0.05; done").ExitCode);
        WaitForLog("deaf", "ready");

        var kill = Isolate("kill", "deaf");
        Assert.True(kill.ExitCode == 0, kill.ToString());
        Assert.Equal("deaf\n", kill.Stdout); // as docker kill: the container named
        Assert.Equal("137\n", Isolate("wait", "deaf").Stdout);
    }

    [ContainerFact]
    public void Kill_takes_dockers_signal_option_and_refuses_two_signals()
    {
        Assert.Equal(0, Detach(["--name", "polite"], "trap 'echo got term; exit 5' TERM; echo ready; while :; do sleep 0.05; done").ExitCode);
        WaitForLog("polite", "ready");

        var twice = Isolate("kill", "-s", "TERM", "polite", "KILL");
        Assert.Equal(125, twice.ExitCode);
        Assert.Equal("isolate: kill: the signal is given twice ('-s TERM' and 'KILL'): give one\n", twice.Stderr);

        var kill = Isolate("kill", "-s", "TERM", "polite");
        Assert.True(kill.ExitCode == 0, kill.ToString());
        Assert.Equal("5\n", Isolate("wait", "polite").Stdout);
        Assert.Equal("ready\ngot term\n", Isolate("logs", "polite").Stdout);

        Assert.Equal(0, Detach(["--name", "long-form"], "trap 'exit 6' USR1; echo ready; while :; do sleep 0.05; done").ExitCode);
        WaitForLog("long-form", "ready");
        Assert.Equal(0, Isolate("kill", "--signal=USR1", "long-form").ExitCode);
        Assert.Equal("6\n", Isolate("wait", "long-form").Stdout);
    }

    [ContainerFact]
    public void Rm_in_the_foreground_is_accepted_and_changes_nothing()
    {
        var run = RunIn(["--rm"], "echo", "hi");
        Assert.Equal((0, "hi\n", ""), (run.ExitCode, run.Stdout, run.Stderr));
    }

    [ContainerFact]
    public void A_detached_rm_container_goes_when_it_ends_and_a_wait_begun_before_gets_its_status()
    {
        Assert.Equal(0, Detach(["--rm", "--name", "gone"], "while [ ! -e /tmp/go ]; do sleep 0.05; done; exit 3").ExitCode);
        Assert.StartsWith("gone ", PsLine("gone"));

        var wait = Task.Run(() => Isolate("wait", "gone"));
        // the waiter holds its lock (shared) until it has read the status: the container may end once it does
        string waitLock = Path.Combine(StateRoot, "gone", "wait.lock");
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (!HeldByAnother(waitLock))
        {
            Assert.True(DateTime.UtcNow < deadline && !wait.IsCompleted, "the wait never took its lock: " + (wait.IsCompleted ? wait.Result.ToString() : ""));
            Thread.Sleep(10);
        }
        Assert.Equal(0, Isolate("exec", "gone", "touch", "/tmp/go").ExitCode);

        var waited = wait.Result;
        Assert.True(waited.ExitCode == 0, waited.ToString());
        Assert.Equal("3\n", waited.Stdout);
        WaitUntilRemoved("gone");
        Assert.Equal("", PsLine("gone"));
        var late = Isolate("wait", "gone");
        Assert.Equal((125, "isolate: container gone does not exist\n"), (late.ExitCode, late.Stderr));
    }

    [ContainerFact]
    public void A_detached_rm_container_that_ends_at_once_is_still_reported_started_then_removed()
    {
        var run = Detach(["--rm", "--name", "brief"], "exit 0");
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal("brief\n", run.Stdout);
        WaitUntilRemoved("brief");
    }

    private void WaitUntilRemoved(string id)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (Directory.Exists(Path.Combine(StateRoot, id)))
        {
            Assert.True(DateTime.UtcNow < deadline, $"{id} was never removed");
            Thread.Sleep(20);
        }
    }

    [ContainerFact]
    public void A_reused_name_suggests_docker_rm_with_force_while_it_runs()
    {
        Assert.Equal(0, Detach(["--name", "twice"], "echo ready; while :; do sleep 0.05; done").ExitCode);
        var running = Detach(["--name", "twice"], "true");
        Assert.Equal(125, running.ExitCode);
        Assert.Equal("isolate: container twice exists already: choose another name, or remove it (`isolate rm -f twice`)\n", running.Stderr);
        // the OCI verb on it answers in the face that made it
        var delete = Isolate("delete", "twice");
        Assert.Equal((125, "isolate: cannot delete container twice: it is running; stop it first (isolate stop twice) or use isolate rm -f twice\n"), (delete.ExitCode, delete.Stderr));

        Assert.Equal(0, Isolate("kill", "twice").ExitCode);
        Assert.Equal("137\n", Isolate("wait", "twice").Stdout);
        var stopped = Detach(["--name", "twice"], "true");
        Assert.Equal("isolate: container twice exists already: choose another name, or remove it (`isolate rm twice`)\n", stopped.Stderr);
        Assert.Equal(0, Isolate("rm", "twice").ExitCode);
    }

    [ContainerFact]
    public void Ps_shows_uptime_and_end_and_keeps_its_columns_with_a_long_name_and_command()
    {
        string name = "a-container-with-a-name-much-longer-than-twenty-characters";
        string script = "echo ready; while :; do sleep 0.05; done; echo a command line far longer than forty characters";
        Assert.Equal(0, Detach(["--name", name], script).ExitCode);
        Assert.Equal(0, Detach(["--name", "short"], "exit 4").ExitCode);
        Assert.Equal("4\n", Isolate("wait", "short").Stdout);
        WaitForLog(name, "ready");

        var lines = Isolate("ps", "-a").Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        string header = lines[0], running = lines.Single(l => l.StartsWith(name, StringComparison.Ordinal)), exited = lines.Single(l => l.StartsWith("short ", StringComparison.Ordinal));
        // each column starts where its heading does, in every row
        foreach (string column in new[] { "STATUS", "PID", "CREATED", "COMMAND" })
        {
            int at = header.IndexOf(column, StringComparison.Ordinal);
            Assert.True(running[at - 1] == ' ' && running[at] != ' ' && exited[at - 1] == ' ' && exited[at] != ' ', $"{column} at {at}:\n{string.Join('\n', lines)}");
        }
        string status = header.IndexOf("STATUS", StringComparison.Ordinal) is var s ? running[s..header.IndexOf("PID", StringComparison.Ordinal)].Trim() : "";
        Assert.Matches(@"^Up (Less than a second|\d+ seconds?|About a minute)$", status);
        Assert.Matches(@"Exited \(4\) (Less than a second|\d+ seconds?|About a minute) ago", exited);
        string command = running[header.IndexOf("COMMAND", StringComparison.Ordinal)..];
        Assert.Equal(40, command.Length);
        Assert.EndsWith("\u2026", command);

        Assert.EndsWith("sh -c " + script, PsLine(name, "--no-trunc"));
    }

    [ContainerFact]
    public void Ps_says_a_container_was_killed_for_memory()
    {
        Assert.Equal(0, Detach(["--name", "greedy", "--memory", "32m"], "x=$(head -c 100000000 /dev/zero | tr '\\0' a); echo allocated").ExitCode);
        Assert.Equal("137\n", Isolate("wait", "greedy").Stdout);
        Assert.Contains(" Exited (137, OOM killed) ", PsLine("greedy"));
    }

    /// <summary>Another process holds an flock on the file (ours would have been granted).</summary>
    private static bool HeldByAnother(string path)
    {
        // O_CLOEXEC: a process another test starts while this lock is held must not inherit it
        // (a flock belongs to the open file: a long-lived child would hold it, and the wait with it)
        int fd = open(path, 0x80000 /* O_RDONLY | O_CLOEXEC */);
        if (fd < 0)
            return false;
        try
        {
            return flock(fd, 2 | 4 /* LOCK_EX | LOCK_NB */) < 0;
        }
        finally
        {
            close(fd);
        }
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int open(string path, int flags);

    [DllImport("libc", SetLastError = true)]
    private static extern int flock(int fd, int operation);

    [DllImport("libc")]
    private static extern int close(int fd);
}
