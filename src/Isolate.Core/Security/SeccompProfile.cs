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
public sealed record SeccompProfile(SeccompAction DefaultAction, IReadOnlyList<SeccompRule> Rules);
