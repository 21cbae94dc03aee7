using System.Net.Sockets;
using System.Text.Json.Nodes;
using Isolate.Tests.Support;

namespace Isolate.Tests.Integration;

/// <summary>config.json's mounts made as runc makes them: every entry, in the file's order,
/// with its source, type and options; checked from inside (/proc/self/mountinfo, ls -l)
/// against what runc 1.1.5 shows for the same bundle on this machine.</summary>
public sealed class OciMountTests : ContainerTest, IDisposable
{
    private readonly string _work;
    private readonly string _root;
    private readonly string _bundle;

    public OciMountTests(BusyboxRootfs rootfs) : base(rootfs)
    {
        _work = Own(Directory.CreateTempSubdirectory("isolate-ocimount-").FullName);
        _root = Path.Combine(_work, "state");
        _bundle = Path.Combine(_work, "bundle");
        Directory.CreateDirectory(_bundle);
    }

    void IDisposable.Dispose()
    {
        foreach (string dir in Directory.Exists(_root) ? Directory.GetDirectories(_root) : [])
            IsolateBinary.Run(["--root", _root, "delete", "--force", Path.GetFileName(dir)]);
        Dispose();
        Directory.Delete(_work, recursive: true);
    }

    /// <summary>A bundle from `isolate spec` (runc's default mounts) on <paramref name="rootfs"/>,
    /// running sh -c <paramref name="script"/>.</summary>
    private void MakeBundle(string script, Action<JsonObject>? edit = null, string? rootfs = null)
    {
        var config = OciBundleWriter.Start(_bundle, rootfs ?? Rootfs.Path, ["sh", "-c", script]);
        edit?.Invoke(config);
        OciBundleWriter.Save(_bundle, config);
    }

    /// <summary>OCI run; the id is made unique (a cgroup of the same name may be another test's).</summary>
    private RunResult Run(string id) =>
        IsolateBinary.Run(["--root", _root, "run", "--bundle", _bundle, $"ocimount-{id}-{Guid.NewGuid().ToString("N")[..8]}"]);

    private static JsonObject Mount(string destination, string type, string source, params string[] options) =>
        new()
        {
            ["destination"] = destination,
            ["type"] = type,
            ["source"] = source,
            ["options"] = new JsonArray(options.Select(o => (JsonNode)o!).ToArray()),
        };

    private static void AddMount(JsonObject config, JsonObject mount) => config["mounts"]!.AsArray().Add(mount);

