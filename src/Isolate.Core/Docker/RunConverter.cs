using Isolate.Interop;
using Isolate.Plan;
using Isolate.Rootfs;
using Isolate.Security;
using Isolate.Runtime;
using Isolate.Spec;

namespace Isolate.Docker;

/// <summary>The docker face's one converter: `run`'s options to Isolate's model. Every user
/// error is found here, before anything is created.</summary>
public static class RunConverter
{
    /// <summary>Options to Isolate's model; every user error is found here, before anything is created.</summary>
    /// <param name="containerNetwork">--network container:NAME: NAME's network namespace (a
    /// /proc/PID/ns/net path); null where there is no state to look NAME up in.</param>
    /// <param name="image">`run IMAGE`: the image's layers and config (Images/ImageRun); the
    /// command then follows the image's name.</param>
    /// <param name="cdiSpecDirs">Where CDI specs are read from for `--device VENDOR/CLASS=NAME`.</param>
    /// <param name="nvidiaDriverRoot">Where --gpus finds the driver without a CDI spec (default /).</param>
    public static ContainerSpec ToSpec(IRunArguments options, Func<string, string?> hostVariable, Func<string, string>? containerNetwork = null,
        Images.ImageDefaults? image = null, IReadOnlyList<string>? cdiSpecDirs = null, string? nvidiaDriverRoot = null)
    {
        // Under Native AOT, CommandLineParser leaves an absent sequence option null.
        var args = (options.Command ?? []).ToList();
        if (image != null)
            args = Images.ImageRun.Command(image, options.Entrypoint, args[1..]);
        else if (options.Entrypoint != null)
            throw new IsolateException("--entrypoint applies to an image (isolate run --entrypoint CMD IMAGE [ARG...]); without one, give the command itself");
        if (args.Count == 0)
            throw new IsolateException("run: no command given; usage: isolate run [OPTIONS] [--] COMMAND [ARG...], or isolate run [OPTIONS] IMAGE [COMMAND [ARG...]]");

        var (network, netOptions, joinNetwork) = Network(options, containerNetwork);

        string workdir = options.Workdir ?? image?.Config.WorkingDir ?? "/";
        if (!workdir.StartsWith('/'))
            throw new IsolateException($"invalid --workdir '{workdir}': it must be an absolute path inside the container");

        if (options.Detach && options.Tty)
            throw new IsolateException("-d with -t: a detached container has no terminal to show; drop -t (isolate logs shows its output)");
        // the hostname is the container's id (its --name, where that is a hostname), as docker's is
        string id = options.Name ?? ContainerNames.NewId();
        string hostname = options.Hostname ?? (ContainerNames.IsHostname(id) ? id : ContainerNames.NewId());
        ContainerNames.ValidateHostname(hostname);

        string? rootfs = image?.TopLayer ?? (options.Rootfs is null ? null : RootfsResolver.Resolve(options.Rootfs));
        var userns = UserNamespaceParser.Parse(options.UserNamespace, HostIdentity.EffectiveUserId, HostIdentity.EffectiveGroupId, RunSecurity.ReadHostFile);
        if (image != null && userns is { Rootless: false })
            throw new IsolateException($"run {image.Reference}: --userns with an image is not supported yet (the store's layers belong to host root, and only the top one could be id-mapped); drop --userns, or use --rootfs DIR");
        var security = RunSecurity.From(options, rootfs ?? "/", userns, image?.Lowers, image?.Config.User);
        var writes = RootfsWritesFor(options, rootfs);
        if (image != null && writes == RootfsWrites.Direct)
            throw new IsolateException($"--no-overlay with an image: its layers are shared by every container of it and stay as they are; drop --no-overlay (--keep-changes DIR keeps a container's writes)");
        string? keepChanges = writes == RootfsWrites.KeepChanges ? KeepChangesDir(options.KeepChanges!, rootfs!) : null;
        long? storageSize = StorageSize(options.StorageOpt ?? [], writes, rootfs);
        var volumes = (options.Volumes ?? []).Select(v => MountSpecParser.ParseVolume(v, p => RootfsResolver.HostSource(p, "volume source", (link, uid) => $"-v {p}: {p}'s component {link} is a symlink owned by uid {uid} (a container or user could have planted it); give the resolved path"), HostFileKind)).ToList();
        var tmpfs = (options.Tmpfs ?? []).Select(MountSpecParser.ParseTmpfs).ToList();
        RejectDuplicateDestinations(volumes.Select(v => v.Destination).Concat(tmpfs.Select(t => t.Destination)));
        var deviceFlags = (options.Device ?? []).ToList();
        var (devices, deviceRules, deviceAllows) = LimitsConverter.Devices(deviceFlags.Where(d => !Devices.CdiDevices.IsName(d)));
        var envFiles = (options.EnvFile ?? []).SelectMany(ReadEnvFile).ToList();
        var cdi = Devices.DeviceRequests.Resolve(deviceFlags.Where(Devices.CdiDevices.IsName), options.Gpus, envFiles.Concat(options.Env ?? []), image?.Config.Env ?? [],
            hostVariable, cdiSpecDirs ?? Devices.CdiDevices.DefaultSpecDirs, nvidiaDriverRoot ?? "/", path => ContainerHas(rootfs, image?.Lowers, path));
        foreach (var node in cdi.Nodes.Where(n => devices.Any(d => d.Path == n.Path)))
            throw new IsolateException($"--device: {node.Path} is given twice (by a CDI device and a host path)");
        devices = [.. devices, .. cdi.Nodes];
        deviceAllows = [.. deviceAllows, .. cdi.Allows, .. (options.DeviceCgroupRule ?? []).Select(LimitsConverter.DeviceCgroupRule)];
        volumes = [.. volumes, .. cdi.Mounts];
        if (cdi.Mounts.Count > 0)
            RejectDuplicateDestinations(volumes.Select(v => v.Destination).Concat(tmpfs.Select(t => t.Destination)));
        var resources = LimitsConverter.From(options) with { DeviceRules = deviceRules };
        string cgroupParent = CgroupParentPath(options.CgroupParent);
        var stats = ParseStats(options.Stats);
        bool cgroups = options.Cgroups switch
        {
            null or "enabled" => true,
            "disabled" => false,
            _ => throw new IsolateException($"invalid --cgroups '{options.Cgroups}': use enabled or disabled"),
        };
        if (!cgroups && (resources.Any || stats != StatsFormat.None))
            throw new IsolateException("--cgroups=disabled leaves no cgroup to set limits on or read --stats from; drop one or the other");
        if (userns is { Rootless: true } && joinNetwork != null)
            throw new IsolateException($"--network {options.Network}: a non-root user cannot join another network namespace (setns needs CAP_SYS_ADMIN in the host's user namespace); run isolate as root, or publish the other container's ports with -p");
        if (userns is { Rootless: true })
        {
            // A non-root user cannot make cgroups here (root owns every hierarchy); without
            // limits the container simply goes without one, as with --cgroups=disabled.
            if (resources.Any || stats != StatsFormat.None || options.Cgroups == "enabled" || options.CgroupParent != null)
                throw new IsolateException("limits, --stats and --cgroups=enabled need a cgroup, which a non-root user cannot create: run isolate as root, or drop them");
            cgroups = false;
        }
        if (cgroups)
            resources = DefaultConfinement.Apply(resources, deviceAllows, options.Privileged, options.PidsLimit != null, Cgroups.CgroupLayout.Detect());

        bool tty = options.Tty;
        if (tty && options.Interactive && !HostTerminal.IsTerminal(0))
            throw new IsolateException("-it: the input device is not a terminal; drop -i to give the container a terminal without your input, or -t to pass stdin through as it is");
        var rlimits = ProcessOptionParser.ParseUlimits(options.Ulimit ?? []);
        int? oomScoreAdj = options.OomScoreAdj is null ? null : ProcessOptionParser.ParseOomScoreAdj(options.OomScoreAdj);
        int stopSignal = options.StopSignal is not null ? ProcessOptionParser.ParseSignal("--stop-signal", options.StopSignal)
            : image?.Config.StopSignal is { } imageSignal ? ProcessOptionParser.ParseSignal($"image {image.Reference}'s StopSignal", imageSignal) : 15;
        var stopTimeout = options.StopTimeout is null ? TimeSpan.FromSeconds(10) : ProcessOptionParser.ParseDuration("--stop-timeout", options.StopTimeout, allowZero: true);
        TimeSpan? timeout = options.Timeout is null ? null : ProcessOptionParser.ParseDuration("--timeout", options.Timeout);
        string? pidFile = options.PidFile is null ? null : PidFilePath(options.PidFile);

        // TERM goes in with a terminal: docker sets it for -t; without -t, when Isolate's
        // own stdin and stdout are one
        bool terminal = tty || (HostTerminal.IsTerminal(0) && HostTerminal.IsTerminal(1));
        return new ContainerSpec
        {
            Rootfs = rootfs,
            LowerLayers = image?.Lowers ?? [],
            Image = image?.Reference,
            Hostname = hostname,
            Process = new ProcessSpec
            {
                Workdir = workdir,
                Args = args,
                // the image's Env first: --env-file and -e override it, as docker's do
                Env = EnvironmentBuilder.Build(hostname, (image?.Config.Env.Where(e => e.Contains('=')) ?? []).Concat(cdi.Env).Concat(envFiles).Concat(options.Env ?? []), hostVariable, terminal, security.User.Home),
                Security = security,
                Rlimits = rlimits,
                Tty = tty,
                Interactive = options.Interactive,
            },
            Network = network,
            NetworkOptions = netOptions,
            JoinNamespaces = joinNetwork is null ? [] : [("network", joinNetwork)],
            Volumes = volumes,
            Tmpfs = tmpfs,
            ReadOnlyRoot = options.ReadOnly,
            RootfsWrites = writes,
            KeepChangesDir = keepChanges,
            StorageSizeBytes = storageSize,
            Privileged = options.Privileged,
            Resources = resources,
            Devices = devices,
            Links = cdi.Links,
            LibraryDirs = cdi.LibraryDirs,
            MaskedPaths = cdi.Masks.Count > 0 ? [.. Plan.MountPlanBuilder.MaskedPaths, .. cdi.Masks] : null,
            CgroupParent = cgroupParent,
            Cgroups = cgroups,
            UserNamespace = userns,
            OomScoreAdj = oomScoreAdj,
            Init = options.Init,
            StopSignal = stopSignal,
            StopTimeout = stopTimeout,
            Timeout = timeout,
            PidFile = pidFile,
            DieWithParent = options.DieWithParent,
            Id = id,
        };
    }

