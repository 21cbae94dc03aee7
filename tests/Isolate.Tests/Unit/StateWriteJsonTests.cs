using System.Text.Json;
using Isolate.State;

namespace Isolate.Tests.Unit;

/// <summary>state.json and the OCI state are written by the generated writer alone
/// (StateWriteJsonContext: no metadata to build on the start path) and read through
/// StateJsonContext's metadata: the writer's text is the metadata serializer's, byte for
/// byte, and reads back to the same record, kinds and stats formats by name.</summary>
public sealed class StateWriteJsonTests
{
    private static ContainerState Full(ContainerKind kind, Isolate.Spec.StatsFormat stats) => new()
    {
        Id = "c1",
        Kind = kind,
        Pid = 42,
        PidStartTime = ulong.MaxValue,
        Bundle = "/b <&> \u00e9",
        Rootfs = "/r",
        Created = "2026-12-06T01:02:03.0000000Z",
        Annotations = new() { ["a"] = "b", ["c\"d"] = "e\\f" },
        CgroupParent = "p",
        CgroupName = "n",
        Owner = 1000,
        Poststart = [new HookState("/h", ["/h", "x"], ["E=1"], 5)],
        Poststop = [new HookState("/h2", [], null, null)],
        MonitorPid = 7,
        MonitorStartTime = 8,
        Command = ["sh", "-c", "echo hi"],
        LogPath = "/l",
        LogFormat = "k8s-file",
        LogMaxSize = 1 << 20,
        LogMaxFiles = 3,
        LogDroppedBytes = 9,
        ExitCode = 137,
        OomKilled = true,
        Finished = "now",
        AutoRemove = true,
        Error = "e",
        StopTimeoutSeconds = 4,
        Stats = stats,
        Debug = true,
    };

    [Fact]
    public void The_written_state_is_what_the_metadata_serializer_writes_and_reads_back_the_same()
    {
        foreach (var state in new[]
                 {
                     Full(ContainerKind.Oci, Isolate.Spec.StatsFormat.None), Full(ContainerKind.Detached, Isolate.Spec.StatsFormat.Json),
                     new ContainerState { Id = "bare", Bundle = "", Created = "" },
                 })
        {
            string written = JsonSerializer.Serialize(state, StateWriteJsonContext.Default.ContainerState);
            Assert.Equal(JsonSerializer.Serialize(state, StateJsonContext.Default.ContainerState), written);
            var read = JsonSerializer.Deserialize(written, StateJsonContext.Default.ContainerState)!;
            Assert.Equal((state.Kind, state.Stats), (read.Kind, read.Stats));
            Assert.Equal(written, JsonSerializer.Serialize(read, StateWriteJsonContext.Default.ContainerState));
        }
        // the kinds by name, as state.json has always held them
        Assert.Contains("\"kind\": \"Detached\"", JsonSerializer.Serialize(Full(ContainerKind.Detached, Isolate.Spec.StatsFormat.Text), StateWriteJsonContext.Default.ContainerState));
        Assert.Equal(ContainerKind.Detached, JsonSerializer.Deserialize("{\"id\":\"x\",\"bundle\":\"\",\"created\":\"\",\"kind\":\"Detached\",\"stats\":\"Text\"}", StateJsonContext.Default.ContainerState)!.Kind);
    }

    [Fact]
    public void The_oci_state_and_the_listing_are_what_the_metadata_serializer_writes()
    {
        var view = Isolate.Containers.ContainerViews.View(Full(ContainerKind.Oci, Isolate.Spec.StatsFormat.None), ContainerStatus.Running);
        Assert.Equal(JsonSerializer.Serialize(view, StateJsonContext.Default.OciStateView), Isolate.Containers.ContainerViews.StateJson(Full(ContainerKind.Oci, Isolate.Spec.StatsFormat.None), ContainerStatus.Running));
        List<OciStateView> views = [view, view with { Id = "c2", Annotations = null }];
        Assert.Equal(JsonSerializer.Serialize(views, StateJsonContext.Default.ListOciStateView), Isolate.Containers.ContainerViews.ListJson(views));
    }
}
