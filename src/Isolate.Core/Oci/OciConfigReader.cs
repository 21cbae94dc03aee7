using System.Text.Json;

namespace Isolate.Oci;

/// <summary>config.json read from a <see cref="JsonDocument"/> into the <see cref="OciConfig"/>
/// model by hand: System.Text.Json's deserializer builds its metadata for all 29 types of the
/// model first, which cost every OCI start about 4 ms of reflection and allocation (bench/run.sh).
/// It reads exactly what the deserializer reads, property by property, and gives up (false) on
/// anything the deserializer would refuse: the loader then asks the deserializer, which says
/// what is wrong, with its line and path. OciConfigReaderTests holds the two to the same
/// results. Written from OciConfig.cs: a property added there is added here.</summary>
internal static class OciConfigReader
{
    public static bool TryRead(JsonElement root, out OciConfig? config)
    {
        config = null;
        if (root.ValueKind != JsonValueKind.Object)
            return false;
        try
        {
            config = ReadOciConfig(root);
            return true;
        }
        catch (Mismatch)
        {
            config = null;
            return false;
        }
    }

    /// <summary>A value the deserializer would not take.</summary>
    private sealed class Mismatch : Exception;

    private static Mismatch Fail() => new();

    private static string? String(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.String => e.GetString(),
        JsonValueKind.Null => null,
        _ => throw Fail(),
    };

    private static bool Boolean(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        _ => throw Fail(),
    };

    private static bool? NullableBoolean(JsonElement e) => e.ValueKind == JsonValueKind.Null ? null : Boolean(e);

    private static long Int64(JsonElement e) => e.ValueKind == JsonValueKind.Number && e.TryGetInt64(out long v) ? v : throw Fail();

    private static ulong UInt64(JsonElement e) => e.ValueKind == JsonValueKind.Number && e.TryGetUInt64(out ulong v) ? v : throw Fail();