    /// <summary>--network and what goes with it: -p (which implies bridge), --dns, --dns-search,
    /// --add-host, --subnet; the path of a network namespace to join (container:NAME, ns:PATH).</summary>
    private static (NetworkMode Mode, NetworkOptions Options, string? Join) Network(IRunArguments options, Func<string, string>? containerNetwork)
    {
        var ports = (options.Publish ?? []).Select(PortMapping.Parse).ToList();
        var net = new NetworkOptions
        {
            Ports = ports,
            Dns = [.. (options.Dns ?? []).Select(NetworkOptions.CheckDns)],
            DnsSearch = [.. options.DnsSearch ?? []],
            AddHosts = [.. (options.AddHost ?? []).Select(NetworkOptions.CheckAddHost)],
            Subnet = options.Subnet,
        };
        if (net.Subnet != null)
            NetworkOptions.ParseSubnet(net.Subnet);
        string mode = options.Network ?? "none";
        if (mode == "none" && ports.Count > 0)
            mode = "bridge"; // -p implies it, as the default is none
        string? join = null;
        NetworkMode result;
        if (mode.StartsWith("container:", StringComparison.Ordinal))
        {
            string name = mode["container:".Length..];
            if (name.Length == 0)
                throw new IsolateException("invalid --network 'container:': name the container whose network to share, e.g. --network container:web");
            join = containerNetwork?.Invoke(name) ?? throw new IsolateException($"--network {mode}: there is no state to find {name} in");
            result = NetworkMode.None;
        }
        else if (mode.StartsWith("ns:", StringComparison.Ordinal))
        {
            join = mode["ns:".Length..];
            if (!join.StartsWith('/'))
                throw new IsolateException($"invalid --network '{mode}': give the absolute path of a network namespace, e.g. ns:/run/netns/blue");
            if (!File.Exists(join))
                throw new IsolateException($"--network {mode}: {join} does not exist");
            result = NetworkMode.None;
        }
        else
        {
            result = mode switch
            {
                "none" => NetworkMode.None,
                "host" => NetworkMode.Host,
                "bridge" => NetworkMode.Bridge,
                _ => throw new IsolateException($"invalid --network '{mode}': use none, host, bridge, container:NAME or ns:PATH"),
            };
        }
        if (result != NetworkMode.Bridge && net.Any)
        {
            string option = ports.Count > 0 ? "-p" : net.Dns.Count > 0 ? "--dns" : net.DnsSearch.Count > 0 ? "--dns-search" : net.AddHosts.Count > 0 ? "--add-host" : "--subnet";
            throw new IsolateException($"{option} applies to --network bridge, not --network {mode}"
                + (result == NetworkMode.Host && ports.Count > 0 ? ": with the host's network the container's ports are the host's already" : ""));
        }
        return (result, net, join);
    }

