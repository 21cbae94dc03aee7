using Isolate.Spec;

namespace Isolate.Plan;

/// <summary>Decides every mount of a container, in order, as data. Where a mount
/// flag is decided is here; where it is applied is native/mounts.c.
///
/// The order: make everything private; capture the volume sources (detached copies,
/// taken before any staging mount could cover them); put the root in place (a bind
/// of --rootfs, an overlay over it, or a read-only bind of the host's /) and open it;
/// then every mount inside the root, each target resolved in the root by the shim:
/// /proc, /sys, /dev, volumes and tmpfs (shallowest destination first, as docker
/// sorts them), the masked and read-only kernel paths, the read-only root; last,
/// pivot_root.</summary>
public static class MountPlanBuilder
{
    private const MountFlags NoSuidDevExec = MountFlags.NoSuid | MountFlags.NoDev | MountFlags.NoExec;
    private const MountOptions InRoot = MountOptions.InRoot;

    /// <summary>runc's defaults: kernel files a container has no business reading.</summary>
    public static readonly string[] MaskedPaths =
    [
        "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
        "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware",
    ];

    /// <summary>runc's defaults: kernel knobs a container may read but not turn.</summary>
    public static readonly string[] ReadOnlyPaths = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"];

    /// <param name="spec">The container.</param>
    /// <param name="hostScratchDir">An existing host directory over which the child mounts a
    /// private tmpfs to stage things in: the host root's mount point, an overlay's upper layer.
    /// The tmpfs lives only in the child's mount namespace, so nothing is created on the host;
    /// it must not hide any host path the plan uses (see Rootfs/HostScratch).</param>
    /// <param name="cgroup2">Mount the container's own cgroup2 view at /sys/fs/cgroup (read-only):
    /// on a v2 host, in the cgroup namespace the child unshares, its group is the root there.</param>
    /// <param name="hostLayer">The host root as a layer (see Rootfs/HostLayer): the host's mounts
    /// to bind back onto it; null binds the host's / as it is.</param>
    /// <param name="cgroupV1">On a cgroup v1 (or hybrid) host, with the container in a cgroup of
    /// its own (and so in a cgroup namespace): the names of the host's v1 hierarchies (the
    /// directory names under /sys/fs/cgroup: memory, cpu,cpuacct, systemd ...), for a
    /// configured `cgroup` mount.</param>
    /// <param name="cgroupV1Groups">Where the container shares the host's cgroup namespace (an
    /// OCI config without one, as containerd writes on v1): each hierarchy's host directory of
    /// the container's own group, bound in its place as runc does, since a cgroup filesystem
    /// mounted in the host's namespace shows the host's whole tree.</param>
    public static IReadOnlyList<MountOp> Build(ContainerSpec spec, string hostScratchDir = "/tmp", bool cgroup2 = false,
        IReadOnlyList<string>? hostLayer = null, IReadOnlyList<string>? cgroupV1 = null, IReadOnlyDictionary<string, string>? cgroupV1Groups = null)
    {
        if (spec.Rootfs != null)
            hostLayer = null;
        // Private first: on systemd hosts "/" is shared, and every mount below
        // would otherwise propagate back to the host.
        var ops = new List<MountOp> { MountOp.MakePrivate("/") };
        if (spec.Mounts is { } configured)
        {
            BuildConfigured(ops, spec, configured, hostScratchDir, cgroup2, cgroupV1, cgroupV1Groups);
            return ops;
        }
        if (spec.Volumes.Count > MaxVolumes)
            throw new IsolateException($"too many volumes ({spec.Volumes.Count}): at most {MaxVolumes}");
        for (int slot = 0; slot < spec.Volumes.Count; slot++)
            ops.Add(MountOp.Capture(spec.Volumes[slot].Source, slot, spec.Volumes[slot].ReadOnly));
        AddRoot(ops, spec, hostScratchDir, hostLayer);

        AddProc(ops);
        AddSys(ops, spec);
        if (cgroup2)
            ops.Add(MountOp.Filesystem("cgroup2", "/sys/fs/cgroup", NoSuidDevExec | MountFlags.ReadOnly, null, InRoot | MountOptions.NoSymlinks));
        AddDev(ops, spec.UserNamespace, spec.Devices);
        DeviceNodes.Add(ops, spec.Devices);
        if (spec.Rootfs is null)
        {
            // The read-only host tree gets a private, writable /tmp, and a private /run:
            // a read-only mount does not stop connect(), and the host's sockets live
            // there (docker.sock, D-Bus, systemd's private socket). A host without them
            // (an initramfs) has nothing to hide and no place to create them.
            ops.Add(MountOp.Filesystem("tmpfs", "/tmp", MountFlags.NoSuid | MountFlags.NoDev, "mode=1777", InRoot | MountOptions.Optional));
            ops.Add(MountOp.Filesystem("tmpfs", "/run", MountFlags.NoSuid | MountFlags.NoDev, "mode=755", InRoot | MountOptions.Optional));
        }
        ops.AddRange(UserMounts(spec));
        ops.AddRange(spec.Links.Select(l => MountOp.Symlink(l.Target, l.Path, InRoot | MountOptions.KeepExisting)));
        ops.AddRange(Isolate.Devices.LoaderCache.Ops(spec));
        if (hostLayer != null)
            ops.Add(MountOp.MakeDirInRoot(spec.Process.Workdir)); // before the layer is read-only
        if (!spec.Privileged)
        {
            ops.AddRange((spec.MaskedPaths ?? MaskedPaths).Select(MountOp.Mask));
            ops.AddRange((spec.ReadOnlyPaths ?? ReadOnlyPaths).Select(MountOp.ReadOnlyPath));
        }
        if ((spec.ReadOnlyRoot && spec.Rootfs is not null) || hostLayer != null)
            ops.Add(MountOp.ReadOnly("/", recursive: false, InRoot)); // the root mount only: mounts on it keep their mode
        ops.Add(MountOp.PivotRoot());
        return ops;
    }

