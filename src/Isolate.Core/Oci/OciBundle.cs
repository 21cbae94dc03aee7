using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Isolate.Interop;
using Isolate.Plan;
using Isolate.Rootfs;
using Isolate.Security;
using Isolate.Spec;

namespace Isolate.Oci;

/// <summary>One OCI hook: an executable (absolute host path) with its full argv (argv[0]
/// included; [Path] when config.json gives no args), its environment, and a timeout in
/// seconds (null: none).</summary>
public sealed record OciHook(string Path, IReadOnlyList<string> Args, IReadOnlyList<string> Env, int? Timeout);

/// <summary>config.json's hooks, per lifecycle phase, in the file's order.</summary>
public sealed record OciHooks
{
    /// <summary>Deprecated by the spec, run (as runc does) with createRuntime.</summary>
    public IReadOnlyList<OciHook> Prestart { get; init; } = [];
    public IReadOnlyList<OciHook> CreateRuntime { get; init; } = [];
    public IReadOnlyList<OciHook> CreateContainer { get; init; } = [];
    public IReadOnlyList<OciHook> StartContainer { get; init; } = [];
    public IReadOnlyList<OciHook> Poststart { get; init; } = [];
    public IReadOnlyList<OciHook> Poststop { get; init; } = [];

    public bool Any => Prestart.Count + CreateRuntime.Count + CreateContainer.Count + StartContainer.Count + Poststart.Count + Poststop.Count > 0;
}

/// <summary>An OCI bundle read and checked: the container as Isolate runs it, and what of
/// config.json lies outside <see cref="ContainerSpec"/> (hooks, annotations, the cgroup's
/// own name, sysctls, namespaces to join).</summary>
public sealed record OciBundle
{
    /// <summary>The bundle directory, absolute.</summary>
    public required string BundleDir { get; init; }

    public required ContainerSpec Spec { get; init; }

    /// <summary>process.terminal: the container gets a pseudo-terminal (its master goes to --console-socket).</summary>
    public bool Terminal { get; init; }

    /// <summary>process.consoleSize, when given.</summary>
    public (ushort Rows, ushort Cols)? ConsoleSize { get; init; }

    public IReadOnlyDictionary<string, string> Annotations { get; init; } = new Dictionary<string, string>();

    public OciHooks Hooks { get; init; } = new();

    /// <summary>Where the container's cgroup goes, relative to each hierarchy's root ("" : the root itself).</summary>
    public string CgroupParent { get; init; } = "isolate";

    /// <summary>The container's cgroup's own name.</summary>
    public string CgroupName { get; init; } = "";

    /// <summary>linux.sysctl: names as given ("net.ipv4.ip_forward"), checked to be namespaced.</summary>
    public IReadOnlyDictionary<string, string> Sysctl { get; init; } = new Dictionary<string, string>();

    public string OciVersion { get; init; } = "";

    /// <summary>Namespaces given with a path, to join rather than create: (type as config.json
    /// names it - pid, network, ipc, uts, cgroup - and the absolute path of the namespace file).</summary>
    public IReadOnlyList<(string Type, string Path)> JoinNamespaces { get; init; } = [];
}

/// <summary>Facts about the host a bundle is checked against: who runs Isolate, and the last
/// capability the kernel knows.</summary>
internal sealed record OciHost(uint Euid, uint Egid, int LastCap)
{
    public static OciHost Current() => new(HostIdentity.EffectiveUserId, HostIdentity.EffectiveGroupId, Capabilities.LastCap());

    public bool Rootless => Euid != 0;
}

/// <summary>Reads an OCI bundle's config.json into an <see cref="OciBundle"/>. Nothing is
/// created; every problem is one line, "config.json: JSON.PATH: what is wrong".</summary>
public static partial class OciBundleLoader
{
    public const string ConfigFileName = "config.json";

    /// <summary>Reads BUNDLE/config.json.</summary>
    /// <param name="bundleDir">The bundle directory (relative: from the current directory).</param>
    /// <param name="id">The container's id: its default hostname (first 12 characters) and cgroup name.</param>
    public static OciBundle Load(string bundleDir, string id)
    {
        string dir = Path.GetFullPath(bundleDir.Length == 0 ? "." : bundleDir);
        if (!Directory.Exists(dir))
            throw new IsolateException($"bundle {bundleDir}: no such directory");
        string file = Path.Combine(dir, ConfigFileName);
        if (Directory.Exists(file))
            throw new IsolateException($"bundle {bundleDir}: {ConfigFileName} is a directory");
        string json;
        try
        {
            json = File.ReadAllText(file);
        }
        catch (FileNotFoundException)
        {
            throw new IsolateException($"bundle {bundleDir}: {ConfigFileName} not found");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IsolateException($"bundle {bundleDir}: {ConfigFileName}: {e.Message}");
        }
        return Parse(json, dir, id);
    }

    /// <summary>Parses a config.json's text; relative paths in it (root.path) are taken from
    /// <paramref name="bundleDir"/>, whose files (the rootfs, bind sources) must exist.</summary>
    public static OciBundle Parse(string json, string bundleDir, string id) => Parse(json, bundleDir, id, OciHost.Current());

