using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.InteropServices;
using Isolate.Cgroups;
using Isolate.Interop;
using Isolate.Spec;
using static Isolate.Interop.LockFlags;
using static Isolate.Interop.OpenFlags;

namespace Isolate.Network;

/// <summary>One container's place on the bridge (--network bridge): an address leased from the
/// bridge's subnet, its published ports, its /etc/hosts and /etc/resolv.conf, its NAT table, and
/// at the gate a veth pair into its network namespace. Everything lives in one directory,
/// ROOT/containers/ID, which the owning Isolate holds locked (flock) for the container's life:
/// <list type="bullet">
/// <item>ROOT/leases/ADDRESS and ROOT/ports/PROTO-PORT are symlinks to the ID that holds them;
/// one whose container directory is gone is free.</item>
/// <item>a container directory nobody holds (its Isolate was killed, and its reaper too) is
/// released by the next claim; the reaper releases it at once.</item>
/// <item>claims and releases take ROOT/lock, so two starts never get one address.</item>
/// </list>
/// The links, the addresses and the nf_tables rules are made over netlink by the shim
/// (native/netlink.c): no ip, iptables or nft binary is used.</summary>
public sealed unsafe class ContainerNetwork : IContainerNetwork
{
    /// <summary>The bridge every container on `--network bridge` joins.</summary>
    public const string Bridge = "isolate0";

    /// <summary>Where leases, published ports and each container's network files live (a tmpfs:
    /// none of it outlives a reboot, as none of the links do). A non-root caller's is under its
    /// own state root (slirp4netns: <see cref="UserModeNetwork"/>).</summary>
    public static string Root => Libc.GetEffectiveUserId() == 0 ? "/run/isolate/network" : Path.Combine(State.StateStore.DefaultRoot(), "network");

    /// <summary>Subnets tried in order for a new bridge: the first no host route overlaps.</summary>
    private static readonly string[] DefaultSubnets = ["10.99.0.0/16", "10.98.0.0/16", "10.97.0.0/16", "172.30.0.0/16", "192.168.199.0/24"];

    private readonly FileDescriptor _held;
    private readonly Action<string> _warn;
    private bool _released;

    private ContainerNetwork(FileDescriptor held, Action<string> warn, string directory, uint address, uint gateway, int prefix, string hostLink, IReadOnlyList<PortMapping> ports)
    {
        _held = held;
        _warn = warn;
        Directory = directory;
        Address = address;
        Gateway = gateway;
        Prefix = prefix;
        HostLink = hostLink;
        Ports = ports;
    }

    /// <summary>ROOT/containers/ID.</summary>
    public string Directory { get; }

    /// <summary>The container's address and its gateway (the bridge's), host byte order.</summary>
    public uint Address { get; }
    public uint Gateway { get; }
    public int Prefix { get; }

    /// <summary>The host's end of the container's veth pair.</summary>
    public string HostLink { get; }

    /// <summary>The published ports, each host port decided (one -p CONTAINER asked Isolate to pick).</summary>
    public IReadOnlyList<PortMapping> Ports { get; }

    public static string DirectoryOf(string id) => Path.Combine(Root, "containers", id);

    /// <summary>The ports a running container published (`isolate port`, ps), from its network
    /// directory; empty when it has none.</summary>
    public static IReadOnlyList<PortMapping> PublishedBy(string id)
    {
        string? text = SmallFile.Read(Path.Combine(DirectoryOf(id), "ports"));
        return text is null ? [] : [.. text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(PortMapping.Parse)];
    }

    public string? ReaperDirectory => Directory;

    public string Describe() => $"{Bridge}, {NetworkOptions.Dotted(Address)}/{Prefix} on {HostLink}";

