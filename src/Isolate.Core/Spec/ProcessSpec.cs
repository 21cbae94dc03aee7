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

    /// <summary>The value of <paramref name="name"/> in <see cref="Env"/>, or null.</summary>
    public string? Variable(string name) => Plan.EnvironmentBuilder.Lookup(Env, name);
}
