using System.Text.Json.Nodes;
using Isolate.Tests.Support;

namespace Isolate.Tests.Integration;

/// <summary>linux.resources as runc honours them on this (cgroup v1) host: each limit read back
/// from the host side of the container's own cgroup while it runs; what the host cannot set is
/// refused at create naming the JSON path, with nothing left behind; `update` with runc's flags.</summary>
public sealed class OciResourceTests : ContainerTest, IDisposable
{
    private readonly string _work;
    private readonly string _root;
    private readonly string _bundle;
    private readonly string _cgroup;

    public OciResourceTests(BusyboxRootfs rootfs) : base(rootfs)
    {
        _work = Directory.CreateTempSubdirectory("isolate-ocires-").FullName;
        _root = Path.Combine(_work, "state");
        _bundle = Path.Combine(_work, "bundle");
        Directory.CreateDirectory(_bundle);
        _cgroup = "isolate-h2-" + Path.GetFileName(_work);
    }

    void IDisposable.Dispose()
    {
        foreach (string dir in Directory.Exists(_root) ? Directory.GetDirectories(_root) : [])
            Oci("delete", "--force", Path.GetFileName(dir));
        foreach (string hierarchy in new[] { "memory", "cpu", "cpuset", "devices", "pids", "freezer", "cpuacct", "blkio" })
        {
            string parent = Path.Combine("/sys/fs/cgroup", hierarchy, _cgroup);
            if (Directory.Exists(parent))
                try { Directory.Delete(parent); } catch (IOException) { }
        }
        Directory.Delete(_work, recursive: true);
        Dispose();
    }

    private RunResult Oci(params string[] args) => IsolateBinary.Run(["--root", _root, .. args]);

    private void MakeBundle(string[] args, Action<JsonObject> edit)
    {
        var config = OciBundleWriter.Start(_bundle, Rootfs.Path, args);
        config["linux"]!["cgroupsPath"] = $"/{_cgroup}/c";
        edit(config["linux"]!.AsObject());
        OciBundleWriter.Save(_bundle, config);
    }

    private RunResult Create(string id) => IsolateBinary.RunFromShell(
        $"exec \"$ISOLATE\" --root {_root} create --bundle {_bundle} {id} </dev/null >{_work}/out 2>{_work}/err");

    private string HostFile(string hierarchy, string file) => File.ReadAllText(Path.Combine("/sys/fs/cgroup", hierarchy, _cgroup, "c", file)).Trim();

    [ContainerFact]
    public void Memory_reservation_swappiness_oom_killer_and_tcp_limit_reach_the_cgroup()
    {
        MakeBundle(["sleep", "30"], linux => linux["resources"]!["memory"] = new JsonObject
        {
            ["reservation"] = 32L << 20,
            ["swappiness"] = 17,
            ["disableOOMKiller"] = true,
            ["kernelTCP"] = 16L << 20,
        });
        var create = Create("mem");
        Assert.True(create.ExitCode == 0, create + File.ReadAllText(Path.Combine(_work, "err")));
        Assert.Equal((32L << 20).ToString(), HostFile("memory", "memory.soft_limit_in_bytes"));
        Assert.Equal("17", HostFile("memory", "memory.swappiness"));
        Assert.Contains("oom_kill_disable 1", HostFile("memory", "memory.oom_control"));
        Assert.Equal((16L << 20).ToString(), HostFile("memory", "memory.kmem.tcp.limit_in_bytes"));
    }

    [ContainerTheory]
    [InlineData("{\"memory\": {\"kernel\": 67108864}}", "config.json: linux.resources.memory.kernel: ")]
    [InlineData("{\"memory\": {\"swappiness\": 101}}", "config.json: linux.resources.memory.swappiness: 101 is out of range")]
    [InlineData("{\"hugepageLimits\": [{\"pageSize\": \"3MB\", \"limit\": 1048576}]}", "config.json: linux.resources.hugepageLimits[0].pageSize: this host has no 3MB huge pages")]
    [InlineData("{\"hugepageLimits\": [{\"pageSize\": \"2MB\", \"limit\": 2097152}]}", "config.json: linux.resources.hugepageLimits[0]: the hugetlb cgroup controller is not mounted")]
    [InlineData("{\"blockIO\": {\"weight\": 300}}", "config.json: linux.resources.blockIO.weight: this kernel has no blkio.weight")]
    [InlineData("{\"network\": {\"classID\": 5}}", "config.json: linux.resources.network: the net_cls cgroup controller is not mounted")]
    [InlineData("{\"unified\": {\"memory.high\": \"1000000\"}}", "config.json: linux.resources.unified: ")]
    [InlineData("{\"cpu\": {\"realtimeRuntime\": 1000}}", "config.json: linux.resources.cpu.realtimeRuntime: ")]
    public void What_this_host_cannot_set_is_refused_naming_the_field(string resources, string message)
    {
        MakeBundle(["true"], linux => linux["resources"] = JsonNode.Parse(resources));
        var create = Create("refused");
        string err = File.ReadAllText(Path.Combine(_work, "err"));
        Assert.True(create.ExitCode == 125, create + err);
        Assert.StartsWith(message, err.Split('\n')[0].Replace("isolate: ", ""));
        Assert.False(Directory.Exists(Path.Combine(_root, "refused")));
        Assert.False(Directory.Exists(Path.Combine("/sys/fs/cgroup/memory", _cgroup, "c")));
    }

