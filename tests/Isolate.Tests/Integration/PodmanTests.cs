using Isolate.Tests.Support;

namespace Isolate.Tests.Integration;

/// <summary>The test rootfs as a podman image, imported once per test run.</summary>
public static class PodmanImage
{
    public const string Name = "localhost/isolate-test-busybox:latest";
    private static readonly object Gate = new();
    private static bool _imported;

    public static void Import(string rootfs)
    {
        lock (Gate)
        {
            if (_imported)
                return;
            var import = IsolateBinary.RunFromShell($"tar -C {rootfs} -cf - . | podman import - {Name} >/dev/null", TimeSpan.FromMinutes(2));
            if (import.ExitCode != 0)
                throw new InvalidOperationException("podman import failed: " + import);
            _imported = true;
        }
    }
}

/// <summary>A test that drives podman: skipped, saying why, without root or without podman.</summary>
public sealed class PodmanFactAttribute : FactAttribute
{
    public PodmanFactAttribute()
    {
        if (!Environment.IsPrivilegedProcess)
            Skip = "needs root: podman runs rootful containers here";
        else if (!File.Exists("/usr/bin/podman"))
            Skip = "podman is not installed (.ci/run installs it: apt-get install podman)";
    }
}

/// <summary>podman drives Isolate as its OCI runtime (through conmon): create with a pid
/// file and pipes or a console socket, start, kill, delete --force, as it does with runc.</summary>
/// <remarks>Podman asks for RLIMIT_NOFILE 1048576 by default, above root's hard limit on this
/// machine (root here lacks CAP_SYS_RESOURCE): runc fails the same way, so the tests pass
/// limits root may set. podman's own cgroup manager here is cgroupfs (no systemd).</remarks>
/// <para>What podman makes on the host for itself is not Isolate's, and not checked as a leak:
/// the first `podman run` on a fresh machine bind-mounts /run/netns onto itself (as `ip netns
/// add` does) and leaves it, and podman keeps its overlay storage and shm mounts under
/// /var/lib/containers. The base class's mount check looks only under the test's own paths
/// (TestScope), which none of these are - rather than snapshotting the table after a warm-up
/// podman run, which would still count what a later run of podman itself leaves. Isolate's own
/// part is checked directly: the container's state in Isolate's state root is gone, and its
/// processes (named after the test: conmon's command line carries the name) are gone.</para>
public sealed class PodmanTests : ContainerTest
{
    private readonly HashSet<string> _stateBefore;
    private int _containers;

    public PodmanTests(BusyboxRootfs rootfs) : base(rootfs)
    {
        if (Environment.IsPrivilegedProcess && File.Exists("/usr/bin/podman"))
            PodmanImage.Import(rootfs.Path);
        _stateBefore = PodmanIdsInIsolateState().ToHashSet();
    }

    /// <summary>A container name of this test's own: its processes are found by it.</summary>
    private string NewName() => $"{Scope.Id}-{++_containers}";

    /// <summary>Podman's containers in Isolate's default state root: named by podman's 64-hex ids
    /// (docker-style runs of Isolate use 12 hex or a name).</summary>
    private static IEnumerable<string> PodmanIdsInIsolateState() =>
        Directory.Exists("/run/isolate")
            ? Directory.EnumerateDirectories("/run/isolate").Select(d => Path.GetFileName(d)!).Where(n => n.Length == 64 && n.All(char.IsAsciiHexDigitLower))
            : [];

    /// <summary>Podman containers this test left in Isolate's state (one another podman user
    /// makes meanwhile would count too: podman is not in this suite's foreign-container loop).</summary>
    private List<string> NewPodmanState() => PodmanIdsInIsolateState().Where(id => !_stateBefore.Contains(id)).ToList();

    private static readonly string[] Limits = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"];

    private static string Podman => $"podman --runtime {IsolateBinary.Path} --cgroup-manager cgroupfs";

    private static RunResult PodmanRun(string arguments, TimeSpan? timeout = null) => IsolateBinary.RunFromShell($"{Podman} {arguments}", timeout ?? TimeSpan.FromMinutes(1));

