using System.Diagnostics;
using System.Text.Json.Nodes;
using Isolate.Tests.Support;

namespace Isolate.Tests.Integration;

/// <summary>Where the OCI face behaved unlike runc (issue 13): failures that create and start
/// must report, delete of a created container, hook failure semantics and environment,
/// run --keep, exec --cwd, and the CLI forms runc accepts. Each against real containers on
/// a private state root.</summary>
public sealed class OciRuncCliTests : ContainerTest, IDisposable
{
    private readonly string _work;
    private readonly string _root;
    private readonly string _bundle;

    public OciRuncCliTests(BusyboxRootfs rootfs) : base(rootfs)
    {
        _work = Directory.CreateTempSubdirectory("isolate-runc-cli-").FullName;
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

    /// <summary>A bundle from `isolate spec` on <paramref name="rootfs"/> (the test rootfs when
    /// null), running <paramref name="args"/>.</summary>
    private void MakeBundle(string[] args, Action<JsonObject>? edit = null, string? rootfs = null)
    {
        var config = OciBundleWriter.Start(_bundle, rootfs ?? Rootfs.Path, args);
        edit?.Invoke(config);
        OciBundleWriter.Save(_bundle, config);
    }

    /// <summary>create, with the container's stdio on files (it outlives create); create's own
    /// stderr is that file's text.</summary>
    private RunResult Create(string id, string env = "") =>
        IsolateBinary.RunFromShell(
            $"{env} exec \"$ISOLATE\" --root {_root} create --bundle {_bundle} {id} </dev/null >{_work}/out 2>{_work}/err") with { Stderr = ContainerStderr };

    private string ContainerStderr => File.Exists(Path.Combine(_work, "err")) ? File.ReadAllText(Path.Combine(_work, "err")) : "";

    private string Status(string id)
    {
        var state = Oci("state", id);
        Assert.True(state.ExitCode == 0, state.ToString());
        return (string)JsonNode.Parse(state.Stdout)!["status"]!;
    }

    private int Pid(string id) => (int)JsonNode.Parse(Oci("state", id).Stdout)!["pid"]!;

    private void WaitForStatus(string id, string status)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (Status(id) != status)
        {
            Assert.True(DateTime.UtcNow < deadline, $"{id} never became {status}; it is {Status(id)}");
            Thread.Sleep(20);
        }
    }

    private static JsonObject Hook(string script, JsonArray? env = null, int? timeout = null)
    {
        var hook = new JsonObject { ["path"] = "/bin/sh", ["args"] = new JsonArray("sh", "-c", script) };
        if (env != null)
            hook["env"] = env;
        if (timeout != null)
            hook["timeout"] = timeout;
        return hook;
    }

    private static void AssertOneLine(RunResult result) =>
        Assert.True(result.Stderr.TrimEnd('\n').Split('\n').Length == 1, $"not one line:\n{result}");

    // ---- 1. a child that fails before it is created fails create; one that fails at exec fails start ----

    [ContainerFact]
    public void Create_fails_when_the_capabilities_cannot_be_applied()
    {
        // an inheritable capability outside the bounding set: capset(2) refuses it (EPERM)
        MakeBundle(["true"], config => config["process"]!["capabilities"] = new JsonObject
        {
            ["bounding"] = new JsonArray(),
            ["effective"] = new JsonArray(),
            ["permitted"] = new JsonArray(),
            ["inheritable"] = new JsonArray("CAP_KILL"),
        });

        var create = Create("caps");
        Assert.True(create.ExitCode == 125, create.ToString());
        Assert.Contains("set the capabilities: Operation not permitted", create.Stderr);
        AssertOneLine(create);
        Assert.False(Directory.Exists(Path.Combine(_root, "caps")), "a failed create left its state");
    }

    [ContainerFact]
    public void Start_fails_when_the_command_cannot_be_executed()
    {
        using var variant = Rootfs.CreateVariant();
        string script = variant.HostPath("/bin/no-format");
        File.WriteAllText(script, "no #! line, no ELF header\n");
        File.SetUnixFileMode(script, (UnixFileMode)0x1ED);
        MakeBundle(["/bin/no-format"], rootfs: variant.Path);

        var create = Create("noexec");
        Assert.True(create.ExitCode == 0, create.ToString()); // it is there and executable
        var start = Oci("start", "noexec");
        Assert.True(start.ExitCode == 126, start.ToString());
        Assert.Contains("/bin/no-format", start.Stderr);
        Assert.Contains("exec format error", start.Stderr, StringComparison.OrdinalIgnoreCase);
        AssertOneLine(start);
        WaitForStatus("noexec", "stopped");
        Assert.Equal(0, Oci("delete", "noexec").ExitCode);
    }

