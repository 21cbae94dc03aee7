using Isolate.Spec;

namespace Isolate.Network;

/// <summary>A container's network on `--network bridge`, claimed before the container starts
/// and released when it ends: for root, Isolate's own bridge (<see cref="ContainerNetwork"/>);
/// for another user, slirp4netns (<see cref="UserModeNetwork"/>). Both keep their files
/// (hosts, resolv.conf, ports) in <see cref="Directory"/>, ROOT/containers/ID.</summary>
public interface IContainerNetwork : IDisposable
{
    string Directory { get; }

    /// <summary>The published ports, each host port decided.</summary>
    IReadOnlyList<PortMapping> Ports { get; }

    /// <summary>The directory the cgroup reaper releases if Isolate is killed; null when what
    /// the network holds ends with Isolate by itself.</summary>
    string? ReaperDirectory { get; }

    /// <summary>One --debug line: the address and where it comes from.</summary>
    string Describe();

    /// <summary>The spec with /etc/hosts and /etc/resolv.conf bound from <see cref="Directory"/>.</summary>
    ContainerSpec Apply(ContainerSpec spec);

    /// <summary>At the gate: the container's network namespace (its PID) connected.</summary>
    void Attach(int pid);
}