    private static string Quote(string s) => "'" + s.Replace("'", "'\\''") + "'";

    /// <summary>For exec, conmon sizes the terminal a moment after the command starts (as with
    /// runc; podman's process.json has no consoleSize): wait for it, then print the size.</summary>
    private const string SizeOnceSet =
        "i=0; while [ $i -lt 100 ]; do s=$(stty size 2>/dev/null); [ -n \"$s\" ] && [ \"$s\" != \"0 0\" ] && break; sleep 0.05; i=$((i+1)); done; echo size $s";

    private string RunArgs(string options, string script) =>
        $"run --rm --name {NewName()} {string.Join(' ', Limits)} {options} {PodmanImage.Name} sh -c {Quote(script)}";

    [PodmanFact]
    public void Podman_run_returns_the_containers_status_and_output()
    {
        var result = PodmanRun(RunArgs("", "echo pid $$; cat /proc/1/comm; exit 3"));

        Assert.True(result.ExitCode == 3, result.ToString());
        Assert.Equal("pid 1\nsh\n", result.Stdout);
        Assert.True(NewPodmanState().Count == 0, "podman's container is still in Isolate's state");
    }

    [PodmanFact]
    public void Podman_runs_detached_lists_stops_and_removes_a_container()
    {
        string name = NewName();
        try
        {
            var run = PodmanRun($"run -d --name {name} {string.Join(' ', Limits)} --memory 64m {PodmanImage.Name} sleep 100");
            Assert.True(run.ExitCode == 0, run.ToString());
            string id = run.Stdout.Trim();

            Assert.Contains("Up", PodmanRun($"ps --filter name={name} --format '{{{{.Status}}}}'").Stdout);
            var state = IsolateBinary.Run("state", id); // podman's container, in Isolate's own state
            Assert.Contains("\"status\": \"running\"", state.Stdout);
            // the memory limit is on the container's cgroup, where podman asked for it
            string limitFile = $"/sys/fs/cgroup/memory/libpod_parent/libpod-{id}/memory.limit_in_bytes";
            string v2File = $"/sys/fs/cgroup/libpod_parent/libpod-{id}/memory.max";
            Assert.Equal("67108864", File.ReadAllText(File.Exists(limitFile) ? limitFile : v2File).Trim());

            // sleep as PID 1 ignores SIGTERM: podman stop kills it after its timeout
            var stop = PodmanRun($"stop -t 1 {name}");
            Assert.True(stop.ExitCode == 0, stop.ToString());
            Assert.Contains("Exited (137)", PodmanRun($"ps -a --filter name={name} --format '{{{{.Status}}}}'").Stdout);
        }
        finally
        {
            PodmanRun($"rm -f {name}");
        }
        Assert.Equal("", PodmanRun($"ps -a -q --filter name={name}").Stdout);
        Assert.True(NewPodmanState().Count == 0, "a deleted container is still in Isolate's state");
    }

    [PodmanFact]
    public void Podman_exec_runs_a_command_inside_a_running_container()
    {
        string name = NewName();
        try
        {
            var run = PodmanRun($"run -d --name {name} {string.Join(' ', Limits)} {PodmanImage.Name} sleep 100");
            Assert.True(run.ExitCode == 0, run.ToString());

            var exec = PodmanRun($"exec {name} sh -c 'echo pid $$; cat /proc/1/comm; exit 6'");
            Assert.True(exec.ExitCode == 6, exec.ToString());
            Assert.Equal("pid 2\nsleep\n", exec.Stdout); // in the container's PID namespace

            var terminal = PodmanRun(
                $"--version >/dev/null; script -qec {Quote($"stty rows 20 cols 70; {Podman} exec -it {name} sh -c {Quote("tty; " + SizeOnceSet + "; exit 2")}")} /dev/null");
            Assert.True(terminal.ExitCode == 2, terminal.ToString());
            Assert.Contains("size 20 70", terminal.Stdout);

            var missing = PodmanRun($"exec {name} no-such-command");
            Assert.Equal(127, missing.ExitCode);
        }
        finally
        {
            PodmanRun($"rm -f -t 0 {name}");
        }
    }

