using Isolate.Security;

namespace Isolate.Oci;

public static partial class OciBundleLoader
{
    /// <summary>For `features`: the option words of mounts, the seccomp flags taken.</summary>
    public static IEnumerable<string> MountOptionWords => Mapper.OptionWords.Order(StringComparer.Ordinal);

    public static IEnumerable<string> SeccompFlags => Mapper.SeccompFlagNames.Select(f => f.Name);

    public static IEnumerable<string> NamespaceTypes => Mapper.Supported;

    private sealed partial class Mapper
    {
        // ---- seccomp ----

        /// <summary>The seccomp flags runc takes; TSYNC is moot (the child has one thread) and
        /// so taken; the user-notification flags go with listenerPath, which is refused.</summary>
        internal static readonly (string Name, uint Bit)[] SeccompFlagNames =
        [
            ("SECCOMP_FILTER_FLAG_TSYNC", 0), ("SECCOMP_FILTER_FLAG_LOG", ProcessSecurity.SeccompFilterLog),
            ("SECCOMP_FILTER_FLAG_SPEC_ALLOW", ProcessSecurity.SeccompFilterSpecAllow),
        ];

        private static (IReadOnlyList<BpfInstruction> Filter, uint Flags) Seccomp(OciSeccomp seccomp)
        {
            const string where = "linux.seccomp";
            uint flags = 0;
            for (int i = 0; i < (seccomp.Flags?.Count ?? 0); i++)
            {
                string name = seccomp.Flags![i];
                var known = SeccompFlagNames.FirstOrDefault(f => f.Name == name);
                if (known.Name is null)
                    throw Error($"{where}.flags[{i}]", $"'{name}' is not supported: use {string.Join(", ", SeccompFlagNames.Select(f => f.Name))}");
                flags |= known.Bit;
            }
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
                return (SeccompCompiler.Compile(new SeccompProfile(defaultAction, rules)), flags);
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
    }
}
