using System.Text.Json;
using Isolate.Tests.Support;

namespace Isolate.Tests.Integration;

/// <summary>This host runs cgroup v1; most servers run v2. So the v2 driver runs for real in a
/// VM (Support/QemuVm) whose /init mounts the unified hierarchy with nothing else on it - not
/// even the controllers enabled - and starts containers with limits.</summary>
public sealed class CgroupV2VmTests(BusyboxRootfs rootfs) : ContainerTest(rootfs)
{
    private static readonly string Init = QemuVm.OnUnifiedHierarchy("""
        echo "@@ controllers $(cat /sys/fs/cgroup/cgroup.controllers)"
        /isolate run --rootfs /rootfs --no-overlay --memory 32m -- sh -c 'x=$(head -c 100000000 /dev/zero | tr "\0" a); echo survived'
        echo "@@ oom exit $?"
        /isolate run --rootfs /rootfs --no-overlay --pids-limit 10 --stats=json -- sh -c 'i=0; while [ $i -lt 12 ]; do sleep 1 & i=$((i+1)); done' 2>/tmp/stats
        echo "@@ pids exit $? $(tail -1 /tmp/stats)"
        /isolate run --rootfs /rootfs --no-overlay --memory 64m --cpus 0.5 --pids-limit 50 -- sh -c 'echo "@@ inside $(cat /proc/self/cgroup) $(cat /sys/fs/cgroup/memory.max) $(cat /sys/fs/cgroup/cpu.max) $(cat /sys/fs/cgroup/pids.max) $(touch /sys/fs/cgroup/x 2>&1 | grep -c Read-only)"'
        echo "@@ inside exit $?"
        /isolate run --rootfs /rootfs --no-overlay --memory 4m -- /bin/true
        echo "@@ 4m exit $?"
        echo "@@ left $(ls /sys/fs/cgroup | grep -c isolate)"
        """);

    [VmFact]
    public void Limits_oom_pids_the_groups_own_view_and_cleanup_on_the_unified_hierarchy()
    {
        var boot = QemuVm.Run(Rootfs, Init);
        var report = boot.Report;
        string Line(string prefix) => report.SingleOrDefault(l => l.StartsWith(prefix)) ?? throw new Xunit.Sdk.XunitException($"no '{prefix}' line:\n{boot.Console}");

        Assert.Contains("memory", Line("controllers").Split(' '));
        Assert.Equal("oom exit 137", Line("oom exit"));
        Assert.Contains("isolate: container killed: out of memory (limit 32 MiB)", boot.Lines);

        string[] pids = Line("pids exit").Split(' ', 4);
        Assert.Equal("2", pids[2]); // busybox sh exits 2 when fork fails
        using (var stats = JsonDocument.Parse(pids[3]))
            Assert.Equal(10, stats.RootElement.GetProperty("pids_peak").GetInt64());

        // its own group is "/" (cgroup namespace), and /sys/fs/cgroup shows that group, read-only
        Assert.Equal("inside 0::/ 67108864 50000 100000 50 1", Line("inside 0::/"));
        Assert.Equal("inside exit 0", Line("inside exit"));
        Assert.Equal("4m exit 0", Line("4m exit"));
        Assert.Equal("left 0", Line("left"));
    }
}