    [PodmanFact]
    public void Podman_sees_an_out_of_memory_kill()
    {
        var result = PodmanRun(RunArgs("--memory 32m --memory-swap 32m", "x=$(head -c 134217728 /dev/zero | tr '\\0' a); echo survived"));

        Assert.Equal(137, result.ExitCode);
        Assert.DoesNotContain("survived", result.Stdout);
    }

    [PodmanFact]
    public void Podman_run_it_gets_a_terminal_through_the_console_socket()
    {
        // (the sleep: podman -it loses the output of a command that ends at once - with runc
        // as well, about one run in four here - as its attach can come after the exit)
        var result = PodmanRun(
            $"--version >/dev/null; script -qec {Quote($"stty rows 31 cols 97; {Podman} {RunArgs("-it", "tty; echo size $(stty size); sleep 1; exit 5")}")} /dev/null");

        Assert.True(result.ExitCode == 5, result.ToString());
        Assert.Contains("/dev/pts/0", result.Stdout);
        Assert.Contains("size 31 97", result.Stdout);
    }

    [PodmanFact]
    public void Podman_joins_its_network_namespace_and_sets_its_sysctl()
    {
        // podman makes the network namespace (with netavark) and asks for it by path, and
        // sets net.ipv4.ping_group_range in it
        var result = PodmanRun(RunArgs("", "cat /proc/sys/net/ipv4/ping_group_range; ip -o link | grep -c eth0"));

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal("0\t0\n1\n", result.Stdout);
    }

    [PodmanFact]
    public void Podman_run_pid_host_sees_the_hosts_processes()
    {
        // podman leaves the pid namespace out of config.json: the container shares the host's
        var result = PodmanRun(RunArgs("--pid host", "cat /proc/1/comm; readlink /proc/self/ns/pid; echo $$"));

        Assert.True(result.ExitCode == 0, result.ToString());
        var lines = result.Stdout.Split('\n');
        Assert.Equal(File.ReadAllText("/proc/1/comm").Trim(), lines[0]);
        Assert.Equal(new FileInfo("/proc/self/ns/pid").LinkTarget, lines[1]);
        Assert.NotEqual("1", lines[2]);
    }

    [PodmanFact]
    public void Podman_run_ipc_host_shares_the_hosts_ipc_namespace()
    {
        var result = PodmanRun(RunArgs("--ipc host", "readlink /proc/self/ns/ipc"));

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal(new FileInfo("/proc/self/ns/ipc").LinkTarget + "\n", result.Stdout);
    }

    [PodmanFact]
    public void Podman_run_device_makes_the_node_and_limits_it_to_its_permissions()
    {
        // podman lists the node in linux.devices (fileMode with the type bits, as stat gives
        // it) and allows it in linux.resources.devices with the permissions given. /dev/kmsg
        // (1:11) is not among the nodes every container may use, so r alone keeps writes out;
        // runc 1.1.5 gives the same lines
        var readOnly = PodmanRun(RunArgs("--device /dev/kmsg:/dev/k:r",
            "stat -c '%F %t:%T %a' /dev/k; echo isolate-device-probe > /dev/k && echo written || echo refused"));
        Assert.True(readOnly.ExitCode == 0, readOnly.ToString());
        Assert.Equal("character special file 1:b 644\nrefused\n", readOnly.Stdout);
        Assert.Contains("Operation not permitted", readOnly.Stderr);

        var readWrite = PodmanRun(RunArgs("--device /dev/kmsg:/dev/k:rw", "echo isolate-device-probe > /dev/k && echo written"));
        Assert.True(readWrite.ExitCode == 0, readWrite.ToString());
        Assert.Equal("written\n", readWrite.Stdout);
    }

    [PodmanFact]
    public void Podman_run_shm_size_sizes_dev_shm()
    {
        var result = PodmanRun(RunArgs("--shm-size 16m", "df -k /dev/shm | tail -1"));

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Matches(@"^\S+\s+16384\s", result.Stdout);
    }
}
