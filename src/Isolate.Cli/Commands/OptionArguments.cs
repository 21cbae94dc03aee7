namespace Isolate.Cli.Commands;

// CommandLineParser reads an options type's properties and those of every interface it
// implements (its ReflectionExtensions.FlattenHierarchy), each through AOT reflection: an options
// type that implemented the converters' interfaces had its 54 properties read twice on every
// start, about 1 ms of `isolate run`. The options types implement nothing; these hand their
// values to the converters instead (ArgumentTests checks that each covers its interface).

/// <summary>`run`'s options as the docker face's converter takes them.</summary>
internal sealed class RunArguments(RunOptions options) : Isolate.Docker.IRunArguments
{
    public string? Rootfs => options.Rootfs;
    public string? Entrypoint => options.Entrypoint;
    public string? Hostname => options.Hostname;
    public string? Workdir => options.Workdir;
    public IEnumerable<string> Env => options.Env;
    public string Network => options.Network;
    public IEnumerable<string> Publish => options.Publish;
    public IEnumerable<string> Dns => options.Dns;
    public IEnumerable<string> DnsSearch => options.DnsSearch;
    public IEnumerable<string> AddHost => options.AddHost;
    public string? Subnet => options.Subnet;
    public IEnumerable<string> Volumes => options.Volumes;
    public IEnumerable<string> Tmpfs => options.Tmpfs;
    public bool ReadOnly => options.ReadOnly;
    public bool Overlay => options.Overlay;
    public bool NoOverlay => options.NoOverlay;
    public string? KeepChanges => options.KeepChanges;
    public IEnumerable<string> StorageOpt => options.StorageOpt;
    public bool Privileged => options.Privileged;
    public string? Cgroups => options.Cgroups;
    public string? CgroupParent => options.CgroupParent;
    public string? Stats => options.Stats;
    public string? User => options.User;
    public IEnumerable<string> GroupAdd => options.GroupAdd;
    public IEnumerable<string> CapAdd => options.CapAdd;
    public IEnumerable<string> CapDrop => options.CapDrop;
    public IEnumerable<string> SecurityOpt => options.SecurityOpt;
    public string? UserNamespace => options.UserNamespace;
    public string? PreserveFds => options.PreserveFds;
    public bool Tty => options.Tty;
    public bool Interactive => options.Interactive;
    public bool Init => options.Init;
    public IEnumerable<string> EnvFile => options.EnvFile;
    public IEnumerable<string> Ulimit => options.Ulimit;
    public string? OomScoreAdj => options.OomScoreAdj;
    public string? PidFile => options.PidFile;
    public string? StopSignal => options.StopSignal;
    public string? StopTimeout => options.StopTimeout;
    public string? Timeout => options.Timeout;
    public bool Detach => options.Detach;
    public string? Name => options.Name;
    public bool DieWithParent => options.DieWithParent;
    public bool Debug => options.Debug;
    public IEnumerable<string> Device => options.Device;
    public IEnumerable<string> DeviceCgroupRule => options.DeviceCgroupRule;
    public string? Gpus => options.Gpus;
    public IEnumerable<string> Command => options.Command;
    public string? Memory => options.Memory;
    public string? MemorySwap => options.MemorySwap;
    public string? Cpus => options.Cpus;
    public string? CpuShares => options.CpuShares;
    public string? CpusetCpus => options.CpusetCpus;
    public string? PidsLimit => options.PidsLimit;
    public string? BlkioWeight => options.BlkioWeight;
    public string? IoWeight => options.IoWeight;
    public string? MemoryReservation => options.MemoryReservation;
    public string? CpuQuota => options.CpuQuota;
    public string? CpuPeriod => options.CpuPeriod;
    public string? CpusetMems => options.CpusetMems;
    public string? KernelMemory => options.KernelMemory;
}

/// <summary>`update`'s options as the limits converter takes them.</summary>
internal sealed class UpdateArguments(UpdateOptions options) : Isolate.Docker.IUpdateLimitArguments
{
    public string? CpuShare => options.CpuShare;
    public string? KernelMemoryTcp => options.KernelMemoryTcp;
    public string? Resources => options.Resources;
    public string? Memory => options.Memory;
    public string? MemorySwap => options.MemorySwap;
    public string? Cpus => options.Cpus;
    public string? CpuShares => options.CpuShares;
    public string? CpusetCpus => options.CpusetCpus;
    public string? PidsLimit => options.PidsLimit;
    public string? BlkioWeight => options.BlkioWeight;
    public string? IoWeight => options.IoWeight;
    public string? MemoryReservation => options.MemoryReservation;
    public string? CpuQuota => options.CpuQuota;
    public string? CpuPeriod => options.CpuPeriod;
    public string? CpusetMems => options.CpusetMems;
    public string? KernelMemory => options.KernelMemory;
}
