namespace Isolate.Plan;

/// <summary>The container's environment: a sensible default, then the user's -e entries
/// with docker's rules (KEY=VALUE sets, KEY alone copies the host's value if it has one).</summary>
public static class EnvironmentBuilder
{
    public const string DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

    public static IReadOnlyList<string> Build(
        string hostname,
        IEnumerable<string> userEntries,
        Func<string, string?> hostVariable,
        bool terminalAttached,
        string home = "/root")
    {
        var env = new OrderedEnvironment();
        env.Set("PATH", DefaultPath);
        env.Set("HOSTNAME", hostname);
        env.Set("HOME", home);
        if (terminalAttached)
            env.Set("TERM", hostVariable("TERM") is { Length: > 0 } term ? term : "xterm");

        foreach (string entry in userEntries)
        {
            int eq = entry.IndexOf('=');
            string key = eq < 0 ? entry : entry[..eq];
            if (key.Length == 0)
                throw new IsolateException($"invalid --env '{entry}': the variable name is empty; use KEY=VALUE");
            if (entry.Contains('\0'))
                throw new IsolateException($"invalid --env '{key}': it contains a NUL byte");
            if (eq >= 0)
                env.Set(key, entry[(eq + 1)..]);
            else if (hostVariable(key) is { } hostValue)
                env.Set(key, hostValue);
        }
        return env.ToList();
    }

    /// <summary>The value of <paramref name="key"/> in a KEY=VALUE list (the last one wins).</summary>
    public static string? Lookup(IEnumerable<string> env, string key)
    {
        string? value = null;
        string prefix = key + "=";
        foreach (string entry in env)
        {
            if (entry.StartsWith(prefix, StringComparison.Ordinal))
                value = entry[prefix.Length..];
        }
        return value;
    }

    private sealed class OrderedEnvironment
    {
        private readonly List<string> _keys = [];
        private readonly Dictionary<string, string> _values = new(StringComparer.Ordinal);

        public void Set(string key, string value)
        {
            if (!_values.ContainsKey(key))
                _keys.Add(key);
            _values[key] = value;
        }

        public List<string> ToList() => _keys.Select(k => $"{k}={_values[k]}").ToList();
    }
}
