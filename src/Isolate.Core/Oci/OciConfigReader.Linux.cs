using System.Text.Json;

namespace Isolate.Oci;

// OciConfigReader (OciConfigReader.cs): the linux object, its resources and its seccomp filter.
internal static partial class OciConfigReader
{
    private static OciLinux ReadOciLinux(JsonElement e) => Fields<OciLinux>(e, static (read, property) =>
    {
        switch (property.Name)
        {
            case "uidMappings": read.UidMappings = List(property.Value, item => Object(item, ReadOciIdMapping)!); break;
            case "gidMappings": read.GidMappings = List(property.Value, item => Object(item, ReadOciIdMapping)!); break;
            case "sysctl": read.Sysctl = Map(property.Value, item => String(item)!); break;
            case "resources": read.Resources = Object(property.Value, ReadOciResources); break;
            case "cgroupsPath": read.CgroupsPath = String(property.Value); break;
            case "namespaces": read.Namespaces = List(property.Value, item => Object(item, ReadOciNamespace)!); break;
            case "seccomp": read.Seccomp = Object(property.Value, ReadOciSeccomp); break;
            case "rootfsPropagation": read.RootfsPropagation = String(property.Value); break;
            case "maskedPaths": read.MaskedPaths = List(property.Value, item => String(item)!); break;
            case "readonlyPaths": read.ReadonlyPaths = List(property.Value, item => String(item)!); break;
            case "devices": read.Devices = List(property.Value, item => Object(item, ReadOciDevice)!); break;
        }
    });

    private static OciDevice ReadOciDevice(JsonElement e) => Fields<OciDevice>(e, static (read, property) =>
    {
        switch (property.Name)
        {
            case "type": read.Type = String(property.Value); break;
            case "path": read.Path = String(property.Value); break;
            case "major": read.Major = NullableInt64(property.Value); break;
            case "minor": read.Minor = NullableInt64(property.Value); break;
            case "fileMode": read.FileMode = NullableUInt32(property.Value); break;
            case "uid": read.Uid = NullableUInt32(property.Value); break;
            case "gid": read.Gid = NullableUInt32(property.Value); break;
        }
    });

    private static OciNamespace ReadOciNamespace(JsonElement e) => Fields<OciNamespace>(e, static (read, property) =>
    {
        switch (property.Name)
        {
            case "type": read.Type = String(property.Value); break;
            case "path": read.Path = String(property.Value); break;
        }
    });

    private static OciIdMapping ReadOciIdMapping(JsonElement e) => Fields<OciIdMapping>(e, static (read, property) =>
    {
        switch (property.Name)
        {
            case "containerID": read.ContainerId = UInt32(property.Value); break;
            case "hostID": read.HostId = UInt32(property.Value); break;
            case "size": read.Size = UInt32(property.Value); break;
        }
    });

    private static OciResources ReadOciResources(JsonElement e) => Fields<OciResources>(e, static (read, property) =>
    {
        switch (property.Name)
        {
            case "devices": read.Devices = List(property.Value, item => Object(item, ReadOciDeviceRule)!); break;
            case "memory": read.Memory = Object(property.Value, ReadOciMemory); break;
            case "cpu": read.Cpu = Object(property.Value, ReadOciCpu); break;
            case "pids": read.Pids = Object(property.Value, ReadOciPids); break;
            case "blockIO": read.BlockIo = Object(property.Value, ReadOciBlockIo); break;
            case "hugepageLimits": read.HugepageLimits = List(property.Value, item => Object(item, ReadOciHugepageLimit)!); break;
            case "network": read.Network = Object(property.Value, ReadOciNetworkResources); break;
            case "rdma": read.Rdma = Map(property.Value, Element); break;
            case "unified": read.Unified = Map(property.Value, item => String(item)!); break;
        }
    });

    private static OciHugepageLimit ReadOciHugepageLimit(JsonElement e) => Fields<OciHugepageLimit>(e, static (read, property) =>
    {
        switch (property.Name)
        {
            case "pageSize": read.PageSize = String(property.Value); break;
            case "limit": read.Limit = NullableInt64(property.Value); break;
        }
    });

    private static OciNetworkResources ReadOciNetworkResources(JsonElement e) => Fields<OciNetworkResources>(e, static (read, property) =>
    {
        switch (property.Name)
        {
            case "classID": read.ClassId = NullableUInt32(property.Value); break;
            case "priorities": read.Priorities = List(property.Value, Element); break;
        }
    });

    private static OciThrottleDevice ReadOciThrottleDevice(JsonElement e) => Fields<OciThrottleDevice>(e, static (read, property) =>
    {
        switch (property.Name)
        {
            case "major": read.Major = NullableInt64(property.Value); break;
            case "minor": read.Minor = NullableInt64(property.Value); break;
            case "rate": read.Rate = NullableUInt64(property.Value); break;
        }
    });

