using Isolate.Tests.Support;

namespace Isolate.Tests.Integration;

/// <summary>Help and version from the built binary: every command and option listed.</summary>
public sealed class CliTests
{
    [Fact]
    public void Help_lists_every_command()
    {
        var result = IsolateBinary.Run("--help");
        Assert.Equal(0, result.ExitCode);
        Assert.Matches(@"\n  run +Run a command in a new container", result.Stdout);
        foreach (string command in new[] { "spec", "create", "start", "state", "kill", "delete", "list", "features", "pause", "resume, unpause" })
            Assert.Matches($@"\n  {command} +OCI: ", result.Stdout);
        foreach (string command in new[] { "exec", "ps", "stop", "wait", "logs", "rm" })
            Assert.Matches($@"\n  {command} +[A-Z]", result.Stdout);
        Assert.DoesNotContain("oci-run", result.Stdout);
        Assert.Contains("Exit status:", result.Stdout);
    }

    [Fact]
    public void Run_help_lists_every_option_with_a_description()
    {
        var result = IsolateBinary.Run("run", "--help");
        Assert.Equal(0, result.ExitCode);
        foreach (string option in new[]
                 {
                     "--rootfs=DIR", "--hostname=NAME", "-w DIR, --workdir=DIR", "-e KEY=VAL, --env=KEY=VAL", "--network=MODE",
                     "-v SRC:DST[:ro], --volume=SRC:DST[:ro]", "--tmpfs=DST[:OPTS]", "--read-only", "--overlay", "--no-overlay",
                     "--keep-changes=DIR", "--privileged", "--memory=SIZE", "--memory-swap=SIZE", "--cpus=N", "--cpu-shares=N",
                     "--cpuset-cpus=LIST", "--pids-limit=N", "--blkio-weight=N", "--io-weight=N", "-m SIZE, --memory=SIZE", "--rm", "--cgroups=MODE", "--cgroup-parent=PATH", "--stats=FORMAT",
                     "-u USER[:GROUP], --user=USER[:GROUP]", "--group-add=GROUP", "--cap-add=CAP", "--cap-drop=CAP", "--security-opt=OPT",
                     "--userns=MODE", "--preserve-fds=N", "-t, --tty", "-i, --interactive", "--init", "--env-file=FILE",
                     "--ulimit=NAME=SOFT[:HARD]", "--oom-score-adj=N", "--pid-file=FILE", "--stop-signal=SIGNAL",
                     "--stop-timeout=DURATION", "--timeout=DURATION", "--die-with-parent", "-d, --detach", "--name=NAME", "--debug", "--help", "--version",
                 })
            Assert.Contains(option, result.Stdout);
    }

    [Fact]
    public void Version_prints_the_version()
    {
        var result = IsolateBinary.Run("--version");
        Assert.Equal(0, result.ExitCode);
        Assert.Matches(@"^isolate version \d+\.\d+\.\d+\nspec: 1\.\d+\.\d+\nfeatures: oci-runtime .*seccomp.*\n$", result.Stdout);
        // `isolate --version` skips the parser; a verb's --version goes through it: the same text
        foreach (string[] args in new[] { new[] { "run", "--version" }, ["--root", "/nonexistent-isolate-root", "--version"] })
        {
            var parsed = IsolateBinary.Run(args);
            Assert.Equal((0, result.Stdout), (parsed.ExitCode, parsed.Stdout));
        }
    }

    [Fact]
    public void Checkpoint_and_restore_are_refused_in_one_line_that_says_so()
    {
        // containerd's shim and podman call them as runc's verbs, with runc's options
        foreach (string verb in new[] { "checkpoint", "restore" })
        {
            var result = IsolateBinary.Run(verb, "--image-path", "/tmp/nowhere", "--leave-running", "someid");
            Assert.Equal(125, result.ExitCode);
            Assert.Equal($"isolate: {verb}: Isolate does not checkpoint or restore containers (it has no CRIU); stop the container and run it again\n", result.Stderr);
        }
    }

