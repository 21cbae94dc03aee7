using System.Globalization;
using System.Text.RegularExpressions;

namespace Isolate.Cgroups;

/// <summary>A container group is "{id}.{pid of its Isolate}", and its Isolate holds an flock on
/// it (CgroupLock). A group under the parent that nobody holds was left by a run that died
/// before its reaper could act (killed in the instant before the reaper started, or the
/// machine lost power with /sys/fs/cgroup persisting): the next run removes it and anything
/// still in it. Liveness is the lock, not the PID: it holds for a renamed binary and across
/// PID namespaces.</summary>
public static partial class CgroupJanitor
{
    public static string NameFor(string containerId, int isolatePid) => $"{containerId}.{isolatePid.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>Names that follow Isolate's pattern: nothing else under a parent is touched.</summary>
    public static IEnumerable<string> Candidates(IEnumerable<string> names) => names.Where(n => NamePattern().IsMatch(n));

    /// <summary>Never fails the run: what cannot be cleaned now is left for a later one, with a warning.</summary>
    public static void Sweep(CgroupLayout layout, string parent, Action<string> warn, ICgroupFilesystem? fs = null)
    {
        var placement = new CgroupPlacement(layout, parent, "");
        bool removed = false;
        try
        {
            var names = placement.ParentDirectories.SelectMany(List).Distinct().ToList();
            foreach (string name in Candidates(names))
            {
                var dirs = new CgroupPlacement(layout, parent, name).GroupDirectories.Where(Directory.Exists).ToList();
                if (dirs.Count == 0 || dirs.Any(Young) || dirs.Any(CgroupLock.IsHeld))
                    continue; // gone meanwhile, being made right now, or alive
                var cgroup = ContainerCgroup.Open(layout, parent, name, fs);
                cgroup.KillAll();
                cgroup.Remove();
                removed = true;
            }
            if (removed)
                placement.RemoveEmptyParents(fs); // also in hierarchies this run will not use
        }
        catch (Exception e) when (e is IsolateException or IOException or UnauthorizedAccessException)
        {
            warn($"could not remove a stale cgroup under {parent} that a crashed run left: {(e is IsolateException ? e.Message : ErrorText.Of(e))}");
        }
    }

    /// <summary>Made in the last 30 s: its Isolate may not have locked it yet (between mkdir and
    /// flock). A group left by a crash is removed by a run at least that much later.</summary>
    private static bool Young(string dir) => DateTime.UtcNow - Directory.GetLastWriteTimeUtc(dir) < MinimumAge;

    public static readonly TimeSpan MinimumAge = TimeSpan.FromSeconds(30);

    private static IEnumerable<string> List(string dir)
    {
        // the usual case, the last run having removed its parent: no exception to throw and
        // catch (the first of a process costs it about half a millisecond)
        if (!Directory.Exists(dir))
            return [];
        try
        {
            return Directory.EnumerateDirectories(dir).Select(Path.GetFileName).OfType<string>().ToList();
        }
        catch (DirectoryNotFoundException)
        {
            return []; // no parent (yet, or any more)
        }
    }

    [GeneratedRegex(@"^[0-9a-f]{12}\.[0-9]+$")]
    private static partial Regex NamePattern();
}
