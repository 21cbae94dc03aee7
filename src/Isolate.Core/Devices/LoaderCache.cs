using Isolate.Interop;
using Isolate.Plan;
using Isolate.Spec;

namespace Isolate.Devices;

/// <summary>The container's side of a driver's libraries, what the NVIDIA toolkit's
/// update-ldcache hook does with the container's ldconfig: the libraries mounted in
/// <see cref="ContainerSpec.LibraryDirs"/> are added to the container's own ld.so cache (the
/// one its root has, rewritten with them), and an ld.so.conf.d entry names their directories,
/// so a later ldconfig in the container keeps them. Written into the container's own
/// copy-on-write layer by the mount plan: the root itself is never changed, and a root without
/// such a layer (--read-only, --no-overlay) keeps its cache; the libraries are then found where
/// the loader looks by default (their soname links are made either way). An OCI bundle's root,
/// the engine's own copy, is written as the toolkit's hook would write it.</summary>
public static class LoaderCache
{
    public const string ConfFile = "/etc/ld.so.conf.d/000-isolate-gpu.conf";
    public const string CacheFile = "/etc/ld.so.cache";

    public static IReadOnlyList<MountOp> Ops(ContainerSpec spec)
    {
        // an OCI bundle's root is the engine's copy for this container (podman's, containerd's
        // overlay), written as the toolkit's createContainer hook writes it, before root.readonly
        // takes effect; a docker-style run's only through its own layer
        bool bundle = spec.Mounts != null;
        if (spec.LibraryDirs.Count == 0 || spec.Rootfs is null || (!bundle && (spec.ReadOnlyRoot || spec.RootfsWrites != RootfsWrites.CopyOnWrite)))
            return [];
        var added = new List<SharedLibraries.CacheEntry>();
        var files = spec.Volumes.Where(v => v.SourceIsFile).Select(v => (v.Source, v.Destination))
            .Concat((spec.Mounts ?? []).Where(m => m.IsBind && m.SourceIsFile).Select(m => (m.Source, m.Destination)));
        foreach (var (source, destination) in files.Where(f => spec.LibraryDirs.Contains(Path.GetDirectoryName(f.Destination)!)))
        {
            if (SharedLibraries.Soname(source) is { } soname && !soname.Contains('/') && added.All(a => a.Name != soname))
                added.Add(new SharedLibraries.CacheEntry(soname, $"{Path.GetDirectoryName(destination)}/{soname}", 0x0303));
        }
        if (added.Count == 0)
            return [];
        var existing = ContainerFiles.ReadBytes(spec.Rootfs, spec.LowerLayers, CacheFile) is { } bytes ? SharedLibraries.ReadCache(bytes) : [];
        // the driver's library wins over one of the same name in the image (a CUDA stub)
        var entries = existing.Where(e => !(e.IsX8664 && added.Any(a => a.Name == e.Name))).Concat(added);
        return
        [
            MountOp.MakeDirInRoot("/etc/ld.so.conf.d"),
            MountOp.WriteFile(ConfFile, System.Text.Encoding.UTF8.GetBytes(string.Concat(spec.LibraryDirs.Select(d => d + "\n")))),
            MountOp.WriteFile(CacheFile, SharedLibraries.WriteCache(entries)),
        ];
    }
}