    /// <summary>The container's network, claimed before anything of it runs: null unless its
    /// spec asks for the bridge; slirp4netns's for a non-root caller (its user namespace is
    /// the container's: it cannot make links or NAT rules in the host's).</summary>
    public static IContainerNetwork? Claim(ContainerSpec spec, Action<string> warn)
    {
        if (spec.Network != NetworkMode.Bridge)
            return null;
        if (spec.UserNamespace is { Rootless: true })
            return UserModeNetwork.Claim(spec, warn);
        using var rootLock = LockRoot("leases", "ports");
        Sweep(warn);
        var (network, prefix) = BridgeSubnet(spec.NetworkOptions.Subnet, warn);
        string directory = DirectoryOf(spec.Id);
        var held = MakeHeldDirectory(directory, spec.Id);
        try
        {
            var ports = spec.NetworkOptions.Ports.Select(p => ClaimPort(p, spec.Id)).ToList();
            uint address = ClaimAddress(network, prefix, spec.Id, directory);
            string hostLink = HostLinkOf(address);
            Link(Path.Combine(Root, "leases", NetworkOptions.Dotted(address)), Path.Combine(directory, "lease"));
            Link(hostLink, Path.Combine(directory, "veth"));
            File.WriteAllText(Path.Combine(directory, "ports"), string.Concat(ports.Select(p => p.Canonical + "\n")));
            File.WriteAllText(Path.Combine(directory, "hosts"), NetworkFiles.Hosts(spec.Hostname, NetworkOptions.Dotted(address), spec.NetworkOptions.AddHosts));
            File.WriteAllText(Path.Combine(directory, "resolv.conf"), NetworkFiles.ResolvConf(spec.NetworkOptions.Dns, spec.NetworkOptions.DnsSearch, warn));
            var native = stackalloc ShimPort[Math.Max(ports.Count, 1)];
            for (int i = 0; i < ports.Count; i++)
            {
                native[i] = new ShimPort
                {
                    HostAddr = HostAddressOf(ports[i]),
                    HostPort = (ushort)ports[i].HostPort,
                    ContainerPort = (ushort)ports[i].ContainerPort,
                    Protocol = ports[i].Protocol == "udp" ? 17u : 6u,
                };
            }
            int rc = Shim.NftContainer(TableOf(spec.Id), Bridge, NetworkOrder(address), native, (uint)ports.Count);
            if (rc < 0)
                throw -rc is Errno.EPROTONOSUPPORT or Errno.ENOENT or Errno.EOPNOTSUPP
                    ? new IsolateException("--network bridge: this kernel has no nftables NAT (nf_tables with nft_nat, nft_masq and nft_fib), which Isolate needs for the container's traffic")
                    : IsolateException.FromErrno("--network bridge: set up the container's NAT rules (nf_tables)", null, -rc);
            return new ContainerNetwork(held.OpenUntilExitIfForgotten(), warn, directory, address, network + 1, prefix, hostLink, ports);
        }
        catch
        {
            Shim.NetRelease(directory, 0);
            held.Dispose();
            throw;
        }
    }

    /// <summary>ROOT, ROOT/containers and the <paramref name="more"/> directories made, and
    /// ROOT/lock taken (exclusive): claims and sweeps hold it, so no two starts take one
    /// address or port, and no sweep takes a directory being claimed.</summary>
    internal static FileDescriptor LockRoot(params string[] more)
    {
        foreach (string dir in more.Prepend("containers"))
            System.IO.Directory.CreateDirectory(Path.Combine(Root, dir));
        var rootLock = FileDescriptor.Open(Path.Combine(Root, "lock"), O_RDWR | O_CREAT, 0x180);
        if (rootLock.IsInvalid || Libc.Flock(rootLock, LOCK_EX) < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            rootLock.Dispose();
            throw IsolateException.FromErrno($"lock {Root}/lock", null, errno);
        }
        return rootLock;
    }

