using System.Text.Json.Nodes;
using Isolate.Tests.Support;

namespace Isolate.Tests.Integration;

/// <summary>linux.devices made in /dev with their mode and owner, and linux.resources.devices
/// applied in order to the container's devices cgroup (v1), checked from inside: a denied
/// node cannot be opened, the default nodes still can; docker's --device.</summary>
public sealed class OciDeviceTests : ContainerTest, IDisposable
{
    private readonly string _work;
    private readonly string _bundle;

    public OciDeviceTests(BusyboxRootfs rootfs) : base(rootfs)
    {
        _work = Directory.CreateTempSubdirectory("isolate-ocidev-").FullName;
        _bundle = Path.Combine(_work, "bundle");
        Directory.CreateDirectory(_bundle);
    }

    void IDisposable.Dispose()
    {
        Directory.Delete(_work, recursive: true);
        Dispose();
    }

    private RunResult RunBundle(string script, Action<JsonObject> edit)
    {
        var config = OciBundleWriter.Start(_bundle, Rootfs.Path, ["sh", "-c", script]);
        edit(config["linux"]!.AsObject());
        OciBundleWriter.Save(_bundle, config);
        return IsolateBinary.Run(["--root", Path.Combine(_work, "state"), "run", "--bundle", _bundle, "dev-" + Path.GetFileName(_work)]);
    }

    private static JsonObject Node(string type, string path, int major, int minor, int mode, int uid, int gid) => new()
    {
        ["type"] = type, ["path"] = path, ["major"] = major, ["minor"] = minor, ["fileMode"] = mode, ["uid"] = uid, ["gid"] = gid,
    };

    [ContainerFact]
    public void Listed_nodes_are_made_with_their_mode_and_owner()
    {
        var result = RunBundle("ls -ln /dev/kmsg2 /dev/net/tun2 /dev/fifo1", linux =>
        {
            linux["devices"] = new JsonArray(Node("c", "/dev/kmsg2", 1, 11, 0x1A0 /* 0640 */, 7, 9),
                Node("c", "/dev/net/tun2", 10, 200, 0x1B6, 0, 0), new JsonObject { ["type"] = "p", ["path"] = "/dev/fifo1", ["fileMode"] = 0x180 });
            linux["resources"] = new JsonObject();
        });
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Matches(@"crw-r-----\s+1 7\s+9\s+1,\s+11 .*/dev/kmsg2", result.Stdout);
        Assert.Matches(@"crw-rw-rw-\s+1 0\s+0\s+10,\s+200 .*/dev/net/tun2", result.Stdout);
        Assert.Matches(@"prw-------\s+1 0\s+0\s+0 .*/dev/fifo1", result.Stdout);
    }

    [ContainerFact]
    public void A_listed_dev_ptmx_stays_the_link_to_the_containers_own_ptys_as_runc_leaves_it()
    {
        // a privileged Kubernetes pod: containerd lists every host device, /dev/ptmx among them
        var result = RunBundle("readlink /dev/ptmx; ls -ln /dev/pts/ptmx; ls -ln /dev/fuse", linux =>
            linux["devices"] = new JsonArray(Node("c", "/dev/ptmx", 5, 2, 0x1B6, 0, 0), Node("c", "/dev/fuse", 10, 229, 0x1B6, 0, 0)));
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.StartsWith("pts/ptmx\n", result.Stdout);
        Assert.Matches(@"crw-rw-rw-\s+1 0\s+0\s+10,\s+229 .*/dev/fuse", result.Stdout);
    }

    [ContainerFact]
    public void Device_rules_deny_what_they_deny_and_the_default_nodes_stay_usable()
    {
        // /dev/full is c 1:7: denied after the deny-all, then allowed again by Isolate's
        // defaults (as runc appends its own); c 1:11 is only ever denied
        var result = RunBundle("head -c1 /dev/kmsg2; echo kmsg=$?; head -c1 /dev/null; echo null=$?; head -c1 /dev/zero | wc -c", linux =>
        {
            linux["devices"] = new JsonArray(Node("c", "/dev/kmsg2", 1, 11, 0x1B6, 0, 0));
            linux["resources"] = new JsonObject { ["devices"] = new JsonArray(new JsonObject { ["allow"] = false, ["access"] = "rwm" }) };
        });
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("Operation not permitted", result.Stderr + result.Stdout);
        Assert.Contains("kmsg=1", result.Stdout);
        Assert.Contains("null=0", result.Stdout);
        Assert.Matches(@"(?m)^\s*1$", result.Stdout);
    }

    [ContainerFact]
    public void A_rule_in_the_wrong_form_is_refused_naming_it()
    {
        var result = RunBundle("true", linux => linux["resources"] = new JsonObject
        {
            ["devices"] = new JsonArray(new JsonObject { ["allow"] = true, ["type"] = "x", ["access"] = "rwm" }),
        });
        Assert.Equal(125, result.ExitCode);
        Assert.Contains("config.json: linux.resources.devices[0].type: 'x' is not a device type", result.Stderr);
    }

    [ContainerFact]
    public void Docker_device_flag_gives_the_host_node()
    {
        var result = Sh("ls -ln /dev/mynull; echo x > /dev/mynull && echo written", "--device", "/dev/null:/dev/mynull");
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Matches(@"crw-rw-rw-\s+1 0\s+0\s+1,\s+3 .*/dev/mynull", result.Stdout);
        Assert.Contains("written", result.Stdout);
        var readOnly = Sh("head -c1 /dev/mynull; echo read=$?; echo x > /dev/mynull; echo write=$?", "--device", "/dev/zero:/dev/mynull:r");
        Assert.Contains("read=0", readOnly.Stdout);
        Assert.Contains("write=1", readOnly.Stdout);
    }

    /// <summary>docker takes --device for a node every container gets (/dev/null): the request
    /// replaces the default node, with its permissions (Isolate refused it with EEXIST before).</summary>
    [ContainerFact]
    public void Docker_device_flag_for_a_default_node_replaces_it()
    {
        var result = Sh("ls -ln /dev/null; echo x > /dev/null; echo write=$?", "--device", "/dev/null:/dev/null:r");
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Matches(@"crw-rw-rw-\s+1 0\s+0\s+1,\s+3 .*/dev/null", result.Stdout);
        Assert.Contains("write=1", result.Stdout);
    }
}
