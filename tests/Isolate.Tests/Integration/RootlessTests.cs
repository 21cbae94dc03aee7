using System.Security.Cryptography;
using Isolate.Tests.Support;

namespace Isolate.Tests.Integration;

/// <summary>Isolate run by an unprivileged user (uid 4242): it maps that user to root in a
/// user namespace and does everything a user namespace allows. The foundation's basic cases
/// - exit codes, PID 1, hostname, network, mounts, copy-on-write, volumes, signals, the
/// default confinement - checked from inside as a user would, plus the clear errors for
/// what a non-root user cannot have.</summary>
public sealed class RootlessTests : ContainerTest, IClassFixture<RootlessSetup>
{
    private readonly RootlessSetup _setup;

    public RootlessTests(BusyboxRootfs rootfs, RootlessSetup setup) : base(rootfs)
    {
        _setup = setup;
        Own(setup.Dir); // its binary and root: what runs them is this suite's
        if (RootlessSetup.Unavailable is null)
            setup.PrepareRootfs(rootfs.Path);
    }

    private RunResult Run(string[] options, params string[] command) =>
        _setup.Isolate(["run", "--rootfs", _setup.Rootfs, .. options, "--", .. command]);

    private RunResult UserSh(string script, params string[] options) => Run(options, "sh", "-c", script);