    // ---- 2. delete of a created container ----

    [ContainerFact]
    public void Delete_removes_a_created_container_without_force()
    {
        MakeBundle(["true"]);
        Assert.Equal(0, Create("waiting").ExitCode);
        int pid = Pid("waiting");
        Assert.True(HostProcesses.Exists(pid));

        var delete = Oci("delete", "waiting");
        Assert.True(delete.ExitCode == 0, delete.ToString());
        Assert.False(HostProcesses.Exists(pid), "the created container's process was left running");
        Assert.False(Directory.Exists(Path.Combine(_root, "waiting")));
    }

    // ---- 3. hook failures, by phase ----

    [ContainerFact]
    public void A_failing_poststart_hook_fails_start_and_removes_the_container()
    {
        string log = Path.Combine(_work, "poststop.log");
        MakeBundle(["sleep", "30"], config => config["hooks"] = new JsonObject
        {
            ["poststart"] = new JsonArray(Hook("exit 3")),
            ["poststop"] = new JsonArray(Hook($"echo poststop >> {log}")),
        });
        Assert.Equal(0, Create("post").ExitCode);
        int pid = Pid("post");

        var start = Oci("start", "post");
        Assert.NotEqual(0, start.ExitCode);
        Assert.Contains("poststart hook 0 (/bin/sh): exited with 3", start.Stderr);
        Assert.False(HostProcesses.Exists(pid), "the container still runs");
        Assert.Contains("does not exist", Oci("state", "post").Stderr);
        Assert.Equal("poststop\n", File.ReadAllText(log)); // deleted as delete does it
    }

