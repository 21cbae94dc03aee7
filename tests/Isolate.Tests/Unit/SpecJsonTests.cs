using System.Collections;
using System.Reflection;
using Isolate.Plan;
using Isolate.Security;
using Isolate.Spec;

namespace Isolate.Tests.Unit;

/// <summary>spec.json carries a launched container to run -d's monitor and to exec: every
/// property of the model must come back as it went in. A property added to the model and not
/// to SpecJson fails here, because the spec below sets every property to a value that is not
/// its default.</summary>
public sealed class SpecJsonTests
{
    private static readonly ContainerSpec Minimal = new() { Hostname = "h", Process = new ProcessSpec { Args = ["true"], Env = [] } };

    private static readonly ContainerSpec Full = new()
    {
        Id = "web-1",
        Rootfs = "/srv/root",
        LowerLayers = ["/var/lib/isolate/images/layers/a", "/var/lib/isolate/images/layers/b"],
        Image = "debian:12",
        Hostname = "web-1",
        Process = new ProcessSpec
        {
            Args = ["/bin/sh", "-c", "echo \"quoted\" é"],
            Env = ["PATH=/bin", "HOME=/home/u"],
            Workdir = "/work",
            Security = new ProcessSecurity
            {
                Capabilities = 0x3,
                NoNewPrivileges = false,
                Seccomp = [new BpfInstruction(0x20, 0, 0, 4), new BpfInstruction(0x15, 1, 2, 0xc000003e), new BpfInstruction(6, 0, 0, 0x7fff0000)],
                User = new ProcessUser(1000, 100, [5, 27], "/home/u"),
                PreserveFds = 2,
                LastCap = 39,
                OciSets = new OciCapabilitySets(1, 2, 4, 8),
                KeepGroups = true,
                SeccompFlags = 6,
            },
            Rlimits = [new RlimitSpec("nofile", 7, 1024, 2048), new RlimitSpec("core", 4, 0, ulong.MaxValue)],
            Tty = true,
            Interactive = true,
            Umask = 0x3f, // 077
            IoPriority = (2 << 13) | 4,
            Scheduler = new SchedulerSpec(6, 0, 0, 1, 10_000_000, 30_000_000, 40_000_000),
        },
        Network = NetworkMode.Bridge,
        NetworkOptions = new NetworkOptions
        {
            Ports = [new PortMapping("", 8080, 80, "tcp"), new PortMapping("127.0.0.1", 5353, 53, "udp")],
            Dns = ["192.0.2.53"],
            DnsSearch = ["example.test"],
            AddHosts = ["db:10.0.0.5"],
            Subnet = "10.77.0.0/16",
        },
        Volumes = [new VolumeSpec("/data", "/mnt/data", true, false), new VolumeSpec("/etc/hosts", "/etc/hosts", false, true) { Flags = MountFlags.NoSuid | MountFlags.NoDev }],
        Tmpfs = [new TmpfsSpec("/cache", "size=64m,mode=1777", true, false, true, false)],
        Mounts = [new ConfiguredMount("bind", "/srv/data", "/data", MountFlags.Bind | MountFlags.Rec | MountFlags.NoExec,
            [MountFlags.Shared | MountFlags.Rec], "mode=755", SourceIsFile: true, CopyUp: true)],
        RootPropagation = MountFlags.Slave | MountFlags.Rec,
        ReadOnlyRoot = true,
        RootfsWrites = RootfsWrites.KeepChanges,
        KeepChangesDir = "/var/keep",
        LayerRoot = "/var/lib/isolate/layers",
        StorageSizeBytes = 16 << 20,
        LayerDir = "/var/lib/isolate/layers/c1.42",
        Privileged = true,
        MaskedPaths = ["/proc/kcore"],
        ReadOnlyPaths = ["/proc/sys", "/proc/bus"],
        Resources = new ResourceLimits
        {
            MemoryBytes = 256 << 20,
            MemorySwapBytes = -1,
            CpuQuotaMicros = 50_000,
            CpuPeriodMicros = 200_000,
            CpuShares = 512,
            CpusetCpus = "0-1",
            PidsLimit = 64,
            IoWeight = 300,
            MemoryReservationBytes = 128 << 20,
            MemorySwappiness = 10,
            OomKillDisable = true,
            KernelTcpBytes = 16 << 20,
            CpuPeriodGiven = true,
            CpusetMems = "0",
            HugepageLimits = [new HugepageLimit("2MB", 4 << 20)],
            DeviceRules = [new DeviceRule(false, 'a', null, null, "rwm"), new DeviceRule(true, 'c', 1, null, "rw")],
            IoThrottles = [new IoThrottle("rbps", 8, 0, 1 << 20)],
        },
        Cgroups = false,
        CgroupParent = "batch/jobs",
        CgroupName = "web-1.77",
        SystemdSlice = "system.slice",
        UserNamespace = new UserNamespaceSpec
        {
            UidMap = [new IdMapping(0, 100000, 65536)],
            GidMap = [new IdMapping(0, 200000, 1000), new IdMapping(1000, 1000, 1)],
            Rootless = true,
        },
        OomScoreAdj = -500,
        Init = true,
        StopSignal = 2,
        StopTimeout = TimeSpan.FromMilliseconds(1500),
        Timeout = TimeSpan.FromMinutes(5),
        PidFile = "/run/web.pid",
        DieWithParent = true,
        JoinNamespaces = [("network", "/proc/42/ns/net")],
        Sysctls = new Dictionary<string, string> { ["net.ipv4.ip_forward"] = "1" },
        Domainname = "example.org",
        HostNamespaces = ["pid", "cgroup"],
        Devices = [new DeviceNode("/dev/fuse", 'c', 10, 229, 0x1B6, 1000, 100, "/dev/fuse0")],
        Links = [new SymlinkSpec("/usr/lib/libcuda.so.1", "libcuda.so.580.82")],
        LibraryDirs = ["/usr/lib"],
    };