    internal static OciBundle Parse(string json, string bundleDir, string id, OciHost host)
    {
        OciConfig? config;
        try
        {
            config = JsonSerializer.Deserialize(json, OciJsonContext.Default.OciConfig);
        }
        catch (JsonException e)
        {
            throw new IsolateException($"config.json: {DescribeJsonError(e)}");
        }
        if (config is null)
            throw new IsolateException("config.json: line 1: the document is null; it must be a JSON object");
        return new Mapper(config, Path.GetFullPath(bundleDir), id, host).Map();
    }

    /// <summary>exec --process: an OCI process object, read as config.json's process is, for a
    /// process in <paramref name="container"/> (its user namespace, its seccomp filter).</summary>
    public static ProcessSpec ParseProcess(string json, ContainerSpec container)
    {
        OciProcess? process;
        try
        {
            process = JsonSerializer.Deserialize(json, OciJsonContext.Default.OciProcess);
        }
        catch (JsonException e)
        {
            throw new IsolateException($"exec --process: {DescribeJsonError(e)}");
        }
        if (process is null)
            throw new IsolateException("exec --process: the document is null; it must be a JSON object");
        return new Mapper(new OciConfig(), "/", container.Id, OciHost.Current())
            .Process(process, container.UserNamespace, container.Process.Security.Seccomp);
    }

    /// <summary>"line L: PATH: reason", from System.Text.Json's message without its own
    /// "Path: ... | LineNumber: ..." tail, and with JSON words for .NET type names.</summary>
    private static string DescribeJsonError(JsonException e)
    {
        string reason = e.Message;
        int tail = reason.IndexOf(" Path: ", StringComparison.Ordinal);
        if (tail < 0)
            tail = reason.IndexOf(" LineNumber: ", StringComparison.Ordinal);
        if (tail >= 0)
            reason = reason[..tail];
        var conversion = ConversionPattern().Match(reason);
        if (conversion.Success)
            reason = "expected " + JsonKind(conversion.Groups[1].Value);
        else if (reason.Contains("trailing comma", StringComparison.Ordinal))
            reason = "a trailing comma, which JSON does not allow";
        else if (reason.StartsWith("The input does not contain any JSON tokens", StringComparison.Ordinal))
            reason = "the file is empty; it must hold a JSON object";
        reason = reason.TrimEnd('.');
        long line = (e.LineNumber ?? 0) + 1;
        string where = e.Path is null or "$" ? "" : e.Path.StartsWith("$.", StringComparison.Ordinal) ? e.Path[2..] + ": " : e.Path + ": ";
        return $"line {line}: {where}{reason}";
    }

    private static string JsonKind(string type)
    {
        if (type.StartsWith("System.Nullable`1[", StringComparison.Ordinal))
            type = type["System.Nullable`1[".Length..].TrimEnd(']');
        return type switch
        {
            "System.String" => "a string",
            "System.Boolean" => "true or false",
            "System.Int32" or "System.Int64" => "an integer",
            "System.UInt16" or "System.UInt32" or "System.UInt64" => "a non-negative integer",
            _ when type.StartsWith("System.Collections.Generic.List", StringComparison.Ordinal) => "an array",
            _ => "an object",
        };
    }

    [GeneratedRegex(@"^The JSON value could not be converted to (\S+?)\.?$")]
    private static partial Regex ConversionPattern();

    [GeneratedRegex(@"^([0-9]+[kKmMgG]?|[0-9]{1,3}%)$")]
    private static partial Regex TmpfsSizePattern();

    [GeneratedRegex(@"^[0-7]{3,4}$")]
    private static partial Regex TmpfsModePattern();

    [GeneratedRegex(@"^[0-9]+$")]
    private static partial Regex NumberPattern();

    private static IsolateException Error(string path, string message) => new($"config.json: {path}: {message}");

    /// <summary>One conversion: config.json to the bundle, in the file's order of fields.</summary>
    private sealed class Mapper(OciConfig config, string bundleDir, string id, OciHost host)
    {
        private static readonly string[] Required = ["pid", "mount", "ipc", "uts"];
        private static readonly string[] Known = ["pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time"];

        private readonly HashSet<string> _namespaces = new(StringComparer.Ordinal);
        private readonly List<(string, string)> _join = [];

