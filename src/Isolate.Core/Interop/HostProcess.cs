namespace Isolate.Interop;

/// <summary>Isolate's own arguments and environment as the kernel holds them: .NET decodes
/// argv and environ at start-up and replaces bytes that are not UTF-8, so the originals are
/// read back from /proc/self/cmdline and /proc/self/environ (Isolate never changes its own
/// environment) and decoded without loss (<see cref="ByteStrings"/>).</summary>
public static class HostProcess
{
    private static Dictionary<string, string>? _environment;
    private static List<string>? _entries;

    /// <summary>argv without argv[0]; <paramref name="decoded"/> (what .NET gave Main) where
    /// /proc cannot be read or disagrees with it on the count.</summary>
    public static string[] Arguments(string[] decoded)
    {
        // .NET puts U+FFFD where a byte was not UTF-8: without one, its strings are exact and
        // the start path reads nothing more
        if (!decoded.Any(a => a.Contains('\uFFFD')))
            return decoded;
        var all = Split("/proc/self/cmdline");
        return all is { Count: > 0 } && all.Count - 1 == decoded.Length ? [.. all.Skip(1)] : decoded;
    }

    /// <summary>A variable of Isolate's own environment, or null.</summary>
    public static string? Variable(string name)
    {
        string? decoded = System.Environment.GetEnvironmentVariable(name);
        if (decoded is null || !decoded.Contains('\uFFFD'))
            return decoded; // exact, as for Arguments
        Load();
        return _environment!.GetValueOrDefault(name);
    }

    /// <summary>Isolate's environment, KEY=VALUE, in the kernel's order.</summary>
    public static IReadOnlyList<string> Environment()
    {
        Load();
        return _entries!;
    }

    private static void Load()
    {
        if (_entries != null)
            return;
        var entries = Split("/proc/self/environ") ?? [.. System.Environment.GetEnvironmentVariables()
            .Cast<System.Collections.DictionaryEntry>().Select(e => $"{e.Key}={e.Value}")];
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string entry in entries)
        {
            int eq = entry.IndexOf('=');
            if (eq > 0)
                map.TryAdd(entry[..eq], entry[(eq + 1)..]); // the first wins, as getenv(3)
        }
        _environment = map;
        _entries = entries;
    }

    private static List<string>? Split(string path)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
        var parts = new List<string>();
        int start = 0;
        for (int i = 0; i < bytes.Length; i++)
        {
            if (bytes[i] != 0)
                continue;
            parts.Add(ByteStrings.Decode(bytes.AsSpan(start, i - start)));
            start = i + 1;
        }
        if (start < bytes.Length)
            parts.Add(ByteStrings.Decode(bytes.AsSpan(start)));
        return parts;
    }
}
