namespace Isolate.Spec;

public enum NetworkMode
{
    /// <summary>A new network namespace with only the loopback device, brought up.</summary>
    None,
    /// <summary>The host's network namespace, shared.</summary>
    Host,
    /// <summary>A new network namespace on Isolate's bridge: an address of its own, NAT out,
    /// published ports in (Network/ContainerNetwork).</summary>
    Bridge,
}

/// <summary>Isolate's own model of one container: its root, mounts, namespaces, cgroup and
/// limits, hostname, and how its life is run (stop signal, timeout); the command it runs is
/// its <see cref="Process"/>. Both faces convert into this, each through one converter
/// (docker-style flags: Docker/RunConverter; config.json: Oci/OciBundleLoader); the plan
/// builders and the launcher read only this.</summary>
public sealed record ContainerSpec
{
    /// <summary>The container's root directory, canonical; null means the embedded
    /// default: the host's own filesystem, read-only.</summary>
    public string? Rootfs { get; init; }

    /// <summary>An image's layers below <see cref="Rootfs"/> (its top layer), the next one
    /// down first: more overlayfs lowers under the copy-on-write layer (Images/ImageStore).</summary>
    public IReadOnlyList<string> LowerLayers { get; init; } = [];

    /// <summary>The image it runs (`run IMAGE`), as the user named it; null: a --rootfs or the host's root.</summary>
    public string? Image { get; init; }

    /// <summary>"": leave the UTS namespace's name as it is (an OCI config without one).</summary>
    public required string Hostname { get; init; }

    /// <summary>The container's own command (its PID 1, or PID 2 under --init).</summary>
    public required ProcessSpec Process { get; init; }

    public NetworkMode Network { get; init; } = NetworkMode.None;

    /// <summary>What <see cref="NetworkMode.Bridge"/> adds: ports, name servers, hosts entries, subnet.</summary>
    public NetworkOptions NetworkOptions { get; init; } = new();

    public IReadOnlyList<VolumeSpec> Volumes { get; init; } = [];

    public IReadOnlyList<TmpfsSpec> Tmpfs { get; init; } = [];

    /// <summary>An OCI bundle's mounts, made exactly as config.json lists them (and none of
    /// Isolate's own /proc, /sys, /dev); null: the docker face's mounts (Isolate's kernel
    /// filesystems, then <see cref="Volumes"/> and <see cref="Tmpfs"/>).</summary>
    public IReadOnlyList<ConfiguredMount>? Mounts { get; init; }

    /// <summary>linux.rootfsPropagation: the container's / gets it once every mount is made
    /// (MS_SHARED, MS_SLAVE, MS_PRIVATE, MS_UNBINDABLE, with MS_REC); None: private.</summary>
    public Isolate.Plan.MountFlags RootPropagation { get; init; }

    /// <summary>--read-only: the root mount is read-only; volumes and tmpfs keep their own mode.</summary>
    public bool ReadOnlyRoot { get; init; }

    /// <summary>How writes reach a --rootfs (ignored for the host-root default, which is read-only).</summary>
    public RootfsWrites RootfsWrites { get; init; } = RootfsWrites.CopyOnWrite;

    /// <summary>--keep-changes DIR: where the upper layer goes with <see cref="RootfsWrites.KeepChanges"/>.</summary>
    public string? KeepChangesDir { get; init; }

    /// <summary>Where a <see cref="RootfsWrites.CopyOnWrite"/> layer goes on disk, one directory
    /// per container (Rootfs/WritableLayer); null: the default for the caller
    /// (<see cref="State.StateStore.DefaultLayerRoot"/>).</summary>
    public string? LayerRoot { get; init; }

    /// <summary>--storage-opt size: the copy-on-write layer on a tmpfs of this many bytes instead
    /// of on disk (its pages are charged to the container's memory cgroup).</summary>
    public long? StorageSizeBytes { get; init; }

    /// <summary>This container's own layer directory under <see cref="LayerRoot"/>, holding upper
    /// and work: set by the launcher, which made it and removes it; null: a tmpfs layer.</summary>
    public string? LayerDir { get; init; }

    /// <summary>--privileged: no masked or read-only kernel paths.</summary>
    public bool Privileged { get; init; }

    /// <summary>Paths hidden from the container (an OCI bundle's linux.maskedPaths); null:
    /// runc's defaults, unless <see cref="Privileged"/>.</summary>
    public IReadOnlyList<string>? MaskedPaths { get; init; }