        public OciBundle Map()
        {
            string version = CheckVersion(config.OciVersion);
            var process = config.Process ?? throw Error("process", "is required: it is the command the container runs");
            var linux = config.Linux ?? new OciLinux();

            string rootfs = Rootfs(config.Root);
            var network = Namespaces(linux.Namespaces);
            var userns = UserNamespace(linux);
            var (volumes, tmpfs) = Mounts(config.Mounts ?? []);
            var processSpec = Process(process, userns, linux.Seccomp is null ? [] : Seccomp(linux.Seccomp));
            var resources = Resources(linux.Resources);
            var (cgroupParent, cgroupName) = CgroupPath(linux.CgroupsPath);
            if (host.Rootless && resources.Any)
                throw Error("linux.resources", $"limits need a cgroup, which a non-root user (uid {host.Euid}) cannot create: run isolate as root, or remove them");
            CheckPropagation(linux.RootfsPropagation);
            var sysctl = Sysctl(linux.Sysctl, network);
            bool terminal = process.Terminal ?? false;

            var spec = new ContainerSpec
            {
                Rootfs = rootfs,
                Hostname = Hostname(config.Hostname),
                Process = processSpec,
                Network = network,
                Volumes = volumes,
                Tmpfs = tmpfs,
                ReadOnlyRoot = config.Root?.Readonly ?? false,
                RootfsWrites = RootfsWrites.Direct,
                MaskedPaths = PathList("linux.maskedPaths", linux.MaskedPaths),
                ReadOnlyPaths = PathList("linux.readonlyPaths", linux.ReadonlyPaths),
                Resources = resources,
                Cgroups = !host.Rootless,
                CgroupParent = cgroupParent,
                CgroupName = cgroupName,
                JoinNamespaces = _join,
                Sysctls = sysctl,
                UserNamespace = userns,
                OomScoreAdj = OomScoreAdj(process.OomScoreAdj),
                Id = id,
            };
            return new OciBundle
            {
                BundleDir = bundleDir,
                Spec = spec,
                Terminal = terminal,
                ConsoleSize = ConsoleSize(process.ConsoleSize),
                Annotations = new Dictionary<string, string>(config.Annotations ?? [], StringComparer.Ordinal),
                Hooks = Hooks(config.Hooks),
                CgroupParent = cgroupParent,
                CgroupName = cgroupName,
                Sysctl = sysctl,
                OciVersion = version,
                JoinNamespaces = _join,
            };
        }

        /// <summary>config.json's process (or exec's --process) to the model: command, environment,
        /// directory, user, capabilities, no_new_privs, rlimits, terminal; <paramref name="seccomp"/>
        /// is the container's filter (linux.seccomp), which every process of it gets.</summary>
        public ProcessSpec Process(OciProcess process, UserNamespaceSpec? userns, IReadOnlyList<BpfInstruction> seccomp) => new()
        {
            Workdir = Workdir(process.Cwd),
            Args = Args(process.Args),
            Env = Env(process.Env),
            Security = new ProcessSecurity
            {
                Capabilities = CapabilitySet(process.Capabilities),
                OciSets = CapabilitySets(process.Capabilities),
                NoNewPrivileges = process.NoNewPrivileges ?? false,
                Seccomp = seccomp,
                User = User(process.User, process.Env, userns),
                LastCap = host.LastCap,
                KeepGroups = userns is { Rootless: true },
            },
            Rlimits = Rlimits(process.Rlimits),
            Tty = process.Terminal ?? false,
        };

        /// <summary>Any 1.x (the spec keeps compatibility within a major version); absent: "".</summary>
        private static string CheckVersion(string? version)
        {
            if (string.IsNullOrEmpty(version))
                return "";
            if (!version.StartsWith("1.", StringComparison.Ordinal))
                throw Error("ociVersion", $"'{version}' is not a 1.x version of the runtime spec, the one Isolate implements");
            return version;
        }

        private string Rootfs(OciRoot? root)
        {
            string path = root?.Path is { Length: > 0 } p ? p : throw Error("root.path", "is required: the container's root directory (absolute, or relative to the bundle)");
            string full = Path.Combine(bundleDir, path);
            string canonical = Canonical(full, "root.path");
            if (!Directory.Exists(canonical))
                throw Error("root.path", $"{full}: Not a directory");
            if (canonical == "/")
                throw Error("root.path", "the host's own / cannot be a container root");
            return canonical;
        }

        private static string Canonical(string path, string where)
        {
            try
            {
                return RootfsResolver.Canonical(path, where);
            }
            catch (IsolateException e) when (e.Errno != 0)
            {
                throw Error(where, $"{path}: {IsolateException.Describe(e.Errno)}");
            }
        }

        private string Hostname(string? hostname)
        {
            if (string.IsNullOrEmpty(hostname))
                return id.Length > 12 ? id[..12] : id;
            if (hostname.Length > 64)
                throw Error("hostname", $"'{hostname}' is longer than the kernel's 64 characters");
            return hostname;
        }

        private static string Workdir(string? cwd)
        {
            if (string.IsNullOrEmpty(cwd))
                throw Error("process.cwd", "is required: the working directory, an absolute path inside the container");
            if (!cwd.StartsWith('/'))
                throw Error("process.cwd", $"'{cwd}' must be an absolute path inside the container");
            return cwd;
        }

        private static IReadOnlyList<string> Args(List<string>? args)
        {
            if (args is null || args.Count == 0)
                throw Error("process.args", "must hold at least one argument");
            if (args[0].Length == 0)
                throw Error("process.args[0]", "the command is empty");
            return args;
        }

        private static IReadOnlyList<string> Env(List<string>? env)
        {
            var list = env ?? [];
            for (int i = 0; i < list.Count; i++)
            {
                if (list[i].IndexOf('=') <= 0)
                    throw Error($"process.env[{i}]", $"'{list[i]}' is not KEY=VALUE");
            }
            return list;
        }

        // ---- namespaces ----

