using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Isolate.Interop;
using Isolate.Launch;
using Isolate.Spec;
using static Isolate.Interop.OpenFlags;

namespace Isolate.Network;

/// <summary>`--network bridge` (and -p) for a non-root caller: a user cannot make a bridge,
/// veth pairs or NAT rules in the host's namespace, so slirp4netns gives the container a tap
/// device (eth0's place: tap0, 10.0.2.100/24, gateway 10.0.2.2, DNS 10.0.2.3) whose traffic
/// it carries through ordinary sockets of the user's own; published ports are its host
/// forwards, asked for over its API socket (podman's rootless default before pasta).
/// <list type="bullet">
/// <item>Its directory is ROOT/containers/ID under the caller's own state root (hosts,
/// resolv.conf, ports, slirp4netns.log, the API socket), held locked (flock) for the
/// container's life; one nobody holds is removed by the next claim.</item>
/// <item>slirp4netns ends when the write end of its exit pipe closes: when the container ends,
/// or when Isolate is killed (the kernel closes it); there is no reaper to wait for.</item>
/// </list></summary>
public sealed unsafe class UserModeNetwork : IContainerNetwork
{
    public const string GuestAddress = "10.0.2.100";
    private const string Gateway = "10.0.2.2";
    private const string SlirpDns = "10.0.2.3";
    private const string Program = "slirp4netns";
    private const int ReadyTimeoutMs = 10_000;

    private readonly string _program;
    private readonly FileDescriptor _held;
    private readonly FileDescriptor _log;
    private readonly Action<string> _warn;
    private int _exitFd = -1;
    private int _slirpPid = -1;
    private bool _released;

    private UserModeNetwork(string program, FileDescriptor held, FileDescriptor log, Action<string> warn, string directory, IReadOnlyList<PortMapping> ports)
    {
        _program = program;
        _held = held;
        _log = log;
        _warn = warn;
        Directory = directory;
        Ports = ports;
    }

    public string Directory { get; }

    public IReadOnlyList<PortMapping> Ports { get; }

    public string? ReaperDirectory => null;

    public string Describe() => $"{_program}, {GuestAddress}/24 via {Gateway} on tap0";

    public static UserModeNetwork Claim(ContainerSpec spec, Action<string> warn)
    {
        if (spec.NetworkOptions.Subnet != null)
            throw new IsolateException($"--subnet {spec.NetworkOptions.Subnet}: a non-root user's bridge is slirp4netns's own 10.0.2.0/24; drop --subnet, or run isolate as root");
        string program = FindProgram()
            ?? throw new IsolateException($"--network bridge (and -p) for a non-root user need {Program}, which is not installed (apt install {Program}); or run isolate as root, or use --network none or host");
        using var rootLock = ContainerNetwork.LockRoot();
        Sweep(warn);
        string directory = ContainerNetwork.DirectoryOf(spec.Id);
        var held = ContainerNetwork.MakeHeldDirectory(directory, spec.Id);
        FileDescriptor? log = null;
        try
        {
            var ports = spec.NetworkOptions.Ports.Select(CheckPort).ToList();
            File.WriteAllText(Path.Combine(directory, "ports"), string.Concat(ports.Select(p => p.Canonical + "\n")));
            File.WriteAllText(Path.Combine(directory, "hosts"), NetworkFiles.Hosts(spec.Hostname, GuestAddress, spec.NetworkOptions.AddHosts));
            var dns = spec.NetworkOptions.Dns.Count > 0 ? spec.NetworkOptions.Dns : [SlirpDns];
            File.WriteAllText(Path.Combine(directory, "resolv.conf"), NetworkFiles.ResolvConf(dns, spec.NetworkOptions.DnsSearch, warn));
            log = FileDescriptor.Open(Path.Combine(directory, Program + ".log"), O_WRONLY | O_CREAT | O_TRUNC, 0x180);
            if (log.IsInvalid)
                throw IsolateException.FromErrno($"make {directory}/{Program}.log", null, Marshal.GetLastPInvokeError());
            return new UserModeNetwork(program, held.OpenUntilExitIfForgotten(), log, warn, directory, ports);
        }
        catch
        {
            log?.Dispose();
            held.Dispose();
            Remove(directory, warn);
            throw;
        }
    }

    public ContainerSpec Apply(ContainerSpec spec) => NetworkFiles.Bind(spec, Directory);