    /// <summary>The container's network directory made (0700) and held: flock'd for as long as
    /// the returned descriptor is open, which is how sweeps tell a live container's.</summary>
    internal static FileDescriptor MakeHeldDirectory(string directory, string id)
    {
        if (Libc.Mkdir(directory, 0x1C0) < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw errno == Errno.EEXIST
                ? new IsolateException($"container {id} has a network already ({directory}): give another --name")
                : IsolateException.FromErrno($"make {directory}", null, errno);
        }
        var held = FileDescriptor.Open(directory, O_RDONLY | O_DIRECTORY);
        if (held.IsInvalid || Libc.Flock(held, LOCK_EX | LOCK_NB) < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            held.Dispose();
            System.IO.Directory.Delete(directory);
            throw IsolateException.FromErrno($"lock {directory}", null, errno);
        }
        return held;
    }

    /// <summary>A host port to publish, free now (-p CONTAINER: one the kernel picks); the
    /// port, or a one-line error naming why not.</summary>
    internal static int CheckHostPort(PortMapping port)
    {
        int rc = Shim.NetPortCheck(port.Protocol == "udp" ? (byte)17 : (byte)6, HostAddressOf(port), (ushort)port.HostPort);
        if (rc >= 0)
            return rc;
        string option = "-p " + port.Canonical.TrimStart(':');
        throw -rc switch
        {
            Errno.EADDRINUSE => new IsolateException($"{option}: host port {port.HostPort}/{port.Protocol} is in use by a process on the host; choose another"),
            Errno.EACCES => new IsolateException($"{option}: a non-root user cannot publish host port {port.HostPort} (below net.ipv4.ip_unprivileged_port_start, {SmallFile.Read("/proc/sys/net/ipv4/ip_unprivileged_port_start")?.Trim() ?? "1024"}); choose a higher one"),
            Errno.EADDRNOTAVAIL => new IsolateException($"-p {port.Canonical}: {port.HostIp} is not one of this host's addresses"),
            _ => IsolateException.FromErrno($"-p {port.Canonical}: check host port {port.HostPort}/{port.Protocol}", null, -rc),
        };
    }

    /// <summary>-p's IP in network byte order (0: every host address).</summary>
    internal static uint HostAddressOf(PortMapping port) =>
        port.HostIp.Length == 0 ? 0 : NetworkOrder(NetworkOptions.HostOrder(System.Net.IPAddress.Parse(port.HostIp)));

    /// <summary>The nf_tables table of a container's NAT rules (family ip).</summary>
    public static string TableOf(string id) => "isolate-" + id;

    /// <summary>At the gate: the veth pair, eth0 inside with the container's address and a default route.</summary>
    public void Attach(int pid)
    {
        int step;
        int rc = Shim.NetVeth(Bridge, HostLink, pid, NetworkOrder(Address), (uint)Prefix, NetworkOrder(Gateway), &step);
        if (rc < 0)
            throw IsolateException.FromErrno(step switch
            {
                1 => "--network bridge: open the container's network namespace",
                2 => $"--network bridge: find the bridge {Bridge}",
                3 => $"--network bridge: make the veth pair {HostLink} on {Bridge}",
                _ => $"--network bridge: give the container's eth0 {NetworkOptions.Dotted(Address)}/{Prefix} and a route via {NetworkOptions.Dotted(Gateway)}",
            }, null, -rc);
    }

    /// <summary>The spec with /etc/hosts and /etc/resolv.conf bound from the network directory
    /// (unless a -v of the user's own takes that place).</summary>
    public ContainerSpec Apply(ContainerSpec spec) => NetworkFiles.Bind(spec, Directory);

    /// <summary>Releases the network: the veth (if the namespace has not taken it with it), the
    /// NAT table, the lease, the ports, the directory. A failure is a warning: the container's
    /// own status stays what Isolate exits with, and the next claim's sweep retries.</summary>
    public void Dispose()
    {
        if (_released)
            return;
        _released = true;
        int rc = Shim.NetRelease(Directory, 1);
        _held.Dispose();
        if (rc < 0)
            _warn($"--network bridge: could not release {Directory} ({IsolateException.Describe(-rc)}); the next bridged start retries");
    }

