using Isolate.Interop;
using Isolate.Plan;
using Isolate.Runtime;
using Isolate.Tests.Support;

namespace Isolate.Tests.Integration;

/// <summary>The shim's protocol at the ABI level, from a multithreaded .NET process
/// (this test host), exactly as the binary uses it: spawn, gate, FAILED message or EOF.</summary>
public sealed unsafe class ShimProtocolTests(BusyboxRootfs rootfs) : ContainerTest(rootfs)
{
    private static SpawnPlan Plan(IReadOnlyList<MountOp> mounts, params string[] args) => new()
    {
        Namespaces = CloneFlags.NewPid | CloneFlags.NewNs | CloneFlags.NewUts | CloneFlags.NewIpc,
        Hostname = "shim-test",
        Mounts = mounts,
        Workdir = "/",
        Args = args,
        Env = ["PATH=/usr/bin:/bin"],
        SearchPath = "/usr/bin:/bin",
    };

    private static (int Pid, int Fd) Spawn(SpawnPlan plan)
    {
        using var config = new NativeSpawnConfig(plan);
        ShimSpawnResult result;
        Assert.Equal(0, Shim.Spawn(config.Config, &result));
        return (result.Pid, result.SyncFd);
    }

    private static int Reap(int pid)
    {
        int status;
        Assert.Equal(pid, Libc.WaitPid(pid, &status, 0));
        return status;
    }

    [ContainerFact]
    public void A_failed_mount_reports_its_index_and_errno()
    {
        var plan = Plan([MountOp.MakePrivate("/"), MountOp.Bind("/nonexistent-source", "/mnt", recursive: false)], "true");
        var (pid, fd) = Spawn(plan);

        ShimMessage failure;
        Assert.Equal(0, Shim.Release(fd, -1, -1));
        Assert.Equal(1, Shim.AwaitExec(fd, &failure, null, 0, null, null));
        Libc.Close(fd);

        Assert.Equal((uint)ShimStep.MountOp, failure.Step);
        Assert.Equal(2 /* ENOENT */, failure.Err);
        Assert.Equal(1, failure.Detail);
        Assert.Equal(125, ExitStatus.FromWaitStatus(Reap(pid)));
    }

    [ContainerFact]
    public void A_missing_command_reports_exec_ENOENT_and_exits_127()
    {
        var (pid, fd) = Spawn(Plan([MountOp.MakePrivate("/")], "no-such-command-anywhere"));

        ShimMessage failure;
        Assert.Equal(0, Shim.Release(fd, -1, -1));
        Assert.Equal(1, Shim.AwaitExec(fd, &failure, null, 0, null, null));
        Libc.Close(fd);

        Assert.Equal((uint)ShimStep.Exec, failure.Step);
        Assert.Equal(2 /* ENOENT */, failure.Err);
        Assert.Equal((int)ShimExecDetail.NotFound, failure.Detail);
        Assert.Equal(127, ExitStatus.FromWaitStatus(Reap(pid)));
    }

    /// <summary>Two PATH entries on the host: the first holds a file of the command's name
    /// that is not executable, the second (when given) an executable one.</summary>
    private static (string Denied, string Runnable) SearchPathDirectories(string command)
    {
        string top = Directory.CreateTempSubdirectory("isolate-path-").FullName;
        string denied = Directory.CreateDirectory(Path.Combine(top, "denied")).FullName;
        string runnable = Directory.CreateDirectory(Path.Combine(top, "runnable")).FullName;
        File.WriteAllText(Path.Combine(denied, command), "#!/bin/sh\nexit 9\n");
        File.SetUnixFileMode(Path.Combine(denied, command), UnixFileMode.UserRead | UnixFileMode.UserWrite);
        File.WriteAllText(Path.Combine(runnable, command), "#!/bin/sh\nexit 7\n");
        File.SetUnixFileMode(Path.Combine(runnable, command), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return (denied, runnable);
    }

    [ContainerFact]
    public void The_PATH_walk_goes_past_an_entry_whose_file_is_not_executable()
    {
        var (denied, runnable) = SearchPathDirectories("isolate-walk");
        try
        {
            var (pid, fd) = Spawn(Plan([MountOp.MakePrivate("/")], "isolate-walk") with { SearchPath = $"{denied}:{runnable}" });
            Assert.Equal(0, Shim.Release(fd, -1, -1));
            Assert.Equal(0, Shim.AwaitExec(fd, null, null, 0, null, null));
            Libc.Close(fd);
            Assert.Equal(7, ExitStatus.FromWaitStatus(Reap(pid)));
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(denied)!, recursive: true);
        }
    }

    [ContainerFact]
    public void A_PATH_walk_that_finds_only_a_file_it_cannot_execute_reports_EACCES_and_exits_126()
    {
        var (denied, _) = SearchPathDirectories("isolate-walk");
        try
        {
            var (pid, fd) = Spawn(Plan([MountOp.MakePrivate("/")], "isolate-walk") with { SearchPath = $"/nonexistent:{denied}" });
            ShimMessage failure;
            Assert.Equal(0, Shim.Release(fd, -1, -1));
            Assert.Equal(1, Shim.AwaitExec(fd, &failure, null, 0, null, null));
            Libc.Close(fd);

            Assert.Equal((uint)ShimStep.Exec, failure.Step);
            Assert.Equal(13 /* EACCES */, failure.Err);
            Assert.Equal((int)ShimExecDetail.NotFound, failure.Detail);
            Assert.Equal(126, ExitStatus.FromWaitStatus(Reap(pid)));
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(denied)!, recursive: true);
        }
    }

    [ContainerFact]
    public void A_successful_exec_closes_the_socket_and_the_status_is_the_commands()
    {
        var (pid, fd) = Spawn(Plan([MountOp.MakePrivate("/")], "sh", "-c", "exit 3"));

        Assert.Equal(0, Shim.Release(fd, -1, -1));
        Assert.Equal(0, Shim.AwaitExec(fd, null, null, 0, null, null)); // EOF: execve happened
        Libc.Close(fd);

        Assert.Equal(3, ExitStatus.FromWaitStatus(Reap(pid)));
    }

    [ContainerFact]
    public void Nothing_runs_before_the_gate_opens_and_a_closed_gate_ends_the_child()
    {
        string marker = Path.Combine(Path.GetTempPath(), "isolate-gate-" + Guid.NewGuid().ToString("N"));
        var (pid, fd) = Spawn(Plan([MountOp.MakePrivate("/")], "touch", marker));

        Thread.Sleep(200);
        Assert.False(File.Exists(marker), "the command ran before the gate opened");
        Libc.Close(fd); // the parent "dies" without opening the gate

        Assert.Equal(125, ExitStatus.FromWaitStatus(Reap(pid)));
        Assert.False(File.Exists(marker));
    }
}