        /// <returns>The network mode the namespaces give.</returns>
        private NetworkMode Namespaces(List<OciNamespace>? namespaces)
        {
            var list = namespaces ?? [];
            for (int i = 0; i < list.Count; i++)
            {
                string where = $"linux.namespaces[{i}]";
                string type = list[i].Type ?? throw Error($"{where}.type", "is required");
                if (type == "time")
                    throw Error($"{where}.type", "'time' namespaces are not supported");
                if (!Known.Contains(type))
                    throw Error($"{where}.type", $"'{type}' is not a namespace type (pid, network, mount, ipc, uts, user, cgroup)");
                if (!_namespaces.Add(type))
                    throw Error($"{where}.type", $"the '{type}' namespace is listed twice");
                if (list[i].Path is not { Length: > 0 } path)
                    continue;
                if (!path.StartsWith('/'))
                    throw Error($"{where}.path", $"'{path}' must be an absolute path");
                if (type is "user" or "mount")
                    throw Error($"{where}.path", $"joining an existing {type} namespace is not supported: Isolate creates its own");
                _join.Add((type, path));
            }
            foreach (string type in Required)
            {
                if (!_namespaces.Contains(type))
                    throw Error("linux.namespaces", $"has no '{type}' namespace: Isolate always creates one, add {{\"type\": \"{type}\"}}");
            }
            if (host.Rootless && !_namespaces.Contains("user"))
                throw Error("linux.namespaces", $"has no 'user' namespace, which a non-root user (uid {host.Euid}) needs: add one with uidMappings and gidMappings (isolate spec --rootless writes them)");
            return _namespaces.Contains("network") ? NetworkMode.None : NetworkMode.Host;
        }

        private UserNamespaceSpec? UserNamespace(OciLinux linux)
        {
            if (!_namespaces.Contains("user"))
            {
                if (linux.UidMappings is { Count: > 0 })
                    throw Error("linux.uidMappings", "given without a 'user' namespace in linux.namespaces");
                if (linux.GidMappings is { Count: > 0 })
                    throw Error("linux.gidMappings", "given without a 'user' namespace in linux.namespaces");
                return null;
            }
            var uids = Mappings("linux.uidMappings", linux.UidMappings, host.Euid, "uid");
            var gids = Mappings("linux.gidMappings", linux.GidMappings, host.Egid, "gid");
            return new UserNamespaceSpec { UidMap = uids, GidMap = gids, Rootless = host.Rootless };
        }

        private IReadOnlyList<IdMapping> Mappings(string where, List<OciIdMapping>? list, uint ownId, string kind)
        {
            if (list is null || list.Count == 0)
                throw Error(where, "a 'user' namespace needs at least one mapping");
            if (list.Count > 340)
                throw Error(where, $"{list.Count} ranges; the kernel takes at most 340");
            var mappings = new List<IdMapping>();
            for (int i = 0; i < list.Count; i++)
            {
                var m = list[i];
                if (m.Size == 0)
                    throw Error($"{where}[{i}].size", "must be at least 1");
                if ((ulong)m.ContainerId + m.Size > uint.MaxValue || (ulong)m.HostId + m.Size > uint.MaxValue)
                    throw Error($"{where}[{i}]", "the range runs past 4294967294");
                foreach (var other in mappings)
                {
                    if (Overlaps(other.ContainerId, other.Count, m.ContainerId, m.Size) || Overlaps(other.HostId, other.Count, m.HostId, m.Size))
                        throw Error($"{where}[{i}]", $"overlaps {other}");
                }
                mappings.Add(new IdMapping(m.ContainerId, m.HostId, m.Size));
            }
            if (host.Rootless && (mappings.Count != 1 || mappings[0].HostId != ownId || mappings[0].Count != 1))
                throw Error(where, $"a non-root user may map only its own {kind} {ownId} (one mapping, size 1); mapping other host ids needs root");
            if (!mappings.Any(m => m.Contains(0)))
                throw Error(where, $"container {kind} 0 must be mapped (the container starts as root)");
            return mappings;
        }

        private static bool Overlaps(uint a, uint aCount, uint b, uint bCount) => (ulong)a < (ulong)b + bCount && (ulong)b < (ulong)a + aCount;

        // ---- mounts ----

        /// <summary>The mounts Isolate's mount plan makes itself, with the types config.json may
        /// give them: such entries are taken as asking for what Isolate does anyway.</summary>
        private static readonly Dictionary<string, string[]> Provided = new(StringComparer.Ordinal)
        {
            ["/proc"] = ["proc"],
            ["/dev"] = ["tmpfs"],
            ["/dev/pts"] = ["devpts"],
            ["/dev/shm"] = ["tmpfs", "bind"],
            ["/dev/mqueue"] = ["mqueue", "bind"],
            ["/sys"] = ["sysfs", "bind"],
            ["/sys/fs/cgroup"] = ["cgroup", "cgroup2", "bind"],
        };

        /// <summary>Options that do not change what a bind or tmpfs gives the container
        /// (propagation: Isolate makes every mount private; atime: the kernel's default;
        /// tmpcopyup: crun's and podman's extension, not supported).</summary>
        private static readonly HashSet<string> Ignored = new(StringComparer.Ordinal)
        {
            "private", "rprivate", "slave", "rslave", "shared", "rshared", "unbindable", "runbindable",
            "relatime", "norelatime", "noatime", "atime", "strictatime", "nostrictatime", "nodiratime", "diratime",
            "sync", "async", "dirsync", "lazytime", "nolazytime", "mand", "nomand", "silent", "loud",
            "nosuid", "suid", "nodev", "dev", "noexec", "exec", "tmpcopyup", "notmpcopyup",
        };

