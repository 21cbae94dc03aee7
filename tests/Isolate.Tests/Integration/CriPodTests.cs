using System.Text;
using Grpc.Core;
using Isolate.Tests.Cri;
using Isolate.Tests.Support;

namespace Isolate.Tests.Integration;

/// <summary>containerd's CRI plugin drives the runtime through a pod's life as a kubelet
/// would: each test runs with runc (the reference) and with Isolate, in the same run, so that
/// what differs is seen side by side. The pods live under the test's own cgroup parent and
/// log directory; the base class checks that no process, mount or cgroup of theirs is left.</summary>
public sealed class CriPodTests : ContainerTest
{
    public CriPodTests(BusyboxRootfs rootfs)
        : base(CriNode.Ensure(rootfs))
    {
        // the containers' root filesystems and the sandboxes' /dev/shm are mounted under
        // containerd's root and state: none may be left after a pod is removed
        if (CriNode.Dir.Length > 0)
            Scope.Own(CriNode.Dir, marker: false);
    }

    private static RuntimeService.RuntimeServiceClient Cri => CriNode.Client;

    /// <summary>One pod of the test: made by RunPodSandbox, and on Dispose stopped and removed
    /// (as the kubelet's garbage collector would), then checked gone from ListContainers.</summary>
    private sealed class Pod : IDisposable
    {
        public required string Id { get; init; }
        public required PodSandboxConfig Config { get; init; }
        public required string LogDirectory { get; init; }
        public bool Removed { get; set; }

        public void Dispose()
        {
            if (Removed)
                return;
            try
            {
                Cri.StopPodSandbox(new StopPodSandboxRequest { PodSandboxId = Id }, CriNode.Within(20));
                Cri.RemovePodSandbox(new RemovePodSandboxRequest { PodSandboxId = Id }, CriNode.Within(20));
            }
            catch (RpcException)
            {
                // the test has failed already (a step's assertion); its leftovers fail the base class's checks
            }
        }
    }

    private Pod RunPod(string handler, NamespaceMode network = NamespaceMode.Pod, NamespaceMode pid = NamespaceMode.Container,
        bool privileged = false)
    {
        string name = $"{handler}-{Guid.NewGuid():N}"[..16];
        string logs = Own(Path.Combine(CriNode.Dir, "logs", Scope.Id, name));
        Directory.CreateDirectory(logs);
        var config = new PodSandboxConfig
        {
            Metadata = new PodSandboxMetadata { Name = name, Uid = Guid.NewGuid().ToString(), Namespace = "isolate-test", Attempt = 0 },
            Hostname = network == NamespaceMode.Node ? "" : name,
            LogDirectory = logs,
            Linux = new LinuxPodSandboxConfig
            {
                CgroupParent = "/" + CgroupParent,
                SecurityContext = new LinuxSandboxSecurityContext
                {
                    NamespaceOptions = new NamespaceOption { Network = network, Pid = pid, Ipc = NamespaceMode.Pod },
                    Privileged = privileged,
                },
            },
        };
        var response = Step("RunPodSandbox", () => Cri.RunPodSandbox(new RunPodSandboxRequest { Config = config, RuntimeHandler = handler }, CriNode.Within(60)));
        return new Pod { Id = response.PodSandboxId, Config = config, LogDirectory = logs };
    }

    private static string CreateContainer(Pod pod, string name, string script, Action<ContainerConfig>? adjust = null)
    {
        var config = new ContainerConfig
        {
            Metadata = new ContainerMetadata { Name = name },
            Image = new ImageSpec { Image = CriNode.Image },
            LogPath = name + ".log",
            Linux = new LinuxContainerConfig
            {
                SecurityContext = new LinuxContainerSecurityContext
                {
                    NamespaceOptions = pod.Config.Linux.SecurityContext.NamespaceOptions.Clone(),
                    Privileged = pod.Config.Linux.SecurityContext.Privileged,
                },
                Resources = new LinuxContainerResources(),
            },
        };
        config.Command.AddRange(["sh", "-c", script]);
        adjust?.Invoke(config);
        return Step($"CreateContainer {name}", () => Cri.CreateContainer(
            new CreateContainerRequest { PodSandboxId = pod.Id, Config = config, SandboxConfig = pod.Config }, CriNode.Within(30))).ContainerId;
    }

