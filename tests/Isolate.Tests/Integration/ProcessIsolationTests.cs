using Isolate.Tests.Support;

namespace Isolate.Tests.Integration;

/// <summary>What `isolate run --rootfs` gives the command: its own PID 1, /proc,
/// hostname, mounts, /dev and network, checked from inside as a user would.</summary>
public sealed class ProcessIsolationTests(BusyboxRootfs rootfs) : ContainerTest(rootfs)
{
    [ContainerFact]
    public void The_command_is_pid_1()
    {
        var result = Sh("echo $$");
        Assert.Equal(0, result.ExitCode);
        Assert.Equal("1", result.Stdout.Trim());
    }

    [ContainerFact]
    public void Ps_lists_only_the_containers_processes()
    {
        // wait until the background child has exec'd sleep, so ps sees it as such
        var result = Sh("sleep 30 & until [ \"$(tr '\\0' ' ' < /proc/$!/cmdline)\" = 'sleep 30 ' ]; do :; done; ps -o pid,args; kill $!");
        Assert.Equal(0, result.ExitCode);
        var rows = result.Stdout.Trim().Split('\n').Skip(1)
            .Select(l => l.Trim().Split(' ', 2, StringSplitOptions.RemoveEmptyEntries)).ToList();
        // sh (1), the background sleep, and ps itself: nothing of the host's
        Assert.Equal(3, rows.Count);
        Assert.Equal(1, int.Parse(rows[0][0]));
        Assert.All(rows, r => Assert.InRange(int.Parse(r[0]), 1, 20));
        Assert.StartsWith("sh -c", rows[0][1]);
        // busybox shows applets run through /proc/self/exe as "{exe} sleep 30", "{ps} sh -c ..."
        Assert.EndsWith("sleep 30", rows[1][1]);
        Assert.Contains("ps", rows[2][1]);
    }

    [ContainerFact]
    public void The_hostname_is_the_containers_own_and_the_hosts_is_unchanged()
    {
        string hostBefore = File.ReadAllText("/proc/sys/kernel/hostname").Trim();

        var generated = RunIn("hostname");
        var named = RunIn(["--hostname", "web-1"], "hostname");

        Assert.Equal(0, generated.ExitCode);
        Assert.Matches("^[0-9a-f]{12}$", generated.Stdout.Trim());
        Assert.NotEqual(hostBefore, generated.Stdout.Trim());
        Assert.Equal("web-1", named.Stdout.Trim());
        Assert.Equal(hostBefore, File.ReadAllText("/proc/sys/kernel/hostname").Trim());
    }

    [ContainerFact]
    public void Mountinfo_shows_the_new_root_and_nothing_of_the_hosts()
    {
        var overlay = Mounts(RunIn("cat", "/proc/self/mountinfo"));
        var direct = Mounts(RunIn(["--no-overlay"], "cat", "/proc/self/mountinfo"));

        // field 3 is the mount's root within its filesystem, 4 its mount point, then after "-": type, source, options
        var overlayRoot = Assert.Single(overlay, m => m[4] == "/");
        Assert.Equal("overlay", overlayRoot[^3]);
        Assert.Contains($"lowerdir={Rootfs.Path}", overlayRoot[^1].Split(','));
        var directRoot = Assert.Single(direct, m => m[4] == "/");
        Assert.Equal(Rootfs.Path, directRoot[3]);

        foreach (var mounts in new[] { overlay, direct })
        {
            var points = mounts.Select(m => m[4]).ToList();
            Assert.Equal(["/", "/proc", "/sys", "/dev", "/dev/pts", "/dev/shm"], points.Take(6));
            // the rest are the masked and read-only kernel paths: nothing of the host's tree
            Assert.All(points.Skip(6), p => Assert.Matches("^/(proc|sys)/", p));
            Assert.Contains("ro", mounts.Single(m => m[4] == "/sys")[5].Split(','));
        }
    }

    private static List<string[]> Mounts(RunResult result)
    {
        Assert.Equal(0, result.ExitCode);
        return result.Stdout.Trim().Split('\n').Select(l => l.Split(' ')).ToList();
    }

    [ContainerFact]
    public void Dev_is_minimal_and_complete()
    {
        var result = Sh(
            "for d in null zero full random urandom tty; do [ -c /dev/$d ] && echo $d; done;" +
            "[ -c /dev/pts/ptmx ] && echo pts; for l in ptmx fd stdin stdout stderr; do readlink /dev/$l; done;" +
            "echo hello > /dev/null && head -c 4 /dev/zero | wc -c; ls /dev | wc -l");
        Assert.Equal(0, result.ExitCode);
        Assert.Equal(
            "null\nzero\nfull\nrandom\nurandom\ntty\npts\npts/ptmx\n/proc/self/fd\n/proc/self/fd/0\n/proc/self/fd/1\n/proc/self/fd/2\n4\n13\n",
            result.Stdout);
    }

