using System.Diagnostics;
using Isolate.Tests.Support;

namespace Isolate.Tests.Integration;

/// <summary>A containerd of the tests' own (its root, state and socket in a temp directory),
/// started once, with the test rootfs imported as an image through podman.</summary>
public static class Containerd
{
    private static readonly object Gate = new();
    private static string? _socket;
    private static Process? _daemon;
    public const string Image = "localhost/isolate-test-busybox:latest";

    public static string Socket => _socket ?? throw new InvalidOperationException("containerd was not started");

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
            var info = new ProcessStartInfo("/usr/bin/containerd") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (string arg in new[] { "--root", Path.Combine(dir, "root"), "--state", Path.Combine(dir, "state"), "--address", socket })
                info.ArgumentList.Add(arg);
            _daemon = Process.Start(info)!;
            _daemon.OutputDataReceived += (_, _) => { };
            _daemon.ErrorDataReceived += (_, _) => { };
            _daemon.BeginOutputReadLine();
            _daemon.BeginErrorReadLine();
            AppDomain.CurrentDomain.ProcessExit += (_, _) =>
            {
                _daemon.Kill(entireProcessTree: true);
                try
                {
                    Directory.Delete(dir, recursive: true);
                }
                catch (IOException)
                {
                }
            };
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
            while (!File.Exists(socket))
            {
                if (DateTime.UtcNow > deadline || _daemon.HasExited)
                    throw new InvalidOperationException("containerd did not start");
                Thread.Sleep(50);
            }
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
