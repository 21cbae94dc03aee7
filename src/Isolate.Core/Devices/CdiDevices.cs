using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Isolate.Interop;
using Isolate.Plan;
using Isolate.Spec;

namespace Isolate.Devices;

/// <summary>What the CDI devices a run names add to the container: device nodes (with their
/// device cgroup rules), environment entries and bind mounts.</summary>
public sealed record CdiEdits(IReadOnlyList<DeviceNode> Nodes, IReadOnlyList<DeviceRule> Allows, IReadOnlyList<string> Env, IReadOnlyList<VolumeSpec> Mounts)
{
    /// <summary>Symlinks made in the root: a library's soname link (--gpus, NVIDIA's
    /// create-symlinks and update-ldcache hooks).</summary>
    public IReadOnlyList<SymlinkSpec> Links { get; init; } = [];

    /// <summary>Directories whose mounted libraries go into the container's ld.so cache (LoaderCache).</summary>
    public IReadOnlyList<string> LibraryDirs { get; init; } = [];

    /// <summary>Paths hidden in the container besides the default masked ones (--gpus: the
    /// driver's /proc directories of the GPUs not chosen).</summary>
    public IReadOnlyList<string> Masks { get; init; } = [];
}

/// <summary>The Container Device Interface, as podman and containerd read it: specs (JSON or
/// YAML) in /etc/cdi and /var/run/cdi (or --cdi-spec-dir), each of one kind
/// ("vendor.com/class") with named devices; `--device vendor.com/class=NAME` (or `=all`)
/// applies the spec's own containerEdits and the device's. Honoured: deviceNodes, env,
/// mounts (bind, with ro, nosuid, nodev, noexec), and the hooks of NVIDIA's specs, whose work
/// Isolate does itself (CdiHooks); refused, naming the field: other hooks, additionalGids,
/// intelRdt, netDevices, and any mount option or type beyond those.</summary>
public static partial class CdiDevices
{
    public static readonly IReadOnlyList<string> DefaultSpecDirs = ["/etc/cdi", "/var/run/cdi"];

    private static readonly CdiEdits None = new([], [], [], []);

    [GeneratedRegex(@"^([a-z0-9][a-z0-9.-]*[a-z0-9]/[a-zA-Z0-9][a-zA-Z0-9_.-]*)=([a-zA-Z0-9][a-zA-Z0-9_.:-]*)\z")]
    private static partial Regex NamePattern();

    /// <summary>Whether a --device value is a CDI name (vendor.com/class=name) rather than a host path.</summary>
    public static bool IsName(string flag) => !flag.StartsWith('/') && flag.Contains('=');

    /// <summary>The edits of every CDI device in <paramref name="names"/>, from the specs in
    /// <paramref name="specDirs"/>; an unknown kind or device is an error naming it.</summary>
    /// <param name="containerHas">Whether the container's root has a path (NVIDIA's enable-cuda-compat hook).</param>
    public static CdiEdits Resolve(IReadOnlyList<string> names, IReadOnlyList<string> specDirs, Func<string, bool>? containerHas = null) =>
        Resolve(names, specDirs, () => Load(specDirs), containerHas);

    /// <param name="loaded">The specs of <paramref name="specDirs"/>, read by the caller once
    /// for all its questions (DeviceRequests), asked for only when a CDI device is named.</param>
    internal static CdiEdits Resolve(IReadOnlyList<string> names, IReadOnlyList<string> specDirs, Func<List<Spec>> loaded, Func<string, bool>? containerHas)
    {
        // no CDI device asked for: no spec is read (a start pays nothing, and a broken spec on
        // the host fails only the runs that name a CDI device, with its file and line)
        if (names.Count == 0)
            return None;
        var specs = loaded();
        var nodes = new List<DeviceNode>();
        var allows = new List<DeviceRule>();
        var env = new List<string>();
        var mounts = new List<VolumeSpec>();
        var hooks = new CdiHooks(containerHas ?? (_ => false));
        var appliedSpecs = new HashSet<string>(StringComparer.Ordinal);
        foreach (string name in names.Distinct())
        {
            var match = NamePattern().Match(name);
            if (!match.Success)
                throw new IsolateException($"invalid --device '{name}': a CDI device is VENDOR.COM/CLASS=NAME (nvidia.com/gpu=0, or =all); a host device is an absolute path");
            string kind = match.Groups[1].Value, device = match.Groups[2].Value;
            var spec = specs.FirstOrDefault(s => s.Kind == kind)
                ?? throw new IsolateException($"--device {name}: no CDI spec for {kind} in {string.Join(" or ", specDirs)}"
                    + (specs.Count > 0 ? $" (there are specs for {string.Join(", ", specs.Select(s => s.Kind).Distinct())})" : ""));
            var chosen = device == "all" ? spec.Devices : spec.Devices.Where(d => d.Name == device).ToList();
            if (chosen.Count == 0)
                throw new IsolateException($"--device {name}: the CDI spec {spec.File} has no device {device} (it has {string.Join(", ", spec.Devices.Select(d => d.Name))})");
            var edits = new List<(JsonObject Edits, string Where)>();
            if (appliedSpecs.Add(spec.File) && spec.Edits is { } common)
                edits.Add((common, spec.File));
            edits.AddRange(chosen.Where(d => d.Edits != null).Select(d => (d.Edits!, $"{spec.File}, device {d.Name}")));
            foreach (var (edit, where) in edits)
                Apply(edit, where, nodes, allows, env, mounts, hooks);
        }
        return new CdiEdits(nodes, allows, env, mounts) { Links = hooks.Links(mounts), LibraryDirs = hooks.LibraryDirs };
    }

