using System.Globalization;
using System.Text.RegularExpressions;

namespace Isolate.Cgroups;

/// <summary>Container cgroups are named "{id}.{pid of the Isolate that made it}". A group whose
/// Isolate is gone was left by a run that died before its reaper could act (killed in the
/// instant between creating the group and starting the reaper, or the machine lost power
/// with /sys/fs/cgroup persisting): the next run removes it, and anything still in it.</summary>
public static partial class CgroupJanitor
{
    public static string NameFor(string containerId, int isolatePid) => $"{containerId}.{isolatePid.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>The names under the parent whose Isolate no longer runs.</summary>
    public static IEnumerable<string> StaleNames(IEnumerable<string> names, Func<int, bool> isolateRunning)
    {
        foreach (string name in names)
        {
            var match = NamePattern().Match(name);
            if (match.Success && !isolateRunning(int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture)))
                yield return name;
        }
    }

    public static void Sweep(CgroupLayout layout, string parent, Action<string> warn, ICgroupFilesystem? fs = null)
    {
        string? primary = layout.Version switch
        {
            CgroupVersion.V2 => layout.UnifiedRoot,
            CgroupVersion.V1 => layout.V1Roots.GetValueOrDefault("freezer") ?? layout.V1Roots.GetValueOrDefault("memory"),
            _ => null,
        };
        if (primary is null)
            return;
        string parentDir = Path.Combine(primary, parent);
        if (!Directory.Exists(parentDir))
            return;
        var names = Directory.EnumerateDirectories(parentDir).Select(Path.GetFileName).OfType<string>();
        foreach (string name in StaleNames(names, IsolateRunning).ToList())
        {
            try
            {
                var cgroup = ContainerCgroup.Open(layout, parent, name, fs);
                cgroup.KillAll();
                cgroup.Remove(); // (the parent stays: this run is about to use it)
            }
            catch (IsolateException e)
            {
                warn($"could not remove the stale cgroup {name} a crashed run left: {e.Message}");
            }
        }
    }

    /// <summary>Alive and an Isolate (comm "isolate", or its reaper): a reused PID of another
    /// program means the group's own Isolate is gone.</summary>
    private static bool IsolateRunning(int pid)
    {
        try
        {
            string comm = File.ReadAllText($"/proc/{pid}/comm").Trim();
            return comm is "isolate" or "isolate-reaper";
        }
        catch (IOException)
        {
            return false;
        }
    }

    [GeneratedRegex(@"^[0-9a-f]{12}\.([0-9]+)$")]
    private static partial Regex NamePattern();
}
