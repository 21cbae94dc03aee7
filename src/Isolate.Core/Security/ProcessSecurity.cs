namespace Isolate.Security;

/// <summary>What the command may do: capabilities, no_new_privs, the seccomp filter, its user,
/// and the fds passed on purpose. Applied by the shim after pivot_root, just before execve.</summary>
public sealed record ProcessSecurity
{
    /// <summary>The capability set: bounding, and (for root) permitted and effective.</summary>
    public ulong Capabilities { get; init; } = Security.Capabilities.DockerDefault;

    public bool NoNewPrivileges { get; init; } = true;

    /// <summary>The compiled filter; empty: none (--security-opt seccomp=unconfined).</summary>
    public IReadOnlyList<BpfInstruction> Seccomp { get; init; } = [];

    /// <summary>seccomp(2)'s SECCOMP_FILTER_FLAG_* bits the filter is installed with (LOG,
    /// SPEC_ALLOW; TSYNC is moot: the child has one thread).</summary>
    public uint SeccompFlags { get; init; }

    public const uint SeccompFilterLog = 1u << 1, SeccompFilterSpecAllow = 1u << 2; // the kernel's values

    public ProcessUser User { get; init; } = ProcessUser.Root;

    /// <summary>--preserve-fds N: fds 3 .. 3+N-1 reach the container.</summary>
    public uint PreserveFds { get; init; }

    public int LastCap { get; init; } = 40;

    /// <summary>An OCI bundle's own capability sets, applied for any user (the bounding set
    /// is <see cref="Capabilities"/>); null: docker's rule - root gets the bounding set as
    /// permitted and effective, any other user none.</summary>
    public OciCapabilitySets? OciSets { get; init; }

    /// <summary>Leave the supplementary groups alone (setgroups is denied in a rootless user namespace).</summary>
    public bool KeepGroups { get; init; }
}

/// <summary>process.capabilities' effective, permitted, inheritable and ambient sets.</summary>
public sealed record OciCapabilitySets(ulong Effective, ulong Permitted, ulong Inheritable, ulong Ambient);

/// <summary>One classic BPF instruction (struct sock_filter).</summary>
public readonly record struct BpfInstruction(ushort Code, byte JumpTrue, byte JumpFalse, uint K)
{
    public ulong Packed => Code | ((ulong)JumpTrue << 16) | ((ulong)JumpFalse << 24) | ((ulong)K << 32);
}