    [ContainerFact]
    public void Sys_is_read_only()
    {
        var result = RunIn("mkdir", "/sys/isolate-probe");
        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("Read-only file system", result.Stderr);
    }

    [ContainerFact]
    public void Network_none_has_only_an_up_loopback()
    {
        var result = RunIn(["--network", "none"], "ip", "-o", "link");
        Assert.Equal(0, result.ExitCode);
        string link = Assert.Single(result.Stdout.Trim().Split('\n'));
        Assert.Contains(": lo: <LOOPBACK,UP,LOWER_UP>", link);
        Assert.Equal(0, Sh("ping -c 1 -W 2 127.0.0.1 >/dev/null").ExitCode);
    }

    [ContainerFact]
    public void Network_none_is_the_default_and_host_shares_the_hosts_interfaces()
    {
        var byDefault = RunIn("ls", "/sys/class/net");
        Assert.Equal("lo", byDefault.Stdout.Trim());

        // the host's interfaces as the container lists them; other containers on the host may
        // add or remove theirs meanwhile, so the host's list is read before and after, and a
        // round in which it changed is tried again
        static string[] HostInterfaces() => Directory.GetDirectories("/sys/class/net").Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray()!;
        for (int round = 0; ; round++)
        {
            var before = HostInterfaces();
            var host = RunIn(["--network", "host"], "ls", "/sys/class/net");
            if (!before.SequenceEqual(HostInterfaces()) && round < 5)
                continue;
            Assert.Equal(before, host.Stdout.Split((char[])['\n', ' '], StringSplitOptions.RemoveEmptyEntries).Order(StringComparer.Ordinal));
            break;
        }
    }

    [ContainerFact]
    public void The_environment_has_sensible_defaults_and_takes_overrides()
    {
        var result = IsolateBinary.Run(
            ["run", "--rootfs", Rootfs.Path, "--hostname", "box", "-e", "GREETING=hello world", "-e", "HOME=/srv", "--", "env"],
            stdin: null);
        var env = result.Stdout.Trim().Split('\n').ToHashSet();

        Assert.Contains("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", env);
        Assert.Contains("HOSTNAME=box", env);
        Assert.Contains("HOME=/srv", env);
        Assert.Contains("GREETING=hello world", env);
        Assert.DoesNotContain(env, e => e.StartsWith("TERM=")); // no terminal attached
    }

    [ContainerFact]
    public void The_working_directory_is_entered_and_created_when_missing()
    {
        string dir = "/work-" + Guid.NewGuid().ToString("N")[..8];
        var copyOnWrite = RunIn(["-w", dir + "/sub"], "pwd");
        Assert.Equal(0, copyOnWrite.ExitCode);
        Assert.Equal(dir + "/sub", copyOnWrite.Stdout.Trim());
        Assert.False(Directory.Exists(Rootfs.HostPath(dir)), "the overlay should have kept the rootfs unchanged");

        try
        {
            var direct = RunIn(["--no-overlay", "-w", dir], "pwd");
            Assert.Equal(dir, direct.Stdout.Trim());
            Assert.True(Directory.Exists(Rootfs.HostPath(dir)));
        }
        finally
        {
            if (Directory.Exists(Rootfs.HostPath(dir)))
                Directory.Delete(Rootfs.HostPath(dir), recursive: true);
        }
    }

    [ContainerFact]
    public void Stdio_is_passed_through_so_pipes_work()
    {
        var result = IsolateBinary.Run(["run", "--rootfs", Rootfs.Path, "--", "tr", "a-z", "A-Z"], stdin: "piped text\n");
        Assert.Equal(0, result.ExitCode);
        Assert.Equal("PIPED TEXT\n", result.Stdout);
    }

    [ContainerFact]
    public void Debug_prints_the_namespaces_and_the_mount_plan_and_still_runs()
    {
        var result = RunIn(["--debug", "-v", $"{Rootfs.HostPath("etc")}:/data:ro"], "true");

        Assert.Equal(0, result.ExitCode);
        string[] lines = result.Stderr.Trim().Split('\n');
        Assert.All(lines, l => Assert.StartsWith("isolate: debug: ", l));
        Assert.Contains(lines, l => l.Contains("namespaces: NewNs, NewUts, NewIpc, NewPid, NewNet"));
        Assert.Contains(lines, l => l.Contains($"mount overlay on {Rootfs.Path} data=lowerdir={Rootfs.Path},upperdir="));
        Assert.Contains(lines, l => l.EndsWith($"capture {Rootfs.HostPath("etc")} as 0 flags=ReadOnly, Rec"));
        Assert.Contains(lines, l => l.EndsWith($"bind {Rootfs.HostPath("etc")} onto /data (in root) flags=ReadOnly, Rec options=CreateDir (capture 0)"));
        Assert.Contains(lines, l => l.EndsWith("pivotroot /"));
    }
}
