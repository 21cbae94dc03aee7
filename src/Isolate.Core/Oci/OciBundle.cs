using Isolate.Interop;
using Isolate.Security;
using Isolate.Spec;

namespace Isolate.Oci;

/// <summary>An OCI bundle read and checked: the container as Isolate runs it, and what of
/// config.json lies outside <see cref="ContainerSpec"/> (hooks, annotations, the cgroup's
/// own name, sysctls, namespaces to join).</summary>
public sealed record OciBundle
{
    /// <summary>The bundle directory, absolute.</summary>
    public required string BundleDir { get; init; }

    public required ContainerSpec Spec { get; init; }

    /// <summary>process.terminal: the container gets a pseudo-terminal (its master goes to --console-socket).</summary>
    public bool Terminal { get; init; }

    /// <summary>process.consoleSize, when given.</summary>
    public (ushort Rows, ushort Cols)? ConsoleSize { get; init; }

    public IReadOnlyDictionary<string, string> Annotations { get; init; } = new Dictionary<string, string>();

    public OciHooks Hooks { get; init; } = new();

    /// <summary>Where the container's cgroup goes, relative to each hierarchy's root ("" : the root itself).</summary>
    public string CgroupParent { get; init; } = "isolate";

    /// <summary>The container's cgroup's own name.</summary>
    public string CgroupName { get; init; } = "";

    /// <summary>linux.sysctl: names as given ("net.ipv4.ip_forward"), checked to be namespaced.</summary>
    public IReadOnlyDictionary<string, string> Sysctl { get; init; } = new Dictionary<string, string>();

    public string OciVersion { get; init; } = "";

    /// <summary>Namespaces given with a path, to join rather than create: (type as config.json
    /// names it - pid, network, ipc, uts, cgroup - and the absolute path of the namespace file).</summary>
    public IReadOnlyList<(string Type, string Path)> JoinNamespaces { get; init; } = [];
}

/// <summary>Facts about the host a bundle is checked against: who runs Isolate, and the last
/// capability the kernel knows.</summary>
internal sealed record OciHost(uint Euid, uint Egid, int LastCap)
{
    public static OciHost Current() => new(HostIdentity.EffectiveUserId, HostIdentity.EffectiveGroupId, Capabilities.LastCap());

    public bool Rootless => Euid != 0;

    /// <summary>--systemd-cgroup: linux.cgroupsPath is runc's "slice:prefix:name", a scope systemd makes.</summary>
    public bool SystemdCgroup { get; init; }
}