    [ContainerFact]
    public void Update_takes_runcs_flags_and_a_resources_file()
    {
        MakeBundle(["sleep", "30"], linux => linux["resources"]!["cpu"] = new JsonObject { ["shares"] = 512, ["cpus"] = "0", ["mems"] = "0" });
        var create = Create("upd");
        Assert.True(create.ExitCode == 0, create + File.ReadAllText(Path.Combine(_work, "err")));
        Assert.Equal("0", HostFile("cpuset", "cpuset.mems"));

        var update = Oci("update", "--cpu-share", "300", "--cpu-period", "50000", "--cpu-quota", "20000", "--memory-reservation", "48m", "--cpuset-mems", "0", "upd");
        Assert.True(update.ExitCode == 0, update.ToString());
        Assert.Equal("300", HostFile("cpu", "cpu.shares"));
        Assert.Equal("50000", HostFile("cpu", "cpu.cfs_period_us"));
        Assert.Equal("20000", HostFile("cpu", "cpu.cfs_quota_us"));
        Assert.Equal((48L << 20).ToString(), HostFile("memory", "memory.soft_limit_in_bytes"));

        File.WriteAllText(Path.Combine(_work, "r.json"), "{\"memory\": {\"limit\": 0, \"reservation\": 0, \"kernelTCP\": 8388608}, \"cpu\": {\"shares\": 0, \"quota\": 30000, \"period\": 0, \"cpus\": \"\", \"mems\": \"\"}, \"pids\": {\"limit\": 40}}");
        update = Oci("update", "-r", Path.Combine(_work, "r.json"), "upd");
        Assert.True(update.ExitCode == 0, update.ToString());
        Assert.Equal("30000", HostFile("cpu", "cpu.cfs_quota_us"));
        Assert.Equal("40", HostFile("pids", "pids.max"));
        Assert.Equal((8L << 20).ToString(), HostFile("memory", "memory.kmem.tcp.limit_in_bytes"));

        var refused = Oci("update", "--kernel-memory", "64m", "upd");
        Assert.Equal(125, refused.ExitCode);
        Assert.Contains("--kernel-memory 64m: a separate kernel memory limit is not supported", refused.Stderr);
    }

    /// <summary>As runc's, an OCI container is in the cpu, cpuset and blkio hierarchies of a v1
    /// host from the start, so update can set what create did not; and update -r reads its file
    /// with config.json's table: a field Isolate never sets is refused, not dropped.</summary>
    [ContainerFact]
    public void Update_sets_cpu_and_cpuset_on_a_container_created_without_them()
    {
        MakeBundle(["sleep", "30"], _ => { });
        var create = Create("bare");
        Assert.True(create.ExitCode == 0, create + File.ReadAllText(Path.Combine(_work, "err")));

        var update = Oci("update", "--cpuset-cpus", "0", "--cpus", "0.5", "bare");
        Assert.True(update.ExitCode == 0, update.ToString());
        Assert.Equal("0", HostFile("cpuset", "cpuset.cpus"));
        Assert.Equal("50000", HostFile("cpu", "cpu.cfs_quota_us"));
        string pid = System.Text.Json.Nodes.JsonNode.Parse(Oci("state", "bare").Stdout)!["pid"]!.ToString();
        Assert.Equal("0", File.ReadAllText($"/proc/{pid}/status").Split('\n')
            .Single(l => l.StartsWith("Cpus_allowed_list:", StringComparison.Ordinal)).Split(':')[1].Trim());

        File.WriteAllText(Path.Combine(_work, "burst.json"), "{\"cpu\": {\"burst\": 1000}}");
        var refused = Oci("update", "-r", Path.Combine(_work, "burst.json"), "bare");
        Assert.Equal(125, refused.ExitCode);
        Assert.Contains("--resources: cpu.burst: CPU burst is not supported; remove it", refused.Stderr);
    }
}
