using System.Text.Json.Nodes;
using Isolate.Tests.Support;

namespace Isolate.Tests.Integration;

/// <summary>runc's systemd cgroup driver (`isolate --systemd-cgroup create|run -b BUNDLE ID`,
/// linux.cgroupsPath `slice:prefix:name`): refused in one line where systemd is not the
/// service manager, nothing made.</summary>
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
