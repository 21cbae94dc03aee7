using System.Security.Cryptography;
using Isolate.Tests.Support;

namespace Isolate.Tests.Integration;

/// <summary>--userns run by root: root inside is an unprivileged id outside, seen from both
/// sides - /proc/self/uid_map inside, file owners and permissions on the host.</summary>
public sealed class UserNamespaceTests(BusyboxRootfs rootfs) : ContainerTest(rootfs), IDisposable
{
    private const string Map = "0:100000:65536";
    private readonly string _host = CreateOpenDirectory();

    private static string CreateOpenDirectory()
    {
        string dir = Directory.CreateTempSubdirectory("isolate-test-userns-").FullName;
        File.SetUnixFileMode(dir, (UnixFileMode)0x1FF); // 0777: the namespace's root is nobody here
        return dir;
    }

    void IDisposable.Dispose()
    {
        Directory.Delete(_host, recursive: true);
        Dispose();
    }

    [ContainerFact]
    public void Root_inside_is_host_uid_100000_in_the_uid_and_gid_maps()
    {
        var result = Sh("id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map", "--userns", Map);
        Assert.True(result.ExitCode == 0, result.ToString());
        var lines = result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => string.Join(' ', l.Split(' ', StringSplitOptions.RemoveEmptyEntries))).ToArray();
        Assert.Equal(["0", "0", "0 100000 65536", "0 100000 65536"], lines);
    }

    [ContainerFact]
    public void What_root_inside_creates_on_a_volume_belongs_to_the_mapped_host_ids()
    {
        var asRoot = Sh("touch /data/by-root && mkdir /data/dir", "--userns", Map, "-v", $"{_host}:/data");
        var asUser = Sh("touch /data/by-user", "--userns", Map, "-u", "1000:1000", "-v", $"{_host}:/data");

        Assert.True(asRoot.ExitCode == 0, asRoot.ToString());
        Assert.True(asUser.ExitCode == 0, asUser.ToString());
        Assert.Equal((100000, 100000), Owner(Path.Combine(_host, "by-root")));
        Assert.Equal((100000, 100000), Owner(Path.Combine(_host, "dir")));
        Assert.Equal((101000, 101000), Owner(Path.Combine(_host, "by-user")));
    }

    [ContainerFact]
    public void Root_inside_cannot_read_a_host_file_only_host_root_may_read()
    {
        string secret = Path.Combine(_host, "secret");
        File.WriteAllText(secret, "host only\n");
        File.SetUnixFileMode(secret, UnixFileMode.UserRead | UnixFileMode.UserWrite); // 0600, root's

        var result = Sh("cat /data/secret; echo overwritten > /data/secret", "--userns", Map, "-v", $"{_host}:/data");

        Assert.Contains("cat: can't open '/data/secret': Permission denied", result.Stderr);
        Assert.Contains("Permission denied", result.Stderr.Split('\n')[1]);
        Assert.Equal("host only\n", File.ReadAllText(secret));
    }

    [ContainerFact]
    public void The_rootfs_is_id_mapped_so_its_files_are_roots_and_writes_stay_in_the_layer()
    {
        string before = Hash(Rootfs.HostPath("/etc/passwd"));
        var result = Sh("stat -c '%u:%g' /etc/passwd /bin/busybox; echo 'x:x:5:5::/:/bin/sh' >> /etc/passwd && tail -1 /etc/passwd",
            "--userns", Map);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal("0:0\n0:0\nx:x:5:5::/:/bin/sh\n", result.Stdout);
        Assert.Equal(before, Hash(Rootfs.HostPath("/etc/passwd")));
        Assert.Equal((0, 0), Owner(Rootfs.HostPath("/etc/passwd")));
    }

    [ContainerFact]
    public void The_namespace_keeps_the_default_confinement()
    {
        var result = Sh("grep -E '^(CapEff|NoNewPrivs|Seccomp):' /proc/self/status; probe unshare-user", "--userns", Map);
        Assert.Contains("CapEff:\t00000000a80425fb", result.Stdout);
        Assert.Contains("NoNewPrivs:\t1", result.Stdout);
        Assert.Contains("Seccomp:\t2", result.Stdout);
        Assert.EndsWith("errno EPERM\n", result.Stdout); // a user namespace inside: refused by the filter
    }

    [ContainerFact]
    public void Auto_takes_the_named_users_range_from_etc_subuid_and_subgid()
    {
        string user = "isolate-test-" + Environment.ProcessId;
        using var subuid = new AppendedLine("/etc/subuid", $"{user}:200000:70000");
        using var subgid = new AppendedLine("/etc/subgid", $"{user}:300000:65536");

        var result = Sh("cat /proc/self/uid_map /proc/self/gid_map", "--userns", "auto:" + user);

        Assert.True(result.ExitCode == 0, result.ToString());
        var lines = result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => string.Join(' ', l.Split(' ', StringSplitOptions.RemoveEmptyEntries)));
        Assert.Equal(["0 200000 65536", "0 300000 65536"], lines);
    }

    [ContainerTheory]
    [InlineData(new[] { "--userns", "0:100000:1000", "-u", "5000" }, "isolate: --user: uid 5000 has no id in the container's user namespace (--userns maps 0:100000:1000)\n")]
    [InlineData(new[] { "--userns", "1:100000:10" }, "isolate: invalid --userns '1:100000:10': container id 0 must be mapped (the container starts as root), as in 0:100000:65536\n")]
    [InlineData(new[] { "--userns", "0:100000" }, "isolate: invalid --userns '0:100000': use host, auto[:USER] or ID:HOSTID:COUNT[,ID:HOSTID:COUNT...]\n")]
    [InlineData(new[] { "--userns", "auto:nobody-has-this-name" }, "isolate: --userns=auto: /etc/subuid has no range for user 'nobody-has-this-name': add one (usermod --add-subuids 100000-165535 --add-subgids 100000-165535 nobody-has-this-name), or give the map: --userns 0:100000:65536\n")]
    public void Bad_maps_are_one_line_errors_with_125(string[] options, string error)
    {
        var result = RunIn(options, "true");
        Assert.Equal(125, result.ExitCode);
        Assert.Equal(error, result.Stderr);
    }

    [ContainerFact]
    public void With_the_hosts_network_sys_is_the_hosts_bound_read_only()
    {
        var result = Sh("grep -E ' /sys ' /proc/self/mountinfo; test -d /sys/class/net/lo && echo has-lo; touch /sys/x",
            "--userns", Map, "--network", "host");
        Assert.Contains(" /sys ro,", result.Stdout);
        Assert.Contains("has-lo", result.Stdout);
        Assert.Contains("Read-only file system", result.Stderr);
    }

    [ContainerFact]
    public void A_blocked_user_namespace_is_a_clear_error()
    {
        string sysfail = Path.Combine(IsolateBinary.RepoRoot, "build", "native", "sysfail");
        var result = IsolateBinary.RunFromShell($"exec {sysfail} --no-userns -- \"$ISOLATE\" run --rootfs {Rootfs.Path} --userns {Map} -- true");
        Assert.Equal(125, result.ExitCode);
        Assert.Equal("isolate: create the container's namespaces: Operation not permitted: this host does not let anyone create a user namespace here (a seccomp filter, or a container Isolate runs in, may forbid it); drop --userns\n", result.Stderr);
    }

    [ContainerTheory]
    [InlineData("--userns", Map)]
    [InlineData("-u", "1000")]
    public void Killing_isolate_kills_a_container_that_changed_its_user(string option, string value)
    {
        // The kernel clears PR_SET_PDEATHSIG whenever the ids change; the shim arms it again.
        // Without a cgroup, no reaper would catch a container that lost it.
        using var isolate = IsolateBinary.Start(["run", "--rootfs", Rootfs.Path, "--cgroups", "disabled", option, value, "--", "sh", "-c", "echo ready; exec sleep 100"]);
        int container = isolate.ContainerPid();
        Assert.Equal(0, kill(isolate.Pid, 9));
        HostProcesses.WaitUntilGone(container, TimeSpan.FromSeconds(5));
        Assert.False(HostProcesses.Exists(container), "the container outlived isolate");
    }

    [System.Runtime.InteropServices.DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int signal);

    private static (int Uid, int Gid) Owner(string path)
    {
        var result = IsolateBinary.RunToEnd(new System.Diagnostics.ProcessStartInfo("stat", ["-c", "%u %g", path]) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true });
        var parts = result.Stdout.Trim().Split(' ');
        return (int.Parse(parts[0]), int.Parse(parts[1]));
    }

    private static string Hash(string path) => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path)));

    /// <summary>A line added to a host file for one test, removed again after.</summary>
    private sealed class AppendedLine : IDisposable
    {
        private readonly string _path;
        private readonly string? _before;

        public AppendedLine(string path, string line)
        {
            _path = path;
            _before = File.Exists(path) ? File.ReadAllText(path) : null;
            File.AppendAllText(path, (_before is { Length: > 0 } && !_before.EndsWith('\n') ? "\n" : "") + line + "\n");
        }

        public void Dispose()
        {
            if (_before is null)
                File.Delete(_path);
            else
                File.WriteAllText(_path, _before);
        }
    }
}
