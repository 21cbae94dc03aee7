namespace Isolate.Rootfs;

/// <summary>The child stages things on a private tmpfs (the host root's mount point, an
/// overlay's upper layer) and needs an existing host directory to mount it on. Any will
/// do, because the tmpfs exists only in the child's mount namespace - as long as it does
/// not cover a host path the plan still needs (a --rootfs under /tmp) nor show up inside
/// one (a volume of the host's /).</summary>
public static class HostScratch
{
    private static readonly string[] Candidates = ["/tmp", "/mnt", "/run", "/var/tmp", "/media", "/opt", "/srv"];

    public static string Find(IEnumerable<string> pathsToKeepVisible)
    {
        var keep = pathsToKeepVisible.ToList();
        foreach (string dir in Candidates)
        {
            var info = new DirectoryInfo(dir);
            if (info.Exists && info.LinkTarget is null && !keep.Any(path => Covers(dir, path) || Covers(path, dir)))
                return dir;
        }
        throw new IsolateException(
            $"no directory to stage the container in: each of {string.Join(", ", Candidates)} is missing or holds a path the container needs");
    }

    /// <summary>True when a mount on <paramref name="dir"/> would hide <paramref name="path"/>.</summary>
    public static bool Covers(string dir, string path) =>
        path == dir || path.StartsWith(dir.TrimEnd('/') + "/", StringComparison.Ordinal);
}
