using Isolate.Tests.Support;

namespace Isolate.Tests.Integration;

/// <summary>CDI devices (`--device VENDOR/CLASS=NAME`), from specs the tests write in JSON and
/// in YAML to a directory of their own (--cdi-spec-dir): the nodes made and allowed in the
/// device cgroup, the environment, the bind mounts with their flags; and what is refused.</summary>
public sealed class CdiDeviceTests : ContainerTest, IDisposable
{
    private readonly string _dir;
    private readonly string _library;

    public CdiDeviceTests(BusyboxRootfs rootfs) : base(rootfs)
    {
        _dir = Own(Directory.CreateTempSubdirectory("isolate-test-cdi-").FullName);
        _library = Path.Combine(_dir, "libfake.so.1.2");
        File.WriteAllText(_library, "a driver library\n");
        File.CreateSymbolicLink(Path.Combine(_dir, "libfake.so.1"), "libfake.so.1.2");
    }

    void IDisposable.Dispose()
    {
        Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private const string Json = """
        {
          "cdiVersion": "0.6.0",
          "kind": "vendor.test/json",
          "containerEdits": {
            "env": ["CDI_KIND=json"],
            "mounts": [{"hostPath": "LIBLINK", "containerPath": "/opt/cdi/libfake.so.1", "options": ["ro", "nosuid", "nodev", "bind"]}]
          },
          "devices": [
            {"name": "zero", "containerEdits": {"deviceNodes": [{"path": "/dev/cdizero", "hostPath": "/dev/zero"}], "env": ["CDI_DEVICE=zero"]}},
            {"name": "full", "containerEdits": {"deviceNodes": [{"path": "/dev/cdifull", "type": "c", "major": 1, "minor": 7, "fileMode": 438}]}}
          ]
        }
        """;

    private const string Yaml = """
        ---
        # as nvidia-ctk writes them: sequences at their key's indentation
        cdiVersion: 0.6.0
        kind: vendor.test/yaml
        containerEdits:
          env:
          - CDI_KIND=yaml
          mounts:
          - hostPath: LIBLINK
            containerPath: /opt/cdi/libfake.so.1
            options: [ro, nosuid, nodev, bind]
        devices:
        - name: zero
          containerEdits:
            deviceNodes:
            - path: /dev/cdizero
              hostPath: /dev/zero
            env:
            - "CDI_DEVICE=zero"
        - name: full
          containerEdits:
            deviceNodes:
              - path: /dev/cdifull   # the host has no such node: made from its numbers
                type: c
                major: 1
                minor: 7
                fileMode: 438
        """;

    private void WriteSpecs()
    {
        File.WriteAllText(Path.Combine(_dir, "test.json"), Json.Replace("LIBLINK", Path.Combine(_dir, "libfake.so.1"), StringComparison.Ordinal));
        File.WriteAllText(Path.Combine(_dir, "test.yaml"), Yaml.Replace("LIBLINK", Path.Combine(_dir, "libfake.so.1"), StringComparison.Ordinal));
    }

    private RunResult Cdi(string[] options, string script) =>
        IsolateBinary.Run(["--cdi-spec-dir", _dir, "run", "--rootfs", Rootfs.Path, "--cgroup-parent", CgroupParent, .. options, "--", "sh", "-c", script], stdin: null);

    [ContainerTheory]
    [InlineData("json")]
    [InlineData("yaml")]
    public void A_cdi_device_brings_its_node_environment_and_mounts(string kind)
    {
        WriteSpecs();
        var one = Cdi(["--device", $"vendor.test/{kind}=zero"],
            "head -c 3 /dev/cdizero | od -An -tx1; echo $CDI_KIND $CDI_DEVICE; test -e /dev/cdifull || echo no-full; "
            + "cat /opt/cdi/libfake.so.1; grep ' /opt/cdi/libfake.so.1 ' /proc/self/mountinfo | cut -d' ' -f6");
        Assert.True(one.ExitCode == 0, one.ToString());
        var lines = one.Stdout.Split('\n');
        Assert.Equal(" 00 00 00", lines[0]);
        Assert.Equal($"{kind} zero", lines[1]);
        Assert.Equal("no-full", lines[2]);
        Assert.Equal("a driver library", lines[3]);
        Assert.Equal(["nodev", "nosuid", "ro"], lines[4].Split(',').Where(o => o is "ro" or "nosuid" or "nodev").Order().ToArray());

        // =all: both nodes, allowed in the device cgroup; a node made by hand still is not
        var all = Cdi(["--device", $"vendor.test/{kind}=all"],
            "stat -c '%t %T %a' /dev/cdifull; (exec 3</dev/cdifull) && echo full-ok; mknod /tmp/kmsg c 1 11; (exec 3</tmp/kmsg) && echo kmsg-ok; true");
        Assert.True(all.ExitCode == 0, all.ToString());
        Assert.Equal("1 7 666\nfull-ok\n", all.Stdout);
        Assert.Matches("kmsg.*Operation not permitted", all.Stderr);
    }

    [ContainerFact]
    public void What_a_cdi_spec_names_and_isolate_cannot_apply_is_refused_in_one_line()
    {
        WriteSpecs();
        var unknown = Cdi(["--device", "vendor.test/json=nosuch"], "true");
        Assert.Equal(125, unknown.ExitCode);
        Assert.Contains("has no device nosuch (it has zero, full)", unknown.Stderr);

        var noKind = Cdi(["--device", "other.test/gpu=0"], "true");
        Assert.Equal(125, noKind.ExitCode);
        Assert.Contains("no CDI spec for other.test/gpu", noKind.Stderr);

        File.WriteAllText(Path.Combine(_dir, "hooks.json"), """
            {"cdiVersion": "0.6.0", "kind": "vendor.test/hooks", "devices": [{"name": "x", "containerEdits": {
              "hooks": [{"hookName": "createContainer", "path": "/usr/bin/true"}]}}]}
            """);
        var hooks = Cdi(["--device", "vendor.test/hooks=x"], "true");
        Assert.Equal(125, hooks.ExitCode);
        Assert.Contains("hook createContainer /usr/bin/true : CDI hooks are not run", hooks.Stderr);
        Assert.Single(hooks.Stderr.TrimEnd('\n').Split('\n'));

        // a run that names no CDI device reads no spec: a broken one fails only runs that name one
        File.WriteAllText(Path.Combine(_dir, "broken.yaml"), "kind: [unclosed\n");
        var plain = Cdi([], "echo plain");
        Assert.True(plain.ExitCode == 0 && plain.Stdout == "plain\n", plain.ToString());
        var broken = Cdi(["--device", "vendor.test/json=zero"], "true");
        Assert.Equal(125, broken.ExitCode);
        Assert.Contains("broken.yaml: line 1", broken.Stderr);
    }
}