    /// <summary>An OCI bundle: the root, then every mount of config.json in its order, as
    /// runc makes them; then what runc adds itself: the default devices and /dev links
    /// (unless /dev is a bind), the masked and read-only paths, the read-only root; last,
    /// pivot_root and the root's propagation.</summary>
    private static void BuildConfigured(List<MountOp> ops, ContainerSpec spec, IReadOnlyList<ConfiguredMount> mounts,
        string scratch, bool cgroup2, IReadOnlyList<string>? cgroupV1, IReadOnlyDictionary<string, string>? cgroupV1Groups)
    {
        var slots = new Dictionary<ConfiguredMount, int>(ReferenceEqualityComparer.Instance);
        foreach (var mount in mounts.Where(m => m.IsBind))
        {
            if (slots.Count >= MaxVolumes)
                throw new IsolateException($"too many bind mounts ({mounts.Count(m => m.IsBind)}): at most {MaxVolumes}");
            ops.Add(MountOp.Capture(mount.Source, slots.Count, mount.Flags.HasFlag(MountFlags.ReadOnly), mount.Flags.HasFlag(MountFlags.Rec)));
            slots[mount] = slots.Count;
        }
        AddRoot(ops, spec, scratch, null);
        foreach (var mount in mounts)
        {
            AddConfigured(ops, spec, mount, slots.GetValueOrDefault(mount, -1), cgroup2, cgroupV1, cgroupV1Groups);
            if (mount.Destination == "/")
                ops.Add(MountOp.OpenRoot(spec.Rootfs!)); // the new mount is the root from here on
        }
        // a /dev that is another's (a bind, or a devtmpfs: the host's own nodes) is left as it
        // is: no node is made, replaced or chowned in it
        if (!mounts.Any(m => (m.IsBind || m.Type == "devtmpfs") && m.Destination == "/dev"))
        {
            ops.Add(MountOp.MakeDirInRoot("/dev"));
            AddDefaultDevices(ops, existingDev: true, spec.Devices);
            DeviceNodes.Add(ops, spec.Devices); // linux.devices (runc too makes none on a bound /dev)
        }
        // NVIDIA's createContainer hooks, done by Isolate (Oci/OciHooks: NvidiaHooksDone)
        ops.AddRange(spec.Links.Select(l => MountOp.Symlink(l.Target, l.Path, InRoot | MountOptions.KeepExisting)));
        ops.AddRange(Isolate.Devices.LoaderCache.Ops(spec));
        if (spec.ReadOnlyRoot)
            ops.Add(MountOp.MakeDirInRoot(spec.Process.Workdir)); // runc makes process.cwd before the root is read-only
        if (!spec.Privileged)
        {
            ops.AddRange((spec.MaskedPaths ?? MaskedPaths).Select(MountOp.Mask));
            ops.AddRange((spec.ReadOnlyPaths ?? ReadOnlyPaths).Select(MountOp.ReadOnlyPath));
        }
        if (spec.ReadOnlyRoot)
            ops.Add(MountOp.ReadOnly("/", recursive: false, InRoot));
        ops.Add(MountOp.PivotRoot());
        if (spec.RootPropagation != MountFlags.None)
            ops.Add(MountOp.Propagation("/", spec.RootPropagation, MountOptions.None));
    }