    [Fact]
    public void No_command_and_unknown_commands_are_125()
    {
        var none = IsolateBinary.Run();
        var unknown = IsolateBinary.Run("frobnicate");
        var runWithout = IsolateBinary.Run("run");

        Assert.Equal(125, none.ExitCode);
        Assert.Equal("isolate: no command given; see 'isolate --help'\n", none.Stderr);
        Assert.Equal(125, unknown.ExitCode);
        Assert.Equal("isolate: unknown command 'frobnicate'; see 'isolate --help'\n", unknown.Stderr);
        Assert.Equal(125, runWithout.ExitCode);
    }

    [Fact]
    public void Help_for_a_verb_is_the_same_by_help_VERB_by_h_and_by_double_dash_help()
    {
        var help = IsolateBinary.Run("run", "--help");
        Assert.Equal(0, help.ExitCode);
        Assert.Contains("--rootfs=DIR", help.Stdout);
        foreach (string[] form in new[] { new[] { "help", "run" }, ["run", "-h"], ["run", "--rootfs", "/x", "-h"] })
        {
            var other = IsolateBinary.Run(form);
            Assert.True((0, help.Stdout, "") == (other.ExitCode, other.Stdout, other.Stderr), $"isolate {string.Join(' ', form)}: {other}");
        }

        var kill = IsolateBinary.Run("kill", "--help");
        Assert.Contains("-s SIGNAL, --signal=SIGNAL", kill.Stdout);
        Assert.Equal(kill.Stdout, IsolateBinary.Run("kill", "-h").Stdout);
        Assert.Equal(kill.Stdout, IsolateBinary.Run("help", "kill").Stdout);
        Assert.Equal(kill.Stdout, IsolateBinary.Run("kill", "some-id", "-h").Stdout); // runc's verbs take options after the id

        var global = IsolateBinary.Run("--help");
        foreach (string[] form in new[] { new[] { "-h" }, ["help"] })
            Assert.Equal((0, global.Stdout), (IsolateBinary.Run(form).ExitCode, IsolateBinary.Run(form).Stdout));

        var unknown = IsolateBinary.Run("help", "frobnicate");
        Assert.Equal((125, "isolate: unknown command 'frobnicate'; see 'isolate --help'\n"), (unknown.ExitCode, unknown.Stderr));
    }

    [Fact]
    public void Unpause_is_resume()
    {
        string root = Path.Combine(Path.GetTempPath(), "isolate-no-root-" + Guid.NewGuid().ToString("N"));
        var unpause = IsolateBinary.Run("--root", root, "unpause", "nosuch");
        Assert.Equal((125, "isolate: container nosuch does not exist\n"), (unpause.ExitCode, unpause.Stderr));
        Assert.Matches(@"\n  resume, unpause +OCI: thaw", IsolateBinary.Run("--help").Stdout);
    }

    [Fact]
    public void Delete_force_removes_a_container_whose_state_is_damaged_as_the_message_says()
    {
        string root = Directory.CreateTempSubdirectory("isolate-damaged-").FullName;
        try
        {
            Directory.CreateDirectory(Path.Combine(root, "broken"));
            File.WriteAllText(Path.Combine(root, "broken", "state.json"), "{");
            var state = IsolateBinary.Run("--root", root, "state", "broken");
            Assert.Contains("`isolate delete --force broken` removes it", state.Stderr);

            var delete = IsolateBinary.Run("--root", root, "delete", "--force", "broken");
            Assert.True(delete.ExitCode == 0, delete.ToString());
            Assert.False(Directory.Exists(Path.Combine(root, "broken")));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public void The_binary_is_one_static_file()
    {
        Assert.False(Elf.IsDynamicallyLinked(IsolateBinary.Path), "out/isolate needs a dynamic loader");
    }
}
