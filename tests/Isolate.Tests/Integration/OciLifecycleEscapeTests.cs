using System.Globalization;
using System.Text.Json.Nodes;
using Isolate.Tests.Support;

namespace Isolate.Tests.Integration;

/// <summary>Escapes through the OCI lifecycle, closed as runc and crun close them: a host
/// program run inside the container by a createContainer hook (the image's loader would run
/// it, and could write it), and a bundle edited between create and the later commands
/// (crun and runc keep what the container was created with).</summary>
public sealed class OciLifecycleEscapeTests : ContainerTest, IDisposable
{
    private readonly string _work;
    private readonly string _root;
    private readonly string _bundle;

    public OciLifecycleEscapeTests(BusyboxRootfs rootfs) : base(rootfs)
    {
        _work = Own(Directory.CreateTempSubdirectory("isolate-oci-escape-").FullName);
        _root = Path.Combine(_work, "state");
        _bundle = Path.Combine(_work, "bundle");
        Directory.CreateDirectory(_bundle);
    }

    void IDisposable.Dispose()
    {
        foreach (string dir in Directory.Exists(_root) ? Directory.GetDirectories(_root) : [])
            Oci("delete", "--force", Path.GetFileName(dir));
        Directory.Delete(_work, recursive: true);
        Dispose();
    }

    private RunResult Oci(params string[] args) => IsolateBinary.Run(["--root", _root, .. args]);

    private JsonObject MakeBundle(string[] args, Action<JsonObject>? edit = null, string? rootfs = null)
    {
        var config = OciBundleWriter.Start(_bundle, rootfs ?? Rootfs.Path, args);
        edit?.Invoke(config);
        OciBundleWriter.Save(_bundle, config);
        return config;
    }

    /// <summary>create, with the container's stdio on files (it outlives create).</summary>
    private RunResult Create(string id) =>
        IsolateBinary.RunFromShell(
            $"exec \"$ISOLATE\" --root {_root} create --bundle {_bundle} {id} </dev/null >{_work}/out 2>{_work}/err");

    private string Err => File.ReadAllText(Path.Combine(_work, "err"));

    private string ContainerOutput => File.Exists(Path.Combine(_work, "out")) ? File.ReadAllText(Path.Combine(_work, "out")) : "";

    private string Status(string id)
    {
        var state = Oci("state", id);
        Assert.True(state.ExitCode == 0, state.ToString());
        return (string)JsonNode.Parse(state.Stdout)!["status"]!;
    }