    private static OciDeviceRule ReadOciDeviceRule(JsonElement e) => Fields<OciDeviceRule>(e, static (read, property) =>
    {
        switch (property.Name)
        {
            case "allow": read.Allow = Boolean(property.Value); break;
            case "type": read.Type = String(property.Value); break;
            case "major": read.Major = NullableInt64(property.Value); break;
            case "minor": read.Minor = NullableInt64(property.Value); break;
            case "access": read.Access = String(property.Value); break;
        }
    });

    private static OciMemory ReadOciMemory(JsonElement e) => Fields<OciMemory>(e, static (read, property) =>
    {
        switch (property.Name)
        {
            case "limit": read.Limit = NullableInt64(property.Value); break;
            case "reservation": read.Reservation = NullableInt64(property.Value); break;
            case "swap": read.Swap = NullableInt64(property.Value); break;
            case "kernel": read.Kernel = NullableInt64(property.Value); break;
            case "kernelTCP": read.KernelTcp = NullableInt64(property.Value); break;
            case "swappiness": read.Swappiness = NullableUInt64(property.Value); break;
            case "disableOOMKiller": read.DisableOomKiller = NullableBoolean(property.Value); break;
            case "useHierarchy": read.UseHierarchy = NullableBoolean(property.Value); break;
            case "checkBeforeUpdate": read.CheckBeforeUpdate = NullableBoolean(property.Value); break;
        }
    });

    private static OciCpu ReadOciCpu(JsonElement e) => Fields<OciCpu>(e, static (read, property) =>
    {
        switch (property.Name)
        {
            case "shares": read.Shares = NullableUInt64(property.Value); break;
            case "quota": read.Quota = NullableInt64(property.Value); break;
            case "period": read.Period = NullableUInt64(property.Value); break;
            case "cpus": read.Cpus = String(property.Value); break;
            case "mems": read.Mems = String(property.Value); break;
            case "realtimeRuntime": read.RealtimeRuntime = NullableInt64(property.Value); break;
            case "realtimePeriod": read.RealtimePeriod = NullableUInt64(property.Value); break;
            case "idle": read.Idle = NullableInt64(property.Value); break;
        }
    });

    private static OciPids ReadOciPids(JsonElement e) => Fields<OciPids>(e, static (read, property) =>
    {
        switch (property.Name)
        {
            case "limit": read.Limit = NullableInt64(property.Value); break;
        }
    });

    private static OciBlockIo ReadOciBlockIo(JsonElement e) => Fields<OciBlockIo>(e, static (read, property) =>
    {
        switch (property.Name)
        {
            case "weight": read.Weight = NullableUInt16(property.Value); break;
            case "leafWeight": read.LeafWeight = NullableUInt16(property.Value); break;
            case "throttleReadBpsDevice": read.ThrottleReadBpsDevice = List(property.Value, item => Object(item, ReadOciThrottleDevice)!); break;
            case "throttleWriteBpsDevice": read.ThrottleWriteBpsDevice = List(property.Value, item => Object(item, ReadOciThrottleDevice)!); break;
            case "throttleReadIOPSDevice": read.ThrottleReadIopsDevice = List(property.Value, item => Object(item, ReadOciThrottleDevice)!); break;
            case "throttleWriteIOPSDevice": read.ThrottleWriteIopsDevice = List(property.Value, item => Object(item, ReadOciThrottleDevice)!); break;
        }
    });

    private static OciSeccomp ReadOciSeccomp(JsonElement e) => Fields<OciSeccomp>(e, static (read, property) =>
    {
        switch (property.Name)
        {
            case "defaultAction": read.DefaultAction = String(property.Value); break;
            case "defaultErrnoRet": read.DefaultErrnoRet = NullableUInt32(property.Value); break;
            case "architectures": read.Architectures = List(property.Value, item => String(item)!); break;
            case "flags": read.Flags = List(property.Value, item => String(item)!); break;
            case "syscalls": read.Syscalls = List(property.Value, item => Object(item, ReadOciSyscall)!); break;
        }
    });

    private static OciSyscall ReadOciSyscall(JsonElement e) => Fields<OciSyscall>(e, static (read, property) =>
    {
        switch (property.Name)
        {
            case "names": read.Names = List(property.Value, item => String(item)!); break;
            case "action": read.Action = String(property.Value); break;
            case "errnoRet": read.ErrnoRet = NullableUInt32(property.Value); break;
            case "args": read.Args = List(property.Value, item => Object(item, ReadOciSyscallArg)!); break;
        }
    });

    private static OciSyscallArg ReadOciSyscallArg(JsonElement e) => Fields<OciSyscallArg>(e, static (read, property) =>
    {
        switch (property.Name)
        {
            case "index": read.Index = UInt32(property.Value); break;
            case "value": read.Value = UInt64(property.Value); break;
            case "valueTwo": read.ValueTwo = NullableUInt64(property.Value); break;
            case "op": read.Op = String(property.Value); break;
        }
    });
}
