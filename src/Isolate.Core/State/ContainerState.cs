using System.Text.Json.Serialization;

namespace Isolate.State;

/// <summary>What Isolate keeps of one container in its state directory (state.json),
/// written whole and renamed into place; the container's launched spec is beside it
/// (spec.json, StateStore.WriteSpec), for exec and for run -d's monitor. The status is never stored: it is derived from
/// the process (alive with the recorded start time?) and the exec FIFO (still there: not
/// started), so a crash or a reboot can never leave a stale "running".</summary>
public sealed record ContainerState
{
    public string OciVersion { get; init; } = "1.2.0";
    public required string Id { get; init; }
    /// <summary>Which face made it: an OCI bundle, or docker's run -d.</summary>
    [JsonIgnore]
    public ContainerKind Kind { get; init; }
    /// <summary><see cref="Kind"/> as state.json holds it, by name (a converter attribute
    /// would keep the generated writer from writing the record straight out).</summary>
    [JsonPropertyName("kind")]
    public string KindName { get => Kind.ToString(); init => Kind = Enum.Parse<ContainerKind>(value); }
    /// <summary>The container's PID 1 as the host sees it.</summary>
    public int Pid { get; init; }
    /// <summary>Its start time in clock ticks since boot (/proc/PID/stat field 22): a PID
    /// reused by another process after a crash or a reboot does not match it.</summary>
    public ulong PidStartTime { get; init; }
    public required string Bundle { get; init; }
    public string Rootfs { get; init; } = "";
    /// <summary>RFC 3339, UTC.</summary>
    public required string Created { get; init; }
    public Dictionary<string, string> Annotations { get; init; } = [];

    /// <summary>Now, as every time in the state is written (RFC 3339, UTC, 100 ns).</summary>
    public static string Timestamp() =>
        DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ss.fffffffZ", System.Globalization.CultureInfo.InvariantCulture);
    /// <summary>The container's cgroup: parent and name, removed by delete.</summary>
    public string? CgroupParent { get; init; }
    public string? CgroupName { get; init; }
    /// <summary>Who made it (the OCI state's owner is the user; kept for `list`).</summary>
    public uint Owner { get; init; }
    /// <summary>Hooks to run at start (poststart) and delete (poststop), from the bundle.</summary>
    public List<HookState> Poststart { get; init; } = [];
    public List<HookState> Poststop { get; init; } = [];
    /// <summary>Run by start in the container's namespaces, before its command.</summary>
    public List<HookState> StartContainer { get; init; } = [];

    // A docker-style detached container (run -d): no bundle; a monitor (Isolate itself,
    // running it in the foreground with the container's stdio on the log) holds it.
    public int MonitorPid { get; init; }
    public ulong MonitorStartTime { get; init; }
    public List<string>? Command { get; init; }
    public string? LogPath { get; init; }
    /// <summary>"cri": LogPath holds CRI records, rotated as LogMaxSize and LogMaxFiles say;
    /// absent (a container from an older Isolate): the raw output.</summary>
    public string? LogFormat { get; init; }
    /// <summary>Bytes a file of the log may hold before it is rotated; null: no limit.</summary>
    public long? LogMaxSize { get; init; }
    public int LogMaxFiles { get; init; } = 1;
    /// <summary>Bytes of output the monitor could not write to the log (a full disk).</summary>
    public long? LogDroppedBytes { get; init; }
    public int? ExitCode { get; init; }
    /// <summary>The kernel killed it for memory (its cgroup counted an OOM kill), for ps.</summary>
    public bool OomKilled { get; init; }
    public string? Finished { get; init; }
    /// <summary>run -d --rm: its monitor removes the state once it has ended (and every
    /// `wait` on it has read its exit status).</summary>
    public bool AutoRemove { get; init; }
    /// <summary>Why it could not start (the message Isolate would print).</summary>
    public string? Error { get; init; }
    public int StopTimeoutSeconds { get; init; } = 10;
    /// <summary>run -d --stats: what the monitor prints to the log when the container ends.</summary>
    [JsonIgnore]
    public Spec.StatsFormat Stats { get; init; }
    /// <summary><see cref="Stats"/> by name, as <see cref="KindName"/>.</summary>
    [JsonPropertyName("stats")]
    public string StatsName { get => Stats.ToString(); init => Stats = Enum.Parse<Spec.StatsFormat>(value); }
    /// <summary>run -d --debug: the monitor's launch is described in the log.</summary>
    public bool Debug { get; init; }
}

public sealed record HookState(string Path, List<string> Args, List<string>? Env, int? Timeout);

/// <summary>The OCI state as `state` prints it (the runtime spec's "State" object).</summary>
public sealed record OciStateView
{
    public required string OciVersion { get; init; }
    public required string Id { get; init; }
    public required string Status { get; init; }
    public int Pid { get; init; }
    public required string Bundle { get; init; }
    public string? Rootfs { get; init; }
    public string? Created { get; init; }
    public Dictionary<string, string>? Annotations { get; init; }
    public string? Owner { get; init; }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ContainerState))]
[JsonSerializable(typeof(OciStateView))]
[JsonSerializable(typeof(List<OciStateView>))]
internal sealed partial class StateJsonContext : JsonSerializerContext;

/// <summary>The same JSON, written by the generated writer alone: StateJsonContext's metadata,
/// built on first use, cost each OCI start about 1.5 ms before anything was written. Reading
/// stays StateJsonContext's.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, GenerationMode = JsonSourceGenerationMode.Serialization)]
[JsonSerializable(typeof(ContainerState))]
[JsonSerializable(typeof(OciStateView))]
[JsonSerializable(typeof(List<OciStateView>))]
internal sealed partial class StateWriteJsonContext : JsonSerializerContext;
