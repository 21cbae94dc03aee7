using System.Net;
using System.Net.Sockets;
using System.Text;
using Isolate.Tests.Support;

namespace Isolate.Tests.Integration;

/// <summary>--network bridge and -p run by an unprivileged user (uid 4242), through
/// slirp4netns: real traffic from the container to a server on the host's address, from the
/// host to published TCP and UDP ports through loopback and the host's address, the host's
/// loopback out of reach, and nothing left (no slirp4netns, no network directory) when the
/// container ends or Isolate is SIGKILLed.</summary>
public sealed class RootlessNetworkTests : ContainerTest, IClassFixture<RootlessSetup>
{
    private readonly RootlessSetup _setup;
    private readonly string _home;

    public RootlessNetworkTests(BusyboxRootfs rootfs, RootlessSetup setup) : base(rootfs)
    {
        _setup = setup;
        Own(setup.Dir);
        _home = Path.Combine(setup.Dir, "home");
        if (RootlessSetup.Unavailable is null)
        {
            setup.PrepareRootfs(rootfs.Path);
            if (!Directory.Exists(_home))
            {
                Directory.CreateDirectory(_home);
                RootlessSetup.Host("chown", $"{RootlessSetup.Uid}:{RootlessSetup.Uid}", _home);
            }
        }
    }

    /// <summary>The user's network directory of container <paramref name="id"/> (its state root
    /// is /tmp/isolate-UID: the tests give it no XDG_RUNTIME_DIR).</summary>
    private static string NetworkDirectory(string id) => $"/tmp/isolate-{RootlessSetup.Uid}/network/containers/{id}";

    private static string NewName() => "rl" + Guid.NewGuid().ToString("N")[..10];

    /// <summary>Isolate as the user, with a HOME of its own (run -d keeps its log there).</summary>
    private RunResult User(params string[] args) =>
        RootlessSetup.AsUser(["env", "-u", "XDG_RUNTIME_DIR", $"HOME={_home}", _setup.Binary, .. args]);

    private RunResult Run(string[] options, params string[] command) =>
        User(["run", "--rootfs", _setup.Rootfs, .. options, "--", .. command]);