    /// <summary>Flags a bind takes only from a remount (all but MS_BIND and MS_REC).</summary>
    private const MountFlags RemountFlags = ~(MountFlags.Bind | MountFlags.Rec);

    private static void AddConfigured(List<MountOp> ops, ContainerSpec spec, ConfiguredMount mount, int slot, bool cgroup2,
        IReadOnlyList<string>? cgroupV1, IReadOnlyDictionary<string, string>? cgroupV1Groups)
    {
        string dest = mount.Destination;
        string? data = mount.Data.Length > 0 ? mount.Data : null;
        switch (mount.Type)
        {
            case "bind":
                var create = mount.SourceIsFile ? MountOptions.CreateFile : MountOptions.CreateDir;
                ops.Add(MountOp.Bind(mount.Source, dest, mount.Flags.HasFlag(MountFlags.Rec), InRoot | create,
                    mount.Flags.HasFlag(MountFlags.ReadOnly), slot, mount.SourceIsFile ? 0x1A4u /* 0644 */ : 0x1EDu /* 0755 */));
                // ro came with the capture; nosuid, nodev, noexec and atime only come from a remount
                if ((mount.Flags & RemountFlags & ~MountFlags.ReadOnly) != 0)
                    ops.Add(MountOp.Remount(dest, mount.Flags & RemountFlags));
                break;
            case "proc":
                // only on a real directory (CVE-2019-19921)
                ops.Add(MountOp.Filesystem("proc", dest, mount.Flags, data, InRoot | MountOptions.NoSymlinks | MountOptions.CreateDir, 0x16D, mount.Source));
                break;
            case "sysfs" when spec.UserNamespace != null && spec.Network == NetworkMode.Host:
                // sysfs needs a network namespace of its own in a user namespace: runc binds the host's
                ops.Add(MountOp.Bind("/sys", dest, recursive: true, InRoot | MountOptions.NoSymlinks | MountOptions.CreateDir, readOnly: true, mode: 0x16D));
                break;
            case "sysfs":
                ops.Add(MountOp.Filesystem("sysfs", dest, mount.Flags, data, InRoot | MountOptions.NoSymlinks | MountOptions.CreateDir, 0x16D, mount.Source));
                break;
            case "cgroup":
                AddCgroup(ops, mount, cgroup2, cgroupV1, cgroupV1Groups);
                break;
            case "tmpfs":
                ops.Add(MountOp.Filesystem("tmpfs", dest, mount.Flags, data,
                    InRoot | MountOptions.CreateDir | MountOptions.KeepMode | (mount.CopyUp ? MountOptions.CopyUp : MountOptions.None), 0, mount.Source));
                break;
            default:
                ops.Add(MountOp.Filesystem(mount.Type, dest, mount.Flags, data, InRoot | MountOptions.CreateDir, 0, mount.Source));
                break;
        }
        foreach (var propagation in mount.Propagation)
            ops.Add(MountOp.Propagation(dest, propagation));
    }