    /// <summary>At the gate: slirp4netns on the container's namespaces, ready, and each -p forwarded.</summary>
    public void Attach(int pid)
    {
        int exitFd, slirpPid;
        int rc = Shim.NetSlirp(_program, pid, _held.Number, "api.sock", _log.Number, ReadyTimeoutMs, &exitFd, &slirpPid);
        if (rc < 0)
        {
            throw -rc switch
            {
                Errno.ECHILD => new IsolateException($"--network bridge: {_program} exited before the container's network was up: {LastLogLine()}"),
                Errno.ETIMEDOUT => new IsolateException($"--network bridge: {_program} was not ready after {ReadyTimeoutMs / 1000} s ({LastLogLine()})"),
                _ => IsolateException.FromErrno($"--network bridge: start {_program}", null, -rc),
            };
        }
        _exitFd = exitFd;
        _slirpPid = slirpPid;
        foreach (var port in Ports)
            Forward(port);
    }

    private void Forward(PortMapping port)
    {
        string request = AddForward(port);
        byte[] bytes = Encoding.UTF8.GetBytes(request);
        var reply = new byte[4096];
        string socket = Path.Combine(_held.ProcPath, "api.sock");
        int rc;
        fixed (byte* r = bytes, o = reply)
            rc = Shim.NetSlirpRequest(socket, r, (uint)bytes.Length, o, (uint)reply.Length);
        if (rc < 0)
            throw IsolateException.FromErrno($"-p {port.Canonical.TrimStart(':')}: ask {_program} for the forward", null, -rc);
        string? error = null;
        try
        {
            using var doc = JsonDocument.Parse(reply.AsMemory(0, rc));
            if (doc.RootElement.TryGetProperty("error", out var e))
                error = e.TryGetProperty("desc", out var desc) ? desc.GetString() : e.GetRawText();
            else if (!doc.RootElement.TryGetProperty("return", out _))
                error = doc.RootElement.GetRawText();
        }
        catch (JsonException)
        {
            error = $"an answer that is not JSON ({Encoding.UTF8.GetString(reply, 0, rc).Trim()})";
        }
        if (error != null)
            throw new IsolateException($"-p {port.Canonical.TrimStart(':')}: {_program} refused the forward: {error}");
    }

    /// <summary>slirp4netns' add_hostfwd request (its API is JSON lines; the values are numbers
    /// and checked addresses, so nothing needs escaping).</summary>
    private static string AddForward(PortMapping port) => string.Create(CultureInfo.InvariantCulture,
        $"{{\"execute\": \"add_hostfwd\", \"arguments\": {{\"proto\": \"{port.Protocol}\", \"host_addr\": \"{(port.HostIp.Length == 0 ? "0.0.0.0" : port.HostIp)}\", \"host_port\": {port.HostPort}, \"guest_addr\": \"{GuestAddress}\", \"guest_port\": {port.ContainerPort}}}}}\n");

    /// <summary>slirp4netns stopped (its exit pipe closed, then reaped) and the directory removed.</summary>
    public void Dispose()
    {
        if (_released)
            return;
        _released = true;
        if (_exitFd >= 0)
            Libc.Close(_exitFd);
        if (_slirpPid > 0)
            ProcessWait.Quietly(_slirpPid);
        _log.Dispose();
        Remove(Directory, _warn);
        _held.Dispose();
    }

    /// <summary>A host port to publish: free now, or one the kernel picks for -p CONTAINER.</summary>
    private static PortMapping CheckPort(PortMapping port)
    {
        // slirp4netns drops a container's datagram to 10.0.2.2, the host's loopback as the
        // container sees it, which is where a reply to a client on 127.0.0.1 goes
        if (port.Protocol == "udp" && port.HostIp.StartsWith("127.", StringComparison.Ordinal))
            throw new IsolateException($"-p {port.Canonical}: a non-root user's UDP port cannot answer the host's loopback (slirp4netns keeps the container off it); publish on the host's own address, or run isolate as root");
        return port with { HostPort = ContainerNetwork.CheckHostPort(port) };
    }

    /// <summary>Removes the directories of containers whose Isolate is gone (killed): their
    /// slirp4netns ended with it.</summary>
    private static void Sweep(Action<string> warn)
    {
        foreach (string dir in ContainerNetwork.Abandoned())
            Remove(dir, warn);
    }

    private static void Remove(string directory, Action<string> warn)
    {
        int rc = Shim.RemoveTree(directory);
        if (rc < 0)
            warn($"--network bridge: could not remove {directory} ({IsolateException.Describe(-rc)}); the next bridged start retries");
    }

    private string LastLogLine()
    {
        string text = SmallFile.Read(Path.Combine(Directory, Program + ".log")) ?? "";
        string? last = text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault();
        return last ?? "it printed nothing";
    }

    private static string? FindProgram()
    {
        string path = Environment.GetEnvironmentVariable("PATH") is { Length: > 0 } p ? p : "/usr/local/bin:/usr/bin:/bin";
        foreach (string dir in path.Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            string candidate = Path.Combine(dir, Program);
            if (dir.StartsWith('/') && File.Exists(candidate)
                && (File.GetUnixFileMode(candidate) & (UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute)) != 0)
                return candidate;
        }
        return null;
    }
}