    /// <summary>The container directories no Isolate holds: theirs was killed (with its reaper).</summary>
    internal static IEnumerable<string> Abandoned() =>
        System.IO.Directory.EnumerateDirectories(Path.Combine(Root, "containers")).Where(dir => !CgroupLock.IsHeld(dir));

    /// <summary>Releases every container directory no Isolate holds.</summary>
    private static void Sweep(Action<string> warn)
    {
        foreach (string dir in Abandoned())
        {
            int rc = Shim.NetRelease(dir, 0);
            if (rc < 0)
                warn($"could not release the network of a container whose Isolate is gone ({dir}): {IsolateException.Describe(-rc)}");
        }
    }

    /// <summary>A symlink named <paramref name="path"/> to <paramref name="target"/> (which need not exist).</summary>
    private static void Link(string target, string path)
    {
        if (Libc.Symlink(target, path) < 0)
            throw IsolateException.FromErrno($"make {path}", null, Marshal.GetLastPInvokeError());
    }

    /// <summary>A claim on ROOT/KIND/NAME for id: true when made; false when another live
    /// container holds it. A claim whose container directory is gone is taken over.</summary>
    private static bool TryClaim(string path, string id)
    {
        for (int attempt = 0; attempt < 2; attempt++)
        {
            if (Libc.Symlink(id, path) == 0)
                return true;
            int errno = Marshal.GetLastPInvokeError();
            if (errno != Errno.EEXIST)
                throw IsolateException.FromErrno($"make {path}", null, errno);
            var holder = new FileInfo(path).LinkTarget;
            if (holder != null && System.IO.Directory.Exists(DirectoryOf(holder)))
                return false;
            Libc.Unlink(path); // its container is gone
        }
        return false;
    }

    private static PortMapping ClaimPort(PortMapping port, string id)
    {
        for (int pick = 0; pick < 64; pick++)
        {
            int rc = CheckHostPort(port);
            var claimed = port with { HostPort = rc };
            if (TryClaim(Path.Combine(Root, "ports", $"{port.Protocol}-{rc}"), id))
                return claimed;
            if (port.HostPort != 0)
                throw new IsolateException($"-p {port.Canonical.TrimStart(':')}: host port {port.HostPort}/{port.Protocol} is published by container {new FileInfo(Path.Combine(Root, "ports", $"{port.Protocol}-{rc}")).LinkTarget}; choose another");
        }
        throw new IsolateException($"-p {port.ContainerPort}/{port.Protocol}: found no free host port");
    }

    /// <summary>The host's end of the veth pair of the container at <paramref name="address"/>.</summary>
    private static string HostLinkOf(uint address) => "iso" + address.ToString("x8", CultureInfo.InvariantCulture);

    private static uint ClaimAddress(uint network, int prefix, string id, string directory)
    {
        uint size = 1u << (32 - prefix);
        for (uint host = 2; host < size - 1; host++)
        {
            // the host end of a former holder's veth pair: its namespace is still going away
            // (the kernel removes the pair with it), or something holds it and the address
            if (System.IO.Directory.Exists("/sys/class/net/" + HostLinkOf(network + host)))
                continue;
            if (TryClaim(Path.Combine(Root, "leases", NetworkOptions.Dotted(network + host)), id))
                return network + host;
        }
        throw new IsolateException($"--network bridge: no free address left in {NetworkOptions.Dotted(network)}/{prefix} ({directory}'s claim failed); stop a container or make the bridge with a larger --subnet");
    }

