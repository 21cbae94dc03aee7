using System.Globalization;
using System.Net;

namespace Isolate.Spec;

/// <summary>-p [IP:]HOST:CONTAINER[/tcp|udp]: traffic to the host's port (on HostIp, or on any of
/// the host's own addresses where HostIp is "") reaches the container's.</summary>
public sealed record PortMapping(string HostIp, int HostPort, int ContainerPort, string Protocol)
{
    /// <summary>docker's forms: CONTAINER, HOST:CONTAINER, IP:HOST:CONTAINER, IP::CONTAINER, each
    /// with /tcp or /udp; a host port of 0 (not given) is picked by the caller.</summary>
    public static PortMapping Parse(string value)
    {
        string text = value, protocol = "tcp";
        int slash = value.LastIndexOf('/');
        if (slash >= 0)
        {
            protocol = value[(slash + 1)..];
            text = value[..slash];
            if (protocol is not ("tcp" or "udp"))
                throw Invalid(value, $"'{protocol}' is not a protocol: use tcp or udp");
        }
        int last = text.LastIndexOf(':');
        string containerText = text[(last + 1)..];
        string hostIp = "", hostText = "";
        if (last >= 0)
        {
            string before = text[..last];
            int first = before.LastIndexOf(':');
            hostText = before[(first + 1)..];
            if (first >= 0)
            {
                hostIp = before[..first].Trim('[', ']');
                if (hostIp.Length > 0 && (!IPAddress.TryParse(hostIp, out var ip) || ip.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork))
                    throw Invalid(value, $"'{hostIp}' is not an IPv4 address of the host");
                if (hostIp == "0.0.0.0")
                    hostIp = "";
            }
        }
        int container = Port(value, containerText, "container");
        int host = hostText.Length == 0 || hostText == "0" ? 0 : Port(value, hostText, "host"); // 0: Isolate picks
        return new PortMapping(hostIp, host, container, protocol);
    }

    private static int Port(string value, string text, string which)
    {
        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int port) || port is < 1 or > 65535)
            throw Invalid(value, text.Contains('-') ? "port ranges are not supported: give each port" : $"'{text}' is not a {which} port (1-65535)");
        return port;
    }

    private static IsolateException Invalid(string value, string why) =>
        new($"invalid -p '{value}': {why}; use [IP:]HOST:CONTAINER[/tcp|udp] or CONTAINER");

    /// <summary>docker port's form: "80/tcp -> 0.0.0.0:8080".</summary>
    public override string ToString() =>
        $"{ContainerPort}/{Protocol} -> {(HostIp.Length == 0 ? "0.0.0.0" : HostIp)}:{HostPort}";

    /// <summary>The form <see cref="Parse"/> reads back.</summary>
    public string Canonical => $"{HostIp}:{HostPort}:{ContainerPort}/{Protocol}";
}

/// <summary>What `--network bridge` adds to a container: published ports, its resolv.conf's
/// servers and search domains (empty: the host's), /etc/hosts entries, and the subnet for the
/// bridge if Isolate makes it.</summary>
public sealed record NetworkOptions
{
    public IReadOnlyList<PortMapping> Ports { get; init; } = [];
    public IReadOnlyList<string> Dns { get; init; } = [];
    public IReadOnlyList<string> DnsSearch { get; init; } = [];
    /// <summary>--add-host NAME:IP, as given (checked).</summary>
    public IReadOnlyList<string> AddHosts { get; init; } = [];
    /// <summary>--subnet CIDR; null: the bridge's, or the first free of Isolate's defaults.</summary>
    public string? Subnet { get; init; }

    public bool Any => Ports.Count > 0 || Dns.Count > 0 || DnsSearch.Count > 0 || AddHosts.Count > 0 || Subnet != null;

    /// <summary>--add-host NAME:IP (docker's form; IP may be an IPv6 address).</summary>
    public static string CheckAddHost(string value)
    {
        int colon = value.IndexOf(':');
        string name = colon < 0 ? "" : value[..colon], address = colon < 0 ? "" : value[(colon + 1)..].Trim('[', ']');
        if (name.Length == 0 || name.Any(c => char.IsWhiteSpace(c) || c == '#') || !IPAddress.TryParse(address, out _))
            throw new IsolateException($"invalid --add-host '{value}': use NAME:IP, e.g. db:10.0.0.5");
        return name + ":" + address;
    }

    public static string CheckDns(string value) => IPAddress.TryParse(value, out _)
        ? value
        : throw new IsolateException($"invalid --dns '{value}': give a name server's IP address");

    /// <summary>An IPv4 CIDR: (network address, prefix length), host byte order.</summary>
    public static (uint Network, int Prefix) ParseSubnet(string value)
    {
        int slash = value.IndexOf('/');
        if (slash > 0 && IPAddress.TryParse(value[..slash], out var ip) && ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork
            && int.TryParse(value[(slash + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out int prefix) && prefix is >= 8 and <= 28)
        {
            uint address = HostOrder(ip);
            uint mask = prefix == 0 ? 0 : uint.MaxValue << (32 - prefix);
            return (address & mask, prefix);
        }
        throw new IsolateException($"invalid --subnet '{value}': give an IPv4 network with a prefix of 8 to 28 bits, e.g. 10.99.0.0/16");
    }

    public static uint HostOrder(IPAddress ip)
    {
        var b = ip.GetAddressBytes();
        return (uint)(b[0] << 24 | b[1] << 16 | b[2] << 8 | b[3]);
    }

    public static string Dotted(uint address) =>
        string.Create(CultureInfo.InvariantCulture, $"{address >> 24}.{(address >> 16) & 255}.{(address >> 8) & 255}.{address & 255}");
}
