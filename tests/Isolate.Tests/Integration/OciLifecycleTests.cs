using System.Diagnostics;
using System.Text.Json.Nodes;
using Isolate.Tests.Support;

namespace Isolate.Tests.Integration;

/// <summary>The OCI runtime interface as an engine drives it: a bundle from `isolate spec`,
/// then create, state, start, kill, delete and list on a private state root, checked
/// from the host (the process, its state) and from inside (what the command printed).</summary>
public sealed class OciLifecycleTests : ContainerTest, IDisposable
{
    private readonly string _work;
    private readonly string _root;
    private readonly string _bundle;

    public OciLifecycleTests(BusyboxRootfs rootfs) : base(rootfs)
    {
        _work = Directory.CreateTempSubdirectory("isolate-oci-").FullName;
        _root = Path.Combine(_work, "state");
        _bundle = Path.Combine(_work, "bundle");
        Directory.CreateDirectory(_bundle);
    }

    void IDisposable.Dispose()
    {
        // whatever a failed test left: delete --force, then the base class's checks
        foreach (string dir in Directory.Exists(_root) ? Directory.GetDirectories(_root) : [])
            Oci("delete", "--force", Path.GetFileName(dir));
        Directory.Delete(_work, recursive: true);
        Dispose();
    }

    private RunResult Oci(params string[] args) => IsolateBinary.Run(["--root", _root, .. args]);

    /// <summary>A bundle from `isolate spec`, pointed at the test rootfs, running <paramref name="args"/>.</summary>
    private void MakeBundle(string[] args, Action<JsonObject>? edit = null)
    {
        var config = OciBundleWriter.Start(_bundle, Rootfs.Path, args);
        edit?.Invoke(config);
        OciBundleWriter.Save(_bundle, config);
    }

    /// <summary>create, with the container's stdio on files (it inherits create's stdio, and
    /// outlives it).</summary>
    private RunResult Create(string id, params string[] extra) =>
        IsolateBinary.RunFromShell(
            $"exec \"$ISOLATE\" --root {_root} create --bundle {_bundle} {string.Join(' ', extra)} {id} </dev/null >{_work}/out 2>{_work}/err");

    private string ContainerOutput => File.Exists(Path.Combine(_work, "out")) ? File.ReadAllText(Path.Combine(_work, "out")) : "";

    private JsonObject State(string id)
    {
        var result = Oci("state", id);
        Assert.True(result.ExitCode == 0, result.ToString());
        return JsonNode.Parse(result.Stdout)!.AsObject();
    }

    private string Status(string id) => (string)State(id)["status"]!;

