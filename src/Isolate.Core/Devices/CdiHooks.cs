using System.Text.Json.Nodes;
using Isolate.Spec;

namespace Isolate.Devices;

/// <summary>The hooks of a CDI spec. Isolate runs no hook program from a CDI spec; the
/// hooks NVIDIA's specs carry (nvidia-ctk cdi generate: `nvidia-cdi-hook SUBCOMMAND`, or
/// the older `nvidia-ctk hook SUBCOMMAND`) it does itself, so a spec made on a server
/// works with nothing of the toolkit installed:
/// <list type="bullet">
/// <item>create-symlinks --link TARGET::LINK: the link, made in the container's root;</item>
/// <item>update-ldcache --folder DIR: each library the spec mounts in DIR gets its soname link
/// (libcuda.so.1 beside libcuda.so.580.82.07), what ldconfig would make, so the loader finds it
/// by its soname in the directories it searches;</item>
/// <item>disable-device-node-modification: the device cgroup already refuses a node the
/// container was not given (the hook stops the driver's libraries from making them);</item>
/// <item>enable-cuda-compat: nothing to do in a root without /usr/local/cuda/compat; with one it is refused.</item>
/// </list>
/// Every other hook (another program, chmod, a subcommand Isolate does not know) is refused
/// with a line naming it: never silently skipped.</summary>
/// <remarks>The OCI face does the same with the NVIDIA hooks podman and containerd copy from a
/// CDI spec into config.json.</remarks>
internal sealed class CdiHooks(Func<string, bool> containerHas)
{
    private readonly List<SymlinkSpec> _links = [];
    private readonly List<string> _ldFolders = [];

    /// <summary>A hook of a CDI spec: NVIDIA's is done, any other refused.</summary>
    public void Add(JsonObject hook, string where)
    {
        string path = hook["path"]?.ToString() ?? "";
        var args = (hook["args"] as JsonArray ?? []).Select(a => a?.ToString() ?? "").ToList();
        string described = $"CDI spec {where}: hook {hook["hookName"]} {path} {string.Join(' ', args.Skip(1))}";
        if (NvidiaSubcommand(path, args) < 0)
            throw new IsolateException($"{described}: CDI hooks are not run (Isolate does the work of NVIDIA's nvidia-cdi-hook itself, and runs no other): refused rather than ignored");
        AddNvidia(path, args, described);
    }

    /// <summary>Where NVIDIA's subcommand is in a hook's argv (nvidia-cdi-hook SUB, nvidia-ctk
    /// hook SUB), or -1 when the hook is not NVIDIA's.</summary>
    public static int NvidiaSubcommand(string path, IReadOnlyList<string> args)
    {
        string program = Path.GetFileName(path);
        int sub = program == "nvidia-cdi-hook" ? 1 : program == "nvidia-ctk" && args.Count > 1 && args[1] == "hook" ? 2 : -1;
        return sub > 0 && args.Count > sub ? sub : -1;
    }

    /// <summary>One of NVIDIA's hooks (<see cref="NvidiaSubcommand"/> is not -1): its work noted,
    /// or an error starting with <paramref name="described"/>.</summary>
    public void AddNvidia(string path, IReadOnlyList<string> args, string described)
    {
        int sub = NvidiaSubcommand(path, args);
        var options = Options(args.Skip(sub + 1).ToList(), described);
        switch (args[sub])
        {
            case "create-symlinks":
                foreach (string link in Values(options, "link", described, "--link TARGET::LINK"))
                {
                    string[] parts = link.Split("::");
                    if (parts.Length != 2 || parts[0].Length == 0 || !parts[1].StartsWith('/') || parts[1].Split('/').Any(p => p is "." or ".."))
                        throw new IsolateException($"{described}: --link {link}: give TARGET::LINK, LINK an absolute path in the container");
                    if (_links.All(l => l.Path != parts[1]))
                        _links.Add(new SymlinkSpec(parts[1], parts[0]));
                }
                break;
            case "update-ldcache":
                _ldFolders.AddRange(Values(options, "folder", described, "--folder DIR"));
                options.Remove("ldconfig-path"); // ldconfig itself is not run: its links are made
                break;
            case "disable-device-node-modification":
                break;
            case "enable-cuda-compat":
                options.Remove("host-driver-version");
                if (containerHas("/usr/local/cuda/compat"))
                    throw new IsolateException($"{described}: the container has CUDA forward-compatibility libraries (/usr/local/cuda/compat), which Isolate cannot enable yet: refused rather than ignored");
                break;
            default:
                throw new IsolateException($"{described}: the NVIDIA hook {args[sub]} is not supported (create-symlinks, update-ldcache, enable-cuda-compat, disable-device-node-modification are): refused rather than ignored");
        }
        if (options.Keys.FirstOrDefault() is { } unknown)
            throw new IsolateException($"{described}: the option --{unknown} is not supported: refused rather than ignored");
    }

    /// <summary>The links of create-symlinks, then the soname links of update-ldcache for the
    /// libraries in <paramref name="mounts"/> (every device's mounts are known by then).</summary>
    /// <summary>update-ldcache's folders: their libraries go into the container's ld.so cache.</summary>
    public IReadOnlyList<string> LibraryDirs => [.. _ldFolders.Distinct()];

    public IReadOnlyList<SymlinkSpec> Links(IReadOnlyList<VolumeSpec> mounts)
    {
        var links = new List<SymlinkSpec>(_links);
        foreach (var mount in mounts.Where(m => m.SourceIsFile && _ldFolders.Contains(Path.GetDirectoryName(m.Destination)!)))
        {
            string name = Path.GetFileName(mount.Destination);
            if (!name.Contains(".so", StringComparison.Ordinal) || SharedLibraries.Soname(mount.Source) is not { } soname || soname == name || soname.Contains('/'))
                continue;
            string link = Path.Combine(Path.GetDirectoryName(mount.Destination)!, soname);
            if (links.All(l => l.Path != link) && mounts.All(m => m.Destination != link))
                links.Add(new SymlinkSpec(link, name));
        }
        return links;
    }

    private static Dictionary<string, List<string>> Options(List<string> args, string described)
    {
        var options = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        for (int i = 0; i < args.Count; i++)
        {
            string arg = args[i];
            if (!arg.StartsWith("--", StringComparison.Ordinal))
                throw new IsolateException($"{described}: unexpected argument '{arg}': refused rather than ignored");
            string name = arg[2..], value;
            int eq = name.IndexOf('=');
            if (eq >= 0)
                (name, value) = (name[..eq], name[(eq + 1)..]);
            else if (i + 1 < args.Count)
                value = args[++i];
            else
                throw new IsolateException($"{described}: --{name} has no value");
            if (!options.TryGetValue(name, out var values))
                options[name] = values = [];
            values.Add(value);
        }
        return options;
    }

    private static List<string> Values(Dictionary<string, List<string>> options, string name, string described, string usage)
    {
        if (!options.Remove(name, out var values) || values.Count == 0)
            throw new IsolateException($"{described}: it has no {usage}");
        return values;
    }
}