    [ContainerFact]
    public void A_failing_poststart_hook_fails_a_foreground_run()
    {
        MakeBundle(["sleep", "30"], config => config["hooks"] = new JsonObject
        {
            ["poststart"] = new JsonArray(Hook("exit 4")),
        });
        var watch = Stopwatch.StartNew();
        var run = Oci("run", "--bundle", _bundle, "fg-post");
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(20), "the container was not stopped");
        Assert.Equal(125, run.ExitCode);
        Assert.Contains("poststart hook 0 (/bin/sh): exited with 4", run.Stderr);
        Assert.Contains("does not exist", Oci("state", "fg-post").Stderr);
    }

    [ContainerFact]
    public void A_failing_poststop_hook_only_warns()
    {
        MakeBundle(["true"], config => config["hooks"] = new JsonObject { ["poststop"] = new JsonArray(Hook("exit 5")) });
        Assert.Equal(0, Create("stop").ExitCode);
        Assert.Equal(0, Oci("start", "stop").ExitCode);
        WaitForStatus("stop", "stopped");
        var delete = Oci("delete", "stop");
        Assert.True(delete.ExitCode == 0, delete.ToString());
        Assert.Contains("poststop hook 0 (/bin/sh): exited with 5", delete.Stderr);
        Assert.False(Directory.Exists(Path.Combine(_root, "stop")));
    }

    [ContainerFact]
    public void A_failing_createRuntime_hook_fails_create_and_leaves_nothing()
    {
        MakeBundle(["true"], config => config["hooks"] = new JsonObject { ["createRuntime"] = new JsonArray(Hook("exit 6")) });
        var create = Create("cr");
        Assert.Equal(125, create.ExitCode);
        Assert.Contains("createRuntime hook 0 (/bin/sh): exited with 6", create.Stderr);
        Assert.False(Directory.Exists(Path.Combine(_root, "cr")));
    }

    // ---- 5. hook environment and timeout ----

    [ContainerFact]
    public void Hooks_without_env_inherit_the_runtimes_environment_and_with_env_get_only_that()
    {
        string inherited = Path.Combine(_work, "inherited.env"), given = Path.Combine(_work, "given.env");
        MakeBundle(["true"], config => config["hooks"] = new JsonObject
        {
            ["createRuntime"] = new JsonArray(
                Hook($"env > {inherited}"),
                Hook($"env > {given}", env: new JsonArray("ONLY=this"))),
        });
        var create = Create("env", env: "HOOK_PROBE=from-the-caller");
        Assert.True(create.ExitCode == 0, create.ToString());
        Assert.Contains("HOOK_PROBE=from-the-caller", File.ReadAllLines(inherited));
        var lines = File.ReadAllLines(given).Where(l => !l.StartsWith("PWD=", StringComparison.Ordinal) && !l.StartsWith("SHLVL=", StringComparison.Ordinal));
        Assert.Equal(["ONLY=this"], lines); // sh itself adds PWD and SHLVL
        Assert.Equal(0, Oci("delete", "env").ExitCode);
    }

    [ContainerFact]
    public void A_hook_that_runs_past_its_timeout_fails_create()
    {
        MakeBundle(["true"], config => config["hooks"] = new JsonObject { ["prestart"] = new JsonArray(Hook("sleep 20", timeout: 1)) });
        var watch = Stopwatch.StartNew();
        var create = Create("slow");
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10), $"the timeout was not honoured: {watch.Elapsed}");
        Assert.Equal(125, create.ExitCode);
        Assert.Contains("prestart hook 0 (/bin/sh): timed out after 1 s", create.Stderr);
        Assert.False(Directory.Exists(Path.Combine(_root, "slow")));
    }

    // ---- 6. run --keep ----

    [ContainerFact]
    public void Run_keep_leaves_the_stopped_container_for_state_and_delete()
    {
        string log = Path.Combine(_work, "poststop.log");
        MakeBundle(["sh", "-c", "exit 7"], config => config["hooks"] = new JsonObject
        {
            ["poststop"] = new JsonArray(Hook($"echo poststop >> {log}")),
        });
        var run = Oci("run", "--keep", "--bundle", _bundle, "kept");
        Assert.True(run.ExitCode == 7, run.ToString());
        Assert.Equal("stopped", Status("kept"));
        Assert.False(File.Exists(log), "poststop ran before delete");

        var delete = Oci("delete", "kept");
        Assert.True(delete.ExitCode == 0, delete.ToString());
        Assert.Equal("poststop\n", File.ReadAllText(log));
        Assert.False(Directory.Exists(Path.Combine(_root, "kept")));
    }

    // ---- 7. exec --cwd ----

    [ContainerFact]
    public void Exec_in_a_missing_working_directory_fails_and_creates_nothing()
    {
        MakeBundle(["sleep", "30"]);
        Assert.Equal(0, Create("cwd").ExitCode);
        Assert.Equal(0, Oci("start", "cwd").ExitCode);

        var missing = Oci("exec", "--cwd", "/no/such/dir", "cwd", "true");
        Assert.True(missing.ExitCode == 126, missing.ToString());
        Assert.Equal("isolate: exec: working directory /no/such/dir does not exist in the container; give an existing one (--cwd)\n", missing.Stderr);
        var look = Oci("exec", "cwd", "sh", "-c", "test -e /no && echo made || echo absent");
        Assert.Equal("absent\n", look.Stdout);
        var existing = Oci("exec", "--cwd", "/tmp", "cwd", "sh", "-c", "echo $PWD");
        Assert.Equal("/tmp\n", existing.Stdout);
        Assert.Equal(0, Oci("delete", "--force", "cwd").ExitCode);
    }

    // ---- 8. the command line as runc's ----

    [ContainerTheory]
    [InlineData("--pid-file pidfile")]
    [InlineData("--pid-file=pidfile")]
    [InlineData("--preserve-fds 0")]
    [InlineData("--keep")]
    public void Run_in_a_bundle_directory_with_run_options_runs_the_bundle(string options)
    {
        MakeBundle(["sh", "-c", "echo from the bundle; exit 3"]);
        var run = IsolateBinary.RunFromShell($"cd {_bundle} && exec \"$ISOLATE\" --root {_root} run {options} fromdir");
        Assert.True(run.ExitCode == 3, run.ToString());
        Assert.Equal("from the bundle\n", run.Stdout);
        Oci("delete", "fromdir");
    }

    [ContainerFact]
    public void A_docker_form_run_beside_a_bundle_still_runs_its_command()
    {
        MakeBundle(["true"]);
        var run = IsolateBinary.RunFromShell($"cd {_bundle} && exec \"$ISOLATE\" --root {_root} run --rootfs {Rootfs.Path} sh -c 'echo docker form'");
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal("docker form\n", run.Stdout);
    }

    [Theory]
    [InlineData("--log-format=invalid", "isolate: invalid --log-format 'invalid': use text or json\n")]
    [InlineData("--log-format xml", "isolate: invalid --log-format 'xml': use text or json\n")]
    [InlineData("--log=invalid:/path", "isolate: --log invalid:/path: 'invalid:' is not a log destination Isolate knows; give a file path\n")]
    [InlineData("--log /no/such/dir/log", "isolate: --log /no/such/dir/log: directory /no/such/dir does not exist\n")]
    public void Bad_log_options_are_refused(string option, string message)
    {
        var result = IsolateBinary.RunFromShell($"exec \"$ISOLATE\" {option} --root {_root} list");
        Assert.Equal(125, result.ExitCode);
        Assert.Equal(message, result.Stderr);
    }

    [Fact]
    public void Log_format_json_writes_one_object_a_line()
    {
        string log = Path.Combine(_work, "isolate.log");
        var result = Oci("--log", log, "--log-format", "json", "state", "nosuch");
        Assert.NotEqual(0, result.ExitCode);
        var entry = JsonNode.Parse(File.ReadAllLines(log).Single())!;
        Assert.Equal("error", (string)entry["level"]!);
        Assert.Contains("nosuch", (string)entry["msg"]!);
    }

    [Theory]
    [InlineData(new[] { "--help" }, "Usage: isolate [--root DIR]")]
    [InlineData(new[] { "delete", "--help" }, "Usage: isolate delete [options] ID\n")]
    [InlineData(new[] { "run", "--help" }, "       isolate run -b BUNDLE [-d] [--keep]")]
    public void Help_has_a_usage_line(string[] args, string usage)
    {
        var help = IsolateBinary.Run(args);
        Assert.Equal(0, help.ExitCode);
        Assert.Contains(usage, help.Stdout);
    }

    // ---- 4. a foreground run honours createContainer and startContainer hooks ----

    [ContainerFact]
    public void A_foreground_run_runs_createContainer_and_startContainer_hooks_inside_the_container()
    {
        using var variant = Rootfs.CreateVariant(); // the hooks write into its /tmp
        string busybox = Rootfs.HostPath("/bin/busybox"); // static: runs among the container's files
        MakeBundle(["sh", "-c", "cat /tmp/order; hostname"], config =>
        {
            config["hostname"] = "held";
            config["root"]!["readonly"] = false;
            config["hooks"] = new JsonObject
            {
                // createContainer: the program is the runtime's (a host path); startContainer: the container's
                ["createContainer"] = new JsonArray(new JsonObject
                {
                    ["path"] = busybox,
                    ["args"] = new JsonArray("sh", "-c", "echo createContainer $(hostname) $(grep -o '\"status\": *\"[a-z]*\"' | grep -o '[a-z]*\"$') >> /tmp/order"),
                }),
                ["startContainer"] = new JsonArray(Hook("echo startContainer $(hostname) >> /tmp/order")),
            };
        }, rootfs: variant.Path);

        var run = Oci("run", "--bundle", _bundle, "fg-hooks");
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal("createContainer held created\"\nstartContainer held\nheld\n", run.Stdout);
        Assert.Contains("does not exist", Oci("state", "fg-hooks").Stderr);
    }

    [ContainerFact]
    public void A_failing_startContainer_hook_fails_a_foreground_run_before_its_command()
    {
        using var variant = Rootfs.CreateVariant();
        MakeBundle(["sh", "-c", "echo the command ran > /tmp/ran"], config =>
        {
            config["root"]!["readonly"] = false;
            config["hooks"] = new JsonObject { ["startContainer"] = new JsonArray(Hook("exit 9")) };
        }, rootfs: variant.Path);

        var run = Oci("run", "--bundle", _bundle, "fg-fail");
        Assert.Equal(125, run.ExitCode);
        Assert.Contains("startContainer hook 0 (/bin/sh): exited with 9", run.Stderr);
        AssertOneLine(run);
        Assert.False(File.Exists(variant.HostPath("/tmp/ran")), "the command ran");
        Assert.Contains("does not exist", Oci("state", "fg-fail").Stderr);
    }

    // ---- 9. seccomp user notification: refused, naming the field ----

    [ContainerFact]
    public void A_seccomp_listener_path_is_refused_at_create()
    {
        MakeBundle(["true"], config => config["linux"]!["seccomp"] = new JsonObject
        {
            ["defaultAction"] = "SCMP_ACT_ALLOW",
            ["listenerPath"] = "/run/notify.sock",
        });
        var create = Create("notify");
        Assert.Equal(125, create.ExitCode);
        Assert.StartsWith("isolate: config.json: linux.seccomp.listenerPath: ", create.Stderr);
        AssertOneLine(create);
        Assert.False(Directory.Exists(Path.Combine(_root, "notify")));
    }
}
