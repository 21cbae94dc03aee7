namespace Isolate.Cgroups;

/// <summary>Where a container's group goes on this host, known before anything is created: the
/// reaper is told these directories first, so a kill at any moment of the creation is covered.</summary>
public sealed record CgroupPlacement(CgroupLayout Layout, string Parent, string Name)
{
    public IReadOnlyList<string> HierarchyRoots => Layout.Version switch
    {
        CgroupVersion.V2 => [Layout.UnifiedRoot!],
        CgroupVersion.V1 => Layout.V1Roots.Values.Distinct().Order(StringComparer.Ordinal).ToList(),
        _ => [],
    };

    /// <summary>The parent level in every hierarchy.</summary>
    public IReadOnlyList<string> ParentDirectories => HierarchyRoots.Select(r => Path.Combine(r, Parent)).ToList();

    /// <summary>Every directory the group may get (a superset on v1: one per hierarchy).</summary>
    public IReadOnlyList<string> GroupDirectories => HierarchyRoots.Select(r => Path.Combine(r, Parent, Name)).ToList();

    public bool OwnsParent => Parent == ContainerCgroup.DefaultParent;

    /// <summary>Removes Isolate's own parent level wherever it is empty; busy means in use.</summary>
    public void RemoveEmptyParents(ICgroupFilesystem? fs = null)
    {
        if (!OwnsParent)
            return;
        foreach (string dir in ParentDirectories)
            ContainerCgroup.TryRemove(fs ?? CgroupFilesystem.Instance, dir);
    }
}