    private static string[] Lines(string text) =>
        text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => string.Join(' ', l.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries))).ToArray();

    [RootlessFact]
    public void The_caller_is_root_inside_and_only_itself_outside()
    {
        var result = UserSh("id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map; cat /proc/self/setgroups");
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal(["0", "0", "0 4242 1", "0 4242 1", "deny"], Lines(result.Stdout));
    }

    [RootlessFact]
    public void Exit_codes_are_the_commands_and_dockers()
    {
        Assert.Equal(7, UserSh("exit 7").ExitCode);
        var missing = Run([], "nosuch");
        Assert.Equal(127, missing.ExitCode);
        Assert.StartsWith("isolate: exec nosuch: executable file not found in PATH", missing.Stderr);
        Assert.Equal(126, Run([], "/etc/not-executable").ExitCode);
        Assert.Equal(125, Run(["--hostname", "-bad"], "true").ExitCode);
    }

    [RootlessFact]
    public void The_command_is_pid_1_and_sees_only_its_own_processes()
    {
        var result = UserSh("sleep 5 & ps -o pid,comm; kill $!");
        Assert.True(result.ExitCode == 0, result.ToString());
        var lines = Lines(result.Stdout);
        Assert.Equal(["PID COMMAND", "1 sh"], lines[..2]);
        Assert.Equal(["2", "3"], lines[2..].Select(l => l.Split(' ')[0])); // the background sleep and ps: nothing else
    }

    [RootlessFact]
    public void Hostname_workdir_environment_and_a_network_with_only_lo()
    {
        var result = UserSh("hostname; pwd; echo $GREETING; ls /sys/class/net", "--hostname", "rootless-1", "-w", "/tmp/new", "-e", "GREETING=hello");
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal(["rootless-1", "/tmp/new", "hello", "lo"], Lines(result.Stdout));
    }

    [RootlessFact]
    public void Proc_sys_dev_and_the_masks_are_mounted_as_for_root()
    {
        var result = UserSh("cat /proc/self/mountinfo");
        Assert.True(result.ExitCode == 0, result.ToString());
        var mounts = Lines(result.Stdout).Select(l => l.Split(' ')).ToDictionary(f => f[4], f => (Options: f[5], Type: f[Array.IndexOf(f, "-") + 1]));
        Assert.Equal("overlay", mounts["/"].Type);
        Assert.Equal("proc", mounts["/proc"].Type);
        Assert.Equal("sysfs", mounts["/sys"].Type);
        Assert.StartsWith("ro,", mounts["/sys"].Options);
        Assert.Equal("devpts", mounts["/dev/pts"].Type);
        Assert.StartsWith("ro,", mounts["/proc/sys"].Options);
        Assert.True(mounts.ContainsKey("/proc/keys"), "/proc/keys is masked");
        Assert.True(mounts.ContainsKey("/sys/firmware"), "/sys/firmware is masked");
    }

    [RootlessFact]
    public void Writes_go_to_the_layer_and_the_users_rootfs_is_unchanged()
    {
        string passwd = Path.Combine(_setup.Rootfs, "etc", "passwd");
        string before = Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(passwd)));
        var result = UserSh("echo changed > /etc/passwd && rm /bin/ls && cat /etc/passwd");
        Assert.Equal("changed\n", result.Stdout);
        Assert.Equal(before, Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(passwd))));
        Assert.True(File.Exists(Path.Combine(_setup.Rootfs, "bin", "ls")) || new FileInfo(Path.Combine(_setup.Rootfs, "bin", "ls")).LinkTarget != null);
    }

    /// <summary>A non-root user's layer nested hundreds deep, with directories its owner may
    /// not write into or read, is removed as root's is.</summary>
    [RootlessFact]
    public void A_layer_nested_deep_with_directories_the_user_cannot_write_into_is_removed()
    {
        string state = Path.Combine(_setup.Dir, "deep-state");
        Directory.CreateDirectory(state);
        Assert.Equal(0, RootlessSetup.Host("chown", $"{RootlessSetup.Uid}:{RootlessSetup.Uid}", state).ExitCode);
        const string script = """
            d=/deep; i=0; while [ $i -lt 200 ]; do d=$d/d; i=$((i+1)); done
            mkdir -p $d/x/y && chmod 500 /deep/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d && chmod 000 $d/x && echo made
            """;
        var result = _setup.Isolate("--root", state, "run", "--rootfs", _setup.Rootfs, "--", "sh", "-c", script);
        Assert.Equal((0, "made\n", ""), (result.ExitCode, result.Stdout, result.Stderr));
        Assert.Empty(Directory.EnumerateFileSystemEntries(state));
    }

    /// <summary>The shim's rm -r as a non-root user outside any user namespace, where the
    /// owner's permissions bind it too: a tree 100 deep whose every directory is r-x (and one
    /// 000) goes, including the directories moved up from deeper than it holds open (moving a
    /// directory needs write permission on it). Driven through native/test/rmtree.c.</summary>
    [RootlessFact]
    public void The_shims_rm_r_removes_a_deep_tree_of_directories_its_owner_cannot_write_into()
    {
        string helper = Path.Combine(_setup.Dir, "rmtree");
        File.Copy(Path.Combine(IsolateBinary.RepoRoot, "build", "native", "rmtree"), helper, overwrite: true);
        string dir = Path.Combine(_setup.Dir, "tree");
        Directory.CreateDirectory(dir);
        Assert.Equal(0, RootlessSetup.Host("chown", $"{RootlessSetup.Uid}:{RootlessSetup.Uid}", dir).ExitCode);
        var made = RootlessSetup.AsUser("sh", "-c", $"""
            cd {dir} && d=t && i=0 && while [ $i -lt 100 ]; do d=$d/d; i=$((i+1)); done
            mkdir -p $d/x && chmod 000 $d/x && while [ "$d" != t ]; do chmod 500 $d; d=${"{"}d%/d{"}"}; done && echo made
            """);
        Assert.True(made.Stdout == "made\n", made.ToString());

        var removed = RootlessSetup.AsUser(helper, Path.Combine(dir, "t"));

        Assert.Equal((0, "0\n"), (removed.ExitCode, removed.Stdout));
        Assert.Empty(Directory.EnumerateFileSystemEntries(dir));
        Directory.Delete(dir);
    }

    [RootlessFact]
    public void Files_made_on_a_volume_belong_to_the_caller_and_a_read_only_volume_refuses_writes()
    {
        string dir = Path.Combine(_setup.Dir, "volume-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        RootlessSetup.Host("chown", $"{RootlessSetup.Uid}:{RootlessSetup.Uid}", dir);

        var write = UserSh("echo data > /data/file", "-v", $"{dir}:/data");
        var readOnly = UserSh("echo more > /data/other", "-v", $"{dir}:/data:ro");

        Assert.True(write.ExitCode == 0, write.ToString());
        Assert.Equal("4242 4242\n", RootlessSetup.Host("stat", "-c", "%u %g", Path.Combine(dir, "file")).Stdout);
        Assert.Contains("Read-only file system", readOnly.Stderr);
    }

    [RootlessFact]
    public void The_default_host_root_is_read_only_with_a_private_tmp()
    {
        var result = _setup.Isolate("run", "--", "sh", "-c", "touch /etc/x; echo hi > /tmp/x && cat /tmp/x; id -u");
        Assert.Equal("hi\n0\n", result.Stdout);
        Assert.Contains("Read-only file system", result.Stderr);
    }

    [RootlessFact]
    public void The_default_confinement_holds_inside_the_user_namespace()
    {
        var result = UserSh("grep -E '^(CapBnd|CapEff|NoNewPrivs|Seccomp):' /proc/self/status; probe unshare-user; probe mount");
        Assert.Equal(["CapEff: 00000000a80425fb", "CapBnd: 00000000a80425fb", "NoNewPrivs: 1", "Seccomp: 2", "errno EPERM", "errno EPERM"], Lines(result.Stdout));
    }

    [RootlessFact]
    public void Sigterm_stops_the_container_and_killing_isolate_kills_it()
    {
        string output = Path.Combine(_setup.Dir, "out-" + Guid.NewGuid().ToString("N"));
        string start = $"setpriv --reuid {RootlessSetup.Uid} --regid {RootlessSetup.Uid} --clear-groups {_setup.Binary} run --rootfs {_setup.Rootfs} -- sh -c 'echo ready; exec sleep 100' > {output} &"
            + " p=$!; for i in $(seq 200); do grep -q ready " + output + " && break; sleep 0.05; done;";
        var term = IsolateBinary.RunFromShell(start + " kill -TERM $p; wait $p; echo $?");
        var kill = IsolateBinary.RunFromShell(start + " kill -KILL $p; wait $p; echo $?");

        Assert.Equal("143\n", term.Stdout);
        Assert.Equal("137\n", kill.Stdout);
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (HostProcesses.OfThisTestInOtherPidNamespaces().Count > 0 && DateTime.UtcNow < deadline)
            Thread.Sleep(20);
        Assert.Empty(HostProcesses.OfThisTestInOtherPidNamespaces());
    }

    [RootlessFact]
    public void What_a_user_namespace_cannot_give_is_a_one_line_error()
    {
        var limits = Run(["--memory", "64m"], "true");
        var user = Run(["-u", "1000"], "true");
        var groups = Run(["--group-add", "5"], "true");
        var map = Run(["--userns", "0:100000:65536"], "true");
        var host = Run(["--userns", "host"], "true");
        // sudo -u keeps root's HOME: run -d cannot keep its log there
        var detached = RootlessSetup.AsUser("env", "-u", "XDG_DATA_HOME", "HOME=/root", _setup.Binary, "run", "-d", "--rootfs", _setup.Rootfs, "--", "true");

        Assert.Equal((125, "isolate: limits, --stats and --cgroups=enabled need a cgroup, which a non-root user cannot create: run isolate as root, or drop them\n"), (limits.ExitCode, limits.Stderr));
        Assert.Equal((125, "isolate: --user: uid 1000 has no id in the container's user namespace (run by a non-root user, only root (0) exists inside)\n"), (user.ExitCode, user.Stderr));
        Assert.Equal((125, "isolate: --group-add needs root: a non-root user's user namespace cannot set supplementary groups\n"), (groups.ExitCode, groups.Stderr));
        Assert.Equal((125, "isolate: --userns 0:100000:65536: a non-root user may map only its own uid 4242, to root (0:4242:1); mapping other host ids needs root\n"), (map.ExitCode, map.Stderr));
        Assert.Equal((125, "isolate: --userns=host needs root: run by a non-root user (uid 4242), isolate needs a user namespace; drop --userns=host\n"), (host.ExitCode, host.Stderr));
        Assert.Equal((125, "isolate: run -d: cannot create the log directory /root/.local/share/isolate/containers: permission denied; set HOME (or XDG_DATA_HOME) to a directory of your own\n"), (detached.ExitCode, detached.Stderr));
    }

    [RootlessFact]
    public void A_host_that_forbids_user_namespaces_gets_a_clear_error()
    {
        string sysfail = Path.Combine(_setup.Dir, "sysfail");
        if (!File.Exists(sysfail))
        {
            File.Copy(Path.Combine(IsolateBinary.RepoRoot, "build", "native", "sysfail"), sysfail);
            File.SetUnixFileMode(sysfail, (UnixFileMode)0x1ED);
        }
        var result = RootlessSetup.AsUser(sysfail, "--no-userns", "--", _setup.Binary, "run", "--rootfs", _setup.Rootfs, "--", "true");
        Assert.Equal(125, result.ExitCode);
        Assert.Equal("isolate: create the container's namespaces: Operation not permitted: this host does not let a non-root user create a user namespace here (a seccomp filter, or a container Isolate runs in, may forbid it); run isolate as root\n", result.Stderr);
    }

    [RootlessFact]
    public void A_non_root_user_runs_the_oci_lifecycle_on_a_rootless_spec()
    {
        string work = Directory.CreateTempSubdirectory("isolate-rootless-oci-").FullName;
        try
        {
            RootlessSetup.Host("chown", $"{RootlessSetup.Uid}:{RootlessSetup.Uid}", work);
            string bundle = Path.Combine(work, "bundle"), root = Path.Combine(work, "state");
            Assert.Equal(0, RootlessSetup.AsUser("mkdir", bundle).ExitCode);
            var spec = _setup.Isolate("spec", "--rootless", "--bundle", bundle);
            Assert.True(spec.ExitCode == 0, spec.ToString());
            string config = File.ReadAllText(Path.Combine(bundle, "config.json"))
                .Replace("\"terminal\": true", "\"terminal\": false")
                .Replace("\"path\": \"rootfs\"", $"\"path\": \"{_setup.Rootfs}\"")
                .Replace("\"sh\"\n", "\"sleep\", \"100\"\n");
            RootlessSetup.AsUser("sh", "-c", $"cat > {bundle}/config.json <<'EOF'\n{config}\nEOF");
            Assert.Contains("\"sleep\"", File.ReadAllText(Path.Combine(bundle, "config.json")));

            var create = RootlessSetup.AsUser("sh", "-c", $"exec {_setup.Binary} --root {root} create --bundle {bundle} mine </dev/null >/dev/null 2>{work}/err");
            Assert.True(create.ExitCode == 0, File.ReadAllText(Path.Combine(work, "err")));
            Assert.Contains("\"status\": \"created\"", _setup.Isolate("--root", root, "state", "mine").Stdout);
            Assert.Equal(0, _setup.Isolate("--root", root, "start", "mine").ExitCode);
            Assert.Contains("\"status\": \"running\"", _setup.Isolate("--root", root, "state", "mine").Stdout);

            // root inside its user namespace, the caller outside
            var exec = _setup.Isolate("--root", root, "exec", "mine", "sh", "-c", "id -u; cat /proc/self/uid_map | tr -s ' '");
            Assert.True(exec.ExitCode == 0, exec.ToString());
            Assert.Equal($"0\n 0 {RootlessSetup.Uid} 1\n", exec.Stdout);

            Assert.Equal(0, _setup.Isolate("--root", root, "kill", "mine", "KILL").ExitCode);
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
            while (!_setup.Isolate("--root", root, "state", "mine").Stdout.Contains("stopped") && DateTime.UtcNow < deadline)
                Thread.Sleep(20);
            Assert.Equal(0, _setup.Isolate("--root", root, "delete", "mine").ExitCode);
            Assert.Empty(Directory.GetDirectories(root));
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }
}
