namespace Isolate.Security;

/// <summary>What a filter does with a system call.</summary>
public readonly record struct SeccompAction(SeccompActionKind Kind, uint Data = 0)
{
    public static readonly SeccompAction Allow = new(SeccompActionKind.Allow);
    public static readonly SeccompAction KillProcess = new(SeccompActionKind.KillProcess);

    public static SeccompAction Errno(uint errno) => new(SeccompActionKind.Errno, errno);

    /// <summary>The value a BPF "ret" returns for it (linux/seccomp.h).</summary>
    public uint ReturnValue => Kind switch
    {
        SeccompActionKind.KillProcess => 0x80000000,
        SeccompActionKind.KillThread => 0x00000000,
        SeccompActionKind.Trap => 0x00030000,
        SeccompActionKind.Errno => 0x00050000 | (Data & 0xffff),
        SeccompActionKind.Trace => 0x7ff00000 | (Data & 0xffff),
        SeccompActionKind.Log => 0x7ffc0000,
        _ => 0x7fff0000,
    };
}

public enum SeccompActionKind
{
    Allow,
    Errno,
    KillProcess,
    KillThread,
    Trap,
    Trace,
    Log,
}

public enum SeccompOperator
{
    Equal,
    NotEqual,
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
    MaskedEqual,
}

/// <summary>One condition on a 64-bit argument: args[Index] OP Value (MaskedEqual: (arg &amp; Value) == ValueTwo).</summary>
public readonly record struct SeccompCondition(int Index, SeccompOperator Operator, ulong Value, ulong ValueTwo = 0);

/// <summary>For these system calls, when every condition holds, this action.</summary>
public sealed record SeccompRule(IReadOnlyList<int> Syscalls, SeccompAction Action, IReadOnlyList<SeccompCondition> Conditions);

/// <summary>A filter before compilation: rules in order (the first that matches decides), then
/// the default action. Only the native x86_64 ABI is let through: i386 and x32 system calls,
/// whose numbers differ and would slip past every rule, are killed (as docker denies by arch).</summary>
public sealed record SeccompProfile(SeccompAction DefaultAction, IReadOnlyList<SeccompRule> Rules)
{
    /// <summary>Every action name <see cref="ActionByName"/> takes (`features` lists them).</summary>
    public static readonly string[] ActionNames = ["SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD",
        "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_LOG", "SCMP_ACT_TRACE", "SCMP_ACT_TRAP"];

    /// <summary>Every operator name <see cref="OperatorByName"/> takes.</summary>
    public static readonly string[] OperatorNames = ["SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE", "SCMP_CMP_LT",
        "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE"];

    /// <summary>libseccomp's action names, as docker's profiles and OCI bundles spell them; null
    /// for a name this compiler does not know. <paramref name="traceDefault"/>: SCMP_ACT_TRACE's
    /// message without an errnoRet.</summary>
    public static SeccompAction? ActionByName(string name, uint? errno, uint traceDefault) => name switch
    {
        "SCMP_ACT_ALLOW" => SeccompAction.Allow,
        "SCMP_ACT_ERRNO" => SeccompAction.Errno(errno ?? 1), // EPERM unless told
        "SCMP_ACT_KILL" or "SCMP_ACT_KILL_THREAD" => new SeccompAction(SeccompActionKind.KillThread),
        "SCMP_ACT_KILL_PROCESS" => SeccompAction.KillProcess,
        "SCMP_ACT_TRAP" => new SeccompAction(SeccompActionKind.Trap),
        "SCMP_ACT_LOG" => new SeccompAction(SeccompActionKind.Log),
        "SCMP_ACT_TRACE" => new SeccompAction(SeccompActionKind.Trace, errno ?? traceDefault),
        _ => null,
    };

    /// <summary>libseccomp's comparison names; null for an unknown one.</summary>
    public static SeccompOperator? OperatorByName(string? name) => name switch
    {
        "SCMP_CMP_EQ" => SeccompOperator.Equal,
        "SCMP_CMP_NE" => SeccompOperator.NotEqual,
        "SCMP_CMP_LT" => SeccompOperator.Less,
        "SCMP_CMP_LE" => SeccompOperator.LessOrEqual,
        "SCMP_CMP_GT" => SeccompOperator.Greater,
        "SCMP_CMP_GE" => SeccompOperator.GreaterOrEqual,
        "SCMP_CMP_MASKED_EQ" => SeccompOperator.MaskedEqual,
        _ => null,
    };
}
