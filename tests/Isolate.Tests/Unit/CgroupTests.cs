using Isolate.Cgroups;
using Isolate.Spec;
using Isolate.Tests.Support;

namespace Isolate.Tests.Unit;

/// <summary>The exact files and values written for each option, on directories laid out like
/// /sys/fs/cgroup for v1 and for v2: no root, no kernel.</summary>
public sealed class CgroupTests
{
    private static readonly Action<string> NoWarnings = w => Assert.Fail("unexpected warning: " + w);

    private static readonly ResourceLimits Everything = new()
    {
        MemoryBytes = 256L << 20,
        MemorySwapBytes = 512L << 20,
        CpuQuotaMicros = 150_000,
        CpuShares = 512,
        CpusetCpus = "0-1",
        PidsLimit = 100,
        IoWeight = 500,
    };

    private static readonly string[] V2Files =
    [
        "cgroup.procs", "cgroup.controllers", "cgroup.subtree_control", "cgroup.kill", "memory.max", "memory.swap.max",
        "memory.peak", "memory.events", "cpu.max", "cpu.weight", "cpu.stat", "cpuset.cpus", "pids.max", "pids.peak", "io.weight",
    ];

    private static FakeCgroupFilesystem V2(params string[] controllers)
    {
        var fs = new FakeCgroupFilesystem(_ => V2Files);
        fs.Seed("", ("cgroup.controllers", string.Join(' ', controllers) + "\n"), ("cgroup.subtree_control", ""));
        return fs;
    }

    [Fact]
    public void V2_enables_controllers_down_to_the_parent_and_writes_each_limit()
    {
        using var fs = V2("cpuset", "cpu", "io", "memory", "pids");
        var cgroup = CgroupV2.Create(fs, fs.Root, "isolate", "c1", Everything, NoWarnings);

        Assert.Equal(
        [
            ("cgroup.subtree_control", "+memory +pids +cpu +cpuset +io"),
            ("isolate/cgroup.subtree_control", "+memory +pids +cpu +cpuset +io"),
            ("isolate/c1/memory.max", "268435456"),
            ("isolate/c1/memory.swap.max", "268435456"), // memory-swap is memory + swap
            ("isolate/c1/cpu.max", "150000 100000"),
            ("isolate/c1/cpu.weight", "20"),             // shares 512 on runc's scale
            ("isolate/c1/cpuset.cpus", "0-1"),
            ("isolate/c1/pids.max", "100"),
            ("isolate/c1/io.weight", "default 4950"),
        ], fs.Writes);
        Assert.Equal([fs.Path("isolate/c1")], cgroup.Directories);
    }

    [Fact]
    public void V2_without_limits_enables_only_memory_and_pids_for_the_oom_report_and_stats()
    {
        using var fs = V2("cpu", "memory", "pids");
        CgroupV2.Create(fs, fs.Root, "a/b", "c1", new ResourceLimits(), NoWarnings);

        Assert.Equal(
        [
            ("cgroup.subtree_control", "+memory +pids"),
            ("a/cgroup.subtree_control", "+memory +pids"),
            ("a/b/cgroup.subtree_control", "+memory +pids"),
        ], fs.Writes);
    }

    [Fact]
    public void V2_swap_follows_docker_unset_means_as_much_as_memory_minus_one_means_unlimited()
    {
        using var fs = V2("memory", "pids");
        CgroupV2.Create(fs, fs.Root, "isolate", "a", new ResourceLimits { MemoryBytes = 1 << 20 }, NoWarnings);
        CgroupV2.Create(fs, fs.Root, "isolate", "b", new ResourceLimits { MemoryBytes = 1 << 20, MemorySwapBytes = -1 }, NoWarnings);

        Assert.Contains(("isolate/a/memory.swap.max", "1048576"), fs.Writes);
        Assert.Contains(("isolate/b/memory.swap.max", "max"), fs.Writes);
    }

