using System.Text.Json;
using System.Text.Json.Serialization;

namespace Isolate.Oci;

// The OCI runtime spec's config.json (Linux), as far as Isolate reads or writes it. Property
// names are the spec's exact JSON names (matching is case-sensitive, as Go's runc is for
// these names in practice). A field of the spec not declared here is one Isolate refuses
// whenever it is given: OciSpecFields refuses it before this model is read. Optional
// values are nullable, so that "absent" stays distinct from a zero, and is not written.
// See OciBundleLoader for what each field becomes.

/// <summary>The top level of config.json.</summary>
public sealed class OciConfig
{
    [JsonPropertyName("ociVersion")] public string? OciVersion { get; set; }
    [JsonPropertyName("process")] public OciProcess? Process { get; set; }
    [JsonPropertyName("root")] public OciRoot? Root { get; set; }
    [JsonPropertyName("hostname")] public string? Hostname { get; set; }
    [JsonPropertyName("domainname")] public string? Domainname { get; set; }
    [JsonPropertyName("mounts")] public List<OciMount>? Mounts { get; set; }
    [JsonPropertyName("hooks")] public OciHooksConfig? Hooks { get; set; }
    [JsonPropertyName("annotations")] public Dictionary<string, string>? Annotations { get; set; }
    [JsonPropertyName("linux")] public OciLinux? Linux { get; set; }
}

public sealed class OciRoot
{
    /// <summary>Absolute, or relative to the bundle directory.</summary>
    [JsonPropertyName("path")] public string? Path { get; set; }
    [JsonPropertyName("readonly")] public bool? Readonly { get; set; }
}

public sealed class OciMount
{
    [JsonPropertyName("destination")] public string? Destination { get; set; }
    [JsonPropertyName("type")] public string? Type { get; set; }
    [JsonPropertyName("source")] public string? Source { get; set; }
    [JsonPropertyName("options")] public List<string>? Options { get; set; }
}

public sealed class OciProcess
{
    [JsonPropertyName("terminal")] public bool? Terminal { get; set; }
    [JsonPropertyName("consoleSize")] public OciConsoleSize? ConsoleSize { get; set; }
    [JsonPropertyName("user")] public OciUser? User { get; set; }
    [JsonPropertyName("args")] public List<string>? Args { get; set; }
    [JsonPropertyName("env")] public List<string>? Env { get; set; }
    [JsonPropertyName("cwd")] public string? Cwd { get; set; }
    [JsonPropertyName("capabilities")] public OciCapabilities? Capabilities { get; set; }
    [JsonPropertyName("rlimits")] public List<OciRlimit>? Rlimits { get; set; }
    [JsonPropertyName("noNewPrivileges")] public bool? NoNewPrivileges { get; set; }
    [JsonPropertyName("oomScoreAdj")] public int? OomScoreAdj { get; set; }
    [JsonPropertyName("ioPriority")] public OciIoPriority? IoPriority { get; set; }
    [JsonPropertyName("scheduler")] public OciScheduler? Scheduler { get; set; }
}

/// <summary>process.ioPriority (runtime-spec 1.2): ioprio_set(2) for the process.</summary>
public sealed class OciIoPriority
{
    /// <summary>IOPRIO_CLASS_RT, IOPRIO_CLASS_BE or IOPRIO_CLASS_IDLE.</summary>
    [JsonPropertyName("class")] public string? Class { get; set; }
    [JsonPropertyName("priority")] public int? Priority { get; set; }
}

/// <summary>process.scheduler (runtime-spec 1.2): sched_setattr(2) for the process.</summary>
public sealed class OciScheduler
{
    /// <summary>SCHED_OTHER, SCHED_FIFO, SCHED_RR, SCHED_BATCH, SCHED_ISO, SCHED_IDLE, SCHED_DEADLINE.</summary>
    [JsonPropertyName("policy")] public string? Policy { get; set; }
    [JsonPropertyName("nice")] public int? Nice { get; set; }
    [JsonPropertyName("priority")] public int? Priority { get; set; }
    [JsonPropertyName("flags")] public List<string>? Flags { get; set; }
    [JsonPropertyName("runtime")] public ulong? Runtime { get; set; }
    [JsonPropertyName("deadline")] public ulong? Deadline { get; set; }
    [JsonPropertyName("period")] public ulong? Period { get; set; }
}