    public static StatsFormat ParseStats(string? value) => value switch
    {
        null => StatsFormat.None,
        "text" => StatsFormat.Text,
        "json" => StatsFormat.Json,
        _ => throw new IsolateException($"invalid --stats '{value}': use --stats for a line or --stats=json"),
    };

    /// <summary>Whether the container's root has <paramref name="path"/>: the host's, the
    /// --rootfs directory, or an image's layers (a whiteout above aside).</summary>
    private static bool ContainerHas(string? rootfs, IReadOnlyList<string>? lowers, string path) =>
        rootfs is null ? FileStat.NoFollow(path) != null
            : new[] { rootfs }.Concat(lowers ?? []).Any(layer => FileStat.NoFollow(layer.TrimEnd('/') + path) != null);

    private static IReadOnlyList<string> ReadEnvFile(string path)
    {
        // values as bytes: a file from another system's locale passes through unchanged
        return ProcessOptionParser.ParseEnvFile(ByteStrings.Decode(SmallFile.ReadUserFile("--env-file", path)), path);
    }

    /// <summary>An absolute path, in a directory that exists.</summary>
    private static string PidFilePath(string value)
    {
        if (value.Length == 0)
            throw new IsolateException("invalid --pid-file '': give a file path");
        string full = Path.GetFullPath(value);
        if (FileStat.Follow(full) is { IsDirectory: true })
            throw new IsolateException($"--pid-file {value}: it is a directory; give a file path");
        if (FileStat.Follow(Path.GetDirectoryName(full)!) is not { IsDirectory: true })
            throw new IsolateException($"--pid-file {value}: the directory {Path.GetDirectoryName(full)} does not exist");
        return full;
    }