        private static (List<VolumeSpec>, List<TmpfsSpec>) Mounts(List<OciMount> mounts)
        {
            var volumes = new List<VolumeSpec>();
            var tmpfs = new List<TmpfsSpec>();
            var destinations = new Dictionary<string, int>(StringComparer.Ordinal);
            for (int i = 0; i < mounts.Count; i++)
            {
                var mount = mounts[i];
                string where = $"mounts[{i}]";
                string destination = ContainerPath($"{where}.destination", mount.Destination);
                var options = mount.Options ?? [];
                bool bind = mount.Type == "bind" || options.Contains("bind") || options.Contains("rbind");
                string type = bind ? "bind" : mount.Type ?? throw Error($"{where}.type", "is required (bind, tmpfs, or one of the kernel file systems Isolate mounts itself)");
                if (Provided.TryGetValue(destination, out var types))
                {
                    if (!types.Contains(type))
                        throw Error($"{where}.type", $"Isolate mounts {destination} itself ({string.Join(" or ", types.Where(t => t != "bind"))}); '{type}' there is not supported");
                    continue;
                }
                if (destinations.TryGetValue(destination, out int first))
                    throw Error($"{where}.destination", $"{destination} is mounted already by mounts[{first}]");
                destinations[destination] = i;
                switch (type)
                {
                    case "bind":
                        volumes.Add(Bind(where, mount, destination));
                        break;
                    case "tmpfs":
                        tmpfs.Add(Tmpfs(where, options, destination));
                        break;
                    default:
                        throw Error($"{where}.type", $"'{type}' mounts are not supported: use bind or tmpfs");
                }
            }
            if (volumes.Count > MountPlanBuilder.MaxVolumes)
                throw Error("mounts", $"{volumes.Count} bind mounts; Isolate takes at most {MountPlanBuilder.MaxVolumes}");
            return (volumes, tmpfs);
        }

        private static VolumeSpec Bind(string where, OciMount mount, string destination)
        {
            string source = mount.Source is { Length: > 0 } s ? s : throw Error($"{where}.source", "a bind mount needs a source");
            if (!source.StartsWith('/'))
                throw Error($"{where}.source", $"'{source}' must be an absolute host path");
            bool readOnly = false;
            var options = mount.Options ?? [];
            for (int j = 0; j < options.Count; j++)
            {
                switch (options[j])
                {
                    case "bind" or "rbind":
                        break;
                    case "ro" or "rro":
                        readOnly = true;
                        break;
                    case "rw" or "rrw":
                        readOnly = false;
                        break;
                    case string o when Ignored.Contains(o):
                        break;
                    default:
                        throw Error($"{where}.options[{j}]", $"'{options[j]}' is not supported for a bind mount");
                }
            }
            string canonical = Canonical(source, $"{where}.source");
            return new VolumeSpec(canonical, destination, readOnly, SourceIsFile: !Directory.Exists(canonical));
        }

        /// <summary>As --tmpfs takes it, except that the flags are only those given (OCI has no
        /// docker-like nosuid,nodev,noexec default).</summary>
        private static TmpfsSpec Tmpfs(string where, List<string> options, string destination)
        {
            bool readOnly = false, noExec = false, noSuid = false, noDev = false;
            var data = new List<string>();
            for (int j = 0; j < options.Count; j++)
            {
                string option = options[j];
                int eq = option.IndexOf('=');
                string key = eq < 0 ? option : option[..eq];
                string arg = eq < 0 ? "" : option[(eq + 1)..];
                switch (key)
                {
                    case "ro" when eq < 0: readOnly = true; break;
                    case "rw" when eq < 0: readOnly = false; break;
                    case "noexec" when eq < 0: noExec = true; break;
                    case "exec" when eq < 0: noExec = false; break;
                    case "nosuid" when eq < 0: noSuid = true; break;
                    case "suid" when eq < 0: noSuid = false; break;
                    case "nodev" when eq < 0: noDev = true; break;
                    case "dev" when eq < 0: noDev = false; break;
                    case "size" when TmpfsSizePattern().IsMatch(arg):
                    case "mode" when TmpfsModePattern().IsMatch(arg):
                    case "uid" or "gid" or "nr_inodes" when NumberPattern().IsMatch(arg):
                        data.Add(option);
                        break;
                    case "size" or "mode" or "uid" or "gid" or "nr_inodes":
                        throw Error($"{where}.options[{j}]", $"bad value for {key}: '{arg}'" + key switch
                        {
                            "size" => "; use a number with k, m or g, or a percentage (64m, 50%)",
                            "mode" => "; use octal digits (1777)",
                            _ => "; use a number",
                        });
                    case string o when eq < 0 && Ignored.Contains(o):
                        break;
                    default:
                        throw Error($"{where}.options[{j}]", $"'{option}' is not supported for a tmpfs");
                }
            }
            return new TmpfsSpec(destination, string.Join(',', data), readOnly, noExec, noSuid, noDev);
        }

        /// <summary>An absolute container path, lexically normalized; never "/".</summary>
        private static string ContainerPath(string where, string? path)
        {
            if (string.IsNullOrEmpty(path))
                throw Error(where, "is required");
            if (!path.StartsWith('/'))
                throw Error(where, $"'{path}' must be an absolute path inside the container");
            return MountSpecParser.Normalize(path) ?? throw Error(where, "a mount cannot go on the container's / (root.path is the root)");
        }

