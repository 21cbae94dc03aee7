using Isolate.Tests.Support;

namespace Isolate.Tests.Integration;

/// <summary>Capabilities, no_new_privs, seccomp mode and users, read from inside as a user
/// would: /proc/self/status and id.</summary>
public sealed class UserAndCapabilityTests(BusyboxRootfs rootfs) : ContainerTest(rootfs)
{
    private Dictionary<string, string> Status(params string[] options)
    {
        var result = RunIn(options, "cat", "/proc/self/status");
        Assert.True(result.ExitCode == 0, result.ToString());
        return result.Stdout.Split('\n').Where(l => l.Contains(':')).Select(l => l.Split(':', 2))
            .ToDictionary(kv => kv[0], kv => kv[1].Trim());
    }

    [ContainerFact]
    public void By_default_dockers_capabilities_no_new_privs_and_a_filter()
    {
        var status = Status();
        // CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID SETUID SETPCAP NET_BIND_SERVICE NET_RAW
        // SYS_CHROOT MKNOD AUDIT_WRITE SETFCAP: docker's default set
        Assert.Equal("00000000a80425fb", status["CapBnd"]);
        Assert.Equal("00000000a80425fb", status["CapPrm"]);
        Assert.Equal("00000000a80425fb", status["CapEff"]);
        Assert.Equal("0000000000000000", status["CapInh"]);
        Assert.Equal("0000000000000000", status["CapAmb"]);
        Assert.Equal("1", status["NoNewPrivs"]);
        Assert.Equal("2", status["Seccomp"]); // filter mode
    }

    [ContainerFact]
    public void Cap_add_and_cap_drop_take_names_with_or_without_the_prefix_and_ALL()
    {
        Assert.Equal("0000000000001000", Status("--cap-drop", "ALL", "--cap-add", "NET_ADMIN")["CapEff"]);
        Assert.Equal("00000000a80425f9", Status("--cap-drop", "cap_dac_override")["CapBnd"]);
        Assert.Equal("0000000000000000", Status("--cap-drop", "all")["CapBnd"]);
    }

    [ContainerFact]
    public void Privileged_gives_every_capability_isolate_holds_no_filter_and_no_no_new_privs()
    {
        string held = File.ReadAllLines("/proc/self/status").Single(l => l.StartsWith("CapPrm:")).Split(':')[1].Trim();
        var status = Status("--privileged");
        Assert.Equal(held, status["CapEff"]);
        Assert.Equal("0", status["NoNewPrivs"]);
        Assert.Equal("0", status["Seccomp"]);
    }

    [ContainerFact]
    public void No_new_privileges_false_and_seccomp_unconfined_lift_one_thing_each()
    {
        var relaxed = Status("--security-opt", "no-new-privileges=false");
        var unconfined = Status("--security-opt", "seccomp=unconfined");
        Assert.Equal(("0", "2"), (relaxed["NoNewPrivs"], relaxed["Seccomp"]));
        Assert.Equal(("1", "0"), (unconfined["NoNewPrivs"], unconfined["Seccomp"]));
    }

    [ContainerFact]
    public void A_numeric_user_and_group_need_no_entry_and_start_without_capabilities()
    {
        var id = RunIn(["-u", "1000:1000"], "sh", "-c", "id; grep -E '^Cap(Eff|Prm|Bnd)' /proc/self/status; echo $HOME");
        Assert.Equal(0, id.ExitCode);
        Assert.Equal("uid=1000(app) gid=1000(app) groups=50(staff)\nCapPrm:\t0000000000000000\nCapEff:\t0000000000000000\nCapBnd:\t00000000a80425fb\n/home/app\n", id.Stdout);
        var unknown = RunIn(["-u", "4242"], "sh", "-c", "id -u; id -g; echo $HOME");
        Assert.Equal("4242\n0\n/\n", unknown.Stdout); // as docker: GID 0, HOME /
    }

    [ContainerFact]
    public void A_user_name_resolves_from_the_containers_own_passwd_with_its_groups()
    {
        var result = RunIn(["-u", "app", "--group-add", "extra", "--group-add", "4321"], "id");
        Assert.Equal("uid=1000(app) gid=1000(app) groups=50(staff),60(extra),4321\n", result.Stdout);
        Assert.Equal("uid=1000(app) gid=60(extra) groups=50(staff)\n", RunIn(["-u", "app:extra"], "id").Stdout);
    }

