using Isolate.Tests.Support;

namespace Isolate.Tests.Integration;

/// <summary>What a docker user types, on `run -d` containers (issue 12): kill's default signal
/// and -s, --rm, the remove command a reused name suggests, and ps's status words and columns.</summary>
public sealed class DockerHabitTests : ContainerTest, IDisposable
{
    private readonly string _root;

    public DockerHabitTests(BusyboxRootfs rootfs) : base(rootfs)
    {
        _root = Own(Directory.CreateTempSubdirectory("isolate-habits-").FullName);
    }

    void IDisposable.Dispose()
    {
        foreach (string dir in Directory.GetDirectories(_root))
            Isolate("rm", "-f", Path.GetFileName(dir));
        Directory.Delete(_root, recursive: true);
        Dispose();
    }

    private RunResult Isolate(params string[] args) => IsolateBinary.Run(["--root", _root, .. args]);

    private RunResult Detach(string[] options, string script) =>
        Isolate(["run", "-d", "--rootfs", Rootfs.Path, .. options, "--", "sh", "-c", script]);

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
}