        private static IReadOnlyList<string>? PathList(string where, List<string>? paths)
        {
            if (paths is null)
                return null;
            for (int i = 0; i < paths.Count; i++)
            {
                if (!paths[i].StartsWith('/'))
                    throw Error($"{where}[{i}]", $"'{paths[i]}' must be an absolute path inside the container");
            }
            return paths;
        }

        // ---- the process ----

        private static ProcessUser User(OciUser? user, List<string>? env, UserNamespaceSpec? userns)
        {
            uint uid = user?.Uid ?? 0, gid = user?.Gid ?? 0;
            var groups = user?.AdditionalGids ?? [];
            if (userns != null)
            {
                string mapped = $"the user namespace maps {userns.Describe()}";
                if (!userns.MapsUid(uid))
                    throw Error("process.user.uid", $"{uid} has no id in the container's user namespace ({mapped})");
                if (!userns.MapsGid(gid))
                    throw Error("process.user.gid", $"{gid} has no id in the container's user namespace ({mapped})");
                if (userns.Rootless && groups.Count > 0)
                    throw Error("process.user.additionalGids", "a non-root user's user namespace cannot set supplementary groups (setgroups is denied there)");
                for (int i = 0; i < groups.Count; i++)
                {
                    if (!userns.MapsGid(groups[i]))
                        throw Error($"process.user.additionalGids[{i}]", $"{groups[i]} has no id in the container's user namespace ({mapped})");
                }
            }
            string? home = (env ?? []).LastOrDefault(e => e.StartsWith("HOME=", StringComparison.Ordinal))?[5..];
            return new ProcessUser(uid, gid, groups, home ?? (uid == 0 ? "/root" : "/"));
        }

        /// <summary>The bounding set.</summary>
        private ulong CapabilitySet(OciCapabilities? caps)
        {
            if (caps is null)
                return 0;
            ulong set = Names("process.capabilities.bounding", caps.Bounding);
            // ones newer than this kernel are left out, as runc does
            return set & Capabilities.All(host.LastCap);
        }

        /// <summary>The other four sets, applied as given for any user.</summary>
        private OciCapabilitySets? CapabilitySets(OciCapabilities? caps)
        {
            if (caps is null)
                return null;
            ulong known = Capabilities.All(host.LastCap);
            return new OciCapabilitySets(
                Effective: Names("process.capabilities.effective", caps.Effective) & known,
                Permitted: Names("process.capabilities.permitted", caps.Permitted) & known,
                Inheritable: Names("process.capabilities.inheritable", caps.Inheritable) & known,
                Ambient: Names("process.capabilities.ambient", caps.Ambient) & known);
        }

        private static ulong Names(string where, List<string>? names)
        {
            ulong mask = 0;
            for (int i = 0; i < (names?.Count ?? 0); i++)
            {
                string name = names![i];
                if (!name.StartsWith("CAP_", StringComparison.Ordinal))
                    throw Error($"{where}[{i}]", $"unknown capability '{name}': use a name from capabilities(7) with its CAP_ prefix, such as CAP_NET_ADMIN");
                try
                {
                    mask |= 1UL << Capabilities.Number(name);
                }
                catch (IsolateException)
                {
                    throw Error($"{where}[{i}]", $"unknown capability '{name}': use a name from capabilities(7), such as CAP_NET_ADMIN");
                }
            }
            return mask;
        }

        private static IReadOnlyList<RlimitSpec> Rlimits(List<OciRlimit>? rlimits)
        {
            var result = new List<RlimitSpec>();
            for (int i = 0; i < (rlimits?.Count ?? 0); i++)
            {
                var limit = rlimits![i];
                string where = $"process.rlimits[{i}]";
                string type = limit.Type ?? throw Error($"{where}.type", "is required (RLIMIT_NOFILE, RLIMIT_NPROC, ...)");
                ulong soft = limit.Soft ?? throw Error($"{where}.soft", "is required");
                ulong hard = limit.Hard ?? throw Error($"{where}.hard", "is required");
                if (soft > hard)
                    throw Error(where, $"the soft limit {soft} is above the hard one {hard}");
                RlimitSpec spec;
                try
                {
                    if (!type.StartsWith("RLIMIT_", StringComparison.Ordinal))
                        throw new IsolateException(type);
                    spec = ProcessOptionParser.ParseUlimit($"{type[7..].ToLowerInvariant()}={Limit(soft)}:{Limit(hard)}");
                }
                catch (IsolateException)
                {
                    throw Error($"{where}.type", $"unknown resource '{type}': use an RLIMIT_ name of setrlimit(2), such as RLIMIT_NOFILE");
                }
                if (result.Any(r => r.Resource == spec.Resource))
                    throw Error($"{where}.type", $"{type} is given twice");
                result.Add(spec);
            }
            return result;
        }

        private static string Limit(ulong value) =>
            value == RlimitSpec.Unlimited ? "unlimited" : value.ToString(CultureInfo.InvariantCulture);

        private static int? OomScoreAdj(int? adj) =>
            adj is null or (>= -1000 and <= 1000) ? adj : throw Error("process.oomScoreAdj", $"{adj} is out of range: use -1000 (never killed) to 1000 (killed first)");

