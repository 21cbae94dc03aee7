using System.Diagnostics;
using System.Text.Json.Nodes;
using Isolate.Tests.Support;

namespace Isolate.Tests.Integration;

/// <summary>config.json's process and namespace fields as the command sees them from inside:
/// umask, domainname, HOME, the host's namespaces where the config leaves them out, a PID
/// namespace joined by path; and the fields refused at create.</summary>
public sealed class OciProcessTests : ContainerTest, IDisposable
{
    private readonly string _work;
    private readonly string _root;
    private readonly string _bundle;

    public OciProcessTests(BusyboxRootfs rootfs) : base(rootfs)
    {
        _work = Directory.CreateTempSubdirectory("isolate-ociproc-").FullName;
        _root = Path.Combine(_work, "state");
        _bundle = Path.Combine(_work, "bundle");
        Directory.CreateDirectory(_bundle);
    }

    void IDisposable.Dispose()
    {
        foreach (string dir in Directory.Exists(_root) ? Directory.GetDirectories(_root) : [])
            IsolateBinary.Run(["--root", _root, "delete", "--force", Path.GetFileName(dir)]);
        Directory.Delete(_work, recursive: true);
        Dispose();
    }

    private RunResult RunBundle(string script, Action<JsonObject>? edit = null)
    {
        var config = OciBundleWriter.Start(_bundle, Rootfs.Path, ["sh", "-c", script]);
        edit?.Invoke(config);
        OciBundleWriter.Save(_bundle, config);
        return IsolateBinary.Run(["--root", _root, "run", "--bundle", _bundle, "c" + Environment.ProcessId], stdin: "");
    }

    private static string Link(string path) => new FileInfo(path).LinkTarget!;

