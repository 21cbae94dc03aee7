using Isolate.Tests.Support;

namespace Isolate.Tests.Integration;

/// <summary>Everyday docker habits on a private state root: exec with and without a terminal,
/// and a foreground container named for ps, exec, stop and kill (a service from an init script).</summary>
public sealed class EverydayPathTests : ContainerTest, IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("isolate-everyday-").FullName;

    public EverydayPathTests(BusyboxRootfs rootfs) : base(rootfs)
    {
    }

    void IDisposable.Dispose()
    {
        foreach (string dir in Directory.GetDirectories(_root))
            Isolate("rm", "-f", Path.GetFileName(dir));
        Directory.Delete(_root, recursive: true);
        Dispose();
    }

    private RunResult Isolate(params string[] args) => IsolateBinary.Run(["--root", _root, .. args]);

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
        var refused = IsolateBinary.Run(["--root", _root, "exec", "-it", id, "sh"], stdin: "echo piped\n", TimeSpan.FromSeconds(20));
        Assert.Equal(125, refused.ExitCode);
        Assert.Equal("isolate: exec -it: the input device is not a terminal; drop -i to give the command a terminal without your input, or -t to pass stdin through as it is\n", refused.Stderr);

        var tty = IsolateBinary.Run(["--root", _root, "exec", "-t", id, "sh", "-c", "tty >/dev/null && echo on-a-tty"], stdin: "ignored\n", TimeSpan.FromSeconds(20));
        Assert.Equal((0, "on-a-tty\r\n"), (tty.ExitCode, tty.Stdout));
        var piped = IsolateBinary.Run(["--root", _root, "exec", "-i", id, "cat"], stdin: "through\n", TimeSpan.FromSeconds(20));
        Assert.Equal((0, "through\n"), (piped.ExitCode, piped.Stdout));
        Assert.Equal("", Isolate("exec", id, "sh", "-c", "ps -o stat | grep Z || true").Stdout); // nothing left behind
    }
}
