namespace Isolate.Tests.Support;

/// <summary>What the host's /proc says about processes.</summary>
public static class HostProcesses
{
    public static IEnumerable<int> All() =>
        Directory.EnumerateDirectories("/proc")
            .Select(d => int.TryParse(System.IO.Path.GetFileName(d), out int pid) ? pid : 0)
            .Where(pid => pid > 0);

    public static int? ParentOf(int pid)
    {
        try
        {
            string stat = File.ReadAllText($"/proc/{pid}/stat");
            // pid (comm) state ppid ...; comm may contain spaces and parentheses
            string[] rest = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return int.Parse(rest[1]);
        }
        catch (IOException)
        {
            return null;
        }
    }

    public static List<int> ChildrenOf(int pid) => All().Where(p => ParentOf(p) == pid).ToList();

    public static string? PidNamespace(int pid)
    {
        try
        {
            return new FileInfo($"/proc/{pid}/ns/pid").LinkTarget;
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>The running test's processes in a PID namespace other than ours: its
    /// containers', if any is left. Only the test's own (<see cref="TestScope"/>): other
    /// containers may be running on this host meanwhile.</summary>
    public static List<int> OfThisTestInOtherPidNamespaces() =>
        (TestScope.Current ?? throw new InvalidOperationException("no container test is running on this flow")).ContainerProcesses();

    /// <summary>"pid:start time": one process, not a later one that reuses its PID.</summary>
    public static string? Identity(int pid)
    {
        try
        {
            string stat = File.ReadAllText($"/proc/{pid}/stat");
            // after "(comm) ": state is field 3, start time field 22
            return $"{pid}:{stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[19]}";
        }
        catch (IOException)
        {
            return null;
        }
    }

    public static string? CommandLine(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ');
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }

    public static bool Exists(int pid) => Directory.Exists($"/proc/{pid}") && !IsZombie(pid);

    private static bool IsZombie(int pid)
    {
        try
        {
            string stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)] == 'Z';
        }
        catch (IOException)
        {
            return false;
        }
    }

    public static string? Comm(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/comm").Trim();
        }
        catch (IOException)
        {
            return null;
        }
    }

    public static void WaitUntilGone(int pid, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (Exists(pid) && DateTime.UtcNow < deadline)
            Thread.Sleep(10);
    }
}
