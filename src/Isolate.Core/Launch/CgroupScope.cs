using Isolate.Cgroups;
using Isolate.Spec;

namespace Isolate.Launch;

/// <summary>A new container's cgroup: whether it gets one, and making it - with its limits,
/// before its child runs, so that a bad limit stops the launch before anything of the
/// user's has run. The one place either face's containers get their cgroup.</summary>
public sealed class CgroupScope : IDisposable
{
    private readonly CgroupReaper? _reaper;

    private CgroupScope(ContainerCgroup? cgroup, CgroupReaper? reaper)
    {
        Cgroup = cgroup;
        _reaper = reaper;
    }

    public ContainerCgroup? Cgroup { get; }

    public int ReaperPid => _reaper?.Pid ?? 0;

    /// <summary>A container has a cgroup unless it was asked to go without one, or the host
    /// has no cgroups and no limit needs one (then making it fails with the reason).</summary>
    public static bool Wanted(ContainerSpec spec, CgroupLayout layout) =>
        spec.Cgroups && (layout.Version != CgroupVersion.None || spec.Resources.Any);

    /// <summary>A foreground container's cgroup, named "{id}.{Isolate's pid}" unless the spec
    /// names it, with the reaper that removes it if Isolate is killed; disposing kills what is
    /// left in it and removes it.</summary>
    /// <param name="network">The container's network directory, which the reaper releases too; null: none.</param>
    public static CgroupScope ForForeground(ContainerSpec spec, Action<string> warn, bool cpuAccounting, string? network = null)
    {
        var layout = CgroupLayout.Detect();
        if (!Wanted(spec, layout))
            return new CgroupScope(null, null);
        if (spec.SystemdSlice is null) // a slice is systemd's to tidy, not Isolate's janitor's
            CgroupJanitor.Sweep(layout, spec.CgroupParent, warn);
        // The reaper learns where the group goes before it exists: a kill at any moment of the
        // creation is covered.
        var placement = new CgroupPlacement(layout, spec.CgroupParent, spec.CgroupName ?? CgroupJanitor.NameFor(spec.Id, Environment.ProcessId));
        var reaper = CgroupReaper.Start(placement.OwnsParent ? placement.ParentDirectories : [], placement.GroupDirectories, spec.LayerDir, network);
        try
        {
            return new CgroupScope(ContainerCgroup.Create(layout, spec.CgroupParent, placement.Name, spec.Resources, warn, cpuAccounting: cpuAccounting)!, reaper);
        }
        catch
        {
            reaper.Dispose();
            throw;
        }
    }

    /// <summary>A created (OCI) container's cgroup, named as its spec says; it outlives Isolate
    /// and `delete` removes it, found through the state (recorded before it is made). On v1 it
    /// is in the cpu, cpuset and blkio hierarchies too, as runc's: `update` may set them.</summary>
    public static ContainerCgroup? ForCreated(ContainerSpec spec, Action<string> warn)
    {
        var layout = CgroupLayout.Detect();
        return Wanted(spec, layout)
            ? ContainerCgroup.Create(layout, spec.CgroupParent, spec.CgroupName ?? spec.Id, spec.Resources, warn, cpuAccounting: false, updatable: true)
            : null;
    }

    /// <summary>Kills what is left in the group and removes it, then dismisses the reaper;
    /// reaping it is <see cref="Reaper"/>'s Dispose, which the launcher leaves until the
    /// container's layer is gone too (the reaper exits meanwhile).</summary>
    public void Dispose()
    {
        if (Cgroup != null)
        {
            Cgroup.KillAll();
            Cgroup.Remove();
        }
        _reaper?.Dismiss();
    }

    /// <summary>The reaper, for the launcher to reap once the scope is disposed; null: none.</summary>
    public CgroupReaper? Reaper => _reaper;
}
