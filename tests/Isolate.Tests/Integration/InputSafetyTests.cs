using System.Globalization;
using System.Text.Json.Nodes;
using Isolate.Tests.Support;

namespace Isolate.Tests.Integration;

/// <summary>Inputs that would turn into something else on the way to the kernel: the id
/// 4294967295 ((uid_t)-1, "leave unchanged" to setresuid: the command would stay root), a NUL
/// byte in a string the shim hands over as a C string (cut short there), and a --pid-file whose
/// name, or whose temporary's name, someone planted a symbolic link at (the PID written through
/// it onto a host file).</summary>
public sealed class InputSafetyTests : StateRootTest
{
    private const string MinusOne = "4294967295";
    private readonly string _work;
    private readonly string _bundle;

    public InputSafetyTests(BusyboxRootfs rootfs) : base(rootfs, "isolate-inputsafety-")
    {
        _work = Own(Directory.CreateTempSubdirectory("isolate-inputsafety-work-").FullName);
        _bundle = Path.Combine(_work, "bundle");
        Directory.CreateDirectory(_bundle);
    }

    private RunResult OciRun(Action<JsonObject> edit, params string[] args)
    {
        var config = OciBundleWriter.Start(_bundle, Rootfs.Path, args.Length > 0 ? args : ["id"]);
        edit(config);
        OciBundleWriter.Save(_bundle, config);
        return IsolateBinary.Run(["--root", StateRoot, "run", "--bundle", _bundle, "c" + Environment.ProcessId], stdin: "");
    }

    private static void Refused(RunResult result, string words)
    {
        Assert.True(result.ExitCode == 125, result.ToString());
        Assert.Contains(words, result.Stderr);
        Assert.Single(result.Stderr.TrimEnd('\n').Split('\n'));
    }

    [ContainerFact]
    public void Uid_and_gid_minus_one_are_refused_on_the_docker_face()
    {
        Refused(RunIn(["-u", MinusOne], "id", "-u"), $"invalid --user '{MinusOne}': uid 4294967295 is (uid_t)-1");
        Refused(RunIn(["-u", "1000:" + MinusOne], "id", "-g"), "invalid --user '1000:4294967295': gid 4294967295 is (uid_t)-1");
        Refused(RunIn(["-u", "1000", "--group-add", MinusOne], "id", "-G"), "invalid --group-add");
        Refused(RunIn(["--tmpfs", "/t:uid=" + MinusOne], "true"), "bad value for uid");
        Refused(RunIn(["--tmpfs", "/t:gid=" + MinusOne], "true"), "bad value for gid");
        // the next id down is an id like any other
        var below = RunIn(["-u", "4294967294"], "id", "-u");
        Assert.Equal((0, "4294967294\n"), (below.ExitCode, below.Stdout));
    }

    [ContainerFact]
    public void Exec_user_minus_one_is_refused()
    {
        var started = Detach([], "sleep 60");
        Assert.True(started.ExitCode == 0, started.ToString());
        string id = started.Stdout.Trim();
        Refused(Isolate("exec", "-u", MinusOne, id, "id", "-u"), $"invalid --user '{MinusOne}': uid 4294967295 is (uid_t)-1");
        Refused(Isolate("exec", "-u", "0:" + MinusOne, id, "id", "-u"), "gid 4294967295 is (uid_t)-1");
    }

    [ContainerFact]
    public void Uid_and_gid_minus_one_are_refused_in_config_json()
    {
        Refused(OciRun(c => c["process"]!["user"]!["uid"] = 4294967295u), "config.json: process.user.uid: 4294967295 is (uid_t)-1");
        Refused(OciRun(c => c["process"]!["user"]!["gid"] = 4294967295u), "config.json: process.user.gid: 4294967295 is (uid_t)-1");
        Refused(OciRun(c => c["process"]!["user"]!["additionalGids"] = new JsonArray(5, 4294967295u)),
            "config.json: process.user.additionalGids[1]: 4294967295 is (uid_t)-1");
        Refused(OciRun(c => c["linux"]!["devices"] = new JsonArray(new JsonObject
        {
            ["path"] = "/dev/mynull", ["type"] = "c", ["major"] = 1, ["minor"] = 3, ["uid"] = 4294967295u,
        })), "config.json: linux.devices[0].uid: 4294967295 is (uid_t)-1");
        Refused(OciRun(c => c["linux"]!["devices"] = new JsonArray(new JsonObject
        {
            ["path"] = "/dev/mynull", ["type"] = "c", ["major"] = 1, ["minor"] = 3, ["gid"] = 4294967295u,
        })), "config.json: linux.devices[0].gid: 4294967295 is (uid_t)-1");
        Refused(OciRun(c => c["mounts"]!.AsArray().Add(new JsonObject
        {
            ["destination"] = "/t", ["type"] = "tmpfs", ["source"] = "tmpfs", ["options"] = new JsonArray("uid=" + MinusOne),
        })), "bad value for uid");
    }