    /// <summary>Paths made read-only (an OCI bundle's linux.readonlyPaths); null: runc's
    /// defaults, unless <see cref="Privileged"/>.</summary>
    public IReadOnlyList<string>? ReadOnlyPaths { get; init; }

    public ResourceLimits Resources { get; init; } = new();

    /// <summary>--cgroups=disabled: no cgroup of its own (and so no limits).</summary>
    public bool Cgroups { get; init; } = true;

    /// <summary>--cgroup-parent: where the container's cgroup goes, relative to each hierarchy's root.</summary>
    public string CgroupParent { get; init; } = "isolate";

    /// <summary>The container's cgroup's own name (an OCI bundle's cgroupsPath); null: Isolate's
    /// "{id}.{pid}", which the janitor may remove once no Isolate holds it.</summary>
    public string? CgroupName { get; init; }

    /// <summary>--systemd-cgroup: the transient scope (CgroupName, "prefix-name.scope") that
    /// systemd makes in this slice with the container's PID at the gate; null: cgroupfs alone.</summary>
    public string? SystemdSlice { get; init; }

    /// <summary>--userns, or the map a non-root caller gets; null: the host's user namespace.</summary>
    public UserNamespaceSpec? UserNamespace { get; init; }

    /// <summary>--oom-score-adj, or null to inherit Isolate's.</summary>
    public int? OomScoreAdj { get; init; }

    /// <summary>--init: PID 1 is Isolate's tiny init; the command runs as PID 2.</summary>
    public bool Init { get; init; }

    /// <summary>What a stop (SIGTERM to Isolate, or --timeout) sends first.</summary>
    public int StopSignal { get; init; } = 15;

    /// <summary>How long a stop waits before SIGKILL.</summary>
    public TimeSpan StopTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>--timeout: stop the container when it has run this long (exit 124).</summary>
    public TimeSpan? Timeout { get; init; }

    /// <summary>--pid-file: where the container's PID 1 (as the host sees it) is written.</summary>
    public string? PidFile { get; init; }

    /// <summary>--die-with-parent: stop the container when Isolate's parent dies. Without it
    /// this holds only when Isolate is the foreground job of a terminal.</summary>
    public bool DieWithParent { get; init; }

    /// <summary>Existing namespaces to join instead of making new ones (an OCI bundle's
    /// linux.namespaces[].path): network, ipc or uts.</summary>
    public IReadOnlyList<(string Type, string Path)> JoinNamespaces { get; init; } = [];

    /// <summary>An OCI bundle's domainname: setdomainname in the container's UTS namespace; null: left as it is.</summary>
    public string? Domainname { get; init; }

    /// <summary>Namespaces shared with the host instead of made (an OCI bundle's
    /// linux.namespaces without them): "pid", "ipc", "uts" or "cgroup". The network has
    /// <see cref="Network"/>.</summary>
    public IReadOnlyList<string> HostNamespaces { get; init; } = [];

    /// <summary>Namespaced sysctls to set inside (an OCI bundle's linux.sysctl).</summary>
    public IReadOnlyDictionary<string, string> Sysctls { get; init; } = new Dictionary<string, string>();

    /// <summary>The container's id: its cgroup's name, and the default hostname.</summary>
    public string Id { get; init; } = "";

    /// <summary>Device nodes made in /dev besides the default ones (OCI linux.devices, --device).</summary>
    public IReadOnlyList<DeviceNode> Devices { get; init; } = [];

    /// <summary>Symlinks made in the root after the volumes (--gpus: the driver libraries' soname links).</summary>
    public IReadOnlyList<SymlinkSpec> Links { get; init; } = [];

    /// <summary>Directories whose mounted libraries are added to the container's ld.so cache
    /// (--gpus, a CDI spec's update-ldcache; Devices/LoaderCache).</summary>
    public IReadOnlyList<string> LibraryDirs { get; init; } = [];
}

/// <summary>A device node to make in the container's /dev (OCI linux.devices, --device):
/// Type 'c', 'b' or 'p'; FileMode the permission bits; HostPath the host's node, bound where
/// mknod is not allowed (null: the same path).</summary>
public sealed record DeviceNode(string Path, char Type, uint Major, uint Minor, uint FileMode, uint Uid, uint Gid, string? HostPath = null);