    private void WaitForStatus(string id, string status)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (Status(id) != status)
        {
            Assert.True(DateTime.UtcNow < deadline, $"{id} never became {status}; it is {Status(id)}");
            Thread.Sleep(20);
        }
    }

    [ContainerFact]
    public void Create_start_exit_delete_goes_through_every_state()
    {
        MakeBundle(["sh", "-c", "echo hello from $$; sleep 0.5"]);

        var create = Create("life");
        Assert.True(create.ExitCode == 0, create + File.ReadAllText($"{_work}/err"));
        var state = State("life");
        Assert.Equal("created", (string)state["status"]!);
        Assert.Equal("life", (string)state["id"]!);
        Assert.Equal(_bundle, (string)state["bundle"]!);
        int pid = (int)state["pid"]!;
        Assert.True(HostProcesses.Exists(pid), "the created container's process is not there");
        Assert.Equal("", ContainerOutput); // the command has not run

        var start = Oci("start", "life");
        Assert.True(start.ExitCode == 0, start.ToString());
        Assert.Equal("running", Status("life"));
        WaitForStatus("life", "stopped");
        Assert.Equal("hello from 1\n", ContainerOutput); // it was PID 1 of its namespace
        Assert.Equal(0, (int)State("life")["pid"]!);

        var delete = Oci("delete", "life");
        Assert.True(delete.ExitCode == 0, delete.ToString());
        var gone = Oci("state", "life");
        Assert.NotEqual(0, gone.ExitCode);
        Assert.Contains("container life does not exist", gone.Stderr);
        Assert.False(Directory.Exists(Path.Combine(_root, "life")));
    }

    [ContainerFact]
    public void Kill_works_in_the_created_and_in_the_running_state()
    {
        MakeBundle(["sh", "-c", "trap 'echo got term; exit 3' TERM; echo up; while :; do sleep 0.05; done"]);

        Assert.Equal(0, Create("k1").ExitCode);
        Assert.Equal(0, Oci("kill", "k1", "KILL").ExitCode);
        WaitForStatus("k1", "stopped");
        Assert.Equal("", ContainerOutput); // it never ran
        Assert.Equal(0, Oci("delete", "k1").ExitCode);

        Assert.Equal(0, Create("k2").ExitCode);
        Assert.Equal(0, Oci("start", "k2").ExitCode);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!ContainerOutput.Contains("up", StringComparison.Ordinal) && DateTime.UtcNow < deadline)
            Thread.Sleep(20); // its trap is set
        Assert.Equal(0, Oci("kill", "k2", "SIGTERM").ExitCode);
        WaitForStatus("k2", "stopped");
        Assert.Equal("up\ngot term\n", ContainerOutput);
        var again = Oci("kill", "k2");
        Assert.NotEqual(0, again.ExitCode);
        Assert.Contains("container not running", again.Stderr); // runc's words: containerd's shim reads them
        Assert.Equal(0, Oci("delete", "k2").ExitCode);
    }

    [ContainerFact]
    public void Kill_all_of_a_stopped_container_kills_what_outlived_its_pid_1_and_succeeds_as_runc()
    {
        // the host's PID namespace, as a pod's container may share it: a child outlives PID 1 in
        // the container's cgroup, and containerd's shim sends `kill --all ID KILL` after every exit
        MakeBundle(["sh", "-c", "sleep 300 & echo $!"], c =>
        {
            var namespaces = c["linux"]!["namespaces"]!.AsArray();
            namespaces.Remove(namespaces.First(n => (string)n!["type"]! == "pid"));
        });
        Assert.Equal(0, Create("left").ExitCode);
        Assert.Equal(0, Oci("start", "left").ExitCode);
        WaitForStatus("left", "stopped");
        int orphan = int.Parse(ContainerOutput.Trim());
        Assert.True(Directory.Exists($"/proc/{orphan}"), "the child did not outlive PID 1");

        var single = Oci("kill", "left", "KILL");
        Assert.Equal(125, single.ExitCode);
        Assert.Equal("isolate: cannot kill container left: container not running\n", single.Stderr);
        var all = Oci("kill", "--all", "left", "KILL");
        Assert.True(all.ExitCode == 0, all.ToString());
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (File.Exists($"/proc/{orphan}/stat") && !File.ReadAllText($"/proc/{orphan}/stat").Contains(") Z", StringComparison.Ordinal) && DateTime.UtcNow < deadline)
            Thread.Sleep(20);
        Assert.False(File.Exists($"/proc/{orphan}/stat") && !File.ReadAllText($"/proc/{orphan}/stat").Contains(") Z", StringComparison.Ordinal), "kill --all left the child running");
        Assert.Equal(0, Oci("delete", "left").ExitCode);
    }

    [ContainerFact]
    public void Kill_KILL_of_a_paused_container_thaws_it_so_that_it_dies_as_runc()
    {
        MakeBundle(["sleep", "300"]);
        Assert.Equal(0, Create("frozen").ExitCode);
        Assert.Equal(0, Oci("start", "frozen").ExitCode);
        Assert.Equal(0, Oci("pause", "frozen").ExitCode);
        Assert.Equal("paused", Status("frozen"));
        Assert.Equal(0, Oci("kill", "frozen", "KILL").ExitCode);
        WaitForStatus("frozen", "stopped");
        Assert.Equal(0, Oci("delete", "frozen").ExitCode);
    }

    [ContainerFact]
    public void Kill_without_a_signal_sends_TERM_to_an_OCI_container_as_runc_does()
    {
        // docker's KILL default is for run -d containers only (DockerHabitTests)
        MakeBundle(["sh", "-c", "trap 'echo got term; exit 3' TERM; echo up; while :; do sleep 0.05; done"]);
        Assert.Equal(0, Create("term").ExitCode);
        Assert.Equal(0, Oci("start", "term").ExitCode);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!ContainerOutput.Contains("up", StringComparison.Ordinal) && DateTime.UtcNow < deadline)
            Thread.Sleep(20); // its trap is set
        var kill = Oci("kill", "term");
        Assert.Equal((0, ""), (kill.ExitCode, kill.Stdout)); // runc's kill says nothing
        WaitForStatus("term", "stopped");
        Assert.Equal("up\ngot term\n", ContainerOutput);
        Assert.Equal(0, Oci("delete", "term").ExitCode);
    }

    [ContainerFact]
    public void Wrong_commands_are_refused_and_change_nothing()
    {
        MakeBundle(["sleep", "100"]);
        Assert.Equal(0, Create("busy").ExitCode);
        Assert.Equal(0, Oci("start", "busy").ExitCode);

        var twice = Oci("start", "busy");
        Assert.NotEqual(0, twice.ExitCode);
        Assert.Contains("cannot start container busy: it is running, not created", twice.Stderr);

        var delete = Oci("delete", "busy");
        Assert.NotEqual(0, delete.ExitCode);
        Assert.Contains("cannot delete container busy: it is running", delete.Stderr);
        Assert.Equal("running", Status("busy"));

        var same = Create("busy");
        Assert.NotEqual(0, same.ExitCode);
        Assert.Contains("container busy exists already: choose another id, or remove it (`isolate delete --force busy`)", File.ReadAllText($"{_work}/err"));

        var unknown = Oci("state", "nosuch");
        Assert.NotEqual(0, unknown.ExitCode);
        Assert.Contains("container nosuch does not exist", unknown.Stderr);

        // delete --force (the id after the option, or before it)
        var forced = Oci("delete", "busy", "--force");
        Assert.True(forced.ExitCode == 0, forced.ToString());
        Assert.False(Directory.Exists(Path.Combine(_root, "busy")));
    }

    [ContainerTheory]
    [InlineData("a/b")]
    [InlineData("..")]
    [InlineData("../escape")]
    [InlineData(".hidden")]
    public void Ids_that_are_not_one_plain_name_are_refused_and_nothing_is_created(string id)
    {
        MakeBundle(["true"]);
        var result = IsolateBinary.Run(["--root", _root, "create", "--bundle", _bundle, id], stdin: "");

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains($"invalid container id '{id}'", result.Stderr);
        Assert.False(Directory.Exists(_root) && Directory.EnumerateFileSystemEntries(_root).Any(), "something was created");
        Assert.False(Directory.Exists(Path.Combine(_work, "escape")));
    }

    [ContainerFact]
    public void List_shows_each_container_with_its_status()
    {
        MakeBundle(["sleep", "100"]);
        Assert.Equal(0, Create("one").ExitCode);
        Assert.Equal(0, Create("two").ExitCode);
        Assert.Equal(0, Oci("start", "two").ExitCode);

        Assert.Equal("one\ntwo\n", Oci("list", "-q").Stdout);
        var json = JsonNode.Parse(Oci("list", "--format", "json").Stdout)!.AsArray();
        Assert.Equal(["one:created", "two:running"], json.Select(c => $"{c!["id"]}:{c["status"]}"));
        var table = Oci("list").Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.StartsWith("ID", table[0]);
        Assert.Contains("running", table[2]);

        Assert.Equal(0, Oci("delete", "--force", "one").ExitCode);
        Assert.Equal(0, Oci("delete", "--force", "two").ExitCode);
        Assert.Equal("", Oci("list", "-q").Stdout);
    }

    [ContainerFact]
    public void Hooks_run_in_order_with_the_state_on_stdin()
    {
        string log = Path.Combine(_work, "hooks.log");
        JsonObject Hook(string name) => new()
        {
            ["path"] = "/bin/sh",
            ["args"] = new JsonArray("sh", "-c", $"echo {name} $(cat) >> {log}"),
        };
        MakeBundle(["true"], config => config["hooks"] = new JsonObject
        {
            ["prestart"] = new JsonArray(Hook("prestart")),
            ["createRuntime"] = new JsonArray(Hook("createRuntime")),
            ["poststart"] = new JsonArray(Hook("poststart")),
            ["poststop"] = new JsonArray(Hook("poststop")),
        });

        Assert.Equal(0, Create("hooked").ExitCode);
        int pid = (int)State("hooked")["pid"]!;
        Assert.Equal(0, Oci("start", "hooked").ExitCode);
        WaitForStatus("hooked", "stopped");
        Assert.Equal(0, Oci("delete", "hooked").ExitCode);

        var lines = File.ReadAllLines(log);
        Assert.Equal(["prestart", "createRuntime", "poststart", "poststop"], lines.Select(l => l.Split(' ')[0]));
        var created = JsonNode.Parse(lines[0]["prestart ".Length..])!;
        Assert.Equal("hooked", (string)created["id"]!);
        Assert.Equal("created", (string)created["status"]!);
        Assert.Equal(pid, (int)created["pid"]!);
        Assert.Equal("running", (string)JsonNode.Parse(lines[2]["poststart ".Length..])!["status"]!);
        Assert.Equal("stopped", (string)JsonNode.Parse(lines[3]["poststop ".Length..])!["status"]!);
    }

    [ContainerFact]
    public void Container_hooks_run_inside_the_container_with_the_state_on_stdin()
    {
        // createContainer: the program is the host's; startContainer: the container's own.
        // Both run in the container's namespaces: their files land in its root, and they see
        // its PID 1 (the command, still waiting to start)
        // createContainer runs after pivot_root here: a host program must be static (busybox is)
        string hostBusybox = new[] { "/bin/busybox", "/usr/bin/busybox" }.First(File.Exists);
        JsonObject Hook(string name, string path) => new()
        {
            ["path"] = path,
            ["args"] = new JsonArray(Path.GetFileName(path), "sh", "-c", $"echo {name} $(cat) $(hostname) $(cat /proc/1/comm) >> /tmp/hooks.log"),
        };
        string log = Path.Combine(Rootfs.Path, "tmp", "hooks.log");
        string script = Path.Combine(Rootfs.Path, "tmp", "hook.sh"); // a #! script, run by fd
        File.Delete(log);
        File.WriteAllText(script, "#!/bin/sh\necho script-hook >> /tmp/hooks.log\n");
        File.SetUnixFileMode(script, (UnixFileMode)0x1ED);
        try
        {
            MakeBundle(["sh", "-c", "echo started >> /tmp/hooks.log"], config =>
            {
                config["hostname"] = "hooked-box";
                config["root"]!["readonly"] = false; // the log goes to the rootfs's /tmp
                config["hooks"] = new JsonObject
                {
                    ["createContainer"] = new JsonArray(Hook("createContainer", hostBusybox)),
                    ["startContainer"] = new JsonArray(Hook("startContainer", "/bin/busybox"), new JsonObject { ["path"] = "/tmp/hook.sh" }),
                };
            });
            Assert.True(Create("inner").ExitCode == 0, File.ReadAllText($"{_work}/err"));
            Assert.Equal(0, Oci("start", "inner").ExitCode);
            WaitForStatus("inner", "stopped");
            Assert.Equal(0, Oci("delete", "inner").ExitCode);

            var lines = File.ReadAllLines(log);
            Assert.Equal(["createContainer", "startContainer", "script-hook", "started"], lines.Select(l => l.Split(' ')[0]));
            foreach (string line in lines[..2])
            {
                string[] words = line.Split(' ');
                var state = JsonNode.Parse(line[line.IndexOf('{')..(line.LastIndexOf('}') + 1)])!;
                Assert.Equal("inner", (string)state["id"]!);
                Assert.Equal("created", (string)state["status"]!);
                Assert.Equal(["hooked-box", "isolate"], words[^2..]); // its hostname; its PID 1, still the shim: the command has not run
            }
        }
        finally
        {
            File.Delete(log);
            File.Delete(script);
        }
    }

    [ContainerFact]
    public void A_failing_start_container_hook_stops_the_container()
    {
        MakeBundle(["sleep", "100"], config => config["hooks"] = new JsonObject
        {
            ["startContainer"] = new JsonArray(new JsonObject { ["path"] = "/bin/false" }),
        });
        Assert.Equal(0, Create("refused").ExitCode);

        var start = Oci("start", "refused");
        Assert.NotEqual(0, start.ExitCode);
        Assert.Contains("startContainer hook 0 (/bin/false): exited with 1", start.Stderr);
        WaitForStatus("refused", "stopped");
        Assert.Equal(0, Oci("delete", "refused").ExitCode);
    }

    [ContainerFact]
    public void A_failing_prestart_hook_aborts_create_and_leaves_nothing()
    {
        MakeBundle(["sleep", "100"], config => config["hooks"] = new JsonObject
        {
            ["prestart"] = new JsonArray(new JsonObject { ["path"] = "/bin/false" }),
        });

        var create = Create("doomed");

        Assert.NotEqual(0, create.ExitCode);
        Assert.Contains("prestart hook 0 (/bin/false): exited with 1", File.ReadAllText($"{_work}/err"));
        Assert.False(Directory.Exists(Path.Combine(_root, "doomed")));
        // the base class checks that no process, mount or cgroup is left
    }

    [ContainerFact]
    public void A_create_killed_midway_leaves_state_that_delete_force_cleans()
    {
        // the prestart hook holds create while the container process waits to be started
        MakeBundle(["sleep", "100"], config => config["hooks"] = new JsonObject
        {
            ["prestart"] = new JsonArray(new JsonObject { ["path"] = "/bin/sleep", ["args"] = new JsonArray("sleep", "31.4159") }),
        });
        var info = new ProcessStartInfo("/bin/sh") { UseShellExecute = false };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add($"exec \"$ISOLATE\" --root {_root} create --bundle {_bundle} crashed </dev/null >/dev/null 2>&1");
        info.Environment["ISOLATE"] = IsolateBinary.Path;
        using var create = Process.Start(info)!;
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (!HostProcesses.ChildrenOf(create.Id).Any(p => HostProcesses.Comm(p) == "sleep"))
        {
            Assert.True(DateTime.UtcNow < deadline, "the hook never ran");
            Thread.Sleep(20);
        }
        // while create holds the container's lock (its hook runs), list answers at once
        var during = JsonNode.Parse(Oci("list", "--format", "json").Stdout)!.AsArray();
        Assert.Equal("crashed:created", string.Join(",", during.Select(c => $"{c!["id"]}:{c["status"]}")));
        create.Kill(); // SIGKILL
        create.WaitForExit();

        Assert.Equal("crashed", Oci("list", "-q").Stdout.Trim());
        Assert.Equal("created", Status("crashed")); // its process still waits for start
        var delete = Oci("delete", "--force", "crashed");
        Assert.True(delete.ExitCode == 0, delete.ToString());
        Assert.Equal("", Oci("list", "-q").Stdout);
        foreach (int hook in HostProcesses.All().Where(p => HostProcesses.Comm(p) == "sleep" && File.ReadAllText($"/proc/{p}/cmdline").Contains("\u000031.4159\u0000")))
            kill(hook, 9); // the orphaned hook
    }

    [ContainerFact]
    public void Create_and_delete_killed_at_any_moment_leave_state_that_list_state_and_delete_force_handle()
    {
        MakeBundle(["sleep", "100"]);
        // how long one create takes here and now (about 30 ms, far more on a loaded machine):
        // the kills are spread from 0 to 1.5 times that
        var clock = System.Diagnostics.Stopwatch.StartNew();
        Assert.Equal(0, Create("timed").ExitCode);
        int window = (int)(clock.ElapsedMilliseconds * 3 / 2);
        Assert.Equal(0, Oci("delete", "--force", "timed").ExitCode);
        var seen = new HashSet<string>();
        for (int i = 0; i < 24; i++)
        {
            string id = $"k{i}";
            // SIGKILL after 0 to 1.5 creates: before the state exists, during the cgroup, the
            // spawn, the setup, after CREATED; every other one then a delete killed the same way
            var kill = IsolateBinary.RunFromShell(
                $"\"$ISOLATE\" --root {_root} create --bundle {_bundle} {id} </dev/null >/dev/null 2>&1 & p=$!; " +
                $"sleep {(window * i / 23 / 1000.0).ToString("0.000", System.Globalization.CultureInfo.InvariantCulture)}; kill -KILL $p; wait $p; " +
                (i % 2 == 1 ? $"\"$ISOLATE\" --root {_root} delete --force {id} >/dev/null 2>&1 & p=$!; sleep 0.00{i % 7}; kill -KILL $p; wait $p; " : "") +
                "true");
            Assert.Equal(0, kill.ExitCode);

            var list = Oci("list", "--format", "json");
            Assert.True(list.ExitCode == 0, list.ToString());
            var state = Oci("state", id);
            seen.Add(state.ExitCode == 0 ? (string)JsonNode.Parse(state.Stdout)!["status"]! : state.Stderr.Contains("does not exist") ? "gone" : "half-made");
            Assert.True(state.ExitCode == 0 || state.Stderr.Contains("does not exist") || state.Stderr.Contains("delete --force"),
                state.ToString());
            var delete = Oci("delete", "--force", id);
            Assert.True(delete.ExitCode == 0, $"round {i}: {delete}");
            Assert.False(Directory.Exists(Path.Combine(_root, id)));
        }
        Assert.Contains("gone", seen);    // killed before it made anything
        Assert.Contains("created", seen); // killed after it finished
        // the base class checks that no process, mount or cgroup of any of them is left
    }

    [ContainerFact]
    public void A_container_killed_from_outside_is_stopped_and_deletable()
    {
        MakeBundle(["sleep", "100"]);
        Assert.Equal(0, Create("victim").ExitCode);
        Assert.Equal(0, Oci("start", "victim").ExitCode);
        int pid = (int)State("victim")["pid"]!;

        Assert.Equal(0, kill(pid, 9));
        WaitForStatus("victim", "stopped");
        Assert.Equal(0, Oci("delete", "victim").ExitCode);
    }

    [ContainerFact]
    public void Run_in_the_foreground_returns_the_containers_status_and_cleans_up()
    {
        MakeBundle(["sh", "-c", "echo in the container; exit 7"]);
        var result = Oci("run", "--bundle", _bundle, "fg");

        Assert.Equal(7, result.ExitCode);
        Assert.Equal("in the container\n", result.Stdout);
        Assert.Equal("", Oci("list", "-q").Stdout);
    }

    [ContainerFact]
    public void Run_is_the_OCI_form_for_an_engines_option_or_a_lone_id_in_a_bundle_and_never_for_a_command()
    {
        MakeBundle(["echo", "from the bundle"]);
        string parent = TestScope.Current!.CgroupParent!;
        RunResult In(string dir, string args) =>
            IsolateBinary.RunFromShell($"cd {dir} && exec \"$ISOLATE\" --root {_root} run {args}");

        var lone = In(_bundle, "lone-id");
        Assert.Equal((0, "from the bundle\n"), (lone.ExitCode, lone.Stdout));
        var detachFlag = In(_bundle, "--pid-file " + Path.Combine(_work, "pid") + " lone-id2");
        Assert.Equal("from the bundle\n", detachFlag.Stdout);

        // a command is a command, in a bundle directory too
        var command = In(_bundle, $"--cgroup-parent {parent} echo mine");
        Assert.Equal((0, "mine\n"), (command.ExitCode, command.Stdout));
        var ls = In(_bundle, "ls /proc/self/");
        Assert.Equal(0, ls.ExitCode);
        Assert.DoesNotContain("from the bundle", ls.Stdout);
        var dashDash = In(_bundle, "-- lone-id3");
        Assert.Equal(127, dashDash.ExitCode);

        // an application's config.json is not a bundle
        string app = Path.Combine(_work, "app");
        Directory.CreateDirectory(app);
        File.WriteAllText(Path.Combine(app, "config.json"), "{\"port\":8080}");
        var date = In(app, $"--cgroup-parent {parent} echo ran");
        Assert.Equal((0, "ran\n", ""), (date.ExitCode, date.Stdout, date.Stderr));
        var notACommand = In(app, "no-such-command-here");
        Assert.Equal(127, notACommand.ExitCode);
        Assert.DoesNotContain("config.json", notACommand.Stderr);
        Assert.Equal("", Oci("list", "-q").Stdout);
    }

    [ContainerFact]
    public void A_refused_rlimit_is_named_as_the_bundle_gives_it_not_as_a_ulimit_option()
    {
        // podman's default RLIMIT_NOFILE 1048576 failed as "--ulimit nofile=...", an option nobody passed
        MakeBundle(["true"], config => config["process"]!["rlimits"] = JsonNode.Parse(
            "[{\"type\":\"RLIMIT_NOFILE\",\"soft\":2000000000,\"hard\":2000000000}]"));
        var result = Oci("run", "--bundle", _bundle, "limits");
        Assert.Equal(125, result.ExitCode);
        Assert.StartsWith("isolate: config.json: process.rlimits[0] (RLIMIT_NOFILE 2000000000:2000000000): ", result.Stderr);
        Assert.DoesNotContain("--ulimit nofile=2000000000", result.Stderr);
        Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [ContainerFact]
    public void Run_in_the_foreground_is_listed_while_it_runs()
    {
        MakeBundle(["sh", "-c", "echo ready; sleep 100"]);
        using var running = IsolateBinary.Start(["--root", _root, "run", "--bundle", _bundle, "fg2"]);

        Assert.Equal("running", Status("fg2"));
        Assert.Equal(0, Oci("kill", "fg2", "KILL").ExitCode);
        Assert.Equal(137, running.WaitForExit().ExitCode);
        Assert.Equal("", Oci("list", "-q").Stdout);
    }

    [ContainerFact]
    public void Run_detached_leaves_it_running()
    {
        MakeBundle(["sleep", "100"]);
        var run = IsolateBinary.RunFromShell($"exec \"$ISOLATE\" --root {_root} run -d --bundle {_bundle} bg </dev/null >/dev/null 2>&1");

        Assert.Equal(0, run.ExitCode);
        Assert.Equal("running", Status("bg"));
        Assert.Equal(0, Oci("delete", "-f", "bg").ExitCode);
    }

    [ContainerFact]
    public void Exec_joins_the_container_with_its_confinement()
    {
        MakeBundle(["sleep", "100"], config => config["hostname"] = "oci-box");
        Assert.Equal(0, Create("ex").ExitCode);
        Assert.Equal(0, Oci("start", "ex").ExitCode);

        var exec = Oci("exec", "ex", "sh", "-c",
            "echo $$ $(hostname) $(cat /proc/1/comm); grep -E '^(CapEff|NoNewPrivs)' /proc/self/status | tr -s '\t' ' '; exit 4");
        Assert.Equal(4, exec.ExitCode);
        // PID 2 of the container's namespace, its hostname, beside its PID 1; its capabilities
        // (the spec's three) and no_new_privs
        Assert.Equal("2 oci-box sleep\nCapEff: 0000000020000420\nNoNewPrivs: 1\n", exec.Stdout);

        var options = Oci("exec", "--cwd", "/tmp", "-e", "GREETING=hi", "-u", "0:0", "ex", "sh", "-c", "pwd; echo $GREETING; id -u");
        Assert.Equal("/tmp\nhi\n0\n", options.Stdout);

        var missing = Oci("exec", "ex", "no-such-command");
        Assert.Equal(127, missing.ExitCode);
        Assert.Contains("no-such-command", missing.Stderr);
        Assert.Equal(0, Oci("delete", "--force", "ex").ExitCode);
    }

    [ContainerFact]
    public void Exec_detached_leaves_the_command_running_and_writes_its_pid()
    {
        MakeBundle(["sleep", "100"]);
        Assert.Equal(0, Create("exd").ExitCode);
        Assert.Equal(0, Oci("start", "exd").ExitCode);
        string pidFile = Path.Combine(_work, "exec.pid");

        var exec = IsolateBinary.RunFromShell(
            $"exec \"$ISOLATE\" --root {_root} exec -d --pid-file {pidFile} exd sleep 50 </dev/null >/dev/null 2>&1");
        Assert.Equal(0, exec.ExitCode);
        int pid = int.Parse(File.ReadAllText(pidFile));
        Assert.Equal("sleep", HostProcesses.Comm(pid));
        Assert.Equal(HostProcesses.PidNamespace((int)State("exd")["pid"]!), HostProcesses.PidNamespace(pid));

        Assert.Equal(0, Oci("delete", "--force", "exd").ExitCode); // its cgroup's kill takes the exec'd sleep too
        HostProcesses.WaitUntilGone(pid, TimeSpan.FromSeconds(10));
    }

    [ContainerFact]
    public void Exec_into_a_container_that_is_not_running_is_refused()
    {
        MakeBundle(["sleep", "100"]);
        Assert.Equal(0, Create("notyet").ExitCode);

        var exec = Oci("exec", "notyet", "true");
        Assert.NotEqual(0, exec.ExitCode);
        Assert.Contains("cannot exec in container notyet: it is created, not running", exec.Stderr);
        Assert.Equal(0, Oci("delete", "--force", "notyet").ExitCode);
    }

    [ContainerFact]
    public void Network_ipc_and_uts_namespaces_given_by_path_are_joined()
    {
        // a holder of three namespaces, as an engine makes them (podman's netavark namespace)
        var info = new ProcessStartInfo("/usr/bin/unshare") { UseShellExecute = false, RedirectStandardOutput = true };
        foreach (string arg in new[] { "--net", "--uts", "--ipc", "sh", "-c", "hostname holder-host; echo ready; exec sleep 100" })
            info.ArgumentList.Add(arg);
        using var holder = Process.Start(info)!;
        try
        {
            Assert.Equal("ready", holder.StandardOutput.ReadLine());
            string ns(string name) => new FileInfo($"/proc/{holder.Id}/ns/{name}").LinkTarget!;
            MakeBundle(["sh", "-c", "hostname; for n in net uts ipc; do readlink /proc/self/ns/$n; done"], config =>
            {
                config.Remove("hostname"); // none given: the joined namespace keeps its name
                config["linux"]!["namespaces"] = new JsonArray(
                    new JsonObject { ["type"] = "pid" }, new JsonObject { ["type"] = "mount" },
                    new JsonObject { ["type"] = "network", ["path"] = $"/proc/{holder.Id}/ns/net" },
                    new JsonObject { ["type"] = "uts", ["path"] = $"/proc/{holder.Id}/ns/uts" },
                    new JsonObject { ["type"] = "ipc", ["path"] = $"/proc/{holder.Id}/ns/ipc" });
            });

            var run = Oci("run", "--bundle", _bundle, "joiner");

            Assert.True(run.ExitCode == 0, run.ToString());
            Assert.Equal($"holder-host\n{ns("net")}\n{ns("uts")}\n{ns("ipc")}\n", run.Stdout);

            // one given is set in the joined namespace, as runc sets it
            var config = JsonNode.Parse(File.ReadAllText(Path.Combine(_bundle, "config.json")))!;
            config["hostname"] = "renamed-by-config";
            OciBundleWriter.Save(_bundle, config);
            var renamed = Oci("run", "--bundle", _bundle, "joiner2");
            Assert.True(renamed.ExitCode == 0, renamed.ToString());
            Assert.StartsWith("renamed-by-config\n", renamed.Stdout);
            Assert.Equal("renamed-by-config\n", IsolateBinary.RunFromShell($"nsenter -t {holder.Id} -u hostname").Stdout);
        }
        finally
        {
            holder.Kill();
            holder.WaitForExit();
        }
    }

    [ContainerFact]
    public void The_oci_capability_sets_reach_a_non_root_command_through_the_ambient_set()
    {
        MakeBundle(["sh", "-c", "id -u; grep -E '^Cap(Inh|Prm|Eff|Bnd|Amb)' /proc/self/status | tr -s '\\t' ' '"], config =>
        {
            var one = () => new JsonArray("CAP_NET_BIND_SERVICE");
            config["process"]!["user"] = new JsonObject { ["uid"] = 1000, ["gid"] = 1000 };
            config["process"]!["capabilities"] = new JsonObject
            {
                ["bounding"] = new JsonArray("CAP_NET_BIND_SERVICE", "CAP_KILL"),
                ["effective"] = one(), ["permitted"] = one(), ["inheritable"] = one(), ["ambient"] = one(),
            };
        });

        var run = Oci("run", "--bundle", _bundle, "caps");

        Assert.True(run.ExitCode == 0, run.ToString());
        // CAP_NET_BIND_SERVICE is bit 10 (0x400), CAP_KILL bit 5 (0x20)
        Assert.Equal("1000\nCapInh: 0000000000000400\nCapPrm: 0000000000000400\nCapEff: 0000000000000400\n" +
            "CapBnd: 0000000000000420\nCapAmb: 0000000000000400\n", run.Stdout);
    }

    [ContainerFact]
    public void Pause_freezes_every_process_and_resume_thaws_them()
    {
        MakeBundle(["sh", "-c", "sleep 100 & while :; do sleep 0.05; done"]);
        Assert.Equal(0, Create("frozen").ExitCode);
        Assert.Equal(0, Oci("start", "frozen").ExitCode);
        var ps = JsonNode.Parse(Oci("ps", "--format", "json", "frozen").Stdout)!.AsArray().Select(p => (int)p!).ToList();
        Assert.True(ps.Count >= 2, $"ps listed {ps.Count} processes");
        Assert.Contains((int)State("frozen")["pid"]!, ps);

        Assert.Equal(0, Oci("pause", "frozen").ExitCode);
        Assert.Equal("paused", Status("frozen"));
        // frozen: the busy loop's PID 1 does not run (its CPU time stands still)
        long before = CpuTicks(ps[0]);
        Thread.Sleep(300);
        Assert.Equal(before, CpuTicks(ps[0]));
        var again = Oci("pause", "frozen");
        Assert.Contains("it is paused, not running", again.Stderr);

        Assert.Equal(0, Oci("resume", "frozen").ExitCode);
        Assert.Equal("running", Status("frozen"));
        Assert.Equal(0, Oci("pause", "frozen").ExitCode);
        Assert.Equal(0, Oci("delete", "--force", "frozen").ExitCode); // a paused container can be removed
    }

    private static long CpuTicks(int pid)
    {
        string stat = File.ReadAllText($"/proc/{pid}/stat");
        string[] fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return long.Parse(fields[11]) + long.Parse(fields[12]) + long.Parse(fields[13]) + long.Parse(fields[14]); // utime stime cutime cstime
    }

    [ContainerFact]
    public void Update_changes_the_limits_of_a_running_container()
    {
        MakeBundle(["sh", "-c", "echo ready; sleep 100"]);
        Assert.Equal(0, Create("upd").ExitCode);
        Assert.Equal(0, Oci("start", "upd").ExitCode);
        int pid = (int)State("upd")["pid"]!;

        Assert.Equal(0, Oci("update", "--memory", "64m", "--pids-limit", "50", "upd").ExitCode);
        Assert.Equal("67108864", CgroupValue(pid, "memory", "memory.limit_in_bytes", "memory.max"));
        Assert.Equal("50", CgroupValue(pid, "pids", "pids.max", "pids.max"));
        Assert.Equal(0, Oci("update", "upd", "--memory", "128m").ExitCode); // raising it, and the id first
        Assert.Equal("134217728", CgroupValue(pid, "memory", "memory.limit_in_bytes", "memory.max"));

        var none = Oci("update", "upd");
        Assert.NotEqual(0, none.ExitCode);
        Assert.Contains("give at least one limit", none.Stderr);
        var bad = Oci("update", "--memory", "lots", "upd");
        Assert.Equal(125, bad.ExitCode);
        Assert.Equal(0, Oci("delete", "--force", "upd").ExitCode);
    }

    /// <summary>A limit file of the cgroup a process is in (v1: in that controller's hierarchy).</summary>
    private static string CgroupValue(int pid, string controller, string v1File, string v2File)
    {
        foreach (string line in File.ReadAllLines($"/proc/{pid}/cgroup"))
        {
            string[] parts = line.Split(':', 3);
            if (parts[1].Split(',').Contains(controller))
                return File.ReadAllText($"/sys/fs/cgroup/{parts[1]}{parts[2]}/{v1File}").Trim();
            if (parts[0] == "0" && parts[1] == "" && File.Exists($"/sys/fs/cgroup{parts[2]}/{v2File}"))
                return File.ReadAllText($"/sys/fs/cgroup{parts[2]}/{v2File}").Trim();
        }
        throw new InvalidOperationException($"no {controller} cgroup for {pid}");
    }

    [ContainerFact]
    public void Spec_refuses_to_overwrite_and_features_is_json()
    {
        MakeBundle(["true"]);
        var again = IsolateBinary.Run(["spec", "--bundle", _bundle]);
        Assert.NotEqual(0, again.ExitCode);
        Assert.Contains("exists already", again.Stderr);

        var features = IsolateBinary.Run("features");
        Assert.Equal(0, features.ExitCode);
        var json = JsonNode.Parse(features.Stdout)!;
        Assert.Contains("prestart", json["hooks"]!.AsArray().Select(h => (string)h!));
        Assert.Contains("pid", json["linux"]!["namespaces"]!.AsArray().Select(n => (string)n!));
        // --systemd-cgroup (SystemdCgroupTests); not for a rootless user's systemd
        Assert.Equal((true, false), ((bool)json["linux"]!["cgroup"]!["systemd"]!, (bool)json["linux"]!["cgroup"]!["systemdUser"]!));
    }

    [ContainerFact]
    public void Errors_go_to_the_log_file_as_json_when_asked()
    {
        string log = Path.Combine(_work, "runtime.log");
        var result = IsolateBinary.Run(["--root", _root, "--log", log, "--log-format", "json", "state", "ghost"]);

        Assert.NotEqual(0, result.ExitCode);
        var entry = JsonNode.Parse(File.ReadAllLines(log).Single())!;
        Assert.Equal("error", (string)entry["level"]!);
        Assert.Equal("container ghost does not exist", (string)entry["msg"]!);
    }

    [System.Runtime.InteropServices.DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int signal);
}