    internal sealed record Spec(string File, string Kind, JsonObject? Edits, IReadOnlyList<(string Name, JsonObject? Edits)> Devices);

    internal static List<Spec> Load(IReadOnlyList<string> dirs)
    {
        var specs = new List<Spec>();
        foreach (string dir in dirs)
        {
            if (!Directory.Exists(dir))
                continue;
            foreach (string file in Directory.EnumerateFiles(dir).Order(StringComparer.Ordinal))
            {
                string extension = Path.GetExtension(file);
                if (extension is not (".json" or ".yaml" or ".yml"))
                    continue;
                string text = System.Text.Encoding.UTF8.GetString(SmallFile.ReadUserFile("CDI spec", file));
                JsonNode? root;
                try
                {
                    root = extension == ".json" ? JsonNode.Parse(text) : YamlReader.Parse(text, file);
                }
                catch (JsonException e)
                {
                    throw new IsolateException($"CDI spec {file}: {ErrorText.Json(e)}");
                }
                if (root is not JsonObject spec || spec["kind"]?.GetValue<string>() is not { Length: > 0 } kind || spec["devices"] is not JsonArray devices)
                    throw new IsolateException($"CDI spec {file}: it has no kind or no devices");
                specs.Add(new Spec(file, kind, spec["containerEdits"] as JsonObject,
                    [.. devices.OfType<JsonObject>().Select(d => (d["name"]?.ToString() ?? throw new IsolateException($"CDI spec {file}: a device has no name"), d["containerEdits"] as JsonObject))]));
            }
        }
        return specs;
    }

    /// <summary>Every spec in <paramref name="specDirs"/>: its file, kind and device names (`isolate info`).</summary>
    public static IReadOnlyList<(string File, string Kind, IReadOnlyList<string> Devices)> List(IReadOnlyList<string> specDirs) =>
        [.. Load(specDirs).Select(s => (s.File, s.Kind, (IReadOnlyList<string>)[.. s.Devices.Select(d => d.Name)]))];

    /// <summary>The device names of the spec of <paramref name="kind"/> in its order, or null when no spec has that kind.</summary>
    internal static IReadOnlyList<string>? DeviceNames(string kind, IReadOnlyList<Spec> specs) =>
        specs.FirstOrDefault(s => s.Kind == kind)?.Devices.Select(d => d.Name).ToList();

    private static void Apply(JsonObject edits, string where, List<DeviceNode> nodes, List<DeviceRule> allows, List<string> env, List<VolumeSpec> mounts,
        CdiHooks hooks)
    {
        foreach (var (field, value) in edits)
        {
            if (value is null || (value is JsonArray { Count: 0 }))
                continue;
            switch (field)
            {
                case "env":
                    env.AddRange(Array(value, where, field).Select(e => e?.ToString() ?? ""));
                    break;
                case "deviceNodes":
                    foreach (var node in Array(value, where, field).OfType<JsonObject>())
                    {
                        var (made, rule) = Node(node, where);
                        if (nodes.All(n => n.Path != made.Path))
                        {
                            nodes.Add(made);
                            allows.Add(rule);
                        }
                    }
                    break;
                case "mounts":
                    foreach (var mount in Array(value, where, field).OfType<JsonObject>())
                        mounts.Add(Mount(mount, where));
                    break;
                case "hooks":
                    foreach (var hook in Array(value, where, field).OfType<JsonObject>())
                        hooks.Add(hook, where);
                    break;
                default:
                    throw new IsolateException($"CDI spec {where}: containerEdits.{field} is not supported yet (Isolate cannot apply it): refused rather than ignored");
            }
        }
    }