    /// <summary>The bridge's subnet: the one on it, or for a new bridge --subnet or the first
    /// default no host route overlaps. A new bridge gets the subnet's first address.</summary>
    private static (uint Network, int Prefix) BridgeSubnet(string? wanted, Action<string> warn)
    {
        uint address, prefixBits;
        int rc = Shim.NetAddress(Bridge, &address, &prefixBits);
        var asked = wanted is null ? ((uint, int)?)null : NetworkOptions.ParseSubnet(wanted);
        if (rc == 0)
        {
            int prefix = (int)prefixBits;
            uint network = HostOrder(address) & Mask(prefix);
            if (asked is { } a && (a.Item1 != network || a.Item2 != prefix))
                throw new IsolateException($"--subnet {wanted}: the bridge {Bridge} exists with {NetworkOptions.Dotted(network)}/{prefix}; drop --subnet, or remove the bridge (ip link delete {Bridge}) when no container uses it");
            Forwarding(warn);
            return (network, prefix);
        }
        if (rc != -Errno.ENODEV && rc != -Errno.EADDRNOTAVAIL)
            throw IsolateException.FromErrno($"--network bridge: read the address of {Bridge}", null, -rc);
        var routes = HostRoutes();
        (uint, int)? chosen = null;
        foreach (var candidate in asked is { } given ? [given] : DefaultSubnets.Select(NetworkOptions.ParseSubnet))
        {
            if (routes.FirstOrDefault(r => Overlaps(r.Network, r.Prefix, candidate.Item1, candidate.Item2)) is { Link: not null } clash)
            {
                if (asked != null)
                    throw new IsolateException($"--subnet {wanted}: it overlaps the host's route to {NetworkOptions.Dotted(clash.Network)}/{clash.Prefix} on {clash.Link}; choose another");
                continue;
            }
            chosen = candidate;
            break;
        }
        if (chosen is not { } c)
            throw new IsolateException($"--network bridge: every default subnet ({string.Join(", ", DefaultSubnets)}) overlaps a host route; give one with --subnet");
        rc = Shim.NetBridge(Bridge, NetworkOrder(c.Item1 + 1), (uint)c.Item2);
        if (rc < 0)
            throw IsolateException.FromErrno($"--network bridge: make the bridge {Bridge} with {NetworkOptions.Dotted(c.Item1 + 1)}/{c.Item2}", null, -rc);
        Forwarding(warn);
        return c;
    }

    /// <summary>IPv4 forwarding on (the container's traffic is routed), and route_localnet on the
    /// bridge (a published port reached through 127.0.0.1 is routed to it).</summary>
    private static void Forwarding(Action<string> warn)
    {
        foreach (string path in new[] { "/proc/sys/net/ipv4/ip_forward", $"/proc/sys/net/ipv4/conf/{Bridge}/route_localnet" })
        {
            if (SmallFile.Read(path)?.Trim() == "1")
                continue;
            try
            {
                File.WriteAllText(path, "1");
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                warn($"--network bridge: could not set {path} to 1 ({e.Message}): the container may not reach beyond the host");
            }
        }
    }

    /// <summary>/proc/net/route, IPv4, but the default route and the bridge's own.</summary>
    private static List<(uint Network, int Prefix, string? Link)> HostRoutes()
    {
        var routes = new List<(uint, int, string?)>();
        foreach (string line in (SmallFile.Read("/proc/net/route") ?? "").Split('\n').Skip(1))
        {
            var f = line.Split('\t', StringSplitOptions.TrimEntries);
            if (f.Length < 8 || f[0] == Bridge
                || !uint.TryParse(f[1], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out uint destination)
                || !uint.TryParse(f[7], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out uint mask) || mask == 0)
                continue;
            routes.Add((BinaryPrimitives.ReverseEndianness(destination), System.Numerics.BitOperations.PopCount(mask), f[0]));
        }
        return routes;
    }

    private static bool Overlaps(uint a, int aPrefix, uint b, int bPrefix)
    {
        uint mask = Mask(Math.Min(aPrefix, bPrefix));
        return (a & mask) == (b & mask);
    }

    private static uint Mask(int prefix) => prefix == 0 ? 0 : uint.MaxValue << (32 - prefix);

    /// <summary>A host-order address as the kernel's structures hold it (this is x86/arm little-endian: swapped).</summary>
    internal static uint NetworkOrder(uint hostOrder) => BitConverter.IsLittleEndian ? BinaryPrimitives.ReverseEndianness(hostOrder) : hostOrder;

    private static uint HostOrder(uint networkOrder) => NetworkOrder(networkOrder);
}