    /// <summary>mountinfo lines as (mount point, per-mount options, fstype, source, optional fields).</summary>
    private static List<(string Point, string Options, string Type, string Source, string Optional)> MountInfo(string text) =>
        text.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split(' '))
            .Where(f => f.Length > 6 && Array.IndexOf(f, "-") > 5)
            .Select(f =>
            {
                int dash = Array.IndexOf(f, "-");
                return (f[4], f[5], f[dash + 1], f[dash + 2], string.Join(' ', f[6..dash]));
            })
            .ToList();

    [ContainerFact]
    public void Mounts_are_made_in_the_configs_order_with_their_sources()
    {
        MakeBundle("cat /proc/self/mountinfo; echo ---; ls -l /dev");
        var result = Run("order");
        Assert.True(result.ExitCode == 0, result.ToString());
        string[] parts = result.Stdout.Split("---\n");
        var mounts = MountInfo(parts[0]);
        var points = mounts.Select(m => m.Point).ToList();

        // runc: /proc, /dev, /dev/pts, /dev/shm, /dev/mqueue, /sys, /sys/fs/cgroup, as listed
        string[] listed = ["/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys", "/sys/fs/cgroup"];
        var order = listed.Select(p => points.IndexOf(p)).ToList();
        Assert.True(order.All(i => i >= 0), $"missing mounts: {string.Join(", ", listed.Where(p => !points.Contains(p)))}\n{parts[0]}");
        Assert.True(order.SequenceEqual(order.Order()), $"not in config.json's order:\n{parts[0]}");
        var shm = mounts.Single(m => m.Point == "/dev/shm");
        Assert.Equal(("tmpfs", "shm", "rw,nosuid,nodev,noexec,relatime"), (shm.Type, shm.Source, shm.Options));
        var mqueue = mounts.Single(m => m.Point == "/dev/mqueue");
        Assert.Equal(("mqueue", "mqueue"), (mqueue.Type, mqueue.Source));
        var dev = mounts.Single(m => m.Point == "/dev");
        Assert.Equal(("tmpfs", "rw,nosuid"), (dev.Type, dev.Options));

        // what runc adds itself on the config's /dev
        string ls = parts[1];
        foreach (string node in new[] { "null", "zero", "full", "random", "urandom", "tty" })
            Assert.Matches($@"(?m)^crw-rw-rw-.* {node}$", ls);
        Assert.Matches(@"(?m)^l.* ptmx -> pts/ptmx$", ls);
        Assert.Matches(@"(?m)^l.* fd -> /proc/self/fd$", ls);
        Assert.Matches(@"(?m)^l.* stderr -> /proc/self/fd/2$", ls);
    }

    [ContainerTheory]
    [InlineData(true)]
    [InlineData(false)] // as containerd writes a config on cgroup v1: the host's cgroup namespace
    public void A_cgroup_mount_shows_the_containers_own_groups(bool cgroupNamespace)
    {
        bool v1 = Directory.Exists("/sys/fs/cgroup/memory");
        string read = v1 ? "/sys/fs/cgroup/memory/memory.limit_in_bytes" : "/sys/fs/cgroup/memory.max";
        MakeBundle($"cat {read}; find {(v1 ? "/sys/fs/cgroup/memory" : "/sys/fs/cgroup")} -mindepth 1 -maxdepth 1 -type d | wc -l; grep ' /sys/fs/cgroup' /proc/self/mountinfo", c =>
        {
            c["linux"]!.AsObject()["resources"] = new JsonObject { ["memory"] = new JsonObject { ["limit"] = 33554432 } };
            if (!cgroupNamespace)
            {
                var namespaces = c["linux"]!["namespaces"]!.AsArray();
                namespaces.Remove(namespaces.First(n => (string)n!["type"]! == "cgroup"));
            }
        });
        var result = Run("cgroup");
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.StartsWith("33554432\n0\n", result.Stdout); // its own group's limit, and no group of the host's below it
        var mounts = MountInfo(result.Stdout);
        if (v1)
        {
            // runc on v1: a tmpfs, and each hierarchy under it read-only as the mount asks
            Assert.Equal("tmpfs", mounts.Single(m => m.Point == "/sys/fs/cgroup").Type);
            var memory = mounts.Single(m => m.Point == "/sys/fs/cgroup/memory");
            Assert.Equal(("cgroup", "ro,nosuid,nodev,noexec,relatime"), (memory.Type, memory.Options));
        }
    }

    [ContainerFact]
    public void Bind_options_are_honoured_by_a_remount()
    {
        string data = Directory.CreateDirectory(Path.Combine(_work, "data")).FullName;
        using var variant = Rootfs.CreateVariant();
        var point = Directory.CreateDirectory(variant.HostPath("/keepmode"));
        File.SetUnixFileMode(point.FullName, (UnixFileMode)0x1E8); // 0750
        MakeBundle("grep -E ' /(data|loose|keepmode|shared) ' /proc/self/mountinfo; stat -c '%a %n' /keepmode", c =>
        {
            AddMount(c, Mount("/data", "bind", data, "rbind", "ro", "nosuid", "nodev", "noexec"));
            AddMount(c, Mount("/loose", "bind", data, "bind", "mode=755")); // data a bind ignores: runc accepts it
            AddMount(c, Mount("/keepmode", "tmpfs", "tmpfs", "nosuid"));
            AddMount(c, Mount("/shared", "tmpfs", "tmpfs", "shared"));
        }, rootfs: variant.Path);
        var result = Run("options");
        Assert.True(result.ExitCode == 0, result.ToString());
        var mounts = MountInfo(result.Stdout);
        Assert.Equal("ro,nosuid,nodev,noexec,relatime", mounts.Single(m => m.Point == "/data").Options);
        Assert.Equal("rw,relatime", mounts.Single(m => m.Point == "/loose").Options);
        Assert.Contains("750 /keepmode", result.Stdout); // runc keeps the mount point's mode
        Assert.StartsWith("shared:", mounts.Single(m => m.Point == "/shared").Optional);
    }

    [ContainerFact]
    public void Mounts_on_the_same_destination_stack_in_order()
    {
        MakeBundle("grep ' /stack ' /proc/self/mountinfo; cat /proc/mounts | grep ' /stack '", c =>
        {
            AddMount(c, Mount("/stack", "tmpfs", "first", "size=1m"));
            AddMount(c, Mount("/stack", "tmpfs", "second", "size=2m"));
        });
        var result = Run("stack");
        Assert.True(result.ExitCode == 0, result.ToString());
        var stack = MountInfo(result.Stdout).Where(m => m.Point == "/stack").Select(m => m.Source).ToList();
        Assert.Equal(["first", "second"], stack);
    }

    [ContainerFact]
    public void A_fifo_and_a_socket_can_be_bound()
    {
        string fifo = Path.Combine(_work, "fifo");
        using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", fifo))
        {
            mkfifo.WaitForExit();
            Assert.Equal(0, mkfifo.ExitCode);
        }
        string socketPath = Path.Combine(_work, "sock");
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        socket.Bind(new UnixDomainSocketEndPoint(socketPath));
        MakeBundle("ls -l /run/fifo /run/sock", c =>
        {
            AddMount(c, Mount("/run/fifo", "bind", fifo, "rbind"));
            AddMount(c, Mount("/run/sock", "bind", socketPath, "rbind"));
        });
        var result = Run("special");
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Matches(@"(?m)^p.* /run/fifo$", result.Stdout);
        Assert.Matches(@"(?m)^s.* /run/sock$", result.Stdout);
    }

    [ContainerFact]
    public void The_hosts_dev_can_be_bound()
    {
        MakeBundle("grep ' /dev ' /proc/self/mountinfo; ls /dev/ | grep -c .", c =>
        {
            var mounts = c["mounts"]!.AsArray();
            for (int i = mounts.Count - 1; i >= 0; i--)
            {
                if (((string)mounts[i]!["destination"]!).StartsWith("/dev", StringComparison.Ordinal))
                    mounts.RemoveAt(i);
            }
            AddMount(c, Mount("/dev", "bind", "/dev", "rbind", "nosuid"));
        });
        var result = Run("hostdev");
        Assert.True(result.ExitCode == 0, result.ToString());
        var dev = MountInfo(result.Stdout).Single(m => m.Point == "/dev");
        Assert.Equal("devtmpfs", dev.Type);
        Assert.Contains("nosuid", dev.Options);
    }

    [ContainerFact]
    public void A_mount_on_the_root_covers_it()
    {
        using var other = Rootfs.CreateVariant();
        File.WriteAllText(other.HostPath("/etc/which"), "the other root\n");
        MakeBundle("cat /etc/which", c =>
        {
            var mounts = c["mounts"]!.AsArray();
            mounts.Insert(0, Mount("/", "bind", other.Path, "rbind"));
        });
        var result = Run("onroot");
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal("the other root\n", result.Stdout);
    }

    [ContainerFact]
    public void An_overlay_mount_is_made()
    {
        string lower = Directory.CreateDirectory(Path.Combine(_work, "lower")).FullName;
        string upper = Directory.CreateDirectory(Path.Combine(_work, "upper")).FullName;
        string workDir = Directory.CreateDirectory(Path.Combine(_work, "ovwork")).FullName;
        File.WriteAllText(Path.Combine(lower, "from-lower"), "lower\n");
        MakeBundle("cat /merged/from-lower && echo new > /merged/written && grep ' /merged ' /proc/self/mountinfo", c =>
            AddMount(c, Mount("/merged", "overlay", "overlay", $"lowerdir={lower}", $"upperdir={upper}", $"workdir={workDir}")));
        var result = Run("overlay");
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.StartsWith("lower\n", result.Stdout);
        Assert.Equal("overlay", MountInfo(result.Stdout).Single(m => m.Point == "/merged").Type);
        Assert.Equal("new\n", File.ReadAllText(Path.Combine(upper, "written")));
    }

    [ContainerFact]
    public void Root_propagation_shared_is_made_after_the_mounts()
    {
        MakeBundle("awk '$5 == \"/\"' /proc/self/mountinfo", c => c["linux"]!["rootfsPropagation"] = "shared");
        var result = Run("rshared");
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.StartsWith("shared:", MountInfo(result.Stdout).Single(m => m.Point == "/").Optional);
    }

    [ContainerFact]
    public void An_idmap_mount_is_refused_with_one_line()
    {
        MakeBundle("true", c => AddMount(c, Mount("/data", "bind", _work, "rbind", "idmap")));
        var result = Run("idmap");
        Assert.Equal(125, result.ExitCode);
        Assert.StartsWith("isolate: config.json: mounts[", result.Stderr);
        Assert.Contains(".options[1]: 'idmap'", result.Stderr);
        Assert.Single(result.Stderr.Trim().Split('\n'));
    }

    [ContainerFact]
    public void A_missing_cwd_is_made_before_the_root_becomes_read_only()
    {
        using var variant = Rootfs.CreateVariant();
        MakeBundle("pwd", c =>
        {
            c["root"]!["readonly"] = true;
            c["process"]!["cwd"] = "/not/there/yet";
        }, rootfs: variant.Path);
        var result = Run("cwd");
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal("/not/there/yet\n", result.Stdout);
    }

    [ContainerFact]
    public void A_bind_source_under_a_root_only_directory_is_opened_before_the_user_namespace()
    {
        string locked = Directory.CreateDirectory(Path.Combine(_work, "locked")).FullName;
        File.SetUnixFileMode(locked, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute); // 0700 root
        string data = Directory.CreateDirectory(Path.Combine(locked, "data")).FullName;
        File.SetUnixFileMode(data, (UnixFileMode)0x1ED);
        File.WriteAllText(Path.Combine(data, "file"), "readable\n");
        File.SetUnixFileMode(Path.Combine(data, "file"), (UnixFileMode)0x1A4);
        MakeBundle("cat /data/file", c =>
        {
            var linux = c["linux"]!.AsObject();
            linux["namespaces"]!.AsArray().Add(new JsonObject { ["type"] = "user" });
            linux["uidMappings"] = new JsonArray(new JsonObject { ["containerID"] = 0, ["hostID"] = 100000, ["size"] = 65536 });
            linux["gidMappings"] = new JsonArray(new JsonObject { ["containerID"] = 0, ["hostID"] = 100000, ["size"] = 65536 });
            AddMount(c, Mount("/data", "bind", data, "rbind", "ro"));
        });
        var result = Run("userns");
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal("readable\n", result.Stdout);
    }
}
