using System.Text.RegularExpressions;
using Isolate.Plan;
using Isolate.Spec;

namespace Isolate.Oci;

public static partial class OciBundleLoader
{
    [GeneratedRegex(@"^([0-9]+[kKmMgG]?|[0-9]{1,3}%)$")]
    private static partial Regex TmpfsSizePattern();

    [GeneratedRegex(@"^[0-7]{3,4}$")]
    private static partial Regex TmpfsModePattern();

    [GeneratedRegex(@"^[0-9]+$")]
    private static partial Regex NumberPattern();

    private sealed partial class Mapper
    {
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

        private static void CheckPropagation(string? propagation)
        {
            if (propagation is null or "" or "private" or "rprivate" or "slave" or "rslave")
                return;
            throw Error("linux.rootfsPropagation", $"'{propagation}' is not supported: use private, rprivate, slave or rslave");
        }
    }
}