    [ContainerFact]
    public void An_unknown_user_or_group_is_125_and_names_the_file()
    {
        var user = RunIn(["-u", "nosuchuser"], "true");
        var group = RunIn(["-u", "app:nosuchgroup"], "true");

        Assert.Equal((125, "isolate: unknown user 'nosuchuser': it is not in the container's /etc/passwd; give a UID or add the user to the image\n"),
            (user.ExitCode, user.Stderr));
        Assert.Equal((125, "isolate: unknown group 'nosuchgroup': it is not in the container's /etc/group; give a GID or add the group to the image\n"),
            (group.ExitCode, group.Stderr));
    }

    [ContainerFact]
    public void The_users_are_the_containers_not_the_hosts()
    {
        // the host has no "app"; the container does. The reverse, a host-only user, must be unknown.
        string? hostOnly = File.ReadAllLines("/etc/passwd").Select(l => l.Split(':')[0]).FirstOrDefault(n => n is "daemon" or "bin" or "sys");
        Assert.NotNull(hostOnly);
        Assert.Equal(125, RunIn(["-u", hostOnly!], "true").ExitCode);
        Assert.Equal(0, RunIn(["-u", "app"], "true").ExitCode);
    }

    [ContainerFact]
    public void A_crafted_passwd_link_cannot_make_isolate_read_the_hosts()
    {
        using var root = Rootfs.CreateVariant();
        File.Delete(root.HostPath("etc/passwd"));
        File.CreateSymbolicLink(root.HostPath("etc/passwd"), "/etc/host-passwd"); // resolved inside the root
        File.WriteAllText(root.HostPath("etc/host-passwd"), "root:x:0:0::/root:/bin/sh\nwho:x:777:777::/w:/bin/sh\n");

        var result = IsolateBinary.Run(["run", "--rootfs", root.Path, "--no-overlay", "-u", "who", "--", "id", "-u"], stdin: null);
        Assert.True(result.Stdout == "777\n", result.ToString());
    }

    [ContainerFact]
    public void Preserve_fds_passes_exactly_the_fds_asked_for()
    {
        var result = IsolateBinary.RunFromShell(
            $"exec \"$ISOLATE\" run --rootfs {Rootfs.Path} --preserve-fds 1 -- sh -c 'cat <&3 && cat <&4' 3</etc/hostname 4</etc/hostname");
        Assert.Equal(File.ReadAllText("/etc/hostname"), result.Stdout);   // fd 3 came through
        Assert.Contains("4: Bad file descriptor", result.Stderr);        // fd 4 did not
    }

    [ContainerFact(Needs = "/usr/bin/setpriv", Why = "to start Isolate without a capability root holds (util-linux's setpriv)")]
    public void Cap_add_of_a_capability_isolate_lacks_is_125()
    {
        // Isolate is started without CAP_SYS_RESOURCE (out of its bounding and inheritable sets,
        // so root's exec does not give it back), whether or not this host's root holds it.
        var result = IsolateBinary.RunFromShell(
            $"exec setpriv --inh-caps=-sys_resource --bounding-set=-sys_resource -- \"$ISOLATE\" run --rootfs {Rootfs.Path} --cgroup-parent {CgroupParent} " +
            "--cap-add SYS_RESOURCE -- true");
        Assert.Equal((125, "isolate: --cap-add SYS_RESOURCE: Isolate does not hold CAP_SYS_RESOURCE itself, so it cannot give it to the container\n"),
            (result.ExitCode, result.Stderr));
    }

    [ContainerFact(Needs = "/usr/bin/setpriv", Why = "to start Isolate without a capability root holds (util-linux's setpriv)")]
    public void Cap_add_of_a_capability_isolate_holds_works_where_it_lacks_another()
    {
        // the control for the test above: the same start, asking for one it does hold
        var result = IsolateBinary.RunFromShell(
            $"exec setpriv --inh-caps=-sys_resource --bounding-set=-sys_resource -- \"$ISOLATE\" run --rootfs {Rootfs.Path} --cgroup-parent {CgroupParent} " +
            "--cap-add SYS_NICE -- grep CapEff /proc/self/status");
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.NotEqual(0UL, Convert.ToUInt64(result.Stdout.Split(':')[1].Trim(), 16) & (1UL << 23)); // CAP_SYS_NICE
    }
}