    private static string StartContainer(Pod pod, string name, string script, Action<ContainerConfig>? adjust = null)
    {
        string id = CreateContainer(pod, name, script, adjust);
        Step($"StartContainer {name}", () => Cri.StartContainer(new StartContainerRequest { ContainerId = id }, CriNode.Within(30)));
        return id;
    }

    private static ContainerStatus Status(string id) =>
        Step("ContainerStatus", () => Cri.ContainerStatus(new ContainerStatusRequest { ContainerId = id }, CriNode.Within(10))).Status;

    /// <summary>Waits until the container is EXITED (as the kubelet polls), and returns its status.</summary>
    private static ContainerStatus WaitExited(string id, int seconds = 15)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        ContainerStatus status;
        while ((status = Status(id)).State != ContainerState.ContainerExited)
        {
            Assert.True(DateTime.UtcNow < deadline, $"container {status.Metadata.Name} is still {status.State} after {seconds} s\n" + CriNode.ErrorsSince(0));
            Thread.Sleep(100);
        }
        return status;
    }

    private static ExecSyncResponse Exec(string id, params string[] command)
    {
        var request = new ExecSyncRequest { ContainerId = id, Timeout = 20 };
        request.Cmd.AddRange(command);
        return Step($"ExecSync {string.Join(' ', command)}", () => Cri.ExecSync(request, CriNode.Within(30)));
    }

    private static string Stdout(ExecSyncResponse response) => response.Stdout.ToStringUtf8();

    /// <summary>One CRI call; a failure names the step, the CRI error and what containerd logged
    /// meanwhile (the shim's and the runtime's words).</summary>
    private static T Step<T>(string step, Func<T> call)
    {
        long offset = CriNode.LogLength;
        try
        {
            return call();
        }
        catch (RpcException e)
        {
            Thread.Sleep(200);
            throw new Xunit.Sdk.XunitException($"{step}: {e.Status.StatusCode}: {e.Status.Detail}\n--- containerd's log meanwhile:\n{CriNode.ErrorsSince(offset)}");
        }
    }

    /// <summary>The lines the container wrote to stdout, from the CRI log file containerd keeps
    /// ("TIME stdout F LINE").</summary>
    private static string[] LogLines(Pod pod, string name) =>
        File.ReadAllLines(Path.Combine(pod.LogDirectory, name + ".log"))
            .Select(l => l.Split(' ', 4)).Where(p => p.Length == 4 && p[1] == "stdout").Select(p => p[3]).ToArray();

    /// <summary>StopContainer (10 s of grace) and RemoveContainer, each a step of its own.</summary>
    private static void StopAndRemove(string id)
    {
        Step("StopContainer", () => Cri.StopContainer(new StopContainerRequest { ContainerId = id, Timeout = 10 }, CriNode.Within(30)));
        Step("RemoveContainer", () => Cri.RemoveContainer(new RemoveContainerRequest { ContainerId = id }, CriNode.Within(30)));
    }

    private void StopAndRemove(Pod pod)
    {
        Step("StopPodSandbox", () => Cri.StopPodSandbox(new StopPodSandboxRequest { PodSandboxId = pod.Id }, CriNode.Within(30)));
        Step("RemovePodSandbox", () => Cri.RemovePodSandbox(new RemovePodSandboxRequest { PodSandboxId = pod.Id }, CriNode.Within(30)));
        pod.Removed = true;
        var left = Cri.ListContainers(new ListContainersRequest { Filter = new ContainerFilter { PodSandboxId = pod.Id } }, CriNode.Within(10)).Containers;
        Assert.True(left.Count == 0, "containers left in ListContainers: " + string.Join(", ", left.Select(c => $"{c.Metadata.Name} {c.State}")));
    }

    // a container that exits at once on SIGTERM (sleep in the background: sh runs the trap between commands)
    private const string Serve = "trap 'exit 0' TERM; while :; do sleep 1 & wait $!; done";

    [CriTheory]
    [InlineData("runc")]
    [InlineData("isolate")]
    public void A_container_runs_execs_and_is_stopped_and_removed(string handler)
    {
        using var pod = RunPod(handler);
        string id = StartContainer(pod, "main", "echo hello; echo world; " + Serve);
        Assert.Equal(ContainerState.ContainerRunning, Status(id).State);

        var exec = Exec(id, "sh", "-c", "echo out; echo err >&2; exit 3");
        Assert.Equal(("out\n", "err\n", 3), (Stdout(exec), exec.Stderr.ToStringUtf8(), exec.ExitCode));

        var started = DateTime.UtcNow;
        Step("StopContainer", () => Cri.StopContainer(new StopContainerRequest { ContainerId = id, Timeout = 10 }, CriNode.Within(30)));
        var status = WaitExited(id);
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(5), $"a container that exits on SIGTERM took {DateTime.UtcNow - started} to stop");
        Assert.Equal((0, "Completed"), (status.ExitCode, status.Reason));
        Assert.Equal(["hello", "world"], LogLines(pod, "main"));

        Step("RemoveContainer", () => Cri.RemoveContainer(new RemoveContainerRequest { ContainerId = id }, CriNode.Within(30)));
        StopAndRemove(pod);
    }

    [CriTheory]
    [InlineData("runc")]
    [InlineData("isolate")]
    public void A_container_exits_with_its_code_and_one_that_ignores_SIGTERM_is_killed_after_the_timeout(string handler)
    {
        using var pod = RunPod(handler);
        string failing = StartContainer(pod, "failing", "echo bye; exit 7");
        var status = WaitExited(failing);
        Assert.Equal((7, "Error"), (status.ExitCode, status.Reason));
        Assert.Equal(["bye"], LogLines(pod, "failing"));

        string stubborn = StartContainer(pod, "stubborn", "trap '' TERM; echo up; while :; do sleep 1; done");
        Assert.Equal(ContainerState.ContainerRunning, Status(stubborn).State);
        var started = DateTime.UtcNow;
        Step("StopContainer", () => Cri.StopContainer(new StopContainerRequest { ContainerId = stubborn, Timeout = 2 }, CriNode.Within(30)));
        status = WaitExited(stubborn);
        var took = DateTime.UtcNow - started;
        Assert.True(took < TimeSpan.FromSeconds(8), $"a container that ignores SIGTERM, stopped with a 2 s timeout, took {took}");
        Assert.Equal(137, status.ExitCode);

        Step("RemoveContainer", () => Cri.RemoveContainer(new RemoveContainerRequest { ContainerId = failing }, CriNode.Within(30)));
        Step("RemoveContainer", () => Cri.RemoveContainer(new RemoveContainerRequest { ContainerId = stubborn }, CriNode.Within(30)));
        StopAndRemove(pod);
    }

    // what a user checks for the memory limit: the cgroup file the container sees as its own
    private const string MemoryLimit = "cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max";

    // the limit of the container's own group, wherever the mount puts it: at the mount's root
    // (runc mounts the container's group there) or at its path under it (a mount of the whole hierarchy)
    private const string OwnMemoryLimit = "p=$(grep :memory: /proc/self/cgroup | cut -d: -f3); " +
        "cat /sys/fs/cgroup/memory$p/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes";

    /// <summary>What the container sees of its cgroups, for a failure's message.</summary>
    private static string CgroupView(string id) =>
        "\n--- inside: /proc/self/cgroup (memory) and the memory cgroup mount:\n" +
        Stdout(Exec(id, "sh", "-c", "grep memory /proc/self/cgroup; grep cgroup /proc/self/mountinfo | grep -w memory"));

    [CriTheory]
    [InlineData("runc")]
    [InlineData("isolate")]
    public void Resources_are_set_and_updated_as_the_container_sees_them(string handler)
    {
        using var pod = RunPod(handler);
        string id = StartContainer(pod, "main", Serve, c => c.Linux.Resources.MemoryLimitInBytes = 64 << 20);
        var before = Exec(id, "sh", "-c", OwnMemoryLimit);
        Assert.True(Stdout(before) == (64 << 20) + "\n", $"memory limit at create: {Stdout(before)}" + CgroupView(id));

        Step("UpdateContainerResources", () => Cri.UpdateContainerResources(new UpdateContainerResourcesRequest
        {
            ContainerId = id,
            Linux = new LinuxContainerResources { MemoryLimitInBytes = 48 << 20, CpuPeriod = 100000, CpuQuota = 50000, CpuShares = 512 },
        }, CriNode.Within(30)));
        var after = Exec(id, "sh", "-c", OwnMemoryLimit);
        Assert.True(Stdout(after) == (48 << 20) + "\n", $"memory limit after UpdateContainerResources: {Stdout(after)}" + CgroupView(id));
        var quota = Exec(id, "sh", "-c", "p=$(grep :cpu: /proc/self/cgroup | cut -d: -f3); " +
            "cat /sys/fs/cgroup/cpu$p/cpu.cfs_quota_us 2>/dev/null || cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us");
        Assert.Equal("50000\n", Stdout(quota));
        // and where a user looks: the memory cgroup mount shows the container's own group, not the host's root
        var seen = Exec(id, "sh", "-c", MemoryLimit);
        Assert.True(Stdout(seen) == (48 << 20) + "\n", $"/sys/fs/cgroup/memory/memory.limit_in_bytes inside: {Stdout(seen)}" + CgroupView(id));

        StopAndRemove(id);
        StopAndRemove(pod);
    }

    [CriTheory]
    [InlineData("runc")]
    [InlineData("isolate")]
    public void Stats_are_the_containers_own(string handler)
    {
        using var pod = RunPod(handler);
        string id = StartContainer(pod, "main", Serve, c => c.Linux.Resources.MemoryLimitInBytes = 48 << 20);
        // some CPU time of its own, then the stats
        Exec(id, "sh", "-c", "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done");
        var stats = Step("ContainerStats", () => Cri.ContainerStats(new ContainerStatsRequest { ContainerId = id }, CriNode.Within(10))).Stats;
        Assert.NotNull(stats.Cpu?.UsageCoreNanoSeconds);
        Assert.NotNull(stats.Memory?.WorkingSetBytes);
        ulong cpu = stats.Cpu.UsageCoreNanoSeconds.Value, memory = stats.Memory.WorkingSetBytes.Value;
        Assert.True(cpu > 0 && cpu < 60_000_000_000UL, $"cpu usage {cpu} ns is not the container's own");
        Assert.True(memory > 0 && memory < 48UL << 20, $"working set {memory} bytes is not the container's own (limit 48 MiB)");

        StopAndRemove(id);
        StopAndRemove(pod);
    }

    [CriTheory]
    [InlineData("runc")]
    [InlineData("isolate")]
    public void A_container_over_its_memory_limit_is_OOMKilled(string handler)
    {
        using var pod = RunPod(handler);
        // a shell variable that grows past the limit
        string id = StartContainer(pod, "hog", "echo start; x=$(head -c 67108864 /dev/zero | tr '\\0' a); echo survived",
            c => c.Linux.Resources.MemoryLimitInBytes = 16 << 20);
        var status = WaitExited(id, 30);
        Assert.Equal((137, "OOMKilled"), (status.ExitCode, status.Reason));
        Assert.Equal(["start"], LogLines(pod, "hog"));
        Step("RemoveContainer", () => Cri.RemoveContainer(new RemoveContainerRequest { ContainerId = id }, CriNode.Within(30)));
        StopAndRemove(pod);
    }

    [CriTheory]
    [InlineData("runc")]
    [InlineData("isolate")]
    public void Containers_of_a_pod_that_shares_its_process_namespace_see_each_other(string handler)
    {
        using var pod = RunPod(handler, pid: NamespaceMode.Pod);
        string a = StartContainer(pod, "a", "exec sleep 1000001");
        string b = StartContainer(pod, "b", "exec sleep 1000002");
        foreach (string id in new[] { a, b })
        {
            var ps = Exec(id, "ps", "-o", "pid,args");
            Assert.Equal(0, ps.ExitCode);
            string seen = Stdout(ps);
            Assert.Contains("sleep 1000001", seen);
            Assert.Contains("sleep 1000002", seen);
            Assert.Contains("sleep 2147483647", seen); // the sandbox's own process
        }
        foreach (string id in new[] { a, b })
        {
            Step("StopContainer", () => Cri.StopContainer(new StopContainerRequest { ContainerId = id, Timeout = 2 }, CriNode.Within(30)));
            Step("RemoveContainer", () => Cri.RemoveContainer(new RemoveContainerRequest { ContainerId = id }, CriNode.Within(30)));
        }
        StopAndRemove(pod);
    }

    private static HashSet<string> Interfaces(string procNetDev) =>
        procNetDev.Split('\n').Skip(2).Select(l => l.Split(':')[0].Trim()).Where(n => n.Length > 0).ToHashSet();

    [CriTheory]
    [InlineData("runc")]
    [InlineData("isolate")]
    public void A_host_network_pod_sees_the_hosts_interfaces(string handler)
    {
        using var pod = RunPod(handler, network: NamespaceMode.Node);
        string id = StartContainer(pod, "main", Serve);
        // the host's interfaces that were there before and after (other tests make and drop veths)
        var host = Interfaces(File.ReadAllText("/proc/net/dev"));
        var dev = Exec(id, "cat", "/proc/net/dev");
        Assert.Equal(0, dev.ExitCode);
        var inside = Interfaces(Stdout(dev));
        host.IntersectWith(Interfaces(File.ReadAllText("/proc/net/dev")));
        host.RemoveWhere(n => n.StartsWith("veth", StringComparison.Ordinal));
        // every interface of the host's (a pod's own namespace has lo and eth0, which the host may have too)
        Assert.True(host.IsSubsetOf(inside), $"inside: {string.Join(' ', inside)}; the host's: {string.Join(' ', host)}");
        // and the very namespace: the link names its inode
        var ns = Exec(id, "readlink", "/proc/self/ns/net");
        Assert.Equal(new FileInfo("/proc/self/ns/net").LinkTarget + "\n", Stdout(ns));
        StopAndRemove(id);
        StopAndRemove(pod);
    }

    [CriTheory]
    [InlineData("runc", false)]
    [InlineData("runc", true)]
    [InlineData("isolate", false)]
    [InlineData("isolate", true)]
    public void A_container_gets_a_device_it_can_use(string handler, bool privileged)
    {
        using var pod = RunPod(handler, privileged: privileged);
        string id = StartContainer(pod, "main", Serve,
            c => c.Devices.Add(new Device { HostPath = "/dev/fuse", ContainerPath = "/dev/test-fuse", Permissions = "rwm" }));
        var stat = Exec(id, "sh", "-c", "stat -c '%F %t:%T' /dev/test-fuse && exec 3<>/dev/test-fuse && echo opened");
        Assert.Equal(("character special file a:e5\nopened\n", 0), (Stdout(stat), stat.ExitCode));
        if (privileged)
        {
            // the host's devices too, and all capabilities
            var priv = Exec(id, "sh", "-c", "test -c /dev/fuse && grep CapEff /proc/self/status");
            Assert.Equal(0, priv.ExitCode);
            Assert.Equal(File.ReadAllLines("/proc/self/status").Single(l => l.StartsWith("CapEff:", StringComparison.Ordinal)) + "\n", Stdout(priv));
        }
        StopAndRemove(id);
        StopAndRemove(pod);
    }
}