    [Fact]
    public void V2_refuses_a_limit_whose_controller_is_missing_and_leaves_nothing()
    {
        using var fs = V2("memory", "pids");
        var error = Assert.Throws<IsolateException>(() => CgroupV2.Create(fs, fs.Root, "isolate", "c1", new ResourceLimits { CpuQuotaMicros = 50_000 }, NoWarnings));

        Assert.StartsWith("the cpu controller is not available in", error.Message);
        Assert.False(Directory.Exists(fs.Path("isolate/c1")));
    }

    [Theory]
    [InlineData(2, 1)]
    [InlineData(1024, 39)]
    [InlineData(262144, 10000)]
    public void Cpu_shares_map_onto_cpu_weight(long shares, long weight) => Assert.Equal(weight, CgroupV2.SharesToWeight(shares));

    [Fact]
    public void V2_usage_comes_from_the_groups_counters()
    {
        using var fs = V2("memory", "pids");
        var cgroup = CgroupV2.Create(fs, fs.Root, "isolate", "c1", new ResourceLimits { MemoryBytes = 32 << 20 }, NoWarnings);
        File.WriteAllText(fs.Path("isolate/c1/memory.peak"), "12345678\n");
        File.WriteAllText(fs.Path("isolate/c1/cpu.stat"), "usage_usec 900\nuser_usec 600\nsystem_usec 300\n");
        File.WriteAllText(fs.Path("isolate/c1/pids.peak"), "7\n");
        File.WriteAllText(fs.Path("isolate/c1/memory.events"), "low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\n");

        Assert.Equal(new CgroupUsage(12345678, 600, 300, 7, 1, 32 << 20), cgroup.ReadUsage());
    }

    private static readonly Dictionary<string, string[]> V1Files = new()
    {
        ["memory"] = ["cgroup.procs", "memory.limit_in_bytes", "memory.memsw.limit_in_bytes", "memory.max_usage_in_bytes", "memory.oom_control"],
        ["pids"] = ["cgroup.procs", "pids.max", "pids.peak", "pids.current"],
        ["cpu,cpuacct"] = ["cgroup.procs", "cpu.cfs_period_us", "cpu.cfs_quota_us", "cpu.shares", "cpuacct.usage_user", "cpuacct.usage_sys"],
        ["cpuset"] = ["cgroup.procs", "cpuset.cpus", "cpuset.mems"],
        ["blkio"] = ["cgroup.procs", "blkio.weight"],
        ["freezer"] = ["cgroup.procs", "freezer.state"],
        ["devices"] = ["cgroup.procs", "devices.allow", "devices.deny"],
        ["net_cls,net_prio"] = ["cgroup.procs", "net_cls.classid", "net_prio.ifpriomap"],
        ["perf_event"] = ["cgroup.procs"],
    };

    /// <summary>cpu and cpuacct co-mounted, as systemd lays them out.</summary>
    private static (FakeCgroupFilesystem Fs, Dictionary<string, string> Roots) V1()
    {
        var fs = new FakeCgroupFilesystem(path => V1Files[System.IO.Path.GetRelativePath(Path.GetTempPath(), path).Split('/')[1]]);
        var roots = new Dictionary<string, string>();
        foreach (string hierarchy in V1Files.Keys)
        {
            fs.Seed(hierarchy, hierarchy == "cpuset" ? [("cpuset.cpus", "0-3\n"), ("cpuset.mems", "0\n")] : []);
            foreach (string controller in hierarchy.Split(','))
                roots[controller] = fs.Path(hierarchy);
        }
        return (fs, roots);
    }