        private static (ushort, ushort)? ConsoleSize(OciConsoleSize? size)
        {
            if (size is null)
                return null;
            if (size.Height > ushort.MaxValue)
                throw Error("process.consoleSize.height", $"{size.Height} is more than a terminal's 65535 rows");
            if (size.Width > ushort.MaxValue)
                throw Error("process.consoleSize.width", $"{size.Width} is more than a terminal's 65535 columns");
            return ((ushort)size.Height, (ushort)size.Width);
        }

        // ---- seccomp ----

        private static IReadOnlyList<BpfInstruction> Seccomp(OciSeccomp seccomp)
        {
            const string where = "linux.seccomp";
            if (!string.IsNullOrEmpty(seccomp.ListenerPath))
                throw Error($"{where}.listenerPath", "seccomp user notification (SCMP_ACT_NOTIFY) is not supported");
            var defaultAction = Action(seccomp.DefaultAction ?? throw Error($"{where}.defaultAction", "is required"),
                seccomp.DefaultErrnoRet, $"{where}.defaultAction");
            var rules = new List<SeccompRule>();
            var syscalls = seccomp.Syscalls ?? [];
            for (int i = 0; i < syscalls.Count; i++)
            {
                var entry = syscalls[i];
                string at = $"{where}.syscalls[{i}]";
                if (entry.Names is not { Count: > 0 } names)
                    throw Error($"{at}.names", "must name at least one system call");
                var action = Action(entry.Action ?? throw Error($"{at}.action", "is required"), entry.ErrnoRet, $"{at}.action");
                var conditions = new List<SeccompCondition>();
                for (int j = 0; j < (entry.Args?.Count ?? 0); j++)
                    conditions.Add(Condition(entry.Args![j], $"{at}.args[{j}]"));
                // names this kernel's table does not know are skipped, as runc and libseccomp skip them
                var numbers = names.Where(SyscallTable.X86_64.ContainsKey).Select(n => SyscallTable.X86_64[n]).ToArray();
                if (numbers.Length > 0)
                    rules.Add(new SeccompRule(numbers, action, conditions));
            }
            try
            {
                return SeccompCompiler.Compile(new SeccompProfile(defaultAction, rules));
            }
            catch (IsolateException e)
            {
                throw Error(where, e.Message);
            }
        }

        private static SeccompAction Action(string name, uint? errno, string where) =>
            name == "SCMP_ACT_NOTIFY" ? throw Error(where, "SCMP_ACT_NOTIFY (seccomp user notification) is not supported")
            : SeccompProfile.ActionByName(name, errno, traceDefault: 1) ?? throw Error(where, $"unknown action '{name}'");

        private static SeccompCondition Condition(OciSyscallArg arg, string where)
        {
            if (arg.Index > 5)
                throw Error($"{where}.index", $"{arg.Index} is not an argument (0 to 5)");
            var op = arg.Op is null ? throw Error($"{where}.op", "is required")
                : SeccompProfile.OperatorByName(arg.Op) ?? throw Error($"{where}.op", $"unknown operator '{arg.Op}'");
            return new SeccompCondition((int)arg.Index, op, arg.Value, arg.ValueTwo ?? 0);
        }

        // ---- cgroups ----

        /// <summary>memory.limit, memory.swap (memory plus swap), cpu.quota and cpu.period,
        /// cpu.shares, cpu.cpus, pids.limit, blockIO.weight; 0 is "not set" as runc takes it,
        /// -1 "unlimited". Device rules are read and not applied.</summary>
        private static ResourceLimits Resources(OciResources? resources)
        {
            if (resources is null)
                return new ResourceLimits();
            const string at = "linux.resources";
            var memory = resources.Memory;
            long? limit = memory?.Limit switch
            {
                null or 0 or -1 => null,
                > 0 and var bytes => bytes,
                var bad => throw Error($"{at}.memory.limit", $"{bad} is not a size in bytes (or -1 for no limit)"),
            };
            long? swap = memory?.Swap switch
            {
                null or 0 => null,
                -1 => -1,
                > 0 and var bytes => limit is null
                    ? throw Error($"{at}.memory.swap", "needs memory.limit: it is the total of memory and swap")
                    : bytes < limit
                        ? throw Error($"{at}.memory.swap", $"{bytes} is below memory.limit {limit}: it is memory plus swap, so it must be at least the limit")
                        : bytes,
                var bad => throw Error($"{at}.memory.swap", $"{bad} is not a size in bytes (or -1 for unlimited swap)"),
            };

            var cpu = resources.Cpu;
            long? quota = cpu?.Quota switch
            {
                null or 0 or -1 => null,
                >= 1000 and var q => q,
                var bad => throw Error($"{at}.cpu.quota", $"{bad} is out of range: use microseconds per period, at least 1000 (or -1 for no limit)"),
            };
            long period = cpu?.Period switch
            {
                null or 0 => 100_000,
                >= 1000 and <= 1_000_000 and var p => (long)p,
                var bad => throw Error($"{at}.cpu.period", $"{bad} is out of range: use 1000 to 1000000 microseconds"),
            };
            long? shares = cpu?.Shares switch
            {
                null or 0 => null,
                >= 2 and <= 262144 and var s => (long)s,
                var bad => throw Error($"{at}.cpu.shares", $"{bad} is out of range: use 2 to 262144 (1024 is the default weight)"),
            };
            string? cpuset = cpu?.Cpus is { Length: > 0 } cpus
                ? ResourceParser.ParseCpuList(cpus) is null ? throw Error($"{at}.cpu.cpus", $"'{cpus}' is not a CPU list such as 0-1,3") : cpus
                : null;

            long? pids = resources.Pids?.Limit switch
            {
                null or 0 => null,
                -1 => -1,
                > 0 and var n => n,
                var bad => throw Error($"{at}.pids.limit", $"{bad} is out of range: use a number of processes above 0, or -1 for no limit"),
            };
            int? weight = resources.BlockIo?.Weight switch
            {
                null or 0 => null,
                >= 10 and <= 1000 and var w => w,
                var bad => throw Error($"{at}.blockIO.weight", $"{bad} is out of range: use 10 to 1000"),
            };
            return new ResourceLimits
            {
                MemoryBytes = limit,
                MemorySwapBytes = swap,
                CpuQuotaMicros = quota,
                CpuPeriodMicros = period,
                CpuShares = shares,
                CpusetCpus = cpuset,
                PidsLimit = pids,
                IoWeight = weight,
            };
        }

