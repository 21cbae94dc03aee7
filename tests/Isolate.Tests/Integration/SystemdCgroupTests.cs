using System.Text.Json.Nodes;
using Isolate.Tests.Support;

namespace Isolate.Tests.Integration;

/// <summary>runc's systemd cgroup driver (`isolate --systemd-cgroup create|run -b BUNDLE ID`,
/// linux.cgroupsPath `slice:prefix:name`): refused in one line where systemd is not the
/// service manager, nothing made; where systemd runs (booted as PID 1 of an Isolate container,
/// Support/ServiceHost), a transient scope in the slice, with the limits in it, that systemd
/// shows while the container runs and that is gone after.</summary>
public sealed class SystemdCgroupTests(BusyboxRootfs rootfs) : StateRootTest(rootfs, "isolate-systemd-cgroup-")
{
    private const string Refusal =
        "isolate: --systemd-cgroup: systemd is not running on this host (no /run/systemd/system); use the cgroupfs driver (leave --systemd-cgroup out)\n";

    [WithoutSystemdFact]
    public void Without_systemd_create_and_run_refuse_in_one_line_and_leave_nothing()
    {
        string bundle = Own(Directory.CreateTempSubdirectory("isolate-systemd-bundle-").FullName);
        try
        {
            var config = OciBundleWriter.Start(bundle, Rootfs.Path, ["true"]);
            config["linux"]!["cgroupsPath"] = "system.slice:isolate:refused";
            config["linux"]!["resources"] = JsonNode.Parse("{\"memory\":{\"limit\":33554432}}");
            OciBundleWriter.Save(bundle, config);
            foreach (string verb in new[] { "create", "run" })
            {
                var result = IsolateBinary.Run(["--root", StateRoot, "--systemd-cgroup", verb, "--bundle", bundle, "refused"], stdin: "");
                Assert.Equal((125, "", Refusal), (result.ExitCode, result.Stdout, result.Stderr));
                Assert.Empty(Directory.GetFileSystemEntries(StateRoot));
            }
            // the other verbs take it, as containerd gives it to each: state of no container
            var state = IsolateBinary.Run(["--root", StateRoot, "--systemd-cgroup", "list", "-q"]);
            Assert.Equal((0, ""), (state.ExitCode, state.Stdout));
        }
        finally
        {
            Directory.Delete(bundle, recursive: true);
        }
    }

    [ContainerFact(Needs = ServiceHost.Systemd, Why = "to boot as the service manager that makes the scope")]
    public void Under_systemd_the_container_runs_in_a_transient_scope_of_the_slice_with_its_limits_and_it_is_gone_after()
    {
        using var host = new ServiceHost(systemd: true, Rootfs, CgroupParent, Own, "unused\n");
        // a bundle on the machine: the busybox root, no cgroup namespace (so /proc/self/cgroup
        // shows the whole path), 48 MiB of memory
        string scratch = Own(Directory.CreateTempSubdirectory("isolate-systemd-bundle-").FullName);
        var config = OciBundleWriter.Start(scratch, "/srv/web/rootfs", ["sh", "-c", "cat /proc/self/cgroup; exec sleep 300"]);
        Directory.Delete(scratch, recursive: true);
        config["root"]!["readonly"] = true;
        var namespaces = config["linux"]!["namespaces"]!.AsArray();
        namespaces.Remove(namespaces.First(n => (string)n!["type"]! == "cgroup"));
        config["linux"]!["cgroupsPath"] = "system.slice:isolate:sdtest";
        config["linux"]!["resources"]!["memory"] = JsonNode.Parse("{\"limit\":50331648}");
        config["linux"]!["resources"]!["pids"] = JsonNode.Parse("{\"limit\":77}");
        Ok(host, $"mkdir -p /tmp/b && cat > /tmp/b/config.json <<'EOF'\n{config.ToJsonString()}\nEOF");
        try
        {
            Scopes(host);
        }
        finally
        {
            // the machine's cpuset hierarchy is the host's own (ServiceHost leaves cpuset out), where
            // systemd keeps no slice: what Isolate made there goes, whatever the test got to
            host.Run("isolate delete --force sdtest; isolate delete --force sdfg; rmdir /sys/fs/cgroup/cpuset/system.slice");
        }
        var halt = host.Halt();
        Assert.True(halt.ExitCode == 130, $"systemd did not halt cleanly: {halt}");
    }

