using System.Diagnostics;
using Isolate.Tests.Support;

namespace Isolate.Tests.Integration;

/// <summary>A containerd of the tests' own (its root, state and socket in a temp directory),
/// started once, with the test rootfs imported as an image through podman.</summary>
public static class Containerd
{
    private static readonly object Gate = new();
    private static string? _socket;
    public const string Image = "localhost/isolate-test-busybox:latest";

    public static string Socket => _socket ?? throw new InvalidOperationException("containerd was not started");

    /// <summary>Starts a containerd of the tests' own with these arguments, waits for its socket,
    /// and kills it (and removes its directory) when the test process ends.</summary>
    /// <param name="log">Where its stderr goes (what the shim and the runtime said), or null.</param>
    /// <param name="onExit">A shell command that undoes what the daemon made outside its directory.</param>
    public static Process StartDaemon(string dir, IEnumerable<string> arguments, string socket, string? log = null, string? onExit = null)
    {
        var info = new ProcessStartInfo("/usr/bin/containerd") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string arg in arguments)
            info.ArgumentList.Add(arg);
        var daemon = Process.Start(info)!;
        var writer = log is null ? null : new StreamWriter(log) { AutoFlush = true };
        daemon.OutputDataReceived += (_, _) => { };
        daemon.ErrorDataReceived += (_, e) =>
        {
            if (writer != null && e.Data != null)
                lock (writer)
                    writer.WriteLine(e.Data);
        };
        daemon.BeginOutputReadLine();
        daemon.BeginErrorReadLine();
        // The test host is often killed rather than let exit (ProcessExit never runs): a watchdog
        // outside it stops the daemon and removes its directory once the test host is gone.
        IsolateBinary.RunFromShell(
            $"setsid sh -c 'while kill -0 {Environment.ProcessId} 2>/dev/null; do sleep 1; done; kill {daemon.Id}; " +
            $"while kill -0 {daemon.Id} 2>/dev/null; do sleep 0.2; done; " +
            $"{onExit ?? "true"}; rm -rf {dir}' </dev/null >/dev/null 2>&1 &");
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!File.Exists(socket))
        {
            if (DateTime.UtcNow > deadline || daemon.HasExited)
                throw new InvalidOperationException("containerd did not start" + (log is null ? "" : ": " + File.ReadAllText(log)));
            Thread.Sleep(50);
        }
        return daemon;
    }

    /// <summary>Starts it (once) before a test's base class looks at the mounts.</summary>
    public static BusyboxRootfs Ensure(BusyboxRootfs rootfs)
    {
        if (!ContainerdFactAttribute.Available)
            return rootfs;
        lock (Gate)
        {
            if (_socket != null)
                return rootfs;
            string dir = Directory.CreateTempSubdirectory("isolate-containerd-").FullName;
            string socket = Path.Combine(dir, "containerd.sock");
            StartDaemon(dir, ["--root", Path.Combine(dir, "root"), "--state", Path.Combine(dir, "state"), "--address", socket], socket);
            PodmanImage.Import(rootfs.Path);
            var import = IsolateBinary.RunFromShell(
                $"podman save --format oci-archive -o {dir}/image.tar {PodmanImage.Name} >/dev/null 2>&1 && " +
                $"ctr -a {socket} images import --base-name localhost/isolate-test-busybox {dir}/image.tar >/dev/null",
                TimeSpan.FromMinutes(2));
            if (import.ExitCode != 0)
                throw new InvalidOperationException("importing the image into containerd failed: " + import);
            _socket = socket;
            return rootfs;
        }
    }
}

/// <summary>A test that drives containerd: skipped, saying why, without root, containerd or podman.</summary>
public sealed class ContainerdFactAttribute : FactAttribute
{
    public static bool Available => Environment.IsPrivilegedProcess && File.Exists("/usr/bin/containerd") && File.Exists("/usr/bin/ctr")
        && File.Exists("/usr/bin/podman");

    public ContainerdFactAttribute()
    {
        if (!Environment.IsPrivilegedProcess)
            Skip = "needs root: containerd runs rootful containers here";
        else if (!Available)
            Skip = "containerd, ctr or podman (which makes the image) is not installed (.ci/run installs them)";
    }
}

/// <summary>containerd uses Isolate as its runc binary (the runc v2 shim's --runc-binary):
/// the shim calls create, start, state, exec, kill and delete with runc's arguments.</summary>
public sealed class ContainerdTests(BusyboxRootfs rootfs) : ContainerTest(Containerd.Ensure(rootfs))
{
    private static RunResult Ctr(string arguments) =>
        IsolateBinary.RunFromShell($"ctr -a {Containerd.Socket} {arguments}", TimeSpan.FromMinutes(1));

    private static string Run(string options) => $"run {options} --runc-binary {IsolateBinary.Path} {Containerd.Image}";

    [ContainerdFact]
    public void Ctr_run_returns_the_containers_status_and_output()
    {
        string id = $"{Scope.Id}-{Guid.NewGuid():N}"[..(Scope.Id.Length + 9)]; // the shim's command line names it: its processes are the test's
        var result = Ctr($"{Run("--rm")} {id} sh -c 'echo pid $$; exit 3'");

        Assert.True(result.ExitCode == 3, result.ToString());
        Assert.Equal("pid 1\n", result.Stdout);
    }

    [ContainerdFact]
    public void Ctr_runs_detached_execs_kills_and_deletes_a_task()
    {
        string id = $"{Scope.Id}-{Guid.NewGuid():N}"[..(Scope.Id.Length + 9)]; // the shim's command line names it: its processes are the test's
        try
        {
            var run = Ctr($"{Run("-d")} {id} sleep 100");
            Assert.True(run.ExitCode == 0, run.ToString());
            Assert.Contains("RUNNING", Ctr($"task ls").Stdout);

            var exec = Ctr($"task exec --exec-id probe {id} sh -c 'echo exec $$; exit 4'");
            Assert.Equal(4, exec.ExitCode);
            Assert.Equal("exec 2\n", exec.Stdout);

            Assert.Equal(0, Ctr($"task kill -s KILL {id}").ExitCode);
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
            while (!Ctr("task ls").Stdout.Split('\n').Any(l => l.StartsWith(id, StringComparison.Ordinal) && l.Contains("STOPPED")))
            {
                Assert.True(DateTime.UtcNow < deadline, "the task never stopped");
                Thread.Sleep(50);
            }
        }
        finally
        {
            Ctr($"task delete -f {id}");
            Ctr($"container delete {id}");
        }
        Assert.DoesNotContain(id, Ctr("container ls -q").Stdout);
    }
}