    /// <summary>A `cgroup` mount, as runc makes it: on the unified hierarchy, cgroup2 (the
    /// container's own group, through its cgroup namespace); on v1 and hybrid hosts a tmpfs
    /// with each v1 hierarchy under it, mounted in the cgroup namespace so that each shows
    /// the container's own group, and a link for each controller of a co-mounted one
    /// (cpu -> cpu,cpuacct). Not in a cgroup (no namespace): the tmpfs alone. The tmpfs stays
    /// writable, as runc leaves it; the hierarchies take the mount's ro. In the host's cgroup
    /// namespace each hierarchy is the container's group bound from the host instead.</summary>
    private static void AddCgroup(List<MountOp> ops, ConfiguredMount mount, bool cgroup2, IReadOnlyList<string>? cgroupV1,
        IReadOnlyDictionary<string, string>? cgroupV1Groups)
    {
        string dest = mount.Destination;
        if (cgroup2)
        {
            ops.Add(MountOp.Filesystem("cgroup2", dest, mount.Flags, null, InRoot | MountOptions.NoSymlinks | MountOptions.CreateDir));
            return;
        }
        ops.Add(MountOp.Filesystem("tmpfs", dest, NoSuidDevExec, "mode=755", InRoot | MountOptions.NoSymlinks | MountOptions.CreateDir, 0, "tmpfs"));
        foreach (string hierarchy in cgroupV1 ?? [])
        {
            string where = dest.TrimEnd('/') + "/" + hierarchy;
            string options = hierarchy == "systemd" ? "name=systemd" : hierarchy;
            if (cgroupV1Groups != null && cgroupV1Groups.TryGetValue(hierarchy, out string? group))
            {
                ops.Add(MountOp.Bind(group, where, recursive: false, InRoot | MountOptions.NoSymlinks | MountOptions.CreateDir, mode: 0x1ED));
                ops.Add(MountOp.Remount(where, NoSuidDevExec | (mount.Flags & MountFlags.ReadOnly)));
            }
            else
                ops.Add(MountOp.Filesystem("cgroup", where, NoSuidDevExec | (mount.Flags & MountFlags.ReadOnly), options,
                    InRoot | MountOptions.NoSymlinks | MountOptions.CreateDir, 0x1ED, hierarchy == "systemd" ? "systemd" : "cgroup"));
            foreach (string controller in hierarchy.Split(',').Where(c => c != hierarchy))
                ops.Add(MountOp.Symlink(hierarchy, dest.TrimEnd('/') + "/" + controller, InRoot | MountOptions.KeepExisting));
        }
    }

    /// <summary>The shim's capture slots (ISOLATE_MAX_CAPTURES, 64), but the last: volumes.</summary>
    public const int MaxVolumes = 63;

    /// <summary>The capture slot of an id-mapped rootfs the parent sends with the GO message
    /// (user namespaces); the bind that names it binds the rootfs by path if none came.</summary>
    public const int RootfsSlot = 63;

    /// <summary>Volumes and tmpfs, shallowest destination first (a stable sort, so equal
    /// depths keep the command line's order): -v X:/data/sub stays visible under --tmpfs /data.</summary>
    private static IEnumerable<MountOp> UserMounts(ContainerSpec spec)
    {
        var mounts = new List<(string Destination, MountOp Op)>();
        for (int slot = 0; slot < spec.Volumes.Count; slot++)
        {
            var volume = spec.Volumes[slot];
            var create = volume.SourceIsFile ? MountOptions.CreateFile : MountOptions.CreateDir;
            uint mode = volume.SourceIsFile ? 0x1A4u /* 0644 */ : 0x1EDu /* 0755 */;
            mounts.Add((volume.Destination,
                MountOp.Bind(volume.Source, volume.Destination, recursive: true, InRoot | create, volume.ReadOnly, slot, mode)));
            // nosuid, nodev, noexec come only from a remount, which keeps ro (the sort is stable)
            if (volume.Flags != MountFlags.None)
                mounts.Add((volume.Destination, MountOp.Remount(volume.Destination, volume.Flags | (volume.ReadOnly ? MountFlags.ReadOnly : 0))));
        }
        foreach (var tmpfs in spec.Tmpfs)
            mounts.Add((tmpfs.Destination, MountOp.Filesystem("tmpfs", tmpfs.Destination, TmpfsFlags(tmpfs), tmpfs.Data, InRoot | MountOptions.CreateDir)));
        return mounts.OrderBy(m => m.Destination.Count(c => c == '/')).Select(m => m.Op);
    }