    private static int Int32(JsonElement e) => e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out int v) ? v : throw Fail();

    private static uint UInt32(JsonElement e) => e.ValueKind == JsonValueKind.Number && e.TryGetUInt32(out uint v) ? v : throw Fail();

    private static ushort UInt16(JsonElement e) => e.ValueKind == JsonValueKind.Number && e.TryGetUInt16(out ushort v) ? v : throw Fail();

    private static long? NullableInt64(JsonElement e) => e.ValueKind == JsonValueKind.Null ? null : Int64(e);

    private static ulong? NullableUInt64(JsonElement e) => e.ValueKind == JsonValueKind.Null ? null : UInt64(e);

    private static int? NullableInt32(JsonElement e) => e.ValueKind == JsonValueKind.Null ? null : Int32(e);

    private static uint? NullableUInt32(JsonElement e) => e.ValueKind == JsonValueKind.Null ? null : UInt32(e);

    private static ushort? NullableUInt16(JsonElement e) => e.ValueKind == JsonValueKind.Null ? null : UInt16(e);

    private static JsonElement Element(JsonElement e) => e.Clone();

    private static List<T>? List<T>(JsonElement e, Func<JsonElement, T> item)
    {
        if (e.ValueKind == JsonValueKind.Null)
            return null;
        if (e.ValueKind != JsonValueKind.Array)
            throw Fail();
        var list = new List<T>(e.GetArrayLength());
        foreach (var value in e.EnumerateArray())
            list.Add(item(value));
        return list;
    }

    private static Dictionary<string, T>? Map<T>(JsonElement e, Func<JsonElement, T> item)
    {
        if (e.ValueKind == JsonValueKind.Null)
            return null;
        if (e.ValueKind != JsonValueKind.Object)
            throw Fail();
        var map = new Dictionary<string, T>();
        foreach (var property in e.EnumerateObject())
            map[property.Name] = item(property.Value);
        return map;
    }

    /// <summary>An object property's value: null, or an object read by <paramref name="read"/>.</summary>
    private static T? Object<T>(JsonElement e, Func<JsonElement, T> read) where T : class => e.ValueKind switch
    {
        JsonValueKind.Null => null,
        JsonValueKind.Object => read(e),
        _ => throw Fail(),
    };

    private static OciConfig ReadOciConfig(JsonElement e)
    {
        var read = new OciConfig();
        foreach (var property in e.EnumerateObject())
        {
            switch (property.Name)
            {
                case "ociVersion":
                    read.OciVersion = String(property.Value);
                    break;
                case "process":
                    read.Process = Object(property.Value, ReadOciProcess);
                    break;
                case "root":
                    read.Root = Object(property.Value, ReadOciRoot);
                    break;
                case "hostname":
                    read.Hostname = String(property.Value);
                    break;
                case "domainname":
                    read.Domainname = String(property.Value);
                    break;
                case "mounts":
                    read.Mounts = List(property.Value, e => Object(e, ReadOciMount)!);
                    break;
                case "hooks":
                    read.Hooks = Object(property.Value, ReadOciHooksConfig);
                    break;
                case "annotations":
                    read.Annotations = Map(property.Value, e => String(e)!);
                    break;
                case "linux":
                    read.Linux = Object(property.Value, ReadOciLinux);
                    break;
            }
        }
        return read;
    }

    private static OciRoot ReadOciRoot(JsonElement e)
    {
        var read = new OciRoot();
        foreach (var property in e.EnumerateObject())
        {
            switch (property.Name)
            {
                case "path":
                    read.Path = String(property.Value);
                    break;
                case "readonly":
                    read.Readonly = NullableBoolean(property.Value);
                    break;
            }
        }
        return read;
    }

    private static OciMount ReadOciMount(JsonElement e)
    {
        var read = new OciMount();
        foreach (var property in e.EnumerateObject())
        {
            switch (property.Name)
            {
                case "destination":
                    read.Destination = String(property.Value);
                    break;
                case "type":
                    read.Type = String(property.Value);
                    break;
                case "source":
                    read.Source = String(property.Value);
                    break;
                case "options":
                    read.Options = List(property.Value, e => String(e)!);
                    break;
            }
        }
        return read;
    }

    private static OciProcess ReadOciProcess(JsonElement e)
    {
        var read = new OciProcess();
        foreach (var property in e.EnumerateObject())
        {
            switch (property.Name)
            {
                case "terminal":
                    read.Terminal = NullableBoolean(property.Value);
                    break;
                case "consoleSize":
                    read.ConsoleSize = Object(property.Value, ReadOciConsoleSize);
                    break;
                case "user":
                    read.User = Object(property.Value, ReadOciUser);
                    break;
                case "args":
                    read.Args = List(property.Value, e => String(e)!);
                    break;
                case "env":
                    read.Env = List(property.Value, e => String(e)!);
                    break;
                case "cwd":
                    read.Cwd = String(property.Value);
                    break;
                case "capabilities":
                    read.Capabilities = Object(property.Value, ReadOciCapabilities);
                    break;
                case "rlimits":
                    read.Rlimits = List(property.Value, e => Object(e, ReadOciRlimit)!);
                    break;
                case "noNewPrivileges":
                    read.NoNewPrivileges = NullableBoolean(property.Value);
                    break;
                case "oomScoreAdj":
                    read.OomScoreAdj = NullableInt32(property.Value);
                    break;
                case "ioPriority":
                    read.IoPriority = Object(property.Value, ReadOciIoPriority);
                    break;
                case "scheduler":
                    read.Scheduler = Object(property.Value, ReadOciScheduler);
                    break;
            }
        }
        return read;
    }

    private static OciIoPriority ReadOciIoPriority(JsonElement e)
    {
        var read = new OciIoPriority();
        foreach (var property in e.EnumerateObject())
        {
            switch (property.Name)
            {
                case "class":
                    read.Class = String(property.Value);
                    break;
                case "priority":
                    read.Priority = NullableInt32(property.Value);
                    break;
            }
        }
        return read;
    }

    private static OciScheduler ReadOciScheduler(JsonElement e)
    {
        var read = new OciScheduler();
        foreach (var property in e.EnumerateObject())
        {
            switch (property.Name)
            {
                case "policy":
                    read.Policy = String(property.Value);
                    break;
                case "nice":
                    read.Nice = NullableInt32(property.Value);
                    break;
                case "priority":
                    read.Priority = NullableInt32(property.Value);
                    break;
                case "flags":
                    read.Flags = List(property.Value, e => String(e)!);
                    break;
                case "runtime":
                    read.Runtime = NullableUInt64(property.Value);
                    break;
                case "deadline":
                    read.Deadline = NullableUInt64(property.Value);
                    break;
                case "period":
                    read.Period = NullableUInt64(property.Value);
                    break;
            }
        }
        return read;
    }

    private static OciConsoleSize ReadOciConsoleSize(JsonElement e)
    {
        var read = new OciConsoleSize();
        foreach (var property in e.EnumerateObject())
        {
            switch (property.Name)
            {
                case "height":
                    read.Height = UInt32(property.Value);
                    break;
                case "width":
                    read.Width = UInt32(property.Value);
                    break;
            }
        }
        return read;
    }

    private static OciUser ReadOciUser(JsonElement e)
    {
        var read = new OciUser();
        foreach (var property in e.EnumerateObject())
        {
            switch (property.Name)
            {
                case "uid":
                    read.Uid = NullableUInt32(property.Value);
                    break;
                case "gid":
                    read.Gid = NullableUInt32(property.Value);
                    break;
                case "umask":
                    read.Umask = NullableUInt32(property.Value);
                    break;
                case "additionalGids":
                    read.AdditionalGids = List(property.Value, UInt32);
                    break;
            }
        }
        return read;
    }

    private static OciCapabilities ReadOciCapabilities(JsonElement e)
    {
        var read = new OciCapabilities();
        foreach (var property in e.EnumerateObject())
        {
            switch (property.Name)
            {
                case "bounding":
                    read.Bounding = List(property.Value, e => String(e)!);
                    break;
                case "effective":
                    read.Effective = List(property.Value, e => String(e)!);
                    break;
                case "inheritable":
                    read.Inheritable = List(property.Value, e => String(e)!);
                    break;
                case "permitted":
                    read.Permitted = List(property.Value, e => String(e)!);
                    break;
                case "ambient":
                    read.Ambient = List(property.Value, e => String(e)!);
                    break;
            }
        }
        return read;
    }

    private static OciRlimit ReadOciRlimit(JsonElement e)
    {
        var read = new OciRlimit();
        foreach (var property in e.EnumerateObject())
        {
            switch (property.Name)
            {
                case "type":
                    read.Type = String(property.Value);
                    break;
                case "hard":
                    read.Hard = NullableUInt64(property.Value);
                    break;
                case "soft":
                    read.Soft = NullableUInt64(property.Value);
                    break;
            }
        }
        return read;
    }

    private static OciHooksConfig ReadOciHooksConfig(JsonElement e)
    {
        var read = new OciHooksConfig();
        foreach (var property in e.EnumerateObject())
        {
            switch (property.Name)
            {
                case "prestart":
                    read.Prestart = List(property.Value, e => Object(e, ReadOciHookConfig)!);
                    break;
                case "createRuntime":
                    read.CreateRuntime = List(property.Value, e => Object(e, ReadOciHookConfig)!);
                    break;
                case "createContainer":
                    read.CreateContainer = List(property.Value, e => Object(e, ReadOciHookConfig)!);
                    break;
                case "startContainer":
                    read.StartContainer = List(property.Value, e => Object(e, ReadOciHookConfig)!);
                    break;
                case "poststart":
                    read.Poststart = List(property.Value, e => Object(e, ReadOciHookConfig)!);
                    break;
                case "poststop":
                    read.Poststop = List(property.Value, e => Object(e, ReadOciHookConfig)!);
                    break;
            }
        }
        return read;
    }

    private static OciHookConfig ReadOciHookConfig(JsonElement e)
    {
        var read = new OciHookConfig();
        foreach (var property in e.EnumerateObject())
        {
            switch (property.Name)
            {
                case "path":
                    read.Path = String(property.Value);
                    break;
                case "args":
                    read.Args = List(property.Value, e => String(e)!);
                    break;
                case "env":
                    read.Env = List(property.Value, e => String(e)!);
                    break;
                case "timeout":
                    read.Timeout = NullableInt32(property.Value);
                    break;
            }
        }
        return read;
    }

    private static OciLinux ReadOciLinux(JsonElement e)
    {
        var read = new OciLinux();
        foreach (var property in e.EnumerateObject())
        {
            switch (property.Name)
            {
                case "uidMappings":
                    read.UidMappings = List(property.Value, e => Object(e, ReadOciIdMapping)!);
                    break;
                case "gidMappings":
                    read.GidMappings = List(property.Value, e => Object(e, ReadOciIdMapping)!);
                    break;
                case "sysctl":
                    read.Sysctl = Map(property.Value, e => String(e)!);
                    break;
                case "resources":
                    read.Resources = Object(property.Value, ReadOciResources);
                    break;
                case "cgroupsPath":
                    read.CgroupsPath = String(property.Value);
                    break;
                case "namespaces":
                    read.Namespaces = List(property.Value, e => Object(e, ReadOciNamespace)!);
                    break;
                case "seccomp":
                    read.Seccomp = Object(property.Value, ReadOciSeccomp);
                    break;
                case "rootfsPropagation":
                    read.RootfsPropagation = String(property.Value);
                    break;
                case "maskedPaths":
                    read.MaskedPaths = List(property.Value, e => String(e)!);
                    break;
                case "readonlyPaths":
                    read.ReadonlyPaths = List(property.Value, e => String(e)!);
                    break;
                case "devices":
                    read.Devices = List(property.Value, e => Object(e, ReadOciDevice)!);
                    break;
            }
        }
        return read;
    }

    private static OciDevice ReadOciDevice(JsonElement e)
    {
        var read = new OciDevice();
        foreach (var property in e.EnumerateObject())
        {
            switch (property.Name)
            {
                case "type":
                    read.Type = String(property.Value);
                    break;
                case "path":
                    read.Path = String(property.Value);
                    break;
                case "major":
                    read.Major = NullableInt64(property.Value);
                    break;
                case "minor":
                    read.Minor = NullableInt64(property.Value);
                    break;
                case "fileMode":
                    read.FileMode = NullableUInt32(property.Value);
                    break;
                case "uid":
                    read.Uid = NullableUInt32(property.Value);
                    break;
                case "gid":
                    read.Gid = NullableUInt32(property.Value);
                    break;
            }
        }
        return read;
    }

    private static OciNamespace ReadOciNamespace(JsonElement e)
    {
        var read = new OciNamespace();
        foreach (var property in e.EnumerateObject())
        {
            switch (property.Name)
            {
                case "type":
                    read.Type = String(property.Value);
                    break;
                case "path":
                    read.Path = String(property.Value);
                    break;
            }
        }
        return read;
    }

    private static OciIdMapping ReadOciIdMapping(JsonElement e)
    {
        var read = new OciIdMapping();
        foreach (var property in e.EnumerateObject())
        {
            switch (property.Name)
            {
                case "containerID":
                    read.ContainerId = UInt32(property.Value);
                    break;
                case "hostID":
                    read.HostId = UInt32(property.Value);
                    break;
                case "size":
                    read.Size = UInt32(property.Value);
                    break;
            }
        }
        return read;
    }

    private static OciResources ReadOciResources(JsonElement e)
    {
        var read = new OciResources();
        foreach (var property in e.EnumerateObject())
        {
            switch (property.Name)
            {
                case "devices":
                    read.Devices = List(property.Value, e => Object(e, ReadOciDeviceRule)!);
                    break;
                case "memory":
                    read.Memory = Object(property.Value, ReadOciMemory);
                    break;
                case "cpu":
                    read.Cpu = Object(property.Value, ReadOciCpu);
                    break;
                case "pids":
                    read.Pids = Object(property.Value, ReadOciPids);
                    break;
                case "blockIO":
                    read.BlockIo = Object(property.Value, ReadOciBlockIo);
                    break;
                case "hugepageLimits":
                    read.HugepageLimits = List(property.Value, e => Object(e, ReadOciHugepageLimit)!);
                    break;
                case "network":
                    read.Network = Object(property.Value, ReadOciNetworkResources);
                    break;
                case "rdma":
                    read.Rdma = Map(property.Value, Element);
                    break;
                case "unified":
                    read.Unified = Map(property.Value, e => String(e)!);
                    break;
            }
        }
        return read;
    }

    private static OciHugepageLimit ReadOciHugepageLimit(JsonElement e)
    {
        var read = new OciHugepageLimit();
        foreach (var property in e.EnumerateObject())
        {
            switch (property.Name)
            {
                case "pageSize":
                    read.PageSize = String(property.Value);
                    break;
                case "limit":
                    read.Limit = NullableInt64(property.Value);
                    break;
            }
        }
        return read;
    }

    private static OciNetworkResources ReadOciNetworkResources(JsonElement e)
    {
        var read = new OciNetworkResources();
        foreach (var property in e.EnumerateObject())
        {
            switch (property.Name)
            {
                case "classID":
                    read.ClassId = NullableUInt32(property.Value);
                    break;
                case "priorities":
                    read.Priorities = List(property.Value, Element);
                    break;
            }
        }
        return read;
    }

    private static OciThrottleDevice ReadOciThrottleDevice(JsonElement e)
    {
        var read = new OciThrottleDevice();
        foreach (var property in e.EnumerateObject())
        {
            switch (property.Name)
            {
                case "major":
                    read.Major = NullableInt64(property.Value);
                    break;
                case "minor":
                    read.Minor = NullableInt64(property.Value);
                    break;
                case "rate":
                    read.Rate = NullableUInt64(property.Value);
                    break;
            }
        }
        return read;
    }

    private static OciDeviceRule ReadOciDeviceRule(JsonElement e)
    {
        var read = new OciDeviceRule();
        foreach (var property in e.EnumerateObject())
        {
            switch (property.Name)
            {
                case "allow":
                    read.Allow = Boolean(property.Value);
                    break;
                case "type":
                    read.Type = String(property.Value);
                    break;
                case "major":
                    read.Major = NullableInt64(property.Value);
                    break;
                case "minor":
                    read.Minor = NullableInt64(property.Value);
                    break;
                case "access":
                    read.Access = String(property.Value);
                    break;
            }
        }
        return read;
    }

    private static OciMemory ReadOciMemory(JsonElement e)
    {
        var read = new OciMemory();
        foreach (var property in e.EnumerateObject())
        {
            switch (property.Name)
            {
                case "limit":
                    read.Limit = NullableInt64(property.Value);
                    break;
                case "reservation":
                    read.Reservation = NullableInt64(property.Value);
                    break;
                case "swap":
                    read.Swap = NullableInt64(property.Value);
                    break;
                case "kernel":
                    read.Kernel = NullableInt64(property.Value);
                    break;
                case "kernelTCP":
                    read.KernelTcp = NullableInt64(property.Value);
                    break;
                case "swappiness":
                    read.Swappiness = NullableUInt64(property.Value);
                    break;
                case "disableOOMKiller":
                    read.DisableOomKiller = NullableBoolean(property.Value);
                    break;
                case "useHierarchy":
                    read.UseHierarchy = NullableBoolean(property.Value);
                    break;
                case "checkBeforeUpdate":
                    read.CheckBeforeUpdate = NullableBoolean(property.Value);
                    break;
            }
        }
        return read;
    }

    private static OciCpu ReadOciCpu(JsonElement e)
    {
        var read = new OciCpu();
        foreach (var property in e.EnumerateObject())
        {
            switch (property.Name)
            {
                case "shares":
                    read.Shares = NullableUInt64(property.Value);
                    break;
                case "quota":
                    read.Quota = NullableInt64(property.Value);
                    break;
                case "period":
                    read.Period = NullableUInt64(property.Value);
                    break;
                case "cpus":
                    read.Cpus = String(property.Value);
                    break;
                case "mems":
                    read.Mems = String(property.Value);
                    break;
                case "realtimeRuntime":
                    read.RealtimeRuntime = NullableInt64(property.Value);
                    break;
                case "realtimePeriod":
                    read.RealtimePeriod = NullableUInt64(property.Value);
                    break;
                case "idle":
                    read.Idle = NullableInt64(property.Value);
                    break;
            }
        }
        return read;
    }

    private static OciPids ReadOciPids(JsonElement e)
    {
        var read = new OciPids();
        foreach (var property in e.EnumerateObject())
        {
            switch (property.Name)
            {
                case "limit":
                    read.Limit = NullableInt64(property.Value);
                    break;
            }
        }
        return read;
    }

    private static OciBlockIo ReadOciBlockIo(JsonElement e)
    {
        var read = new OciBlockIo();
        foreach (var property in e.EnumerateObject())
        {
            switch (property.Name)
            {
                case "weight":
                    read.Weight = NullableUInt16(property.Value);
                    break;
                case "leafWeight":
                    read.LeafWeight = NullableUInt16(property.Value);
                    break;
                case "throttleReadBpsDevice":
                    read.ThrottleReadBpsDevice = List(property.Value, e => Object(e, ReadOciThrottleDevice)!);
                    break;
                case "throttleWriteBpsDevice":
                    read.ThrottleWriteBpsDevice = List(property.Value, e => Object(e, ReadOciThrottleDevice)!);
                    break;
                case "throttleReadIOPSDevice":
                    read.ThrottleReadIopsDevice = List(property.Value, e => Object(e, ReadOciThrottleDevice)!);
                    break;
                case "throttleWriteIOPSDevice":
                    read.ThrottleWriteIopsDevice = List(property.Value, e => Object(e, ReadOciThrottleDevice)!);
                    break;
            }
        }
        return read;
    }

    private static OciSeccomp ReadOciSeccomp(JsonElement e)
    {
        var read = new OciSeccomp();
        foreach (var property in e.EnumerateObject())
        {
            switch (property.Name)
            {
                case "defaultAction":
                    read.DefaultAction = String(property.Value);
                    break;
                case "defaultErrnoRet":
                    read.DefaultErrnoRet = NullableUInt32(property.Value);
                    break;
                case "architectures":
                    read.Architectures = List(property.Value, e => String(e)!);
                    break;
                case "flags":
                    read.Flags = List(property.Value, e => String(e)!);
                    break;
                case "syscalls":
                    read.Syscalls = List(property.Value, e => Object(e, ReadOciSyscall)!);
                    break;
            }
        }
        return read;
    }

    private static OciSyscall ReadOciSyscall(JsonElement e)
    {
        var read = new OciSyscall();
        foreach (var property in e.EnumerateObject())
        {
            switch (property.Name)
            {
                case "names":
                    read.Names = List(property.Value, e => String(e)!);
                    break;
                case "action":
                    read.Action = String(property.Value);
                    break;
                case "errnoRet":
                    read.ErrnoRet = NullableUInt32(property.Value);
                    break;
                case "args":
                    read.Args = List(property.Value, e => Object(e, ReadOciSyscallArg)!);
                    break;
            }
        }
        return read;
    }

    private static OciSyscallArg ReadOciSyscallArg(JsonElement e)
    {
        var read = new OciSyscallArg();
        foreach (var property in e.EnumerateObject())
        {
            switch (property.Name)
            {
                case "index":
                    read.Index = UInt32(property.Value);
                    break;
                case "value":
                    read.Value = UInt64(property.Value);
                    break;
                case "valueTwo":
                    read.ValueTwo = NullableUInt64(property.Value);
                    break;
                case "op":
                    read.Op = String(property.Value);
                    break;
            }
        }
        return read;
    }
}
