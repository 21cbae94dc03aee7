using System.Text.Json;
using System.Text.Json.Serialization;

namespace Isolate.Security;

/// <summary>Reads docker's seccomp profile format (the JSON of moby's default profile and of
/// --security-opt seccomp=FILE) into a <see cref="SeccompProfile"/>: defaultAction,
/// defaultErrnoRet, architectures/archMap (only x86_64 is let through, see SeccompCompiler),
/// syscalls[] with names, action, errnoRet, args (op SCMP_CMP_*), includes/excludes on caps.
/// System calls this kernel's table does not know are skipped, as libseccomp skips them.</summary>
public static class DockerSeccompProfile
{
    public static SeccompProfile Parse(string json, ulong capabilities, string source)
    {
        DockerProfile? doc;
        try
        {
            doc = JsonSerializer.Deserialize(json, SeccompJsonContext.Default.DockerProfile);
        }
        catch (JsonException e)
        {
            throw new IsolateException($"seccomp profile {source}: {ErrorText.Json(e)}");
        }
        if (doc?.DefaultAction is null)
            throw new IsolateException($"seccomp profile {source}: defaultAction is missing");

        var defaultAction = Action(doc.DefaultAction, doc.DefaultErrnoRet, source, "defaultAction");
        var rules = new List<SeccompRule>();
        foreach (var (entry, i) in (doc.Syscalls ?? []).Select((e, i) => (e, i)))
        {
            string where = $"syscalls[{i}]";
            if (!Applies(entry.Includes, entry.Excludes, capabilities))
                continue;
            var names = entry.Names ?? (entry.Name is null ? [] : [entry.Name]);
            var numbers = names.Where(SyscallTable.X86_64.ContainsKey).Select(n => SyscallTable.X86_64[n]).ToArray();
            if (numbers.Length == 0)
                continue;
            var conditions = (entry.Args ?? []).Select((a, j) => Condition(a, source, $"{where}.args[{j}]")).ToArray();
            rules.Add(new SeccompRule(numbers, Action(entry.Action ?? "", entry.ErrnoRet, source, $"{where}.action"), conditions));
        }
        return new SeccompProfile(defaultAction, rules);
    }

    /// <summary>docker keeps a rule only when the container has every capability in includes.caps
    /// and none in excludes.caps (arches and kernel versions are not filtered on: x86_64 only).</summary>
    private static bool Applies(DockerFilter? includes, DockerFilter? excludes, ulong capabilities)
    {
        bool Has(string cap)
        {
            try
            {
                return (capabilities & (1UL << Capabilities.Number(cap))) != 0;
            }
            catch (IsolateException)
            {
                return false; // a capability this build does not know: not held
            }
        }
        if (includes?.Caps is { } need && !need.All(Has))
            return false;
        if (excludes?.Caps is { } not && not.Any(Has))
            return false;
        if (includes?.Arches is { } arches && !arches.Contains("amd64") && !arches.Contains("x86_64"))
            return false;
        return true;
    }

    private static SeccompAction Action(string name, uint? errno, string source, string where) =>
        SeccompProfile.ActionByName(name, errno, traceDefault: 0)
            ?? throw new IsolateException($"seccomp profile {source}: {where}: unknown action '{name}'");

    private static SeccompCondition Condition(DockerArg arg, string source, string where)
    {
        if (arg.Index > 5)
            throw new IsolateException($"seccomp profile {source}: {where}.index: {arg.Index} is not an argument (0 to 5)");
        var op = SeccompProfile.OperatorByName(arg.Op)
            ?? throw new IsolateException($"seccomp profile {source}: {where}.op: unknown operator '{arg.Op}'");
        return new SeccompCondition((int)arg.Index, op, arg.Value, arg.ValueTwo);
    }
}

internal sealed class DockerProfile
{
    public string? DefaultAction { get; set; }
    public uint? DefaultErrnoRet { get; set; }
    public List<string>? Architectures { get; set; }
    public List<DockerSyscall>? Syscalls { get; set; }
}

internal sealed class DockerSyscall
{
    public List<string>? Names { get; set; }
    public string? Name { get; set; }
    public string? Action { get; set; }
    public uint? ErrnoRet { get; set; }
    public List<DockerArg>? Args { get; set; }
    public DockerFilter? Includes { get; set; }
    public DockerFilter? Excludes { get; set; }
}

internal sealed class DockerArg
{
    public uint Index { get; set; }
    public ulong Value { get; set; }
    public ulong ValueTwo { get; set; }
    public string? Op { get; set; }
}

internal sealed class DockerFilter
{
    public List<string>? Caps { get; set; }
    public List<string>? Arches { get; set; }
    public string? MinKernel { get; set; }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, ReadCommentHandling = JsonCommentHandling.Skip,
    AllowTrailingCommas = true)]
[JsonSerializable(typeof(DockerProfile))]
internal sealed partial class SeccompJsonContext : JsonSerializerContext;
