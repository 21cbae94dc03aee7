using Isolate.Security;

namespace Isolate.Spec;

/// <summary>One process to start in a container: its command, environment, directory, user
/// and confinement. A container's own command and every process `exec` adds are each one of
/// these; the container around them is a <see cref="ContainerSpec"/> (as runc keeps
/// configs.Process apart from configs.Config).</summary>
public sealed record ProcessSpec
{
    /// <summary>argv; the first element is looked up in the container's PATH when it has no '/'.</summary>
    public required IReadOnlyList<string> Args { get; init; }

    /// <summary>The complete environment, KEY=VALUE.</summary>
    public required IReadOnlyList<string> Env { get; init; }

    /// <summary>Absolute path inside the container.</summary>
    public string Workdir { get; init; } = "/";

    /// <summary>Its user, capabilities, no_new_privs, seccomp filter and the fds passed on.</summary>
    public ProcessSecurity Security { get; init; } = new();

    /// <summary>--ulimit (process.rlimits): resource limits for the command.</summary>
    public IReadOnlyList<RlimitSpec> Rlimits { get; init; } = [];

    /// <summary>-t (process.terminal): a pseudo-terminal for the process.</summary>
    public bool Tty { get; init; }

    /// <summary>-i: with -t, the caller's input goes to the process's terminal.</summary>
    public bool Interactive { get; init; }

    /// <summary>process.user.umask: the command's file mode creation mask (runc's default, 022,
    /// when absent; the docker face always has 022).</summary>
    public uint Umask { get; init; } = DefaultUmask;

    public const uint DefaultUmask = 0x12; // 022

    /// <summary>process.ioPriority: ioprio_set(2)'s value (class &lt;&lt; 13 | level); null: inherited.</summary>
    public int? IoPriority { get; init; }

    /// <summary>process.scheduler: sched_setattr(2) for the command; null: inherited.</summary>
    public SchedulerSpec? Scheduler { get; init; }

    /// <summary>The value of <paramref name="name"/> in <see cref="Env"/>, or null.</summary>
    public string? Variable(string name) => Plan.EnvironmentBuilder.Lookup(Env, name);
}

/// <summary>A sched_setattr(2) request: SCHED_* policy number, SCHED_FLAG_* bits; runtime,
/// deadline and period in nanoseconds (SCHED_DEADLINE only).</summary>
public sealed record SchedulerSpec(uint Policy, int Nice, uint Priority, ulong Flags, ulong Runtime, ulong Deadline, ulong Period);