    private static void Scopes(ServiceHost host)
    {

        Ok(host, "isolate --systemd-cgroup create --pid-file /tmp/pid -b /tmp/b sdtest </dev/null >/tmp/out 2>/tmp/err || { cat /tmp/err >&2; exit 125; }");
        Assert.Equal("active", Ok(host, "systemctl show -p ActiveState --value isolate-sdtest.scope").Trim());
        Assert.Equal("yes\nsystem.slice", Ok(host, "systemctl show -p Delegate --value isolate-sdtest.scope; systemctl show -p Slice --value isolate-sdtest.scope").Trim());
        Ok(host, "isolate --systemd-cgroup start sdtest");
        host.RunUntil("grep -q name=systemd /tmp/out && echo printed", "printed");
        string seen = Ok(host, "cat /tmp/out");
        Assert.Contains(":memory:/system.slice/isolate-sdtest.scope\n", seen);
        Assert.Contains(":name=systemd:/system.slice/isolate-sdtest.scope\n", seen);
        Assert.Equal("50331648", Ok(host, "cat /sys/fs/cgroup/memory/system.slice/isolate-sdtest.scope/memory.limit_in_bytes").Trim());
        // inside, the bundle's cgroup mount shows the container's own group (in the host's cgroup
        // namespace the scope's directory is bound there, as runc binds it)
        Assert.Equal("50331648", Ok(host, "isolate exec sdtest cat /sys/fs/cgroup/memory/memory.limit_in_bytes").Trim());
        string before = Ok(host, "cat /sys/fs/cgroup/devices/system.slice/isolate-sdtest.scope/devices.list");
        Assert.True(before.Contains("c 1:3 rwm\n") && !before.Contains("a *:* rwm"), before);
        // systemd applies a unit's settings again on daemon-reload: the limits must survive it
        Ok(host, "systemctl daemon-reload");
        Assert.Equal("50331648", Ok(host, "cat /sys/fs/cgroup/memory/system.slice/isolate-sdtest.scope/memory.limit_in_bytes").Trim());
        Assert.Equal("77", Ok(host, "cat /sys/fs/cgroup/pids/system.slice/isolate-sdtest.scope/pids.max").Trim());
        string devices = Ok(host, "cat /sys/fs/cgroup/devices/system.slice/isolate-sdtest.scope/devices.list");
        Assert.True(devices.Contains("c 1:3 rwm\n") && !devices.Contains("a *:* rwm"), devices);
        // systemd realizes the slice again when a unit beside it starts: the container stays in
        // its groups of every hierarchy, those systemd does not manage for it too (cpu and cpuacct
        // left out: this host mounts them apart, and the machine's container stays in the host's
        // groups of those, outside its cgroup namespace: /proc/PID/cgroup shows "/../../..")
        string early = Ok(host, "cat /proc/$(cat /tmp/pid)/cgroup");
        Ok(host, "systemd-run -q --scope -p Slice=system.slice true");
        Assert.Equal(early, Ok(host, "cat /proc/$(cat /tmp/pid)/cgroup"));
        string outside = Ok(host, "for c in freezer blkio cpuset memory pids devices; do grep -qx \"$(cat /tmp/pid)\" /sys/fs/cgroup/$c/system.slice/isolate-sdtest.scope/cgroup.procs || echo $c; done");
        Assert.True(outside == "", outside + early);
        Assert.Equal("running", System.Text.Json.Nodes.JsonNode.Parse(Ok(host, "isolate --systemd-cgroup state sdtest"))!["status"]!.ToString());

        // the verbs that find the group through the state: ps, update, pause and resume
        Assert.Contains("sleep", Ok(host, "isolate --systemd-cgroup ps sdtest"));
        Ok(host, "isolate --systemd-cgroup update --pids-limit 99 sdtest");
        Assert.Equal("99", Ok(host, "cat /sys/fs/cgroup/pids/system.slice/isolate-sdtest.scope/pids.max").Trim());
        Ok(host, "systemctl daemon-reload");
        Assert.Equal("99", Ok(host, "cat /sys/fs/cgroup/pids/system.slice/isolate-sdtest.scope/pids.max").Trim());
        Assert.Equal("99", Ok(host, "systemctl show -p TasksMax --value isolate-sdtest.scope").Trim());
        Ok(host, "isolate --systemd-cgroup pause sdtest");
        Assert.Equal("FROZEN", Ok(host, "cat /sys/fs/cgroup/freezer/system.slice/isolate-sdtest.scope/freezer.state").Trim());
        Ok(host, "isolate --systemd-cgroup resume sdtest");
        Assert.Equal("THAWED", Ok(host, "cat /sys/fs/cgroup/freezer/system.slice/isolate-sdtest.scope/freezer.state").Trim());

        Ok(host, "isolate --systemd-cgroup kill sdtest KILL");
        Ok(host, "isolate --systemd-cgroup delete --force sdtest");
        var gone = host.RunUntil("systemctl show -p ActiveState --value isolate-sdtest.scope", "inactive");
        Assert.Equal("inactive", gone.Stdout.Trim());
        Assert.Equal("", Ok(host, "ls -d /sys/fs/cgroup/*/system.slice/isolate-sdtest.scope 2>/dev/null || true"));

        // run in the foreground: in the scope while it runs, the scope gone when it ends
        Assert.Contains(":memory:/system.slice/isolate-sdfg.scope\n",
            Ok(host, "sed -i 's/sdtest/sdfg/; s/exec sleep 300/true/' /tmp/b/config.json && isolate --systemd-cgroup run -b /tmp/b sdfg </dev/null"));
        Assert.Equal("inactive", host.RunUntil("systemctl show -p ActiveState --value isolate-sdfg.scope", "inactive").Stdout.Trim());
        Assert.Equal("", Ok(host, "ls -d /sys/fs/cgroup/*/system.slice/isolate-sdfg.scope 2>/dev/null || true"));
    }

    private static string Ok(ServiceHost host, string command)
    {
        var result = host.Run(command);
        Assert.True(result.ExitCode == 0, $"{command}: {result}");
        return result.Stdout;
    }
}

/// <summary>A container test for a host whose PID 1 is not systemd.</summary>
public sealed class WithoutSystemdFactAttribute : FactAttribute
{
    public WithoutSystemdFactAttribute()
    {
        if (!Environment.IsPrivilegedProcess)
            Skip = "needs root: containers create namespaces and mounts";
        else if (Directory.Exists("/run/systemd/system"))
            Skip = "systemd runs on this host: the refusal is for hosts without it";
    }
}