    /// <summary>A child of <paramref name="pid"/>, or 0.</summary>
    private static int ChildOf(int pid)
    {
        foreach (string dir in Directory.GetDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out int candidate))
                continue;
            try
            {
                string stat = File.ReadAllText(Path.Combine(dir, "stat"));
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                if (fields[1] == pid.ToString(System.Globalization.CultureInfo.InvariantCulture))
                    return candidate;
            }
            catch (IOException)
            {
            }
        }
        return 0;
    }

    private static void LeaveOut(JsonObject config, params string[] types)
    {
        var list = config["linux"]!["namespaces"]!.AsArray();
        foreach (var entry in list.Where(n => types.Contains((string)n!["type"]!)).ToList())
            list.Remove(entry);
    }

    [ContainerFact]
    public void Umask_domainname_and_home_reach_the_command()
    {
        var result = RunBundle("umask; cat /proc/sys/kernel/domainname; echo \"HOME=$HOME\"; touch /dev/shm/f; stat -c %a /dev/shm/f", c =>
        {
            c["process"]!["user"]!["umask"] = 63; // 077
            c["domainname"] = "example.org";
        });
        Assert.True(result.ExitCode == 0, result.ToString());
        // root's entry in the rootfs's /etc/passwd gives HOME, as runc sets it
        Assert.Equal("0077\nexample.org\nHOME=/root\n600\n", result.Stdout);
    }

    /// <summary>seccomp's SECCOMP_FILTER_FLAG_LOG: the kernel logs the filter's errno returns
    /// (an audit record of type 1326 in the kernel log, with no auditd) only when the filter was
    /// installed with the flag. The kernel rate-limits these lines, so a miss is tried again.</summary>
    [ContainerFact]
    public void Seccomp_flag_log_makes_the_kernel_log_the_filters_actions()
    {
        static int Records() => IsolateBinary.RunFromShell("dmesg").Stdout.Split('\n')
            .Count(l => l.Contains("type=1326", StringComparison.Ordinal) && l.Contains("syscall=83 ", StringComparison.Ordinal));
        void Seccomp(JsonObject c, params string[] flags) => c["linux"]!["seccomp"] = new JsonObject
        {
            ["defaultAction"] = "SCMP_ACT_ALLOW",
            ["flags"] = new JsonArray([.. flags.Select(f => JsonValue.Create(f))]),
            ["syscalls"] = new JsonArray(new JsonObject { ["names"] = new JsonArray("mkdir"), ["action"] = "SCMP_ACT_ERRNO" }),
        };
        const string script = "mkdir /tmp/a; mkdir /tmp/b; mkdir /tmp/c; echo done";

        int before = Records();
        var quiet = RunBundle(script, c => Seccomp(c));
        Assert.True(quiet.ExitCode == 0 && quiet.Stdout == "done\n", quiet.ToString());
        Assert.Contains("Operation not permitted", quiet.Stderr);
        Assert.Equal(before, Records());

        bool logged = false;
        for (int attempt = 0; attempt < 3 && !logged; attempt++)
        {
            if (attempt > 0)
                Thread.Sleep(5500); // printk's rate limit: 10 lines per 5 s
            before = Records();
            var loud = RunBundle(script, c => Seccomp(c, "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_TSYNC"));
            Assert.True(loud.ExitCode == 0 && loud.Stdout == "done\n", loud.ToString());
            logged = Records() > before;
        }
        Assert.True(logged, "no audit record of the filter's mkdir errno in dmesg (is auditd taking them?)");
    }

    [ContainerFact]
    public void Without_a_umask_the_command_gets_runcs_022()
    {
        var result = RunBundle("umask");
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal("0022\n", result.Stdout);
    }

    [ContainerFact]
    public void Namespaces_left_out_are_the_hosts()
    {
        var result = RunBundle("for ns in pid ipc uts mnt; do readlink /proc/self/ns/$ns; done; echo $$", c =>
        {
            LeaveOut(c, "pid", "ipc", "uts");
            c.Remove("hostname");
        });
        Assert.True(result.ExitCode == 0, result.ToString());
        var lines = result.Stdout.Split('\n');
        Assert.Equal(Link("/proc/self/ns/pid"), lines[0].Trim());
        Assert.Equal(Link("/proc/self/ns/ipc"), lines[1].Trim());
        Assert.Equal(Link("/proc/self/ns/uts"), lines[2].Trim());
        Assert.NotEqual(Link("/proc/self/ns/mnt"), lines[3].Trim()); // still its own
        Assert.NotEqual("1", lines[4].Trim()); // not PID 1: a process of the host's PID namespace
    }

    [ContainerFact]
    public void A_pid_namespace_joined_by_path_holds_the_command()
    {
        using var holder = Process.Start(new ProcessStartInfo("unshare", ["--pid", "--fork", "--mount-proc", "sleep", "60"]))!;
        try
        {
            int sleeper = 0;
            for (int i = 0; i < 200 && sleeper == 0; i++)
            {
                sleeper = ChildOf(holder.Id);
                if (sleeper == 0)
                    Thread.Sleep(10);
            }
            Assert.NotEqual(0, sleeper);
            string target = Link($"/proc/{sleeper}/ns/pid");
            var result = RunBundle("readlink /proc/self/ns/pid; echo $$", c =>
            {
                foreach (var ns in c["linux"]!["namespaces"]!.AsArray())
                {
                    if ((string)ns!["type"]! == "pid")
                        ns["path"] = $"/proc/{sleeper}/ns/pid";
                }
            });
            Assert.True(result.ExitCode == 0, result.ToString());
            var lines = result.Stdout.Split('\n');
            Assert.Equal(target, lines[0].Trim());
        }
        finally
        {
            holder.Kill(entireProcessTree: true);
            holder.WaitForExit();
        }
    }

    [ContainerFact]
    public void A_mount_namespace_joined_by_path_is_where_the_root_is_set_up()
    {
        // a namespace kept by a bind mount of its file, as `ip netns` keeps network ones;
        // as under runc, the container's pivot_root happens in it
        string dir = Path.Combine(_work, "ns");
        Directory.CreateDirectory(dir);
        string file = Path.Combine(dir, "mnt");
        Assert.Equal(0, Shell($"mount --bind {dir} {dir} && mount --make-private {dir} && touch {file} && unshare --mount={file} --propagation private true"));
        try
        {
            string inodeFile = Path.Combine(_work, "inode");
            Assert.Equal(0, Shell($"stat -L -c %i {file} > {inodeFile}"));
            string inode = File.ReadAllText(inodeFile).Trim();
            var result = RunBundle("readlink /proc/self/ns/mnt", c =>
            {
                foreach (var ns in c["linux"]!["namespaces"]!.AsArray())
                {
                    if ((string)ns!["type"]! == "mount")
                        ns["path"] = file;
                }
            });
            Assert.True(result.ExitCode == 0, result.ToString());
            Assert.Equal($"mnt:[{inode}]", result.Stdout.Trim());
            Assert.NotEqual(Link("/proc/self/ns/mnt"), result.Stdout.Trim());
        }
        finally
        {
            Shell($"umount {file}; umount {dir}");
        }
    }

    private static int Shell(string script)
    {
        using var p = Process.Start(new ProcessStartInfo("sh", ["-c", script]))!;
        p.WaitForExit();
        return p.ExitCode;
    }

    [ContainerFact]
    public void A_sysctl_for_the_hostname_is_refused()
    {
        var result = RunBundle("true", c => c["linux"]!["sysctl"] = new JsonObject { ["kernel.hostname"] = "x" });
        Assert.Equal(125, result.ExitCode);
        Assert.Contains("config.json: linux.sysctl.kernel.hostname: conflicts with the hostname field", result.Stderr);
    }
}