    private static void AddRoot(List<MountOp> ops, ContainerSpec spec, string scratch, IReadOnlyList<string>? hostLayer)
    {
        if (spec.Rootfs is not { } rootfs)
        {
            string hostRoot = Join(scratch, "root");
            ops.Add(MountOp.Filesystem("tmpfs", scratch, MountFlags.NoSuid | MountFlags.NoDev, "mode=0700"));
            ops.Add(MountOp.Mkdir(hostRoot, 0x1C0 /* 0700 */));
            if (hostLayer is null)
            {
                ops.Add(MountOp.Bind("/", hostRoot, recursive: true));
                ops.Add(MountOp.ReadOnly(hostRoot, recursive: true)); // every mount of the host, or fail
            }
            else
            {
                // The host's root filesystem under a private upper layer, where mount points
                // can be made; its other mounts bound back read-only. The layer itself becomes
                // read-only once the mounts are in place (the end of Build).
                string upper = Join(scratch, "upper"), work = Join(scratch, "work");
                ops.Add(MountOp.Mkdir(upper));
                ops.Add(MountOp.Mkdir(work));
                ops.Add(MountOp.Filesystem("overlay", hostRoot, MountFlags.None,
                    $"lowerdir=/,upperdir={EscapeOverlay(upper)},workdir={EscapeOverlay(work)}"));
                foreach (string mount in hostLayer)
                {
                    ops.Add(MountOp.Bind(mount, hostRoot + mount, recursive: true));
                    ops.Add(MountOp.ReadOnly(hostRoot + mount, recursive: true));
                }
            }
            ops.Add(MountOp.OpenRoot(hostRoot));
            return;
        }

        // In a user namespace the parent may send the rootfs id-mapped (host root's files are
        // the namespace root's): it goes onto the rootfs path, where the overlay, or the
        // container, then finds it.
        int slot = spec.UserNamespace != null ? RootfsSlot : -1;
        switch (spec.RootfsWrites)
        {
            case RootfsWrites.Direct:
                // pivot_root needs the new root to be a mount point of its own.
                ops.Add(MountOp.Bind(rootfs, rootfs, recursive: true, slot: slot));
                break;
            case RootfsWrites.CopyOnWrite or RootfsWrites.KeepChanges:
                // On disk where the launcher made the layer (Rootfs/WritableLayer); else on the
                // private staging tmpfs: sized by --storage-opt size, its pages charged to the
                // writer's memory cgroup (--read-only: it only takes Isolate's mount points).
                bool onTmpfs = spec.RootfsWrites == RootfsWrites.CopyOnWrite && spec.LayerDir is null;
                string layers = spec.RootfsWrites == RootfsWrites.KeepChanges
                    ? spec.KeepChangesDir ?? throw new ArgumentException("KeepChanges needs KeepChangesDir")
                    : spec.LayerDir ?? scratch;
                string upper = Join(layers, "upper"), work = Join(layers, "work");
                if (onTmpfs)
                {
                    string size = spec.StorageSizeBytes is { } bytes ? $",size={bytes}" : "";
                    ops.Add(MountOp.Filesystem("tmpfs", scratch, MountFlags.NoSuid | MountFlags.NoDev, "mode=0700" + size));
                    ops.Add(MountOp.Mkdir(upper));
                    ops.Add(MountOp.Mkdir(work));
                }
                // (--keep-changes: the CLI made DIR/upper and DIR/work, checked to be real
                // directories; a layer on disk: the launcher made them)
                if (slot >= 0)
                    ops.Add(MountOp.Bind(rootfs, rootfs, recursive: true, slot: slot));
                // The overlay goes over the rootfs path itself (lowerdir is looked up before
                // the new mount covers it); writes land in upper, the directory stays as it is.
                // a non-root user's image: its opaque directories are user.overlay.opaque
                // (Images/LayerUnpacker), which overlayfs reads with userxattr
                string xattrs = spec.Image != null && spec.UserNamespace is { Rootless: true } ? ",userxattr" : "";
                ops.Add(MountOp.Filesystem("overlay", rootfs, MountFlags.None,
                    $"lowerdir={string.Join(':', spec.LowerLayers.Prepend(rootfs).Select(EscapeOverlay))},upperdir={EscapeOverlay(upper)},workdir={EscapeOverlay(work)}{xattrs}"));
                break;
        }
        ops.Add(MountOp.OpenRoot(rootfs));
    }

    private static void AddProc(List<MountOp> ops) =>
        // A fresh procfs of the new PID namespace, only on a real directory (CVE-2019-19921).
        ops.Add(MountOp.Filesystem("proc", "/proc", NoSuidDevExec, null, InRoot | MountOptions.NoSymlinks | MountOptions.CreateDir, 0x16D /* 0555 */));

    private static void AddSys(List<MountOp> ops, ContainerSpec spec)
    {
        // In a user namespace sysfs can only be mounted with a network namespace of its own;
        // with --network host the host's /sys is bound instead, read-only (as runc does).
        if (spec.UserNamespace != null && spec.Network == NetworkMode.Host)
        {
            ops.Add(MountOp.Bind("/sys", "/sys", recursive: true, InRoot | MountOptions.NoSymlinks | MountOptions.CreateDir, readOnly: true, mode: 0x16D));
            return;
        }
        // The host's network namespace has one sysfs, and the host root already shows it at
        // /sys: the kernel refuses the same filesystem on the same mount again (EBUSY), so a
        // read-only tmpfs goes between (it also hides the host's mounts under /sys).
        if (spec.Rootfs is null && spec.Network == NetworkMode.Host)
            ops.Add(MountOp.Filesystem("tmpfs", "/sys", NoSuidDevExec | MountFlags.ReadOnly, "mode=755", InRoot | MountOptions.NoSymlinks));
        ops.Add(MountOp.Filesystem("sysfs", "/sys", NoSuidDevExec | MountFlags.ReadOnly, null,
            InRoot | MountOptions.NoSymlinks | MountOptions.CreateDir, 0x16D /* 0555 */));
    }

