using System.Globalization;
using Isolate.Interop;
using Isolate.Plan;
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
        /// <param name="root">The container's root directory, where a HOME the environment lacks
        /// is looked up (its /etc/passwd).</param>
        public ProcessSpec Process(OciProcess process, UserNamespaceSpec? userns, (IReadOnlyList<BpfInstruction> Filter, uint Flags) seccomp, string root)
        {
            var env = Env(process.Env);
            var user = User(process.User, env, userns, root);
            return new()
            {
                Workdir = Workdir(process.Cwd),
                Args = Args(process.Args),
                Env = EnvironmentBuilder.Lookup(env, "HOME") is null ? [.. env, "HOME=" + user.Home] : env,
                Security = new ProcessSecurity
                {
                    Capabilities = CapabilitySet(process.Capabilities),
                    OciSets = CapabilitySets(process.Capabilities),
                    NoNewPrivileges = process.NoNewPrivileges ?? false,
                    Seccomp = seccomp.Filter,
                    SeccompFlags = seccomp.Flags,
                    User = user,
                    LastCap = host.LastCap,
                    KeepGroups = userns is { Rootless: true },
                },
                Rlimits = Rlimits(process.Rlimits),
                Tty = process.Terminal ?? false,
                Umask = Umask(process.User?.Umask),
                IoPriority = IoPriority(process.IoPriority),
                Scheduler = Scheduler(process.Scheduler),
            };
        }

        /// <summary>runc's default, 022, when absent.</summary>
        private static uint Umask(uint? umask) =>
            umask is null ? ProcessSpec.DefaultUmask
            : umask <= 511 ? umask.Value
            : throw Error("process.user.umask", $"{umask} is not a file mode mask: give 0 to 511 (octal 0777; JSON has no octal, so 022 is written 18)");

        private static readonly string[] IoClasses = ["", "IOPRIO_CLASS_RT", "IOPRIO_CLASS_BE", "IOPRIO_CLASS_IDLE"];

        /// <summary>ioprio_set(2)'s value: class &lt;&lt; 13 | level.</summary>
        private static int? IoPriority(OciIoPriority? io)
        {
            if (io is null)
                return null;
            int ioClass = Array.IndexOf(IoClasses, io.Class ?? "");
            if (ioClass <= 0)
                throw Error("process.ioPriority.class", $"'{io.Class}' is not an I/O class: use IOPRIO_CLASS_RT, IOPRIO_CLASS_BE or IOPRIO_CLASS_IDLE");
            int level = io.Priority ?? 0;
            if (level is < 0 or > 7)
                throw Error("process.ioPriority.priority", $"{level} is out of range: use 0 (highest) to 7 (lowest)");
            return (ioClass << 13) | level;
        }

        private static readonly string[] Policies = ["SCHED_OTHER", "SCHED_FIFO", "SCHED_RR", "SCHED_BATCH", "SCHED_ISO", "SCHED_IDLE", "SCHED_DEADLINE"];

        private static readonly (string Name, ulong Bit)[] SchedulerFlags =
        [
            ("SCHED_FLAG_RESET_ON_FORK", 0x01), ("SCHED_FLAG_RECLAIM", 0x02), ("SCHED_FLAG_DL_OVERRUN", 0x04),
            ("SCHED_FLAG_KEEP_POLICY", 0x08), ("SCHED_FLAG_KEEP_PARAMS", 0x10),
        ];

        /// <summary>sched_setattr(2)'s attributes, checked as runc checks them.</summary>
        private static SchedulerSpec? Scheduler(OciScheduler? sched)
        {
            if (sched is null)
                return null;
            int policy = Array.IndexOf(Policies, sched.Policy ?? "");
            if (policy < 0)
                throw Error("process.scheduler.policy", $"'{sched.Policy}' is not a policy: use one of {string.Join(", ", Policies.Where(p => p != "SCHED_ISO"))}");
            if (policy == 4)
                throw Error("process.scheduler.policy", "SCHED_ISO is not in the Linux kernel: use SCHED_OTHER, SCHED_FIFO, SCHED_RR, SCHED_BATCH, SCHED_IDLE or SCHED_DEADLINE");
            int nice = sched.Nice ?? 0;
            if (nice is < -20 or > 19)
                throw Error("process.scheduler.nice", $"{nice} is out of range: use -20 to 19");
            if (nice != 0 && policy is not (0 or 3))
                throw Error("process.scheduler.nice", $"applies to SCHED_OTHER and SCHED_BATCH only, not {sched.Policy}");
            int priority = sched.Priority ?? 0;
            bool realtime = policy is 1 or 2;
            if (realtime ? priority is < 1 or > 99 : priority != 0)
                throw Error("process.scheduler.priority", realtime
                    ? $"{priority} is out of range for {sched.Policy}: use 1 to 99"
                    : $"must be 0 for {sched.Policy} (only SCHED_FIFO and SCHED_RR have a static priority)");
            bool deadline = policy == 6;
            if (!deadline && (sched.Runtime is > 0 || sched.Deadline is > 0 || sched.Period is > 0))
                throw Error("process.scheduler", $"runtime, deadline and period apply to SCHED_DEADLINE only, not {sched.Policy}");
            ulong flags = 0;
            for (int i = 0; i < (sched.Flags?.Count ?? 0); i++)
            {
                string name = sched.Flags![i];
                var known = SchedulerFlags.FirstOrDefault(f => f.Name == name);
                if (known.Name is null)
                    throw Error($"process.scheduler.flags[{i}]", $"'{name}' is not supported: use {string.Join(", ", SchedulerFlags.Select(f => f.Name))}");
                flags |= known.Bit;
            }
            return new SchedulerSpec((uint)policy, nice, (uint)priority, flags, sched.Runtime ?? 0, sched.Deadline ?? 0, sched.Period ?? 0);
        }

        private static ProcessUser User(OciUser? user, IReadOnlyList<string> env, UserNamespaceSpec? userns, string root)
        {
            uint uid = user?.Uid ?? 0, gid = user?.Gid ?? 0;
            var groups = user?.AdditionalGids ?? [];
            if (!Ids.Valid(uid))
                throw Error("process.user.uid", Ids.Refusal);
            if (!Ids.Valid(gid))
                throw Error("process.user.gid", Ids.Refusal);
            for (int i = 0; i < groups.Count; i++)
            {
                if (!Ids.Valid(groups[i]))
                    throw Error($"process.user.additionalGids[{i}]", Ids.Refusal);
            }
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
            return new ProcessUser(uid, gid, groups, EnvironmentBuilder.Lookup(env, "HOME") ?? Home(uid, root));
        }

        /// <summary>runc's HOME when the environment has none: the user's entry in the container's
        /// /etc/passwd (read resolved inside the root: a link there cannot lead to the host's), else "/".</summary>
        private static string Home(uint uid, string root)
        {
            string? passwd;
            try
            {
                passwd = ContainerFiles.ReadText(root, "/etc/passwd");
            }
            catch (IsolateException)
            {
                passwd = null; // unreadable: as if it had no entry
            }
            return UserResolver.Resolve(uid.ToString(CultureInfo.InvariantCulture), [], passwd, null).Home;
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
