using System.Text.Json;
using Isolate.Security;

namespace Isolate.Spec;

/// <summary>spec.json read back (see SpecJson.cs for the format and why it is by hand).</summary>
public static partial class SpecJson
{
    /// <exception cref="JsonException">Not a spec this build wrote.</exception>
    public static ContainerSpec Read(string json)
    {
        using var document = JsonDocument.Parse(json);
        var o = document.RootElement;
        try
        {
            var r = o.GetProperty("resources");
            return new ContainerSpec
            {
                Id = ReadText(o.GetProperty("id"))!,
                Rootfs = ReadText(o.GetProperty("rootfs")),
                LowerLayers = OptionalStrings(o, "lowerLayers") ?? [],
                Image = o.TryGetProperty("image", out var image) ? ReadText(image) : null,
                Hostname = ReadText(o.GetProperty("hostname"))!,
                Process = ReadProcess(o.GetProperty("process")),
                Network = (NetworkMode)o.GetProperty("network").GetInt32(),
                NetworkOptions = o.TryGetProperty("networkOptions", out var net)
                    ? new NetworkOptions
                    {
                        Ports = [.. (OptionalStrings(net, "ports") ?? []).Select(PortMapping.Parse)],
                        Dns = OptionalStrings(net, "dns") ?? [],
                        DnsSearch = OptionalStrings(net, "dnsSearch") ?? [],
                        AddHosts = OptionalStrings(net, "addHosts") ?? [],
                        Subnet = ReadText(net.GetProperty("subnet")),
                    }
                    : new NetworkOptions(),
                Volumes = [.. o.GetProperty("volumes").EnumerateArray().Select(v => new VolumeSpec(
                    ReadText(v.GetProperty("source"))!, ReadText(v.GetProperty("destination"))!,
                    v.GetProperty("readOnly").GetBoolean(), v.GetProperty("sourceIsFile").GetBoolean())
                {
                    Flags = v.TryGetProperty("flags", out var flags) ? (Plan.MountFlags)flags.GetUInt32() : Plan.MountFlags.None,
                })],
                Tmpfs = [.. o.GetProperty("tmpfs").EnumerateArray().Select(t => new TmpfsSpec(
                    ReadText(t.GetProperty("destination"))!, ReadText(t.GetProperty("data"))!, t.GetProperty("readOnly").GetBoolean(),
                    t.GetProperty("noExec").GetBoolean(), t.GetProperty("noSuid").GetBoolean(), t.GetProperty("noDev").GetBoolean()))],
                Mounts = o.TryGetProperty("mounts", out var mounts)
                    ? [.. mounts.EnumerateArray().Select(m => new ConfiguredMount(
                        ReadText(m.GetProperty("type"))!, ReadText(m.GetProperty("source"))!, ReadText(m.GetProperty("destination"))!,
                        (Plan.MountFlags)m.GetProperty("flags").GetUInt32(),
                        [.. m.GetProperty("propagation").EnumerateArray().Select(p => (Plan.MountFlags)p.GetUInt32())],
                        ReadText(m.GetProperty("data"))!, m.GetProperty("sourceIsFile").GetBoolean(),
                        m.TryGetProperty("copyUp", out var copyUp) && copyUp.GetBoolean()))]
                    : null,
                RootPropagation = (Plan.MountFlags)o.GetProperty("rootPropagation").GetUInt32(),
                ReadOnlyRoot = o.GetProperty("readOnlyRoot").GetBoolean(),
                RootfsWrites = (RootfsWrites)o.GetProperty("rootfsWrites").GetInt32(),
                KeepChangesDir = ReadText(o.GetProperty("keepChangesDir")),
                LayerRoot = o.TryGetProperty("layerRoot", out var layerRoot) ? ReadText(layerRoot) : null,
                StorageSizeBytes = OptionalLong(o, "storageSizeBytes"),
                LayerDir = o.TryGetProperty("layerDir", out var layerDir) ? ReadText(layerDir) : null,
                Privileged = o.GetProperty("privileged").GetBoolean(),
                MaskedPaths = OptionalStrings(o, "maskedPaths"),
                ReadOnlyPaths = OptionalStrings(o, "readOnlyPaths"),
                Resources = new ResourceLimits
                {
                    MemoryBytes = OptionalLong(r, "memoryBytes"),
                    MemorySwapBytes = OptionalLong(r, "memorySwapBytes"),
                    CpuQuotaMicros = OptionalLong(r, "cpuQuotaMicros"),
                    CpuPeriodMicros = r.GetProperty("cpuPeriodMicros").GetInt64(),
                    CpuShares = OptionalLong(r, "cpuShares"),
                    CpusetCpus = ReadText(r.GetProperty("cpusetCpus")),
                    PidsLimit = OptionalLong(r, "pidsLimit"),
                    IoWeight = (int?)OptionalLong(r, "ioWeight"),
                    MemoryReservationBytes = OptionalLong(r, "memoryReservationBytes"),
                    MemorySwappiness = OptionalLong(r, "memorySwappiness"),
                    OomKillDisable = r.TryGetProperty("oomKillDisable", out var oom) ? oom.GetBoolean() : null,
                    KernelTcpBytes = OptionalLong(r, "kernelTcpBytes"),
                    CpuPeriodGiven = r.TryGetProperty("cpuPeriodGiven", out var pg) && pg.GetBoolean(),
                    CpusetMems = r.TryGetProperty("cpusetMems", out var mems) ? ReadText(mems) : null,
                    HugepageLimits = r.TryGetProperty("hugepageLimits", out var hl)
                        ? [.. hl.EnumerateArray().Select(h => new HugepageLimit(ReadText(h.GetProperty("pageSize"))!, h.GetProperty("bytes").GetInt64()))]
                        : [],
                    DeviceRules = r.TryGetProperty("deviceRules", out var dr)
                        ? [.. dr.EnumerateArray().Select(d => new DeviceRule(d.GetProperty("allow").GetBoolean(), ReadText(d.GetProperty("type"))![0],
                            OptionalLong(d, "major"), OptionalLong(d, "minor"), ReadText(d.GetProperty("access"))!))]
                        : [],
                    IoThrottles = r.TryGetProperty("ioThrottles", out var it)
                        ? [.. it.EnumerateArray().Select(t => new IoThrottle(ReadText(t.GetProperty("kind"))!, t.GetProperty("major").GetInt64(),
                            t.GetProperty("minor").GetInt64(), t.GetProperty("rate").GetUInt64()))]
                        : [],
                },
                Devices = o.TryGetProperty("devices", out var devices)
                    ? [.. devices.EnumerateArray().Select(d => new DeviceNode(ReadText(d.GetProperty("path"))!, ReadText(d.GetProperty("type"))![0],
                        d.GetProperty("major").GetUInt32(), d.GetProperty("minor").GetUInt32(), d.GetProperty("fileMode").GetUInt32(),
                        d.GetProperty("uid").GetUInt32(), d.GetProperty("gid").GetUInt32(),
                        d.TryGetProperty("hostPath", out var hostPath) ? ReadText(hostPath) : null))]
                    : [],
                Links = o.TryGetProperty("links", out var links)
                    ? [.. links.EnumerateArray().Select(l => new SymlinkSpec(ReadText(l.GetProperty("path"))!, ReadText(l.GetProperty("target"))!))]
                    : [],
                LibraryDirs = OptionalStrings(o, "libraryDirs") ?? [],
                Cgroups = o.GetProperty("cgroups").GetBoolean(),
                CgroupParent = ReadText(o.GetProperty("cgroupParent"))!,
                CgroupName = ReadText(o.GetProperty("cgroupName")),
                SystemdSlice = o.TryGetProperty("systemdSlice", out var systemdSlice) ? ReadText(systemdSlice) : null,
                UserNamespace = o.TryGetProperty("userNamespace", out var u)
                    ? new UserNamespaceSpec
                    {
                        UidMap = ReadMappings(u.GetProperty("uidMap")),
                        GidMap = ReadMappings(u.GetProperty("gidMap")),
                        Rootless = u.GetProperty("rootless").GetBoolean(),
                    }
                    : null,
                OomScoreAdj = (int?)OptionalLong(o, "oomScoreAdj"),
                Init = o.GetProperty("init").GetBoolean(),
                StopSignal = o.GetProperty("stopSignal").GetInt32(),
                StopTimeout = TimeSpan.FromTicks(o.GetProperty("stopTimeoutTicks").GetInt64()),
                Timeout = OptionalLong(o, "timeoutTicks") is { } ticks ? TimeSpan.FromTicks(ticks) : null,
                PidFile = ReadText(o.GetProperty("pidFile")),
                DieWithParent = o.GetProperty("dieWithParent").GetBoolean(),
                JoinNamespaces = [.. o.GetProperty("joinNamespaces").EnumerateArray()
                    .Select(j => (ReadText(j.GetProperty("type"))!, ReadText(j.GetProperty("path"))!))],
                Sysctls = o.GetProperty("sysctls").EnumerateObject().ToDictionary(p => p.Name, p => ReadText(p.Value)!, StringComparer.Ordinal),
                Domainname = o.TryGetProperty("domainname", out var domainname) ? ReadText(domainname) : null,
                HostNamespaces = OptionalStrings(o, "hostNamespaces") ?? [],
            };
        }
        catch (Exception e) when (e is KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new JsonException("not a spec this build wrote", e);
        }
    }

