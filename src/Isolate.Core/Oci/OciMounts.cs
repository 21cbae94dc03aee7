using System.Text.RegularExpressions;
using Isolate.Plan;
using Isolate.Rootfs;
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

        /// <summary>mount(8)'s flag words, as runc reads them: (flag, set or clear).</summary>
        internal static readonly Dictionary<string, (MountFlags Flag, bool Set)> FlagWords = new(StringComparer.Ordinal)
        {
            ["ro"] = (MountFlags.ReadOnly, true), ["rw"] = (MountFlags.ReadOnly, false),
            ["nosuid"] = (MountFlags.NoSuid, true), ["suid"] = (MountFlags.NoSuid, false),
            ["nodev"] = (MountFlags.NoDev, true), ["dev"] = (MountFlags.NoDev, false),
            ["noexec"] = (MountFlags.NoExec, true), ["exec"] = (MountFlags.NoExec, false),
            ["sync"] = (MountFlags.Synchronous, true), ["async"] = (MountFlags.Synchronous, false),
            ["dirsync"] = (MountFlags.DirSync, true),
            ["mand"] = (MountFlags.MandLock, true), ["nomand"] = (MountFlags.MandLock, false),
            ["noatime"] = (MountFlags.NoAtime, true), ["atime"] = (MountFlags.NoAtime, false),
            ["nodiratime"] = (MountFlags.NoDirAtime, true), ["diratime"] = (MountFlags.NoDirAtime, false),
            ["relatime"] = (MountFlags.RelAtime, true), ["norelatime"] = (MountFlags.RelAtime, false),
            ["strictatime"] = (MountFlags.StrictAtime, true), ["nostrictatime"] = (MountFlags.StrictAtime, false),
            ["lazytime"] = (MountFlags.LazyTime, true), ["nolazytime"] = (MountFlags.LazyTime, false),
            ["silent"] = (MountFlags.Silent, true), ["loud"] = (MountFlags.Silent, false),
            ["bind"] = (MountFlags.Bind, true), ["rbind"] = (MountFlags.Bind | MountFlags.Rec, true),
            ["defaults"] = (MountFlags.None, true),
        };

        internal static readonly Dictionary<string, MountFlags> PropagationWords = new(StringComparer.Ordinal)
        {
            ["private"] = MountFlags.Private, ["rprivate"] = MountFlags.Private | MountFlags.Rec,
            ["slave"] = MountFlags.Slave, ["rslave"] = MountFlags.Slave | MountFlags.Rec,
            ["shared"] = MountFlags.Shared, ["rshared"] = MountFlags.Shared | MountFlags.Rec,
            ["unbindable"] = MountFlags.Unbindable, ["runbindable"] = MountFlags.Unbindable | MountFlags.Rec,
        };

        /// <summary>Every option word Isolate takes (the rest of a mount's options is data for
        /// its filesystem): what `features` lists as mountOptions.</summary>
        internal static IEnumerable<string> OptionWords =>
            FlagWords.Keys.Concat(PropagationWords.Keys).Concat(["rro", "rrw", "tmpcopyup", "notmpcopyup"]);

        /// <summary>config.json's mounts, each made as listed, in the file's order (as runc and
        /// crun do): flag words become mount flags, propagation words a propagation change
        /// after the mount, and every other option goes to the filesystem as data (for a
        /// bind, data the kernel does not read: runc accepts it, so Isolate does).</summary>
        private static List<ConfiguredMount> Mounts(List<OciMount> mounts)
        {
            var result = new List<ConfiguredMount>();
            int binds = 0;
            for (int i = 0; i < mounts.Count; i++)
            {
                var mount = mounts[i];
                string where = $"mounts[{i}]";
                string destination = ContainerPath($"{where}.destination", mount.Destination);
                var options = mount.Options ?? [];
                var flags = MountFlags.None;
                var propagation = new List<MountFlags>();
                var data = new List<string>();
                int copyUp = -1; // the index of the tmpcopyup that is in force
                for (int j = 0; j < options.Count; j++)
                {
                    string option = options[j];
                    if (FlagWords.TryGetValue(option, out var word))
                        flags = word.Set ? flags | word.Flag : flags & ~word.Flag;
                    else if (PropagationWords.TryGetValue(option, out var change))
                        propagation.Add(change);
                    else if (option is "idmap" or "ridmap")
                        throw Error($"{where}.options[{j}]", $"'{option}' (an id-mapped mount) is not supported; remove it and give the files the container's ids, or use linux.uidMappings for the whole root");
                    else if (option is "tmpcopyup" or "notmpcopyup")
                        copyUp = option == "tmpcopyup" ? j : -1; // crun's and runc's extension; podman adds it to every --tmpfs
                    else if (option is "remount" or "copy-symlink")
                        throw Error($"{where}.options[{j}]", $"'{option}' is not supported; remove it");
                    else if (option is "rro" or "rrw")
                        flags = option == "rro" ? flags | MountFlags.ReadOnly : flags & ~MountFlags.ReadOnly;
                    else if (option.Length > 1 && option[0] == 'r' && FlagWords.ContainsKey(option[1..]))
                        throw Error($"{where}.options[{j}]", $"'{option}' (a recursive mount attribute) is not supported; use '{option[1..]}', which applies to the mount itself");
                    else
                    {
                        if (mount.Type == "tmpfs")
                            CheckTmpfsData($"{where}.options[{j}]", option);
                        data.Add(option);
                    }
                }
                bool bind = mount.Type == "bind" || flags.HasFlag(MountFlags.Bind);
                string type = bind ? "bind" : mount.Type is { Length: > 0 } t ? t
                    : throw Error($"{where}.type", "is required (bind, or a filesystem type: tmpfs, proc, sysfs, devpts, mqueue, cgroup, overlay ...)");
                if (copyUp >= 0 && type != "tmpfs")
                    throw Error($"{where}.options[{copyUp}]", $"'tmpcopyup' copies a directory into a tmpfs, and this mount is {(bind ? "a bind mount" : type)}; remove it, or make the mount type tmpfs");
                if (bind)
                {
                    flags |= MountFlags.Bind;
                    result.Add(Bind(where, mount, destination, flags, propagation, string.Join(',', data)));
                    binds++;
                }
                else
                {
                    string source = mount.Source is { Length: > 0 } s ? s : type;
                    result.Add(new ConfiguredMount(type, source, destination, flags, propagation, string.Join(',', data), CopyUp: copyUp >= 0));
                }
            }
            if (binds > MountPlanBuilder.MaxVolumes)
                throw Error("mounts", $"{binds} bind mounts; Isolate takes at most {MountPlanBuilder.MaxVolumes}");
            return result;
        }

        /// <summary>A tmpfs's size, mode, uid, gid and nr_inodes are checked here, where the error
        /// can name the option, rather than left to the kernel's EINVAL at start.</summary>
        private static void CheckTmpfsData(string where, string option)
        {
            int eq = option.IndexOf('=');
            string key = eq < 0 ? option : option[..eq];
            string arg = eq < 0 ? "" : option[(eq + 1)..];
            bool good = key switch
            {
                "size" => TmpfsSizePattern().IsMatch(arg),
                "mode" => TmpfsModePattern().IsMatch(arg),
                "uid" or "gid" => Security.Ids.TryParse(arg, out _),
                "nr_inodes" => NumberPattern().IsMatch(arg),
                _ => true,
            };
            if (!good)
            {
                throw Error(where, $"bad value for {key}: '{arg}'" + key switch
                {
                    "size" => "; use a number with k, m or g, or a percentage (64m, 50%)",
                    "mode" => "; use octal digits (1777)",
                    "uid" or "gid" when NumberPattern().IsMatch(arg) => "; use a number below 4294967295 ((uid_t)-1 means 'unchanged')",
                    _ => "; use a number",
                });
            }
        }

        private static ConfiguredMount Bind(string where, OciMount mount, string destination, MountFlags flags,
            List<MountFlags> propagation, string data)
        {
            string source = mount.Source is { Length: > 0 } s ? s : throw Error($"{where}.source", "a bind mount needs a source");
            if (!source.StartsWith('/'))
                throw Error($"{where}.source", $"'{source}' must be an absolute host path");
            string canonical = HostSource(source, $"{where}.source");
            return new ConfiguredMount("bind", canonical, destination, flags, propagation, data, SourceIsFile: !Directory.Exists(canonical));
        }

        /// <summary>A bind source, walked as its bind is made (RootfsResolver.HostSource): a
        /// symlink only root owns is followed.</summary>
        private static string HostSource(string source, string where)
        {
            try
            {
                return RootfsResolver.HostSource(source, where, (link, uid) =>
                    $"config.json: {where}: {source}'s component {link} is a symlink owned by uid {uid} (a container or user could have planted it); give the resolved path");
            }
            catch (IsolateException e) when (e.Errno != 0)
            {
                throw Error(where, $"{source}: {IsolateException.Describe(e.Errno)}");
            }
        }

        /// <summary>An absolute container path, lexically normalized.</summary>
        private static string ContainerPath(string where, string? path)
        {
            if (string.IsNullOrEmpty(path))
                throw Error(where, "is required");
            if (!path.StartsWith('/'))
                throw Error(where, $"'{path}' must be an absolute path inside the container");
            return MountSpecParser.Normalize(path) ?? "/";
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

        /// <summary>linux.rootfsPropagation, made on the container's / once its mounts are in place.</summary>
        private static MountFlags RootPropagation(string? propagation)
        {
            if (string.IsNullOrEmpty(propagation))
                return MountFlags.None;
            return PropagationWords.TryGetValue(propagation, out var flags) ? flags
                : throw Error("linux.rootfsPropagation", $"'{propagation}' is not a propagation: use private, rprivate, slave, rslave, shared, rshared, unbindable or runbindable");
        }
    }
}