    [ContainerFact]
    public void A_nul_byte_in_config_json_is_refused_naming_the_field()
    {
        Refused(OciRun(_ => { }, "sh", "-c", "echo a\0b"), "config.json: process.args[2]: holds a NUL byte");
        Refused(OciRun(c => c["process"]!["env"]!.AsArray().Add("A=x\0y")), "config.json: process.env[");
        Refused(OciRun(c => c["process"]!["cwd"] = "/tmp\0/x"), "config.json: process.cwd: holds a NUL byte");
        Refused(OciRun(c => c["hostname"] = "a\0b"), "config.json: hostname: holds a NUL byte");
        Refused(OciRun(c => c["mounts"]!.AsArray().Add(new JsonObject
        {
            ["destination"] = "/t\0x", ["type"] = "tmpfs", ["source"] = "tmpfs",
        })), "config.json: mounts[");
        Refused(OciRun(c => c["linux"]!["sysctl"] = new JsonObject { ["kernel.domainname"] = "a\0b" }),
            "config.json: linux.sysctl.kernel.domainname: holds a NUL byte");

        // annotations never reach the kernel: a NUL there is the caller's business
        var annotated = OciRun(c => c["annotations"] = new JsonObject { ["x"] = "a\0b" }, "echo", "ran");
        Assert.True(annotated.ExitCode == 0, annotated.ToString());
        Assert.Equal("ran\n", annotated.Stdout);
    }

    [ContainerFact]
    public void A_nul_byte_in_an_env_file_is_refused()
    {
        string file = Path.Combine(_work, "env");
        File.WriteAllText(file, "A=one\nB=x\0y\n");
        // EnvironmentBuilder's check, which -e and --env-file share (it held before issue 14)
        Refused(RunIn(["--env-file", file], "env"), "invalid --env 'B': it contains a NUL byte");
    }

    [ContainerFact]
    public void A_pid_file_is_never_written_through_a_planted_link()
    {
        string victim = Path.Combine(_work, "victim");
        string tempVictim = Path.Combine(_work, "temp-victim");
        File.WriteAllText(victim, "host data\n");
        File.WriteAllText(tempVictim, "host data\n");
        string pidFile = Path.Combine(_work, "container.pid");
        File.CreateSymbolicLink(pidFile, victim);
        // the names a temporary beside it could have been guessed at: NAME.PID.tmp for the
        // next PIDs the host will hand out
        int last = int.Parse(File.ReadAllText("/proc/sys/kernel/ns_last_pid").Trim(), CultureInfo.InvariantCulture);
        for (int pid = last + 1; pid <= last + 400; pid++)
            File.CreateSymbolicLink($"{pidFile}.{pid}.tmp", tempVictim);

        var config = OciBundleWriter.Start(_bundle, Rootfs.Path, ["sleep", "60"]);
        OciBundleWriter.Save(_bundle, config);
        string id = "p" + Environment.ProcessId;
        var create = IsolateBinary.RunFromShell(
            $"exec \"$ISOLATE\" --root {StateRoot} create --bundle {_bundle} --pid-file {pidFile} {id} </dev/null >/dev/null 2>{_work}/err");
        try
        {
            Assert.True(create.ExitCode == 0, File.ReadAllText(Path.Combine(_work, "err")));
            Assert.Equal("host data\n", File.ReadAllText(victim));
            Assert.Equal("host data\n", File.ReadAllText(tempVictim));
            var info = new FileInfo(pidFile);
            Assert.Null(info.LinkTarget);
            Assert.False(info.Attributes.HasFlag(FileAttributes.ReparsePoint));
            var state = JsonNode.Parse(IsolateBinary.Run(["--root", StateRoot, "state", id]).Stdout)!;
            Assert.Equal(((int)state["pid"]!).ToString(CultureInfo.InvariantCulture), File.ReadAllText(pidFile));
            // no temporary left beside it
            Assert.Empty(Directory.GetFiles(_work, ".container.pid.*"));
        }
        finally
        {
            IsolateBinary.Run(["--root", StateRoot, "delete", "--force", id]);
        }
    }
}