public sealed class OciConsoleSize
{
    [JsonPropertyName("height")] public uint Height { get; set; }
    [JsonPropertyName("width")] public uint Width { get; set; }
}

public sealed class OciUser
{
    [JsonPropertyName("uid")] public uint? Uid { get; set; }
    [JsonPropertyName("gid")] public uint? Gid { get; set; }
    [JsonPropertyName("umask")] public uint? Umask { get; set; }
    [JsonPropertyName("additionalGids")] public List<uint>? AdditionalGids { get; set; }
}

/// <summary>Capability names as "CAP_CHOWN".</summary>
public sealed class OciCapabilities
{
    [JsonPropertyName("bounding")] public List<string>? Bounding { get; set; }
    [JsonPropertyName("effective")] public List<string>? Effective { get; set; }
    [JsonPropertyName("inheritable")] public List<string>? Inheritable { get; set; }
    [JsonPropertyName("permitted")] public List<string>? Permitted { get; set; }
    [JsonPropertyName("ambient")] public List<string>? Ambient { get; set; }
}

public sealed class OciRlimit
{
    /// <summary>"RLIMIT_NOFILE" and the like.</summary>
    [JsonPropertyName("type")] public string? Type { get; set; }
    [JsonPropertyName("hard")] public ulong? Hard { get; set; }
    [JsonPropertyName("soft")] public ulong? Soft { get; set; }
}

/// <summary>The "hooks" object: commands the runtime runs at points of the lifecycle.</summary>
public sealed class OciHooksConfig
{
    [JsonPropertyName("prestart")] public List<OciHookConfig>? Prestart { get; set; }
    [JsonPropertyName("createRuntime")] public List<OciHookConfig>? CreateRuntime { get; set; }
    [JsonPropertyName("createContainer")] public List<OciHookConfig>? CreateContainer { get; set; }
    [JsonPropertyName("startContainer")] public List<OciHookConfig>? StartContainer { get; set; }
    [JsonPropertyName("poststart")] public List<OciHookConfig>? Poststart { get; set; }
    [JsonPropertyName("poststop")] public List<OciHookConfig>? Poststop { get; set; }
}

public sealed class OciHookConfig
{
    [JsonPropertyName("path")] public string? Path { get; set; }
    [JsonPropertyName("args")] public List<string>? Args { get; set; }
    [JsonPropertyName("env")] public List<string>? Env { get; set; }
    /// <summary>Seconds.</summary>
    [JsonPropertyName("timeout")] public int? Timeout { get; set; }
}

public sealed class OciLinux
{
    [JsonPropertyName("uidMappings")] public List<OciIdMapping>? UidMappings { get; set; }
    [JsonPropertyName("gidMappings")] public List<OciIdMapping>? GidMappings { get; set; }
    [JsonPropertyName("sysctl")] public Dictionary<string, string>? Sysctl { get; set; }
    [JsonPropertyName("resources")] public OciResources? Resources { get; set; }
    [JsonPropertyName("cgroupsPath")] public string? CgroupsPath { get; set; }
    [JsonPropertyName("namespaces")] public List<OciNamespace>? Namespaces { get; set; }
    [JsonPropertyName("seccomp")] public OciSeccomp? Seccomp { get; set; }
    [JsonPropertyName("rootfsPropagation")] public string? RootfsPropagation { get; set; }
    [JsonPropertyName("maskedPaths")] public List<string>? MaskedPaths { get; set; }
    [JsonPropertyName("readonlyPaths")] public List<string>? ReadonlyPaths { get; set; }
    [JsonPropertyName("devices")] public List<OciDevice>? Devices { get; set; }
}