    private static JsonArray Array(JsonNode value, string where, string field) =>
        value as JsonArray ?? throw new IsolateException($"CDI spec {where}: containerEdits.{field} is not a list");

    private static (DeviceNode, DeviceRule) Node(JsonObject node, string where)
    {
        string path = node["path"]?.ToString() ?? throw new IsolateException($"CDI spec {where}: a device node has no path");
        string host = node["hostPath"]?.ToString() ?? path;
        if (!path.StartsWith("/dev/", StringComparison.Ordinal) || path.Split('/').Any(p => p is "." or ".."))
            throw new IsolateException($"CDI spec {where}: device node {path}: its path must be under /dev");
        var stat = FileStat.Follow(host);
        char type = node["type"]?.ToString() is { Length: 1 } t ? t[0]
            : stat?.DeviceType ?? '?';
        if (type is not ('c' or 'b'))
            throw new IsolateException($"CDI spec {where}: device node {path}: {host} is not a character or block device on this host, and the spec gives no type c or b");
        uint major = Number(node, "major") ?? stat?.RdevMajor ?? throw new IsolateException($"CDI spec {where}: device node {path}: {host} does not exist and the spec gives no major and minor");
        uint minor = Number(node, "minor") ?? stat?.RdevMinor ?? throw new IsolateException($"CDI spec {where}: device node {path}: no minor");
        uint mode = Number(node, "fileMode") ?? (stat is { } st ? (uint)st.Mode & 0xFFF : 0x1B6u /* 0666 */);
        string permissions = node["permissions"]?.ToString() is { Length: > 0 } p ? p : "rwm";
        if (permissions.Any(c => c is not ('r' or 'w' or 'm')))
            throw new IsolateException($"CDI spec {where}: device node {path}: permissions '{permissions}' must be letters of rwm");
        var made = new DeviceNode(path, type, major, minor, mode & 0xFFF, Number(node, "uid") ?? stat?.Uid ?? 0, Number(node, "gid") ?? stat?.Gid ?? 0,
            stat != null ? host : null);
        return (made, new DeviceRule(true, type, major, minor, permissions));
    }

    private static uint? Number(JsonObject node, string name) =>
        node[name] is JsonValue v && v.TryGetValue(out long n) && n >= 0 && n <= uint.MaxValue ? (uint)n : null;

    private static VolumeSpec Mount(JsonObject mount, string where)
    {
        string host = mount["hostPath"]?.ToString() ?? throw new IsolateException($"CDI spec {where}: a mount has no hostPath");
        string target = mount["containerPath"]?.ToString() ?? throw new IsolateException($"CDI spec {where}: a mount has no containerPath");
        if (mount["type"]?.ToString() is { } type && type != "bind")
            throw new IsolateException($"CDI spec {where}: mount {target}: type {type} is not supported (bind mounts only)");
        bool readOnly = false;
        var flags = MountFlags.None;
        foreach (string option in (mount["options"] as JsonArray ?? []).Select(o => o?.ToString() ?? ""))
        {
            switch (option)
            {
                case "bind" or "rbind" or "rw":
                    break;
                case "ro":
                    readOnly = true;
                    break;
                case "nosuid":
                    flags |= MountFlags.NoSuid;
                    break;
                case "nodev":
                    flags |= MountFlags.NoDev;
                    break;
                case "noexec":
                    flags |= MountFlags.NoExec;
                    break;
                default:
                    throw new IsolateException($"CDI spec {where}: mount {target}: the option '{option}' is not supported (bind, rbind, ro, rw, nosuid, nodev, noexec)");
            }
        }
        if (!target.StartsWith('/') || target.Split('/').Any(p => p is "." or ".."))
            throw new IsolateException($"CDI spec {where}: mount {target}: containerPath must be absolute, with no '..'");
        // canonical: the bind walks its source again following no link (native/resolve.c), and
        // a driver's library is usually reached through its soname link
        string canonical = Rootfs.RootfsResolver.Canonical(host, $"CDI spec {where}: mount {target}:");
        var source = FileStat.Follow(canonical) ?? throw IsolateException.FromErrno($"CDI spec {where}: mount {target}: stat", host, System.Runtime.InteropServices.Marshal.GetLastPInvokeError());
        return new VolumeSpec(canonical, target, readOnly, !source.IsDirectory) { Flags = flags };
    }
}