    private static ProcessSpec ReadProcess(JsonElement p)
    {
        var s = p.GetProperty("security");
        var user = s.GetProperty("user");
        return new ProcessSpec
        {
            Args = OptionalStrings(p, "args") ?? [],
            Env = OptionalStrings(p, "env") ?? [],
            Workdir = ReadText(p.GetProperty("workdir"))!,
            Security = new ProcessSecurity
            {
                Capabilities = s.GetProperty("capabilities").GetUInt64(),
                NoNewPrivileges = s.GetProperty("noNewPrivileges").GetBoolean(),
                Seccomp = [.. s.GetProperty("seccomp").EnumerateArray().Select(i => Unpack(i.GetUInt64()))],
                SeccompFlags = s.TryGetProperty("seccompFlags", out var seccompFlags) ? seccompFlags.GetUInt32() : 0,
                User = new ProcessUser(user.GetProperty("uid").GetUInt32(), user.GetProperty("gid").GetUInt32(),
                    [.. user.GetProperty("groups").EnumerateArray().Select(g => g.GetUInt32())], ReadText(user.GetProperty("home"))!),
                PreserveFds = s.GetProperty("preserveFds").GetUInt32(),
                LastCap = s.GetProperty("lastCap").GetInt32(),
                OciSets = s.TryGetProperty("ociSets", out var sets)
                    ? new OciCapabilitySets(sets.GetProperty("effective").GetUInt64(), sets.GetProperty("permitted").GetUInt64(),
                        sets.GetProperty("inheritable").GetUInt64(), sets.GetProperty("ambient").GetUInt64())
                    : null,
                KeepGroups = s.GetProperty("keepGroups").GetBoolean(),
            },
            Rlimits = [.. p.GetProperty("rlimits").EnumerateArray().Select(l => new RlimitSpec(ReadText(l.GetProperty("name"))!,
                l.GetProperty("resource").GetInt32(), l.GetProperty("soft").GetUInt64(), l.GetProperty("hard").GetUInt64()))],
            Tty = p.GetProperty("tty").GetBoolean(),
            Interactive = p.GetProperty("interactive").GetBoolean(),
            Umask = p.TryGetProperty("umask", out var umask) ? umask.GetUInt32() : ProcessSpec.DefaultUmask,
            IoPriority = (int?)OptionalLong(p, "ioPriority"),
            Scheduler = p.TryGetProperty("scheduler", out var sched)
                ? new SchedulerSpec(sched.GetProperty("policy").GetUInt32(), sched.GetProperty("nice").GetInt32(), sched.GetProperty("priority").GetUInt32(),
                    sched.GetProperty("flags").GetUInt64(), sched.GetProperty("runtime").GetUInt64(), sched.GetProperty("deadline").GetUInt64(),
                    sched.GetProperty("period").GetUInt64())
                : null,
        };
    }

    private static string? ReadText(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.Null => null,
        JsonValueKind.Object => Interop.ByteStrings.Decode(e.GetProperty("bytes").GetBytesFromBase64()),
        _ => e.GetString(),
    };

    private static BpfInstruction Unpack(ulong p) => new((ushort)(p & 0xffff), (byte)(p >> 16), (byte)(p >> 24), (uint)(p >> 32));

    private static List<string>? OptionalStrings(JsonElement o, string name) =>
        o.TryGetProperty(name, out var a) ? [.. a.EnumerateArray().Select(e => ReadText(e)!)] : null;

    private static long? OptionalLong(JsonElement o, string name) => o.TryGetProperty(name, out var v) ? v.GetInt64() : null;

    private static List<IdMapping> ReadMappings(JsonElement a) =>
        [.. a.EnumerateArray().Select(m => new IdMapping(m[0].GetUInt32(), m[1].GetUInt32(), m[2].GetUInt32()))];
}
