using System.Runtime.InteropServices;
using System.Text;
using Isolate.Interop;
using Isolate.Spec;

namespace Isolate.Rootfs;

/// <summary>The default root is the host's / bound read-only, and a read-only tree takes no
/// new mount points. When a volume, a tmpfs or the working directory names a path the host
/// lacks, the root becomes a layer instead: an overlay of the host's root filesystem whose
/// upper layer is the child's private staging tmpfs, with the host's other mounts bound back
/// onto it read-only. The mount points are made in that upper layer, the layer is made
/// read-only, and nothing is ever written to the host.</summary>
public static class HostLayer
{
    /// <summary>Paths the container gets fresh, writable mounts for (tmpfs): what is missing
    /// under them is made there, with no layer.</summary>
    private static readonly string[] FreshMounts = ["/tmp", "/run", "/dev"];

    /// <summary>The paths in the container that must exist and the host lacks: each volume's
    /// and tmpfs's destination and the working directory. Empty for a --rootfs container.</summary>
    public static IReadOnlyList<string> MissingPaths(ContainerSpec spec)
    {
        if (spec.Rootfs != null)
            return [];
        var wanted = spec.Volumes.Select(v => v.Destination).Concat(spec.Tmpfs.Select(t => t.Destination)).Concat(spec.Links.Select(l => l.Path)).Append(spec.Process.Workdir);
        return [.. wanted.Where(path => path.StartsWith('/') && !FreshMounts.Any(dir => HostScratch.Covers(dir, path)) && Missing(path)).Distinct()];
    }

    private static bool Missing(string path) =>
        FileStat.Follow(path) is null && Marshal.GetLastPInvokeError() == Errno.ENOENT;

    /// <summary>The mounts to bind back onto the layer: the host's mounts that sit directly
    /// on its root filesystem (each is bound with everything below it), shallowest first;
    /// none at or under <paramref name="scratch"/>, which the child covers for staging.</summary>
    public static IReadOnlyList<string> Submounts(string scratch)
    {
        ulong root = FileStat.MountIdOf("/")
            ?? throw IsolateException.FromErrno("stat", "/", Marshal.GetLastPInvokeError());
        byte[] table = SmallFile.ReadAllBytes("/proc/self/mountinfo")
            ?? throw IsolateException.FromErrno("read", "/proc/self/mountinfo", Marshal.GetLastPInvokeError());
        return Parse(table, root)
            .Where(path => path != "/" && !HostScratch.Covers(scratch, path))
            .Distinct()
            .OrderBy(path => path.Count(c => c == '/'))
            .ToList();
    }

    /// <summary>The mount points of /proc/self/mountinfo lines whose parent is <paramref name="parent"/>.</summary>
    public static IEnumerable<string> Parse(byte[] mountinfo, ulong parent)
    {
        foreach (var line in Encoding.Latin1.GetString(mountinfo).Split('\n'))
        {
            // id parent major:minor root mount-point options ...
            var fields = line.Split(' ');
            if (fields.Length < 5 || !ulong.TryParse(fields[1], out ulong owner) || owner != parent)
                continue;
            yield return ByteStrings.Decode(Unescape(Encoding.Latin1.GetBytes(fields[4])));
        }
    }

    /// <summary>mountinfo writes space, tab, newline and backslash as \ooo.</summary>
    private static byte[] Unescape(byte[] field)
    {
        var bytes = new List<byte>(field.Length);
        for (int i = 0; i < field.Length; i++)
        {
            if (field[i] == '\\' && i + 3 < field.Length && IsOctal(field[i + 1]) && IsOctal(field[i + 2]) && IsOctal(field[i + 3]))
            {
                bytes.Add((byte)(((field[i + 1] - '0') << 6) | ((field[i + 2] - '0') << 3) | (field[i + 3] - '0')));
                i += 3;
            }
            else
            {
                bytes.Add(field[i]);
            }
        }
        return [.. bytes];
    }

    private static bool IsOctal(byte b) => b >= '0' && b <= '7';
}