    /// <summary>A path below each hierarchy's root: "isolate", "/batch/jobs"; never "..".</summary>
    public static string CgroupParentPath(string? value)
    {
        string path = (value ?? "isolate").Trim('/');
        var parts = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length == 0 || parts.Any(p => p is "." or ".." || p.Contains('\0')))
            throw new IsolateException($"invalid --cgroup-parent '{value}': give a cgroup path such as isolate or batch/jobs, without '..'");
        return string.Join('/', parts);
    }

    /// <summary>Copy-on-write is the default for a --rootfs: the directory on disk stays as it
    /// was, as a docker image does - also under --read-only, where the layer still takes the
    /// mount points Isolate creates.</summary>
    private static RootfsWrites RootfsWritesFor(IRunArguments options, string? rootfs)
    {
        if (rootfs is null)
        {
            if (options.Overlay || options.NoOverlay || options.KeepChanges != null)
                throw new IsolateException("--overlay, --no-overlay and --keep-changes need --rootfs: the host's own root is read-only already");
            return RootfsWrites.Direct;
        }
        if (options.NoOverlay && (options.Overlay || options.KeepChanges != null))
            throw new IsolateException("--no-overlay contradicts --overlay and --keep-changes: choose one");
        if (options.KeepChanges != null)
            return RootfsWrites.KeepChanges;
        if (options.NoOverlay)
            return RootfsWrites.Direct;
        return RootfsWrites.CopyOnWrite;
    }

    /// <summary>--storage-opt size=SIZE (docker's spelling, which docker takes on some storage
    /// drivers only): the copy-on-write layer on a tmpfs of SIZE instead of on disk. It sizes
    /// that layer only, so it needs one.</summary>
    private static long? StorageSize(IEnumerable<string> options, RootfsWrites writes, string? rootfs)
    {
        long? size = null;
        foreach (string option in options)
        {
            string[] pair = option.Split('=', 2);
            if (pair.Length != 2 || pair[0] != "size")
                throw new IsolateException($"invalid --storage-opt '{option}': the one storage option is size=SIZE (the copy-on-write layer on a tmpfs of that size)");
            size = ResourceParser.ParseSize("--storage-opt size", pair[1]);
        }
        if (size != null && (rootfs is null || writes != RootfsWrites.CopyOnWrite))
            throw new IsolateException(rootfs is null
                ? "--storage-opt size sizes the copy-on-write layer of a --rootfs: without --rootfs the root is the host's, read-only"
                : "--storage-opt size sizes the copy-on-write layer: with --no-overlay or --keep-changes the writes go to a directory on disk; drop one or the other");
        return size;
    }

    /// <summary>DIR holds the kept layer: DIR/upper (which becomes the container's writes,
    /// setuid binaries included) and DIR/work. DIR must be root's alone (0700): anyone who can
    /// reach DIR/upper can run what the container left there, and a DIR/upper swapped for a
    /// symlink would send the next run's writes elsewhere on the host.</summary>
    private static string KeepChangesDir(string dir, string rootfs)
    {
        if (dir.Length == 0)
            throw new IsolateException("invalid --keep-changes '': give a directory");
        if (ByteStrings.HasRawBytes(dir))
            throw new IsolateException($"--keep-changes {dir}: a layer directory whose name is not UTF-8 is not supported; choose another directory");
        try
        {
            if (!Path.Exists(dir))
                Directory.CreateDirectory(dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IsolateException($"--keep-changes {dir}: {ErrorText.Of(e)}");
        }
        string canonical = RootfsResolver.Canonical(dir, "--keep-changes");
        if (HostScratch.Covers(rootfs, canonical) || Rootfs.HostScratch.Covers(canonical, rootfs))
            throw new IsolateException($"--keep-changes {dir}: the layer directory and the rootfs {rootfs} must not contain each other");
        var info = new DirectoryInfo(canonical);
        if ((info.UnixFileMode & (UnixFileMode)0x3F /* group and other bits */) != 0)
            throw new IsolateException($"--keep-changes {dir}: it is open to other users (mode {Convert.ToString((int)info.UnixFileMode & 0xFFF, 8)}); make it root's alone: chmod 700 {dir}");
        foreach (string layer in new[] { "upper", "work" })
        {
            var sub = new DirectoryInfo(Path.Combine(canonical, layer));
            if (!sub.Exists && sub.LinkTarget is null && !File.Exists(sub.FullName))
                sub.Create();
            if (sub.LinkTarget is not null || !sub.Exists)
                throw new IsolateException($"--keep-changes {dir}: {layer} is not a plain directory; remove it or choose another DIR");
        }
        return canonical;
    }

    private static bool? HostFileKind(string path) => FileStat.Follow(path) switch
    {
        { IsDirectory: true } => false,
        null => null,
        _ => true,
    };

    private static void RejectDuplicateDestinations(IEnumerable<string> destinations)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (string destination in destinations)
        {
            if (!seen.Add(destination))
                throw new IsolateException($"duplicate mount point {destination}: give each --volume and --tmpfs its own destination");
        }
    }
}