    [Fact]
    public void V1_writes_each_limit_in_its_own_hierarchy()
    {
        var (fs, roots) = V1();
        using var _ = fs;
        var cgroup = CgroupV1.Create(fs, roots, "isolate", "c1", Everything, NoWarnings);

        Assert.Equal(
        [
            ("cpuset/isolate/cpuset.cpus", "0-3"),       // a new cpuset level takes its parent's CPUs
            ("cpuset/isolate/cpuset.mems", "0"),         // and memory nodes, level by level
            ("cpuset/isolate/c1/cpuset.cpus", "0-3"),
            ("cpuset/isolate/c1/cpuset.mems", "0"),
            ("memory/isolate/c1/memory.limit_in_bytes", "268435456"),
            ("memory/isolate/c1/memory.memsw.limit_in_bytes", "536870912"),
            ("cpu,cpuacct/isolate/c1/cpu.cfs_period_us", "100000"),
            ("cpu,cpuacct/isolate/c1/cpu.cfs_quota_us", "150000"),
            ("cpu,cpuacct/isolate/c1/cpu.shares", "512"),
            ("cpuset/isolate/c1/cpuset.cpus", "0-1"),
            ("pids/isolate/c1/pids.max", "100"),
            ("blkio/isolate/c1/blkio.weight", "500"),
        ], fs.Writes);
        // freezer first (where processes are listed and frozen); cpu and cpuacct share a directory
        Assert.Equal(
            ["freezer/isolate/c1", "memory/isolate/c1", "pids/isolate/c1", "cpu,cpuacct/isolate/c1", "cpuset/isolate/c1", "blkio/isolate/c1"],
            cgroup.Directories.Select(d => System.IO.Path.GetRelativePath(fs.Root, d)));
    }

    [Fact]
    public void V1_without_limits_joins_freezer_memory_pids_and_cpuacct_only_for_stats()
    {
        var (fs, roots) = V1();
        using var _ = fs;
        var plain = CgroupV1.Create(fs, roots, "isolate", "c1", new ResourceLimits(), NoWarnings, cpuAccounting: false);
        var withStats = CgroupV1.Create(fs, roots, "isolate", "c2", new ResourceLimits(), NoWarnings, cpuAccounting: true);

        Assert.Empty(fs.Writes);
        Assert.Equal(["freezer", "memory", "pids"], plain.Directories.Select(d => System.IO.Path.GetRelativePath(fs.Root, d).Split('/')[0]));
        Assert.Equal(["freezer", "memory", "pids", "cpu,cpuacct"], withStats.Directories.Select(d => System.IO.Path.GetRelativePath(fs.Root, d).Split('/')[0]));
    }

    [Fact]
    public void V1_an_oci_container_is_in_every_mounted_hierarchy_as_with_runc()
    {
        var (fs, roots) = V1();
        using var _ = fs;
        var oci = CgroupV1.Create(fs, roots, "kubepods/pod1", "c1", new ResourceLimits(), NoWarnings, cpuAccounting: false, updatable: true);
        var docker = CgroupV1.Create(fs, roots, "isolate", "c2", new ResourceLimits(), NoWarnings, cpuAccounting: false);

        Assert.Equal(["freezer", "memory", "pids", "cpu,cpuacct", "cpuset", "blkio", "devices", "net_cls,net_prio", "perf_event"],
            oci.Directories.Select(d => System.IO.Path.GetRelativePath(fs.Root, d).Split('/')[0]));
        Assert.All(oci.Directories, d => Assert.EndsWith("/kubepods/pod1/c1", d));
        Assert.Equal(["freezer", "memory", "pids"], docker.Directories.Select(d => System.IO.Path.GetRelativePath(fs.Root, d).Split('/')[0]));
    }

    [Fact]
    public void V1_memory_swap_defaults_to_twice_the_memory_as_docker_does()
    {
        var (fs, roots) = V1();
        using var _ = fs;
        CgroupV1.Create(fs, roots, "isolate", "c1", new ResourceLimits { MemoryBytes = 1 << 20 }, NoWarnings);
        Assert.Contains(("memory/isolate/c1/memory.memsw.limit_in_bytes", "2097152"), fs.Writes);
    }

