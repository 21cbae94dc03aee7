using Isolate.Plan;
using Isolate.Runtime;
using Isolate.Spec;

namespace Isolate.Tests.Unit;

/// <summary>--userns parsing, the rootless map, and what a user namespace changes in the plan.</summary>
public sealed class UserNamespaceParserTests
{
    private static string? NoFiles(string path) => null;

    [Fact]
    public void Root_gets_no_namespace_unless_it_asks_and_a_user_always_gets_its_own()
    {
        Assert.Null(UserNamespaceParser.Parse(null, 0, 0, NoFiles));
        Assert.Null(UserNamespaceParser.Parse("host", 0, 0, NoFiles));

        var rootless = UserNamespaceParser.Parse(null, 1000, 1001, NoFiles)!;
        Assert.True(rootless.Rootless);
        Assert.Equal([new IdMapping(0, 1000, 1)], rootless.UidMap);
        Assert.Equal([new IdMapping(0, 1001, 1)], rootless.GidMap);
        var same = UserNamespaceParser.Parse("0:1000:1", 1000, 1001, NoFiles)!;
        Assert.True(same.Rootless);
        Assert.Equal(rootless.UidMap, same.UidMap);
        Assert.Equal(rootless.GidMap, same.GidMap);
    }

    [Fact]
    public void Explicit_maps_apply_to_uids_and_gids_and_write_as_the_kernel_reads_them()
    {
        var userns = UserNamespaceParser.Parse("0:100000:1000,1000:200000:10", 0, 0, NoFiles)!;
        Assert.False(userns.Rootless);
        Assert.Equal(userns.UidMap, userns.GidMap);
        Assert.Equal("0 100000 1000\n1000 200000 10\n", UserNamespaceSpec.MapText(userns.UidMap));
        Assert.True(userns.MapsUid(999) && userns.MapsUid(1009) && !userns.MapsUid(1010));
    }

    [Fact]
    public void Auto_takes_the_first_65536_of_the_users_range_by_name()
    {
        string? Files(string path) => path == "/etc/subuid"
            ? "other:100000:65536\nisolate:300000:131072\n"
            : "isolate:400000:1000\n";
        var userns = UserNamespaceParser.Parse("auto", 0, 0, Files)!;
        Assert.Equal([new IdMapping(0, 300000, 65536)], userns.UidMap);
        Assert.Equal([new IdMapping(0, 400000, 1000)], userns.GidMap);
        Assert.Equal([new IdMapping(0, 100000, 65536)], UserNamespaceParser.Parse("auto:other", 0, 0, p => "other:100000:65536\n")!.UidMap);
    }

    [Theory]
    [InlineData("0:1:2:3", 0u, "invalid --userns '0:1:2:3': use host, auto[:USER] or ID:HOSTID:COUNT[,ID:HOSTID:COUNT...]")]
    [InlineData("0:100000:0", 0u, "invalid --userns '0:100000:0': 0:100000:0 is an empty range or runs past 4294967294")]
    [InlineData("0:100000:10,5:200000:10", 0u, "invalid --userns '0:100000:10,5:200000:10': 0:100000:10 and 5:200000:10 overlap")]
    [InlineData("0:100000:10,20:100005:10", 0u, "invalid --userns '0:100000:10,20:100005:10': 0:100000:10 and 20:100005:10 overlap")]
    [InlineData("1:100000:10", 0u, "invalid --userns '1:100000:10': container id 0 must be mapped (the container starts as root), as in 0:100000:65536")]
    [InlineData("auto:", 0u, "invalid --userns 'auto:': name the user whose /etc/subuid range to use, as in auto:isolate")]
    [InlineData("auto", 0u, "--userns=auto: /etc/subuid has no range for user 'isolate': add one (usermod --add-subuids 100000-165535 --add-subgids 100000-165535 isolate), or give the map: --userns 0:100000:65536")]
    [InlineData("auto", 1000u, "--userns=auto needs root: only root may map subordinate ids (a non-root user is mapped to root inside as it is)")]
    [InlineData("host", 1000u, "--userns=host needs root: run by a non-root user (uid 1000), isolate needs a user namespace; drop --userns=host")]
    [InlineData("0:2000:1", 1000u, "--userns 0:2000:1: a non-root user may map only its own uid 1000, to root (0:1000:1); mapping other host ids needs root")]
    public void Bad_values_are_one_line_errors(string value, uint euid, string message) =>
        Assert.Equal(message, Assert.Throws<IsolateException>(() => UserNamespaceParser.Parse(value, euid, euid, NoFiles)).Message);

