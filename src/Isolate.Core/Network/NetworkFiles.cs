using System.Text;
using Isolate.Interop;
using Isolate.Spec;

namespace Isolate.Network;

/// <summary>A bridged container's /etc/hosts and /etc/resolv.conf, as docker writes them.</summary>
public static class NetworkFiles
{
    /// <summary>The spec with /etc/hosts and /etc/resolv.conf bound from <paramref name="directory"/>
    /// (unless a -v of the user's own takes that place).</summary>
    public static ContainerSpec Bind(ContainerSpec spec, string directory)
    {
        var volumes = spec.Volumes.ToList();
        foreach (var (file, target) in new[] { ("hosts", "/etc/hosts"), ("resolv.conf", "/etc/resolv.conf") })
        {
            if (!volumes.Any(v => v.Destination == target))
                volumes.Add(new VolumeSpec(Path.Combine(directory, file), target, ReadOnly: false, SourceIsFile: true));
        }
        return spec with { Volumes = volumes };
    }

    /// <summary>localhost, the container's own name on its address, then each --add-host.</summary>
    public static string Hosts(string hostname, string address, IReadOnlyList<string> addHosts)
    {
        var text = new StringBuilder();
        text.Append("127.0.0.1\tlocalhost\n");
        text.Append("::1\tlocalhost ip6-localhost ip6-loopback\n");
        if (hostname.Length > 0)
            text.Append(address).Append('\t').Append(hostname).Append('\n');
        foreach (string entry in addHosts)
        {
            int colon = entry.IndexOf(':');
            text.Append(entry[(colon + 1)..]).Append('\t').Append(entry[..colon]).Append('\n');
        }
        return text.ToString();
    }

    /// <summary>--dns and --dns-search where given, else the host's servers and search list.
    /// A server on the host's loopback (systemd-resolved's 127.0.0.53, a local dnsmasq) cannot
    /// be reached from the container's namespace: it is left out, and systemd-resolved's list
    /// of upstream servers is used where there is one, as docker does.</summary>
    public static string ResolvConf(IReadOnlyList<string> dns, IReadOnlyList<string> search, Action<string> warn)
    {
        var host = Parse(SmallFile.Read("/etc/resolv.conf") ?? "");
        if (host.Servers.Count > 0 && host.Servers.All(IsLoopback) && SmallFile.Read("/run/systemd/resolve/resolv.conf") is { } upstream)
            host = Parse(upstream) with { Search = host.Search, Options = host.Options };
        var servers = dns.Count > 0 ? dns : host.Servers.Where(s => !IsLoopback(s)).ToList();
        if (servers.Count == 0)
            warn(host.Servers.Count > 0
                ? $"--network bridge: the host's name servers ({string.Join(", ", host.Servers)}) are on its loopback, out of the container's reach; give --dns"
                : "--network bridge: the host has no name server in /etc/resolv.conf; give --dns");
        var text = new StringBuilder();
        var domains = search.Count > 0 ? search : host.Search;
        if (domains.Count > 0)
            text.Append("search ").AppendJoin(' ', domains).Append('\n');
        foreach (string server in servers)
            text.Append("nameserver ").Append(server).Append('\n');
        if (host.Options.Count > 0)
            text.Append("options ").AppendJoin(' ', host.Options).Append('\n');
        return text.ToString();
    }

    private sealed record Resolver(List<string> Servers, List<string> Search, List<string> Options);

    private static Resolver Parse(string text)
    {
        var resolver = new Resolver([], [], []);
        foreach (string raw in text.Split('\n'))
        {
            var words = raw.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
            if (words.Length < 2 || words[0].StartsWith('#') || words[0].StartsWith(';'))
                continue;
            switch (words[0])
            {
                case "nameserver": resolver.Servers.Add(words[1]); break;
                case "search" or "domain": resolver.Search.Clear(); resolver.Search.AddRange(words.Skip(1)); break;
                case "options": resolver.Options.AddRange(words.Skip(1)); break;
            }
        }
        return resolver;
    }

    private static bool IsLoopback(string server) => server.StartsWith("127.", StringComparison.Ordinal) || server == "::1";
}
