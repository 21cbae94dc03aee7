using Isolate.Cgroups;
using Isolate.Plan;
using Isolate.Spec;

namespace Isolate.Docker;

/// <summary>What every docker-face container with a cgroup gets unless it asks otherwise, as
/// docker and podman give it: a device cgroup that denies every device but the standard nodes
/// and the --device ones (docker's default capabilities include CAP_MKNOD: without the
/// cgroup a container could make the node of a host disk and write it), and podman's PID
/// limit. Only where the host has the controller: a host without a devices or pids hierarchy
/// runs the container as before rather than refusing every start. Not for the OCI face: there
/// config.json decides.</summary>
public static class DefaultConfinement
{
    /// <summary>podman's default pids_limit (containers.conf); --pids-limit -1 lifts it.</summary>
    public const long PidsLimit = 2048;

    /// <param name="deviceAllows">One allow rule per --device, with its PERMS (LimitsConverter.Devices).</param>
    /// <param name="privileged">--privileged: every device, as docker's privileged container has;
    /// the rules already in <paramref name="limits"/> (a --device short of rw) stay.</param>
    public static ResourceLimits Apply(ResourceLimits limits, IReadOnlyList<DeviceRule> deviceAllows, bool privileged,
        bool pidsLimitGiven, CgroupLayout layout)
    {
        if (!privileged && HasController(layout, "devices"))
        {
            // Deny all first: on v1 it clears the inherited allow-all. Then the standard nodes,
            // then each --device: the later rule decides, so a --device short of rw keeps its
            // word for a standard node too (/dev/null:/dev/null:r is not writable; docker
            // would let its own default rwm win there) - its deny-and-allow pair, already in
            // the limits, comes last.
            limits = limits with { DeviceRules = [new DeviceRule(false, 'a', null, null, "rwm"), .. DeviceNodes.DefaultCgroupRules, .. deviceAllows, .. limits.DeviceRules] };
        }
        if (!pidsLimitGiven && HasController(layout, "pids"))
            limits = limits with { PidsLimit = PidsLimit };
        return limits;
    }

    /// <summary>v2's device rules are an eBPF program, which needs no controller.</summary>
    private static bool HasController(CgroupLayout layout, string controller) => layout.Version switch
    {
        CgroupVersion.V1 => layout.V1Roots.ContainsKey(controller),
        CgroupVersion.V2 => controller == "devices"
            || (Interop.SmallFile.Read(Path.Combine(layout.UnifiedRoot!, "cgroup.controllers")) ?? "")
                .Split((char[])[' ', '\n'], StringSplitOptions.RemoveEmptyEntries).Contains(controller),
        _ => false,
    };
}