    [Fact]
    public void Every_property_survives_the_round_trip()
    {
        var back = SpecJson.Read(SpecJson.Write(Full));
        AssertSame(Full, back, "spec");
        Assert.Equal(SpecJson.Write(Full), SpecJson.Write(back));
    }

    [Fact]
    public void The_full_spec_above_sets_every_property_of_the_model()
    {
        // otherwise a forgotten property could be at its default on both sides
        foreach (var (path, full, minimal) in Leaves(Full, Minimal, "spec"))
            Assert.False(Equals(full, minimal), $"{path} is at its default in the test's full spec: give it another value");
    }

    [Fact]
    public void Defaults_and_absent_lists_come_back_as_they_were()
    {
        var back = SpecJson.Read(SpecJson.Write(Minimal));
        AssertSame(Minimal, back, "spec");
        Assert.Null(back.MaskedPaths);
        Assert.Null(back.UserNamespace);
        Assert.Null(back.Timeout);
    }

    [Fact]
    public void Something_else_is_a_json_error()
    {
        Assert.ThrowsAny<System.Text.Json.JsonException>(() => SpecJson.Read("{\"id\": \"x\"}"));
        Assert.ThrowsAny<System.Text.Json.JsonException>(() => SpecJson.Read("[1, 2]"));
    }

    private static bool IsLeaf(Type type) =>
        type.IsPrimitive || type.IsEnum || type == typeof(string) || type == typeof(TimeSpan) || type == typeof(decimal)
        || Nullable.GetUnderlyingType(type) is { } inner && IsLeaf(inner);

    private static IEnumerable<PropertyInfo> ModelProperties(Type type) =>
        type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.GetIndexParameters().Length == 0 && p.Name != "EqualityContract" && p.CanRead && p.SetMethod != null
                || type.IsValueType && p.DeclaringType == type && p.GetMethod!.IsSpecialName && p.Name != "Packed");

    /// <summary>Pairs of values at each leaf of the model (lists: compared whole, by their text).</summary>
    private static IEnumerable<(string Path, object? A, object? B)> Leaves(object? a, object? b, string path)
    {
        if (a is null || b is null || IsLeaf(a.GetType()))
        {
            yield return (path, a, b);
            yield break;
        }
        if (a is IEnumerable listA && b is IEnumerable listB)
        {
            yield return (path, Text(listA), Text(listB));
            yield break;
        }
        foreach (var property in ModelProperties(a.GetType()))
        {
            foreach (var leaf in Leaves(property.GetValue(a), property.GetValue(b), path + "." + property.Name))
                yield return leaf;
        }
    }

    private static string Text(IEnumerable items) =>
        string.Join(";", items.Cast<object?>().Select(i => i is null || IsLeaf(i.GetType()) ? i?.ToString()
            : i is IEnumerable inner && i is not string ? "[" + Text(inner) + "]"
            : "{" + string.Join(",", Leaves(i, i, "").Select(l => l.A?.ToString())) + "}"));

    private static void AssertSame(object expected, object actual, string path)
    {
        foreach (var (where, a, b) in Leaves(expected, actual, path))
            Assert.True(Equals(a, b), $"{where}: wrote {a ?? "null"}, read back {b ?? "null"}");
    }
}
