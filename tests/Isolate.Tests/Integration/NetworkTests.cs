using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Isolate.Tests.Support;

namespace Isolate.Tests.Integration;

/// <summary>--network bridge, -p, container:NAME and ns:PATH with real traffic: containers on the
/// bridge, the host through published ports, a test-made network namespace standing in for the
/// internet behind the NAT. Each test names its containers with its own random names and checks
/// that what they made on the host (veth, lease, ports, NAT table, network directory) is gone.</summary>
public sealed partial class NetworkTests(BusyboxRootfs rootfs) : StateRootTest(rootfs, "isolate-net-")
{
    private const string Root = "/run/isolate/network";

    private static string NewName() => "net" + Guid.NewGuid().ToString("N")[..10];

    [GeneratedRegex(@"inet (\d+\.\d+\.\d+\.\d+)/(\d+)")]
    private static partial Regex Inet();

    private static string AddressIn(string ipOutput) =>
        Inet().Match(ipOutput) is { Success: true } m ? m.Groups[1].Value : throw new Xunit.Sdk.XunitException("no inet address in: " + ipOutput);

    /// <summary>What a container named <paramref name="id"/> left of its network on the host.</summary>
    private static List<string> NetworkLeft(string id)
    {
        var left = new List<string>();
        if (Directory.Exists(Path.Combine(Root, "containers", id)))
            left.Add("network directory");
        foreach (string kind in new[] { "leases", "ports" })
        {
            foreach (string link in Directory.Exists(Path.Combine(Root, kind)) ? Directory.GetFiles(Path.Combine(Root, kind)) : [])
            {
                if (new FileInfo(link).LinkTarget == id)
                    left.Add(kind + "/" + Path.GetFileName(link));
            }
        }
        if (Host("nft", "list", "table", "ip", "isolate-" + id).ExitCode == 0)
            left.Add("nft table isolate-" + id);
        return left;
    }