    [Fact]
    public void The_error_for_a_blocked_namespace_names_the_switch()
    {
        string Blocker(bool rootless, params (string Name, string Value)[] sysctls) =>
            Isolate.Launch.SpawnFailures.UserNamespaceBlocker(rootless, name => sysctls.FirstOrDefault(s => s.Name == name).Value);

        Assert.Contains("sysctl -w user.max_user_namespaces=15000", Blocker(false, ("user.max_user_namespaces", "0\n")));
        Assert.Contains("sysctl -w kernel.unprivileged_userns_clone=1", Blocker(true, ("kernel.unprivileged_userns_clone", "0\n"), ("user.max_user_namespaces", "100")));
        Assert.Contains("sysctl -w kernel.apparmor_restrict_unprivileged_userns=0", Blocker(true, ("kernel.apparmor_restrict_unprivileged_userns", "1\n")));
        Assert.DoesNotContain("unprivileged_userns_clone", Blocker(false, ("kernel.unprivileged_userns_clone", "0")));
        Assert.Contains("a seccomp filter", Blocker(true));
    }

    private static readonly UserNamespaceSpec Mapped = new() { UidMap = [new IdMapping(0, 100000, 65536)], GidMap = [new IdMapping(0, 100000, 65536)] };
    private static readonly UserNamespaceSpec Rootless = new() { UidMap = [new IdMapping(0, 1000, 1)], GidMap = [new IdMapping(0, 1000, 1)], Rootless = true };

    private static ContainerSpec Spec(UserNamespaceSpec? userns, RootfsWrites writes = RootfsWrites.CopyOnWrite, NetworkMode network = NetworkMode.None) =>
        new() { Rootfs = "/r", Hostname = "h", Process = new ProcessSpec { Args = ["true"], Env = [] }, RootfsWrites = writes, Network = network, UserNamespace = userns };

    [Fact]
    public void The_plan_binds_the_rootfs_from_the_id_mapped_slot_and_keeps_gid_5_only_where_mapped()
    {
        var plan = SpawnPlan.From(Spec(Mapped), "/tmp");
        Assert.True(plan.Namespaces.HasFlag(CloneFlags.NewUser));
        int bind = plan.Mounts.ToList().FindIndex(op => op.Kind == MountKind.Bind && op.Slot == MountPlanBuilder.RootfsSlot);
        int overlay = plan.Mounts.ToList().FindIndex(op => op.FsType == "overlay");
        Assert.True(bind >= 0 && bind < overlay, "the id-mapped rootfs goes on the rootfs path before the overlay takes it as its lower layer");
        Assert.EndsWith(",gid=5", plan.Mounts.Single(op => op.FsType == "devpts").Data);

        var rootless = SpawnPlan.From(Spec(Rootless), "/tmp");
        Assert.DoesNotContain("gid=", rootless.Mounts.Single(op => op.FsType == "devpts").Data);

        var direct = MountPlanBuilder.Build(Spec(Mapped, RootfsWrites.Direct));
        Assert.Equal(MountPlanBuilder.RootfsSlot, direct.Single(op => op.Kind == MountKind.Bind && op.Target == "/r").Slot);
        Assert.DoesNotContain(MountPlanBuilder.Build(Spec(null)), op => op.Slot == MountPlanBuilder.RootfsSlot);
    }

    [Fact]
    public void With_the_hosts_network_a_user_namespace_binds_sys_instead_of_mounting_it()
    {
        var sys = MountPlanBuilder.Build(Spec(Mapped, network: NetworkMode.Host)).Single(op => op.Target == "/sys");
        Assert.Equal(MountKind.Bind, sys.Kind);
        Assert.True(sys.Flags.HasFlag(MountFlags.ReadOnly) && sys.Flags.HasFlag(MountFlags.Rec));
        Assert.Equal("sysfs", MountPlanBuilder.Build(Spec(Mapped)).Single(op => op.Target == "/sys").FsType);
    }
}
