using System.Text.Json;
using System.Text.RegularExpressions;
using Isolate.Interop;
using Isolate.Rootfs;
using Isolate.Security;
using Isolate.Spec;

namespace Isolate.Oci;

/// <summary>Reads an OCI bundle's config.json into an <see cref="OciBundle"/>. Nothing is
/// created; every problem is one line, "config.json: JSON.PATH: what is wrong".</summary>
public static partial class OciBundleLoader
{
    public const string ConfigFileName = "config.json";

    /// <summary>Reads BUNDLE/config.json.</summary>
    /// <param name="bundleDir">The bundle directory (relative: from the current directory).</param>
    /// <param name="id">The container's id: its default hostname (first 12 characters) and cgroup name.</param>
    /// <param name="systemdCgroup">--systemd-cgroup: linux.cgroupsPath names a systemd scope.</param>
    public static OciBundle Load(string bundleDir, string id, bool systemdCgroup = false)
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
            byte[] bytes = File.ReadAllBytes(file);
            // config.json is UTF-8 by definition: a string that is not is refused, never read
            // with replacement characters (a different path or command than the file names)
            if (!System.Text.Unicode.Utf8.IsValid(bytes))
                throw new IsolateException($"config.json: {InvalidUtf8Field(bytes)}: not valid UTF-8; config.json is UTF-8 by definition: write the value in UTF-8");
            json = System.Text.Encoding.UTF8.GetString(bytes);
        }
        catch (FileNotFoundException)
        {
            throw new IsolateException($"bundle {bundleDir}: {ConfigFileName} not found");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IsolateException($"bundle {bundleDir}: {ConfigFileName}: {ErrorText.Of(e)}");
        }
        return Parse(json, dir, id, OciHost.Current() with { SystemdCgroup = systemdCgroup });
    }

    /// <summary>Parses a config.json's text; relative paths in it (root.path) are taken from
    /// <paramref name="bundleDir"/>, whose files (the rootfs, bind sources) must exist.</summary>
    public static OciBundle Parse(string json, string bundleDir, string id) => Parse(json, bundleDir, id, OciHost.Current());

    internal static OciBundle Parse(string json, string bundleDir, string id, OciHost host)
    {
        // Read by hand from the document the field check walks anyway; what the reader will
        // not take (bad JSON, a value of the wrong type) goes to System.Text.Json's
        // deserializer, which reads the same model and names the line and path of the fault.
        OciConfig? config = null;
        JsonDocument? document = null;
        try
        {
            document = JsonDocument.Parse(json);
            if (!OciConfigReader.TryRead(document.RootElement, out config))
                config = null;
        }
        catch (JsonException)
        {
        }
        if (config is null)
        {
            try
            {
                config = JsonSerializer.Deserialize(json, OciJsonContext.Default.OciConfig);
            }
            catch (JsonException e)
            {
                throw new IsolateException($"config.json: {ErrorText.Json(e)}");
            }
            if (config is null)
                throw new IsolateException("config.json: line 1: the document is null; it must be a JSON object");
        }
        using (document ??= JsonDocument.Parse(json)) // the deserializer took it: the document parses too
            OciSpecFields.Check(document.RootElement);
        RefuseNul(json, "config.json: ");
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
            throw new IsolateException($"exec --process: {ErrorText.Json(e)}");
        }
        if (process is null)
            throw new IsolateException("exec --process: the document is null; it must be a JSON object");
        using (var document = JsonDocument.Parse(json))
            OciSpecFields.Check(document.RootElement, "exec --process", "process");
        RefuseNul(json, "exec --process: ");
        return new Mapper(new OciConfig(), "/", container.Id, OciHost.Current())
            .Process(process, container.UserNamespace, (container.Process.Security.Seccomp, container.Process.Security.SeccompFlags), container.Rootfs ?? "/");
    }

    /// <summary>The JSON path (process.args[1]) of the first string whose bytes are not UTF-8.</summary>
    private static string InvalidUtf8Field(byte[] bytes) =>
        FirstBadString(bytes, (ref Utf8JsonReader r) => !System.Text.Unicode.Utf8.IsValid(r.ValueSpan), skip: null) ?? "a string";

    /// <summary>Refuses a string holding a NUL byte ("\u0000") wherever it would reach the
    /// kernel: the shim hands paths, arguments, the environment, hostnames, mount options and
    /// sysctls over as C strings, which end at the NUL, so the kernel would get a shorter value
    /// than the file names. annotations never reach the kernel (hooks read them as JSON) and
    /// may hold one.</summary>
    private static void RefuseNul(string json, string prefix)
    {
        if (!json.Contains("\\u0000", StringComparison.OrdinalIgnoreCase))
            return; // JSON writes a NUL only as that escape
        string? field = FirstBadString(System.Text.Encoding.UTF8.GetBytes(json),
            (ref Utf8JsonReader r) => r.ValueIsEscaped && r.GetString()!.Contains('\0'),
            skip: f => f == "annotations" || f.StartsWith("annotations.", StringComparison.Ordinal) || f.StartsWith("a key in annotations", StringComparison.Ordinal));
        if (field != null)
            throw new IsolateException($"{prefix}{field}: holds a NUL byte (\\u0000), which would cut the value short where the kernel reads it as a C string; remove it");
    }

    private delegate bool StringTest(ref Utf8JsonReader reader);

    /// <summary>The JSON path (process.args[1]) of the first string or key that
    /// <paramref name="bad"/> picks, passing over those whose path <paramref name="skip"/> picks;
    /// null when there is none.</summary>
    private static string? FirstBadString(byte[] bytes, StringTest bad, Func<string, bool>? skip)
    {
        var reader = new Utf8JsonReader(bytes);
        var path = new List<string>();
        var index = new List<int>();
        string? property = null;
        try
        {
            while (reader.Read())
            {
                switch (reader.TokenType)
                {
                    case JsonTokenType.PropertyName:
                        if (bad(ref reader) && $"a key in {Describe(path, index, null)}" is var key && skip?.Invoke(key) != true)
                            return key;
                        property = reader.GetString();
                        continue;
                    case JsonTokenType.StartObject or JsonTokenType.StartArray:
                        path.Add(Describe(path, index, property));
                        index.Add(reader.TokenType == JsonTokenType.StartArray ? 0 : -1);
                        property = null;
                        continue;
                    case JsonTokenType.EndObject or JsonTokenType.EndArray:
                        path.RemoveAt(path.Count - 1);
                        index.RemoveAt(index.Count - 1);
                        Advance(index);
                        continue;
                    case JsonTokenType.String when bad(ref reader):
                        string field = Describe(path, index, property) is { Length: > 0 } named ? named : "the document";
                        if (skip?.Invoke(field) != true)
                            return field;
                        property = null;
                        Advance(index);
                        continue;
                    default:
                        property = null;
                        Advance(index);
                        continue;
                }
            }
        }
        catch (JsonException)
        {
        }
        return null;
    }

    private static void Advance(List<int> index)
    {
        if (index.Count > 0 && index[^1] >= 0)
            index[^1]++;
    }

    private static string Describe(List<string> path, List<int> index, string? property)
    {
        string parent = path.Count > 0 ? path[^1] : "";
        if (index.Count > 0 && index[^1] >= 0)
            return $"{parent}[{index[^1]}]";
        return property is null ? parent : parent.Length > 0 ? $"{parent}.{property}" : property;
    }

    private static IsolateException Error(string path, string message) => new($"config.json: {path}: {message}");

    /// <summary>One conversion: config.json to the bundle, in the file's order of fields.</summary>
    private sealed partial class Mapper(OciConfig config, string bundleDir, string id, OciHost host)
    {
        private static readonly string[] Required = ["mount"];
        /// <summary>Namespaces a config may leave out to share the host's.</summary>
        private static readonly string[] Shareable = ["pid", "ipc", "uts", "cgroup"];
        private static readonly string[] Known = ["pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time"];

        /// <summary>The namespace types a config may list (time is known, and refused).</summary>
        internal static IEnumerable<string> Supported => Known.Where(t => t != "time");

        private readonly HashSet<string> _namespaces = new(StringComparer.Ordinal);
        private readonly List<(string, string)> _join = [];
        private readonly List<string> _hostNamespaces = [];

        public OciBundle Map()
        {
            string version = CheckVersion(config.OciVersion);
            var process = config.Process ?? throw Error("process", "is required: it is the command the container runs");
            var linux = config.Linux ?? new OciLinux();

            string rootfs = Rootfs(config.Root);
            var network = Namespaces(linux.Namespaces);
            var userns = UserNamespace(linux);
            var mounts = Mounts(config.Mounts ?? []);
            var processSpec = Process(process, userns, linux.Seccomp is null ? ([], 0) : Seccomp(linux.Seccomp), rootfs);
            var (hostname, domainname) = UtsNames(config.Hostname, config.Domainname);
            var resources = Resources(linux.Resources);
            var (cgroupParent, cgroupName) = CgroupPath(linux.CgroupsPath);
            if (host.Rootless && resources.Any)
                throw Error("linux.resources", $"limits need a cgroup, which a non-root user (uid {host.Euid}) cannot create: run isolate as root, or remove them");
            var rootPropagation = RootPropagation(linux.RootfsPropagation);
            var sysctl = Sysctl(linux.Sysctl, network);
            bool terminal = process.Terminal ?? false;

            var nvidia = new Isolate.Devices.CdiHooks(path => FileStat.NoFollow(rootfs.TrimEnd('/') + path) != null);
            var hooks = Hooks(config.Hooks, nvidia);
            var spec = new ContainerSpec
            {
                Rootfs = rootfs,
                Hostname = hostname,
                Domainname = domainname,
                HostNamespaces = _hostNamespaces,
                Process = processSpec,
                Network = network,
                Mounts = mounts,
                RootPropagation = rootPropagation,
                ReadOnlyRoot = config.Root?.Readonly ?? false,
                RootfsWrites = RootfsWrites.Direct,
                MaskedPaths = PathList("linux.maskedPaths", linux.MaskedPaths),
                ReadOnlyPaths = PathList("linux.readonlyPaths", linux.ReadonlyPaths),
                Resources = resources,
                Cgroups = !host.Rootless,
                CgroupParent = cgroupParent,
                CgroupName = cgroupName,
                SystemdSlice = host.SystemdCgroup ? Cgroups.SystemdScope.SliceOf(cgroupParent) : null,
                JoinNamespaces = _join,
                Sysctls = sysctl,
                UserNamespace = userns,
                OomScoreAdj = OomScoreAdj(process.OomScoreAdj),
                Devices = Devices(linux.Devices),
                Links = nvidia.Links([.. mounts.Where(m => m.IsBind && m.SourceIsFile).Select(m => new VolumeSpec(m.Source, m.Destination, true, true))]),
                LibraryDirs = nvidia.LibraryDirs,
                Id = id,
            };
            return new OciBundle
            {
                BundleDir = bundleDir,
                Spec = spec,
                Terminal = terminal,
                ConsoleSize = ConsoleSize(process.ConsoleSize),
                Annotations = new Dictionary<string, string>(config.Annotations ?? [], StringComparer.Ordinal),
                Hooks = hooks,
                CgroupParent = cgroupParent,
                CgroupName = cgroupName,
                Sysctl = sysctl,
                OciVersion = version,
                JoinNamespaces = _join,
            };
        }

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

        /// <summary>As runc: a name given is set (in the container's UTS namespace, new or
        /// joined); none given ("") leaves the namespace's name as it is.</summary>
        private static string Hostname(string? hostname)
        {
            if (string.IsNullOrEmpty(hostname))
                return "";
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
    }
}