    [Fact]
    public void V1_usage_converts_cpuacct_nanoseconds()
    {
        var (fs, roots) = V1();
        using var _ = fs;
        var cgroup = CgroupV1.Create(fs, roots, "isolate", "c1", new ResourceLimits { MemoryBytes = 32 << 20 }, NoWarnings);
        File.WriteAllText(fs.Path("memory/isolate/c1/memory.max_usage_in_bytes"), "4096\n");
        File.WriteAllText(fs.Path("memory/isolate/c1/memory.oom_control"), "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n");
        File.WriteAllText(fs.Path("cpu,cpuacct/isolate/c1/cpuacct.usage_user"), "5000000\n");
        File.WriteAllText(fs.Path("cpu,cpuacct/isolate/c1/cpuacct.usage_sys"), "1000\n");
        File.WriteAllText(fs.Path("pids/isolate/c1/pids.peak"), "3\n");

        Assert.Equal(new CgroupUsage(4096, 5000, 1, 3, 2, 32 << 20), cgroup.ReadUsage());
    }

    [Fact]
    public void A_failed_limit_removes_what_was_made()
    {
        var (fs, roots) = V1();
        using var _ = fs;
        File.Delete(fs.Path("pids/pids.max")); // (not a group file anyway)
        var broken = new Dictionary<string, string>(roots) { ["pids"] = fs.Path("nonexistent-hierarchy") };

        Assert.ThrowsAny<Exception>(() => CgroupV1.Create(fs, broken, "isolate", "c1", new ResourceLimits { PidsLimit = 5 }, NoWarnings));
        Assert.False(Directory.Exists(fs.Path("memory/isolate/c1")));
        Assert.False(Directory.Exists(fs.Path("freezer/isolate/c1")));
    }

    [Fact]
    public void Layouts_are_told_apart_from_mountinfo()
    {
        const string hybrid = """
            31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
            32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
            35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
            39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
            41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
            """;
        const string unified = "28 22 0:25 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot";

        var v1 = CgroupLayout.Parse(hybrid);
        var v2 = CgroupLayout.Parse(unified);

        Assert.Equal(CgroupVersion.V1, v1.Version);
        Assert.Equal("/sys/fs/cgroup/cpu,cpuacct", v1.V1Roots["cpu"]);
        Assert.Equal("/sys/fs/cgroup/cpu,cpuacct", v1.V1Roots["cpuacct"]);
        Assert.Equal("/sys/fs/cgroup/memory", v1.V1Roots["memory"]);
        Assert.Equal((CgroupVersion.V2, "/sys/fs/cgroup"), (v2.Version, v2.UnifiedRoot));
        Assert.Equal(CgroupVersion.None, CgroupLayout.Parse("22 1 0:5 / /proc rw - proc proc rw").Version);
    }

    [Fact]
    public void The_janitor_considers_only_groups_named_as_isolate_names_them()
    {
        var names = new[] { "0123456789ab.100", "other", "0123456789ab.x", "abcdefabcdef.300", "system.slice" };
        Assert.Equal(["0123456789ab.100", "abcdefabcdef.300"], CgroupJanitor.Candidates(names));
        Assert.Equal("0123456789ab.42", CgroupJanitor.NameFor("0123456789ab", 42));
    }

    [Fact]
    public void A_huge_memory_limit_does_not_overflow_the_swap_default()
    {
        var (fs, roots) = V1();
        using var _ = fs;
        CgroupV1.Create(fs, roots, "isolate", "c1", new ResourceLimits { MemoryBytes = 1L << 62 }, NoWarnings);
        Assert.Contains(("memory/isolate/c1/memory.memsw.limit_in_bytes", "-1"), fs.Writes);
    }

    [Fact]
    public void The_placement_names_every_directory_before_anything_exists()
    {
        var layout = CgroupLayout.Parse("""
            32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct
            35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
            """);
        var placement = new CgroupPlacement(layout, "isolate", "0123456789ab.1");

        Assert.Equal(["/sys/fs/cgroup/cpu,cpuacct/isolate/0123456789ab.1", "/sys/fs/cgroup/memory/isolate/0123456789ab.1"], placement.GroupDirectories);
        Assert.Equal(["/sys/fs/cgroup/cpu,cpuacct/isolate", "/sys/fs/cgroup/memory/isolate"], placement.ParentDirectories);
        Assert.True(placement.OwnsParent);
        Assert.False((placement with { Parent = "batch" }).OwnsParent);
    }
}