    /// <summary>A minimal /dev: a tmpfs with the usual nodes, a private devpts, shm and the
    /// fd links. Resolved in the root, so an image's /dev symlink leads somewhere inside it.</summary>
    private static void AddDev(List<MountOp> ops, UserNamespaceSpec? userns, IReadOnlyList<DeviceNode> requested)
    {
        ops.Add(MountOp.Filesystem("tmpfs", "/dev", MountFlags.NoSuid | MountFlags.StrictAtime, "mode=755,size=65536k", InRoot | MountOptions.CreateDir));

        // newinstance: the container's ptys are its own, not the host's.
        // gid=5 (tty) only where it exists: a user namespace without it refuses the option.
        string ttyGroup = userns == null || userns.MapsGid(5) ? ",gid=5" : "";
        ops.Add(MountOp.Filesystem("devpts", "/dev/pts", MountFlags.NoSuid | MountFlags.NoExec,
            "newinstance,ptmxmode=0666,mode=0620" + ttyGroup, InRoot | MountOptions.CreateDir));
        ops.Add(MountOp.Filesystem("tmpfs", "/dev/shm", NoSuidDevExec, "mode=1777,size=65536k", InRoot | MountOptions.CreateDir));
        AddDefaultDevices(ops, existingDev: false, requested);
    }

    /// <summary>The one place the default /dev entries are made, for both faces: the device
    /// nodes, /dev/ptmx to the container's own devpts, and the fd links. On a /dev Isolate
    /// did not make empty (<paramref name="existingDev"/>: an OCI bundle's tmpfs, or the
    /// rootfs's own directory) an entry that exists is kept, as runc keeps it, and /dev/ptmx
    /// is replaced. A default node the container asks for itself (docker's --device /dev/null,
    /// an OCI config listing /dev/null) is left to that request.</summary>
    private static void AddDefaultDevices(List<MountOp> ops, bool existingDev, IReadOnlyList<DeviceNode> requested)
    {
        var keep = existingDev ? MountOptions.KeepExisting : MountOptions.None;
        foreach (var (name, major, minor) in Devices.Where(d => !requested.Any(r => r.Path == "/dev/" + d.Name)))
            ops.Add(MountOp.CharDevice("/dev/" + name, major, minor, "/dev/" + name, InRoot | keep));
        ops.Add(MountOp.Symlink("pts/ptmx", "/dev/ptmx", InRoot | (existingDev ? MountOptions.Replace : 0)));
        ops.Add(MountOp.Symlink("/proc/self/fd", "/dev/fd", InRoot | keep));
        ops.Add(MountOp.Symlink("/proc/self/fd/0", "/dev/stdin", InRoot | keep));
        ops.Add(MountOp.Symlink("/proc/self/fd/1", "/dev/stdout", InRoot | keep));
        ops.Add(MountOp.Symlink("/proc/self/fd/2", "/dev/stderr", InRoot | keep));
    }

    private static readonly (string Name, uint Major, uint Minor)[] Devices =
    [
        ("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8), ("urandom", 1, 9), ("tty", 5, 0),
    ];

    private static MountFlags TmpfsFlags(TmpfsSpec tmpfs) =>
        (tmpfs.ReadOnly ? MountFlags.ReadOnly : 0) | (tmpfs.NoExec ? MountFlags.NoExec : 0)
        | (tmpfs.NoSuid ? MountFlags.NoSuid : 0) | (tmpfs.NoDev ? MountFlags.NoDev : 0);

    /// <summary>overlayfs splits its options at ',' and lower layers at ':'; a backslash escapes.</summary>
    public static string EscapeOverlay(string path) =>
        path.Replace("\\", "\\\\").Replace(",", "\\,").Replace(":", "\\:");

    private static string Join(string dir, string name) => dir.EndsWith('/') ? dir + name : dir + "/" + name;
}