    private void WaitFor(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"timed out waiting for {what}");
            Thread.Sleep(20);
        }
    }

    private static JsonObject ShellHook(string script) => new()
    {
        ["path"] = "/bin/sh",
        ["args"] = new JsonArray("sh", "-c", script),
    };

    /// <summary>Refused at create with its one line, before any hook ran, and nothing left.</summary>
    private void AssertRefused(string id, string line, string prestartLog)
    {
        var create = Create(id);
        Assert.True(create.ExitCode == 125, $"exit {create.ExitCode}\n{Err}");
        Assert.Contains(line, Err);
        Assert.Single(Err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.False(File.Exists(prestartLog), "a hook ran before the refusal");
        Assert.False(Directory.Exists(Path.Combine(_root, id)), "its state directory was left");
        Assert.Contains($"container {id} does not exist", Oci("state", id).Stderr);
    }

    // ---- 1. a createContainer hook: a host program that runs inside the container ----

    [ContainerFact]
    public void A_dynamically_linked_host_program_or_a_script_as_a_createContainer_hook_is_refused_before_anything_runs()
    {
        Assert.True(Elf.IsDynamicallyLinked("/bin/true"), "the test needs the host's /bin/true dynamically linked");
        string prestartLog = Path.Combine(_work, "prestart.log");
        string script = Path.Combine(_work, "hook.sh");
        File.WriteAllText(script, "#!/bin/sh\nexit 0\n");
        File.SetUnixFileMode(script, (UnixFileMode)0x1ED); // 0755
        string busybox = new[] { "/bin/busybox", "/usr/bin/busybox" }.First(File.Exists);
        Assert.False(Elf.IsDynamicallyLinked(busybox), "the test needs a static busybox");

        MakeBundle(["true"], config => config["hooks"] = new JsonObject
        {
            ["prestart"] = new JsonArray(ShellHook($"echo ran >> {prestartLog}")),
            ["createContainer"] = new JsonArray(new JsonObject { ["path"] = "/bin/true" }),
        });
        AssertRefused("dynamic",
            "config.json: hooks.createContainer[0].path: /bin/true is dynamically linked (its loader would be the container's); give a statically linked program",
            prestartLog);

        MakeBundle(["true"], config => config["hooks"] = new JsonObject
        {
            ["prestart"] = new JsonArray(ShellHook($"echo ran >> {prestartLog}")),
            ["createContainer"] = new JsonArray(
                new JsonObject { ["path"] = busybox, ["args"] = new JsonArray("busybox", "true") },
                new JsonObject { ["path"] = script }),
        });
        AssertRefused("script",
            $"config.json: hooks.createContainer[1].path: {script} is a #! script (its interpreter would be the container's); give a statically linked program",
            prestartLog);

        // a foreground run reads config.json the same way
        var run = Oci("run", "--bundle", _bundle, "script-run");
        Assert.Equal(125, run.ExitCode);
        Assert.Contains($"config.json: hooks.createContainer[1].path: {script} is a #! script", run.Stderr);
        Assert.False(File.Exists(prestartLog), "a hook ran before the refusal");
    }

    [ContainerFact]
    public void A_static_createContainer_hook_runs_from_a_sealed_copy_the_container_cannot_write()
    {
        // the hook is the static probe, a host file outside the root; from inside the
        // container a process keeps its /proc/self/exe and writes it once the hook exited
        string hook = Path.Combine(_work, "hook-probe");
        File.Copy(Path.Combine(IsolateBinary.RepoRoot, "build", "native", "probe"), hook);
        File.SetUnixFileMode(hook, (UnixFileMode)0x1ED); // 0755, root's: root in the container may write it
        byte[] before = File.ReadAllBytes(hook);
        using var variant = Rootfs.CreateVariant(); // the answer lands in its /tmp
        string answer = variant.HostPath("/tmp/keep-exe");
        MakeBundle(["true"], config =>
        {
            config["root"]!["readonly"] = false;
            config["hooks"] = new JsonObject
            {
                ["createContainer"] = new JsonArray(new JsonObject
                {
                    ["path"] = hook,
                    ["args"] = new JsonArray("probe", "keep-exe", "/tmp/keep-exe"),
                }),
            };
        }, rootfs: variant.Path);

        var create = Create("sealed");
        Assert.True(create.ExitCode == 0, $"exit {create.ExitCode}\n{Err}");
        Assert.Equal("ok\n", ContainerOutput); // the hook ran, and left its keeper behind
        WaitFor(() => File.Exists(answer) && File.ReadAllText(answer).EndsWith('\n'), "the keeper's answer");
        Assert.Equal("refused\n", File.ReadAllText(answer));
        Assert.Equal(before, File.ReadAllBytes(hook));
        Assert.Equal(0, Oci("delete", "--force", "sealed").ExitCode);
    }

    // ---- 2. the bundle is read once, at create ----

    [ContainerFact]
    public void Commands_after_create_use_what_it_was_created_with_not_the_edited_bundle()
    {
        string log = Path.Combine(_work, "hooks.log");
        var original = MakeBundle(["sh", "-c", "echo original; sleep 100"], config =>
        {
            config["linux"]!["seccomp"] = new JsonObject
            {
                ["defaultAction"] = "SCMP_ACT_ALLOW",
                ["syscalls"] = new JsonArray(new JsonObject
                {
                    ["names"] = new JsonArray("keyctl"),
                    ["action"] = "SCMP_ACT_ERRNO",
                }),
            };
            config["hooks"] = new JsonObject { ["poststop"] = new JsonArray(ShellHook($"echo poststop-original >> {log}")) };
        });
        Assert.True(Create("snap").ExitCode == 0, Err);

        // the bundle rewritten: every capability set with CAP_SYS_ADMIN, no filter, another
        // command, other hooks
        var edited = original.DeepClone().AsObject();
        var caps = edited["process"]!["capabilities"]!.AsObject();
        foreach (string set in new[] { "bounding", "effective", "permitted", "inheritable", "ambient" })
            caps[set] = new JsonArray("CAP_SYS_ADMIN", "CAP_KILL", "CAP_AUDIT_WRITE", "CAP_NET_BIND_SERVICE");
        edited["linux"]!.AsObject().Remove("seccomp");
        edited["process"]!["args"] = new JsonArray("sh", "-c", "echo rewritten; sleep 100");
        edited["hooks"] = new JsonObject
        {
            ["poststart"] = new JsonArray(ShellHook($"echo poststart-rewritten >> {log}")),
            ["poststop"] = new JsonArray(ShellHook($"echo poststop-rewritten >> {log}")),
        };
        OciBundleWriter.Save(_bundle, edited);

        var start = Oci("start", "snap");
        Assert.True(start.ExitCode == 0, start.ToString());
        WaitFor(() => ContainerOutput.Length > 0, "the command's output");
        Assert.Equal("original\n", ContainerOutput);

        var exec = Oci("exec", "snap", "cat", "/proc/self/status");
        Assert.True(exec.ExitCode == 0, exec.ToString());
        string Field(string name) => exec.Stdout.Split('\n').Single(l => l.StartsWith(name + ":", StringComparison.Ordinal))[(name.Length + 1)..].Trim();
        ulong effective = ulong.Parse(Field("CapEff"), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
        Assert.True((effective & (1UL << 21)) == 0, $"the exec'd process has CAP_SYS_ADMIN (CapEff {Field("CapEff")})");
        Assert.Equal("2", Field("Seccomp"));

        Assert.Equal(0, Oci("kill", "snap", "KILL").ExitCode);
        WaitFor(() => Status("snap") == "stopped", "the container to stop");
        var delete = Oci("delete", "snap");
        Assert.True(delete.ExitCode == 0, delete.ToString());
        Assert.Equal("poststop-original\n", File.ReadAllText(log));
    }
}