    /// <summary>slirp4netns processes working in <paramref name="directory"/> (their cwd: the container's network directory).</summary>
    private static List<int> SlirpIn(string directory)
    {
        var pids = new List<int>();
        foreach (string proc in Directory.GetDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(proc), out int pid))
                continue;
            try
            {
                if (File.ReadAllText(Path.Combine(proc, "comm")).Trim() == "slirp4netns"
                    && new FileInfo(Path.Combine(proc, "cwd")).LinkTarget is { } cwd && cwd.StartsWith(directory, StringComparison.Ordinal)
                    && !File.ReadAllText(Path.Combine(proc, "stat")).Contains(") Z ", StringComparison.Ordinal))
                    pids.Add(pid);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
            }
        }
        return pids;
    }

    private static void AssertNothingLeft(string id)
    {
        string dir = NetworkDirectory(id);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while ((Directory.Exists(dir) || SlirpIn(dir).Count > 0) && DateTime.UtcNow < deadline)
            Thread.Sleep(50);
        Assert.False(Directory.Exists(dir), $"{dir} outlived its container");
        Assert.Empty(SlirpIn(dir));
    }

    [RootlessNetworkFact]
    public void A_rootless_bridge_gives_slirp_address_hosts_and_resolv_conf_and_reaches_the_host_but_not_its_loopback()
    {
        string name = NewName();
        using var outside = new TcpListener(IPAddress.Parse(HostNetwork.Address()), 0);
        using var loopback = new TcpListener(IPAddress.Loopback, 0);
        outside.Start();
        loopback.Start();
        int outsidePort = ((IPEndPoint)outside.LocalEndpoint).Port, loopbackPort = ((IPEndPoint)loopback.LocalEndpoint).Port;
        var accepted = Task.Run(() =>
        {
            using var client = outside.AcceptTcpClient();
            using var reader = new StreamReader(client.GetStream(), Encoding.ASCII);
            return reader.ReadLine();
        });

        var r = Run(["--name", name, "--network", "bridge", "--hostname", "box", "--add-host", "db:10.1.2.3"], "sh", "-c",
            $"ip -4 addr show tap0; ip route; cat /etc/hosts /etc/resolv.conf; echo from-{name} | nc -w 3 {HostNetwork.Address()} {outsidePort}; echo sent=$?;"
            + $" echo no | nc -w 2 10.0.2.2 {loopbackPort}; echo loopback=$?");

        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("inet 10.0.2.100/24", r.Stdout);
        Assert.Contains("default via 10.0.2.2 dev tap0", r.Stdout);
        Assert.Contains("10.0.2.100\tbox\n", r.Stdout);
        Assert.Contains("10.1.2.3\tdb\n", r.Stdout);
        Assert.Contains("nameserver 10.0.2.3\n", r.Stdout);
        Assert.Contains("sent=0\n", r.Stdout);
        Assert.True(accepted.Wait(TimeSpan.FromSeconds(10)), "the host's server got no connection");
        Assert.Equal($"from-{name}", accepted.Result);
        Assert.Contains("loopback=1\n", r.Stdout); // --disable-host-loopback: 10.0.2.2 is not the host's 127.0.0.1
        Assert.False(loopback.Pending());
        AssertNothingLeft(name);

        var dns = Run(["--network", "bridge", "--dns", "192.0.2.53", "--dns-search", "example.test"], "cat", "/etc/resolv.conf");
        Assert.Equal("search example.test\nnameserver 192.0.2.53\n", dns.Stdout);
    }

    [RootlessNetworkFact]
    public void Published_tcp_and_udp_ports_of_a_rootless_container_reach_it_from_loopback_and_the_host_address()
    {
        string web = NewName(), echo = NewName();
        string www = Path.Combine(_setup.Rootfs, "www-" + web);
        Directory.CreateDirectory(www);
        File.WriteAllText(Path.Combine(www, "index.html"), $"rootless-{web}\n");
        int udpPort = HostNetwork.FreeUdpPort();
        var started = User("run", "-d", "--name", web, "-p", "80", "--rootfs", _setup.Rootfs, "--", "httpd", "-f", "-p", "80", "-h", "/www-" + web);
        var udp = User("run", "-d", "--name", echo, "-p", $"{udpPort}:5353/udp", "--rootfs", _setup.Rootfs, "--", "probe", "udp-echo", "5353");
        try
        {
            Assert.True(started.ExitCode == 0, started.ToString());
            Assert.True(udp.ExitCode == 0, udp.ToString());
            var port = User("port", web, "80");
            Assert.Matches(@"^0\.0\.0\.0:\d+\n$", port.Stdout);
            string hostPort = port.Stdout.Trim().Split(':')[1];
            Assert.Contains($"0.0.0.0:{hostPort}->80/tcp", User("ps").Stdout);
            foreach (string host in new[] { "127.0.0.1", HostNetwork.Address() })
                Assert.Equal($"rootless-{web}\n", HostNetwork.HttpGet($"http://{host}:{hostPort}/"));
            // UDP from the host's address (an answer to its loopback is dropped by slirp4netns,
            // which keeps the container off the host's loopback)
            Assert.Equal("echo:ping", HostNetwork.UdpAsk(HostNetwork.Address(), udpPort, "ping"));
            var exec = User("exec", web, "ip", "-4", "addr", "show", "tap0");
            Assert.Contains("inet 10.0.2.100/24", exec.Stdout);
        }
        finally
        {
            User("rm", "-f", web);
            User("rm", "-f", echo);
        }
        AssertNothingLeft(web);
        AssertNothingLeft(echo);
    }

    [RootlessNetworkFact]
    public void Killing_isolate_ends_its_slirp4netns_and_the_next_start_removes_the_directory_it_left()
    {
        string name = NewName();
        string dir = NetworkDirectory(name);
        string output = Path.Combine(_setup.Dir, "out-" + name);
        var killed = IsolateBinary.RunFromShell(
            $"setpriv --reuid {RootlessSetup.Uid} --regid {RootlessSetup.Uid} --clear-groups env -u XDG_RUNTIME_DIR HOME={_home} {_setup.Binary} run --name {name} -p 0:80"
            + $" --rootfs {_setup.Rootfs} -- sh -c 'echo ready; exec sleep 100' > {output} 2>&1 & p=$!;"
            + $" for i in $(seq 200); do grep -q ready {output} && break; sleep 0.05; done; ls {dir} > /dev/null && echo had-dir;"
            + " kill -KILL $p; wait $p; echo $?");
        Assert.Equal("had-dir\n137\n", killed.Stdout);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (SlirpIn(dir).Count > 0 && DateTime.UtcNow < deadline)
            Thread.Sleep(50);
        Assert.Empty(SlirpIn(dir)); // its exit pipe closed with Isolate

        var next = Run(["--network", "bridge"], "true");
        Assert.True(next.ExitCode == 0, next.ToString());
        Assert.False(Directory.Exists(dir), $"{dir} was left after the next bridged start");
    }

    [RootlessNetworkFact]
    public void What_slirp4netns_cannot_give_is_refused_in_one_line_and_leaves_nothing()
    {
        string name = NewName();
        var privileged = Run(["--name", name, "-p", "80:80"], "true");
        Assert.Equal(125, privileged.ExitCode);
        Assert.Matches(@"^isolate: -p 80:80/tcp: a non-root user cannot publish host port 80 \(below net\.ipv4\.ip_unprivileged_port_start, \d+\); choose a higher one\n$", privileged.Stderr);
        var loopbackUdp = Run(["--name", name, "-p", "127.0.0.1:5353:53/udp"], "true");
        Assert.Equal((125, "isolate: -p 127.0.0.1:5353:53/udp: a non-root user's UDP port cannot answer the host's loopback (slirp4netns keeps the container off it); publish on the host's own address, or run isolate as root\n"),
            (loopbackUdp.ExitCode, loopbackUdp.Stderr));
        var subnet = Run(["--name", name, "--network", "bridge", "--subnet", "10.5.0.0/16"], "true");
        Assert.Equal((125, "isolate: --subnet 10.5.0.0/16: a non-root user's bridge is slirp4netns's own 10.0.2.0/24; drop --subnet, or run isolate as root\n"), (subnet.ExitCode, subnet.Stderr));
        var missing = RootlessSetup.AsUser("env", "-u", "XDG_RUNTIME_DIR", "PATH=/nonexistent", _setup.Binary, "run", "--name", name, "-p", "8080:80", "--rootfs", _setup.Rootfs, "--", "true");
        Assert.Equal((125, "isolate: --network bridge (and -p) for a non-root user need slirp4netns, which is not installed (apt install slirp4netns); or run isolate as root, or use --network none or host\n"),
            (missing.ExitCode, missing.Stderr));
        Assert.False(Directory.Exists(NetworkDirectory(name)));
        // joining a namespace from the host's needs CAP_SYS_ADMIN there (it once aborted Isolate)
        var join = Run(["--network", "ns:/proc/self/ns/net"], "true");
        Assert.Equal((125, "isolate: --network ns:/proc/self/ns/net: a non-root user cannot join another network namespace (setns needs CAP_SYS_ADMIN in the host's user namespace); run isolate as root, or publish the other container's ports with -p\n"),
            (join.ExitCode, join.Stderr));
    }

    [RootlessNetworkFact]
    public void A_rootless_config_json_that_joins_a_network_namespace_is_a_one_line_error_not_an_abort()
    {
        string work = Directory.CreateTempSubdirectory("isolate-rootless-join-").FullName;
        try
        {
            RootlessSetup.Host("chown", $"{RootlessSetup.Uid}:{RootlessSetup.Uid}", work);
            string bundle = Path.Combine(work, "bundle"), root = Path.Combine(work, "state");
            Assert.Equal(0, RootlessSetup.AsUser("mkdir", bundle).ExitCode);
            Assert.Equal(0, _setup.Isolate("spec", "--rootless", "--bundle", bundle).ExitCode);
            string config = File.ReadAllText(Path.Combine(bundle, "config.json"))
                .Replace("\"terminal\": true", "\"terminal\": false")
                .Replace("\"path\": \"rootfs\"", $"\"path\": \"{_setup.Rootfs}\"")
                .Replace("\"namespaces\": [", "\"namespaces\": [ { \"type\": \"network\", \"path\": \"/proc/self/ns/net\" },");
            RootlessSetup.AsUser("sh", "-c", $"cat > {bundle}/config.json <<'EOF'\n{config}\nEOF");
            Assert.Contains("/proc/self/ns/net", File.ReadAllText(Path.Combine(bundle, "config.json")));

            var run = RootlessSetup.AsUser(_setup.Binary, "--root", root, "run", "--bundle", bundle, "joiner");
            Assert.Equal((125, "isolate: join the namespace /proc/self/ns/net: Operation not permitted\n"), (run.ExitCode, run.Stderr));
            Assert.Empty(Directory.Exists(root) ? Directory.GetDirectories(root) : []);
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }
}

/// <summary>A rootless test that needs slirp4netns: skipped, saying why, where the machine lacks
/// it or does not allow unprivileged user namespaces.</summary>
public sealed class RootlessNetworkFactAttribute : FactAttribute
{
    public RootlessNetworkFactAttribute()
    {
        if (RootlessSetup.Unavailable is { } reason)
            Skip = reason;
        else if (!File.Exists("/usr/bin/slirp4netns"))
            Skip = "slirp4netns is not installed (apt install slirp4netns): a non-root user's --network bridge needs it";
    }
}
