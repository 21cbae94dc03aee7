namespace Isolate.Rootfs;

/// <summary>For the host-root default the child needs a directory to mount a private
/// tmpfs on (it holds the new root's mount point). Any existing host directory will
/// do, because the tmpfs exists only in the child's mount namespace.</summary>
public static class HostScratch
{
    private static readonly string[] Candidates = ["/tmp", "/mnt", "/run", "/var/tmp", "/media", "/opt"];

    public static string Find()
    {
        foreach (string dir in Candidates)
        {
            var info = new DirectoryInfo(dir);
            if (info.Exists && info.LinkTarget is null)
                return dir;
        }
        throw new IsolateException(
            $"no directory to stage the host root in: none of {string.Join(", ", Candidates)} is a real directory; create /tmp or use --rootfs DIR");
    }
}