/// <summary>linux.devices: a node to make in the container's /dev.</summary>
public sealed class OciDevice
{
    /// <summary>c (or u), b or p.</summary>
    [JsonPropertyName("type")] public string? Type { get; set; }
    [JsonPropertyName("path")] public string? Path { get; set; }
    [JsonPropertyName("major")] public long? Major { get; set; }
    [JsonPropertyName("minor")] public long? Minor { get; set; }
    /// <summary>Permission bits (0666 as 438 in JSON).</summary>
    [JsonPropertyName("fileMode")] public uint? FileMode { get; set; }
    [JsonPropertyName("uid")] public uint? Uid { get; set; }
    [JsonPropertyName("gid")] public uint? Gid { get; set; }
}

public sealed class OciNamespace
{
    /// <summary>pid, network, mount, ipc, uts, user, cgroup or time.</summary>
    [JsonPropertyName("type")] public string? Type { get; set; }
    /// <summary>A namespace file to join (/proc/PID/ns/net, /run/netns/NAME) instead of a new one.</summary>
    [JsonPropertyName("path")] public string? Path { get; set; }
}

public sealed class OciIdMapping
{
    [JsonPropertyName("containerID")] public uint ContainerId { get; set; }
    [JsonPropertyName("hostID")] public uint HostId { get; set; }
    [JsonPropertyName("size")] public uint Size { get; set; }
}

public sealed class OciResources
{
    [JsonPropertyName("devices")] public List<OciDeviceRule>? Devices { get; set; }
    [JsonPropertyName("memory")] public OciMemory? Memory { get; set; }
    [JsonPropertyName("cpu")] public OciCpu? Cpu { get; set; }
    [JsonPropertyName("pids")] public OciPids? Pids { get; set; }
    [JsonPropertyName("blockIO")] public OciBlockIo? BlockIo { get; set; }
    [JsonPropertyName("hugepageLimits")] public List<OciHugepageLimit>? HugepageLimits { get; set; }
    [JsonPropertyName("network")] public OciNetworkResources? Network { get; set; }
    [JsonPropertyName("rdma")] public Dictionary<string, System.Text.Json.JsonElement>? Rdma { get; set; }
    [JsonPropertyName("unified")] public Dictionary<string, string>? Unified { get; set; }
}

public sealed class OciHugepageLimit
{
    /// <summary>"2MB", "1GB": the kernel's name in hugetlb.SIZE.limit_in_bytes.</summary>
    [JsonPropertyName("pageSize")] public string? PageSize { get; set; }
    [JsonPropertyName("limit")] public long? Limit { get; set; }
}

public sealed class OciNetworkResources
{
    [JsonPropertyName("classID")] public uint? ClassId { get; set; }
    [JsonPropertyName("priorities")] public List<System.Text.Json.JsonElement>? Priorities { get; set; }
}

/// <summary>One block device's rate (blockIO.throttle*).</summary>
public sealed class OciThrottleDevice
{
    [JsonPropertyName("major")] public long? Major { get; set; }
    [JsonPropertyName("minor")] public long? Minor { get; set; }
    [JsonPropertyName("rate")] public ulong? Rate { get; set; }
}

/// <summary>A device cgroup rule (linux.resources.devices), applied in order.</summary>
public sealed class OciDeviceRule
{
    [JsonPropertyName("allow")] public bool Allow { get; set; }
    [JsonPropertyName("type")] public string? Type { get; set; }
    [JsonPropertyName("major")] public long? Major { get; set; }
    [JsonPropertyName("minor")] public long? Minor { get; set; }
    [JsonPropertyName("access")] public string? Access { get; set; }
}

public sealed class OciMemory
{
    /// <summary>Bytes; -1: unlimited.</summary>
    [JsonPropertyName("limit")] public long? Limit { get; set; }
    [JsonPropertyName("reservation")] public long? Reservation { get; set; }
    /// <summary>Memory plus swap, in bytes; -1: unlimited swap.</summary>
    [JsonPropertyName("swap")] public long? Swap { get; set; }
    [JsonPropertyName("kernel")] public long? Kernel { get; set; }
    [JsonPropertyName("kernelTCP")] public long? KernelTcp { get; set; }
    [JsonPropertyName("swappiness")] public ulong? Swappiness { get; set; }
    [JsonPropertyName("disableOOMKiller")] public bool? DisableOomKiller { get; set; }
    [JsonPropertyName("useHierarchy")] public bool? UseHierarchy { get; set; }
    [JsonPropertyName("checkBeforeUpdate")] public bool? CheckBeforeUpdate { get; set; }
}