        /// <summary>"/a/b/c" and "a/b/c": parent "a/b", name "c"; absent: "isolate" and the id.</summary>
        private (string Parent, string Name) CgroupPath(string? path)
        {
            const string where = "linux.cgroupsPath";
            if (string.IsNullOrEmpty(path))
                return ("isolate", id);
            if (!path.StartsWith('/') && path.Split(':').Length == 3)
                throw Error(where, "systemd cgroup paths are not supported; use cgroupfs (podman --cgroup-manager cgroupfs)");
            var parts = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length == 0)
                throw Error(where, $"'{path}' names no cgroup");
            if (parts.Any(p => p is "." or ".." || p.Contains('\0')))
                throw Error(where, $"'{path}' must not hold '.' or '..'");
            return (string.Join('/', parts[..^1]), parts[^1]);
        }

        private static void CheckPropagation(string? propagation)
        {
            if (propagation is null or "" or "private" or "rprivate" or "slave" or "rslave")
                return;
            throw Error("linux.rootfsPropagation", $"'{propagation}' is not supported: use private, rprivate, slave or rslave");
        }

        /// <summary>runc's rule: only sysctls of a namespace the container has of its own.</summary>
        private IReadOnlyDictionary<string, string> Sysctl(Dictionary<string, string>? sysctl, NetworkMode network)
        {
            var result = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var (key, value) in sysctl ?? [])
            {
                string name = key.Replace('/', '.');
                string where = $"linux.sysctl.{key}";
                bool ipc = name is "kernel.msgmax" or "kernel.msgmnb" or "kernel.msgmni" or "kernel.sem" or "kernel.shmall"
                    or "kernel.shmmax" or "kernel.shmmni" or "kernel.shm_rmid_forced" || name.StartsWith("fs.mqueue.", StringComparison.Ordinal);
                bool uts = name is "kernel.hostname" or "kernel.domainname";
                bool net = name.StartsWith("net.", StringComparison.Ordinal);
                if (net && network == NetworkMode.Host)
                    throw Error(where, "needs a network namespace of the container's own, and it shares the host's (add {\"type\": \"network\"} to linux.namespaces)");
                if (!ipc && !uts && !net)
                    throw Error(where, "is not namespaced: setting it would change the host (only kernel.msg*, kernel.sem, kernel.shm*, fs.mqueue.*, kernel.hostname, kernel.domainname and net.* are)");
                if (name.Contains("..", StringComparison.Ordinal) || name.EndsWith('.'))
                    throw Error(where, "is not a sysctl name");
                result[key] = value;
            }
            return result;
        }

        // ---- hooks ----

        private static OciHooks Hooks(OciHooksConfig? hooks) => hooks is null ? new OciHooks() : new OciHooks
        {
            Prestart = HookList("hooks.prestart", hooks.Prestart),
            CreateRuntime = HookList("hooks.createRuntime", hooks.CreateRuntime),
            CreateContainer = HookList("hooks.createContainer", hooks.CreateContainer),
            StartContainer = HookList("hooks.startContainer", hooks.StartContainer),
            Poststart = HookList("hooks.poststart", hooks.Poststart),
            Poststop = HookList("hooks.poststop", hooks.Poststop),
        };

        private static IReadOnlyList<OciHook> HookList(string where, List<OciHookConfig>? hooks)
        {
            var result = new List<OciHook>();
            for (int i = 0; i < (hooks?.Count ?? 0); i++)
            {
                var hook = hooks![i];
                string path = hook.Path is { Length: > 0 } p ? p : throw Error($"{where}[{i}].path", "is required");
                if (!path.StartsWith('/'))
                    throw Error($"{where}[{i}].path", $"'{path}' must be an absolute host path");
                if (hook.Timeout is <= 0)
                    throw Error($"{where}[{i}].timeout", $"{hook.Timeout} is not a number of seconds above 0");
                result.Add(new OciHook(path, hook.Args is { Count: > 0 } args ? args : [path], hook.Env ?? [], hook.Timeout));
            }
            return result;
        }
    }
}
