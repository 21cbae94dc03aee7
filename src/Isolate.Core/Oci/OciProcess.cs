using System.Globalization;
using Isolate.Security;
using Isolate.Spec;

namespace Isolate.Oci;

public static partial class OciBundleLoader
{
    private sealed partial class Mapper
    {
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

        // ---- the process ----

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
                result.Add(spec with { Origin = $"config.json: {where} ({type} {Limit(soft)}:{Limit(hard)})" });
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
    }
}