public sealed class OciCpu
{
    [JsonPropertyName("shares")] public ulong? Shares { get; set; }
    /// <summary>Microseconds of CPU time per period; -1: unlimited.</summary>
    [JsonPropertyName("quota")] public long? Quota { get; set; }
    [JsonPropertyName("period")] public ulong? Period { get; set; }
    /// <summary>A CPU list, "0-1,3".</summary>
    [JsonPropertyName("cpus")] public string? Cpus { get; set; }
    /// <summary>Memory nodes, "0-1".</summary>
    [JsonPropertyName("mems")] public string? Mems { get; set; }
    [JsonPropertyName("realtimeRuntime")] public long? RealtimeRuntime { get; set; }
    [JsonPropertyName("realtimePeriod")] public ulong? RealtimePeriod { get; set; }
    [JsonPropertyName("idle")] public long? Idle { get; set; }
}

public sealed class OciPids
{
    [JsonPropertyName("limit")] public long? Limit { get; set; }
}

public sealed class OciBlockIo
{
    [JsonPropertyName("weight")] public ushort? Weight { get; set; }
    [JsonPropertyName("leafWeight")] public ushort? LeafWeight { get; set; }
    [JsonPropertyName("throttleReadBpsDevice")] public List<OciThrottleDevice>? ThrottleReadBpsDevice { get; set; }
    [JsonPropertyName("throttleWriteBpsDevice")] public List<OciThrottleDevice>? ThrottleWriteBpsDevice { get; set; }
    [JsonPropertyName("throttleReadIOPSDevice")] public List<OciThrottleDevice>? ThrottleReadIopsDevice { get; set; }
    [JsonPropertyName("throttleWriteIOPSDevice")] public List<OciThrottleDevice>? ThrottleWriteIopsDevice { get; set; }
}

/// <summary>linux.seccomp: libseccomp's names, the same shape as docker's profile format.</summary>
public sealed class OciSeccomp
{
    [JsonPropertyName("defaultAction")] public string? DefaultAction { get; set; }
    [JsonPropertyName("defaultErrnoRet")] public uint? DefaultErrnoRet { get; set; }
    [JsonPropertyName("architectures")] public List<string>? Architectures { get; set; }
    [JsonPropertyName("flags")] public List<string>? Flags { get; set; }
    [JsonPropertyName("syscalls")] public List<OciSyscall>? Syscalls { get; set; }
}

public sealed class OciSyscall
{
    [JsonPropertyName("names")] public List<string>? Names { get; set; }
    [JsonPropertyName("action")] public string? Action { get; set; }
    [JsonPropertyName("errnoRet")] public uint? ErrnoRet { get; set; }
    [JsonPropertyName("args")] public List<OciSyscallArg>? Args { get; set; }
}

public sealed class OciSyscallArg
{
    [JsonPropertyName("index")] public uint Index { get; set; }
    [JsonPropertyName("value")] public ulong Value { get; set; }
    [JsonPropertyName("valueTwo")] public ulong? ValueTwo { get; set; }
    /// <summary>SCMP_CMP_EQ and the like.</summary>
    [JsonPropertyName("op")] public string? Op { get; set; }
}

/// <summary>Source-generated (de)serialization of config.json: no reflection, for Native AOT.
/// Strict JSON as runc reads it (no comments, no trailing commas); written with tabs, as
/// `runc spec` writes it.</summary>
[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, WriteIndented = true,
    IndentCharacter = '\t', IndentSize = 1)]
[JsonSerializable(typeof(OciConfig))]
[JsonSerializable(typeof(OciProcess))]
[JsonSerializable(typeof(OciResources))]
internal sealed partial class OciJsonContext : JsonSerializerContext;