    private static void AssertNoNetworkLeft(string id)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        List<string> left;
        while ((left = NetworkLeft(id)).Count > 0 && DateTime.UtcNow < deadline)
            Thread.Sleep(50);
        Assert.True(left.Count == 0, $"left behind by {id}: {string.Join(", ", left)}");
    }

    private static RunResult Host(params string[] args)
    {
        var info = new ProcessStartInfo(args[0]) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in args.Skip(1))
            info.ArgumentList.Add(a);
        using var p = Process.Start(info)!;
        string stdout = p.StandardOutput.ReadToEnd(), stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        return new RunResult(p.ExitCode, stdout, stderr);
    }

    /// <summary>A web root in the busybox root for httpd, and the page it serves.</summary>
    private string WebRoot(string page)
    {
        string www = Path.Combine(Rootfs.Path, "www-" + page);
        Directory.CreateDirectory(www);
        File.WriteAllText(Path.Combine(www, "index.html"), page + "\n");
        return "/" + Path.GetFileName(www);
    }

    /// <summary>A shell script that GETs http://HOST/PATH with busybox nc (its wget crashes when a
    /// connection fails), trying for a few seconds (a server just started may not listen yet), and
    /// prints the body's last line.</summary>
    private static string Fetch(string host, string path = "/") =>
        $"for t in 1 2 3 4 5 6 7 8 9 10; do printf 'GET {path} HTTP/1.0\\r\\n\\r\\n' | nc -w 2 {host} 80 > /tmp/got; grep -q '200 OK' /tmp/got && break; sleep 0.3; done; tail -n 1 /tmp/got";

    [ContainerFact]
    public void Bridge_gives_an_address_a_default_route_and_its_own_hosts_and_resolv_conf()
    {
        var r = RunIn(["--network", "bridge", "--hostname", "box", "--dns", "192.0.2.53", "--dns-search", "example.test", "--add-host", "db:10.1.2.3"],
            "sh", "-c", "ip -4 addr show eth0; ip route; cat /etc/hosts /etc/resolv.conf; echo mac=$(cat /sys/class/net/eth0/address)");
        Assert.True(r.ExitCode == 0, r.ToString());
        string address = AddressIn(r.Stdout);
        Assert.Matches(@"default via \d+\.\d+\.\d+\.1 dev eth0", r.Stdout);
        Assert.Contains($"{address}\tbox\n", r.Stdout);
        Assert.Contains("10.1.2.3\tdb\n", r.Stdout);
        Assert.Contains("127.0.0.1\tlocalhost\n", r.Stdout);
        Assert.Contains("search example.test\nnameserver 192.0.2.53\n", r.Stdout);
        // docker's MAC, 02:42 and the address: a reused address keeps it, so the host's neighbour
        // entry for it stays right (a second container on a freed lease is reached at once)
        Assert.Contains("mac=02:42:" + string.Join(':', address.Split('.').Select(b => int.Parse(b).ToString("x2"))) + "\n", r.Stdout);
        Assert.DoesNotContain(Directory.Exists(Path.Combine(Root, "leases")) ? Directory.GetFiles(Path.Combine(Root, "leases")) : [],
            l => Path.GetFileName(l) == address && new FileInfo(l).LinkTarget is { } id && !Directory.Exists(Path.Combine(Root, "containers", id)));
        Assert.False(File.Exists(Path.Combine(Root, "leases", address)), "the lease outlived its container");
    }

    [ContainerFact]
    public void Two_containers_on_the_bridge_reach_each_other_by_address_and_by_add_host_name_and_exec_joins_the_network()
    {
        string web = NewName();
        string www = WebRoot("hello-from-" + web);
        var started = Isolate("run", "-d", "--name", web, "--network", "bridge", "--rootfs", Rootfs.Path, "--", "httpd", "-f", "-p", "80", "-h", www);
        Assert.True(started.ExitCode == 0, started.ToString());
        try
        {
            var ip = Isolate("exec", web, "ip", "-4", "addr", "show", "eth0");
            Assert.True(ip.ExitCode == 0, ip.ToString());
            string address = AddressIn(ip.Stdout);
            var byAddress = Sh(Fetch(address), "--network", "bridge");
            Assert.True(byAddress.ExitCode == 0, byAddress.ToString());
            Assert.Equal($"hello-from-{web}\n", byAddress.Stdout);
            var byName = Sh(Fetch("web-server"), "--network", "bridge", "--add-host", $"web-server:{address}");
            Assert.Equal($"hello-from-{web}\n", byName.Stdout);
            // container:NAME shares it, loopback included
            var shared = Isolate("run", "--network", $"container:{web}", "--rootfs", Rootfs.Path, "--", "sh", "-c", Fetch("127.0.0.1"));
            Assert.True(shared.ExitCode == 0, shared.ToString());
            Assert.Equal($"hello-from-{web}\n", shared.Stdout);
        }
        finally
        {
            Isolate("rm", "-f", web);
        }
        AssertNoNetworkLeft(web);
    }

    [ContainerFact]
    public void The_host_reaches_published_tcp_and_udp_ports_through_loopback_and_its_own_address()
    {
        string web = NewName(), dns = NewName();
        string www = WebRoot("published-" + web);
        var started = Isolate("run", "-d", "--name", web, "-p", "80", "--rootfs", Rootfs.Path, "--", "httpd", "-f", "-p", "80", "-h", www);
        Assert.True(started.ExitCode == 0, started.ToString());
        try
        {
            var port = Isolate("port", web, "80");
            Assert.True(port.ExitCode == 0, port.ToString());
            Assert.Matches(@"^0\.0\.0\.0:\d+\n$", port.Stdout);
            string hostPort = port.Stdout.Trim().Split(':')[1];
            Assert.Equal($"published-{web}\n", HostNetwork.HttpGet($"http://127.0.0.1:{hostPort}/"));
            Assert.Equal($"published-{web}\n", HostNetwork.HttpGet($"http://{HostNetwork.Address()}:{hostPort}/"));
            Assert.Contains($"0.0.0.0:{hostPort}->80/tcp", Isolate("ps").Stdout);
            var all = Isolate("port", web);
            Assert.Equal($"80/tcp -> 0.0.0.0:{hostPort}\n", all.Stdout);

            foreach (string to in new[] { "127.0.0.1", HostNetwork.Address() })
            {
                string name = dns + (to == "127.0.0.1" ? "a" : "b");
                int udpPort = HostNetwork.FreeUdpPort();
                var echo = Isolate("run", "-d", "--name", name, "-p", $"{udpPort}:5353/udp", "--rootfs", Rootfs.Path, "--", "probe", "udp-echo", "5353");
                Assert.True(echo.ExitCode == 0, echo.ToString());
                try
                {
                    string answer;
                    try
                    {
                        answer = HostNetwork.UdpAsk(to, udpPort, "ping");
                    }
                    catch (SocketException e)
                    {
                        throw new Xunit.Sdk.XunitException($"no answer from {to}:{udpPort} ({e.Message}); ps: {Isolate("ps", "-a").Stdout}; logs: {Isolate("logs", name).Stdout}; nft: {Host("nft", "list", "table", "ip", "isolate-" + name).Stdout}");
                    }
                    Assert.Equal("echo:ping", answer);
                }
                finally
                {
                    Isolate("rm", "-f", name);
                }
                AssertNoNetworkLeft(name);
            }
        }
        finally
        {
            Isolate("rm", "-f", web);
        }
        AssertNoNetworkLeft(web);
    }

    [ContainerFact(Needs = "/usr/sbin/ip", Why = "to make the test's stand-in for the internet")]
    public void A_container_reaches_a_server_beyond_the_host_through_the_nat()
    {
        string ns = NewName();
        string site = Own(Directory.CreateTempSubdirectory("isolate-net-site-").FullName);
        Directory.CreateDirectory(Path.Combine(site, "cgi-bin"));
        File.WriteAllText(Path.Combine(site, "cgi-bin", "ip"), "#!/bin/sh\necho 'Content-Type: text/plain'\necho\necho \"$REMOTE_ADDR\"\n");
        File.SetUnixFileMode(Path.Combine(site, "cgi-bin", "ip"), (UnixFileMode)0x1ED);
        string hostEnd = "v" + ns[3..12], farEnd = "w" + ns[3..12];
        try
        {
            foreach (string[] step in new[]
            {
                new[] { "ip", "netns", "add", ns },
                ["ip", "link", "add", hostEnd, "type", "veth", "peer", "name", farEnd, "netns", ns],
                ["ip", "addr", "add", "198.51.100.1/24", "dev", hostEnd],
                ["ip", "link", "set", hostEnd, "up"],
                ["ip", "-n", ns, "addr", "add", "198.51.100.2/24", "dev", farEnd],
                ["ip", "-n", ns, "link", "set", farEnd, "up"],
                ["ip", "netns", "exec", ns, "busybox", "httpd", "-p", "80", "-h", site],
            })
            {
                var r = Host(step);
                Assert.True(r.ExitCode == 0, string.Join(' ', step) + ": " + r);
            }
            var seen = Sh(Fetch("198.51.100.2", "/cgi-bin/ip"), "--network", "bridge");
            Assert.True(seen.ExitCode == 0, seen.ToString());
            Assert.Matches(@"^(\[::ffff:)?198\.51\.100\.1\]?\n$", seen.Stdout); // masqueraded to the host's address on that link
        }
        finally
        {
            Host("ip", "netns", "pids", ns).Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).ToList()
                .ForEach(pid => Host("kill", "-9", pid));
            Host("ip", "link", "delete", hostEnd);
            Host("ip", "netns", "delete", ns);
        }
    }

    [ContainerFact]
    public void Twenty_containers_started_at_once_get_twenty_addresses()
    {
        // all started before any is waited for: twenty claims at once, each held while the others start
        var processes = Enumerable.Range(0, 20).Select(_ =>
        {
            var info = IsolateBinary.StartInfo(["run", "--rootfs", Rootfs.Path, "--network", "bridge", "--", "sh", "-c", "ip -4 addr show eth0; sleep 4"]);
            var process = Process.Start(info)!;
            process.StandardInput.Close();
            return process;
        }).ToList();
        var outputs = processes.Select(p => (Out: p.StandardOutput.ReadToEndAsync(), Err: p.StandardError.ReadToEndAsync())).ToList();
        var addresses = new List<string>();
        for (int i = 0; i < processes.Count; i++)
        {
            processes[i].WaitForExit();
            Assert.True(processes[i].ExitCode == 0, outputs[i].Out.Result + outputs[i].Err.Result);
            addresses.Add(AddressIn(outputs[i].Out.Result));
            processes[i].Dispose();
        }
        Assert.Equal(20, addresses.Distinct().Count());
    }

    [ContainerFact]
    public void After_a_sigkill_of_isolate_no_veth_lease_port_or_nat_rule_is_left()
    {
        string name = NewName();
        using var running = IsolateBinary.Start(["--root", StateRoot, "run", "--name", name, "-p", "80", "--rootfs", Rootfs.Path, "--",
            "sh", "-c", "echo ready; sleep 60"]);
        string veth = new FileInfo(Path.Combine(Root, "containers", name, "veth")).LinkTarget!;
        Assert.True(Directory.Exists("/sys/class/net/" + veth), "the host's end of the veth pair");
        Assert.NotEmpty(NetworkLeft(name));
        Process.GetProcessById(running.Pid).Kill();
        AssertNoNetworkLeft(name);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (Directory.Exists("/sys/class/net/" + veth) && DateTime.UtcNow < deadline)
            Thread.Sleep(50);
        Assert.False(Directory.Exists("/sys/class/net/" + veth), $"veth {veth} left behind");
        Isolate("rm", "-f", name);
    }

    [ContainerFact]
    public void A_network_namespace_is_joined_by_path()
    {
        string ns = NewName();
        Assert.Equal(0, Host("ip", "netns", "add", ns).ExitCode);
        try
        {
            Assert.Equal(0, Host("ip", "-n", ns, "link", "add", "marker0", "type", "veth", "peer", "name", "marker1").ExitCode);
            var r = RunIn(["--network", $"ns:/run/netns/{ns}"], "ip", "link", "show", "marker0");
            Assert.True(r.ExitCode == 0, r.ToString());
        }
        finally
        {
            Host("ip", "netns", "delete", ns);
        }
    }

    [ContainerTheory]
    [InlineData("--network=bogus", "invalid --network 'bogus'")]
    [InlineData("--publish=70000", "invalid -p '70000'")]
    [InlineData("--publish=example.com:80:80", "is not an IPv4 address")]
    [InlineData("--publish=80/sctp", "is not a protocol")]
    [InlineData("--add-host=nocolon", "invalid --add-host")]
    [InlineData("--subnet=10.0.0.0/33", "invalid --subnet")]
    [InlineData("--network=container:no-such-container", "does not exist")]
    public void Bad_network_options_are_refused_in_one_line_with_125(string option, string says)
    {
        var r = RunIn([option], "true");
        Assert.Equal(125, r.ExitCode);
        Assert.Contains(says, r.Stderr);
        Assert.Single(r.Stderr.TrimEnd('\n').Split('\n'));
    }

    [ContainerFact]
    public void Options_of_the_bridge_are_refused_with_another_network()
    {
        var r = RunIn(["--network", "host", "-p", "8080:80"], "true");
        Assert.Equal(125, r.ExitCode);
        Assert.Contains("-p applies to --network bridge, not --network host", r.Stderr);
    }

    [ContainerFact]
    public void A_host_port_a_host_process_holds_is_refused_and_nothing_is_left()
    {
        using var listener = new TcpListener(IPAddress.Any, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        string name = NewName();
        var r = Isolate("run", "--name", name, "-p", $"{port}:80", "--rootfs", Rootfs.Path, "--", "true");
        Assert.Equal(125, r.ExitCode);
        Assert.Contains($"host port {port}/tcp is in use", r.Stderr);
        AssertNoNetworkLeft(name);
    }
}
