namespace Isolate.Tests.Support;

/// <summary>A container test with a state root (--root) of its own: the docker-face verbs act
/// there only, and every container the test left is removed (rm -f) before the scoped leak
/// checks of <see cref="ContainerTest"/> run.</summary>
public abstract class StateRootTest : ContainerTest, IDisposable
{
    protected StateRootTest(BusyboxRootfs rootfs, string prefix) : base(rootfs)
    {
        StateRoot = Own(Directory.CreateTempSubdirectory(prefix).FullName);
    }

    protected string StateRoot { get; }

    /// <summary>isolate --root STATE ARGS...</summary>
    protected RunResult Isolate(params string[] args) => IsolateBinary.Run(["--root", StateRoot, .. args]);

    /// <summary>isolate run -d on the busybox root: sh -c SCRIPT, with OPTIONS before it.</summary>
    protected RunResult Detach(string[] options, string script) =>
        Isolate(["run", "-d", "--rootfs", Rootfs.Path, .. options, "--", "sh", "-c", script]);

    /// <summary>The PID of a run -d container's monitor, as its state records it.</summary>
    protected int MonitorPid(string id) => int.Parse(System.Text.Json.Nodes.JsonNode.Parse(
        File.ReadAllText(Path.Combine(StateRoot, id, "state.json")))!["monitorPid"]!.ToString());

    void IDisposable.Dispose()
    {
        foreach (string dir in Directory.Exists(StateRoot) ? Directory.GetDirectories(StateRoot) : [])
            Isolate("rm", "-f", Path.GetFileName(dir));
        if (Directory.Exists(StateRoot))
            Directory.Delete(StateRoot, recursive: true);
        Dispose();
    }
}
