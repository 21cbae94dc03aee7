using Isolate.Tests.Support;

namespace Isolate.Tests.Integration;

/// <summary>docker's exit codes: the command's own, 125 for Isolate's failures, 126
/// cannot execute, 127 not found, each failure with one line naming the step and path.</summary>
public sealed class ExitCodeTests(BusyboxRootfs rootfs) : ContainerTest(rootfs)
{
    [ContainerFact]
    public void Success_is_0()
    {
        var result = RunIn("true");
        Assert.Equal(0, result.ExitCode);
        Assert.Equal("", result.Stderr);
    }

    [ContainerFact]
    public void The_commands_own_status_is_returned()
    {
        Assert.Equal(7, Sh("exit 7").ExitCode);
        Assert.Equal(255, Sh("exit 255").ExitCode);
    }

    [ContainerFact]
    public void A_missing_command_is_127()
    {
        var byName = RunIn("no-such-command");
        var byPath = RunIn("/bin/no-such-command");

        Assert.Equal(127, byName.ExitCode);
        Assert.Equal("isolate: exec no-such-command: executable file not found in PATH (/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin)\n", byName.Stderr);
        Assert.Equal(127, byPath.ExitCode);
        Assert.Equal("isolate: exec /bin/no-such-command: No such file or directory\n", byPath.Stderr);
    }

    [ContainerFact]
    public void A_script_whose_interpreter_is_missing_is_127_and_says_so()
    {
        string script = Rootfs.HostPath("bin/needs-bash");
        File.WriteAllText(script, "#!/bin/bash\necho hi\n");
        File.SetUnixFileMode(script, (UnixFileMode)0x1ED);
        try
        {
            var result = RunIn("needs-bash");
            Assert.Equal(127, result.ExitCode);
            Assert.Equal("isolate: exec needs-bash: No such file or directory (the file exists: its interpreter or dynamic loader is missing in the container)\n", result.Stderr);
        }
        finally
        {
            File.Delete(script);
        }
    }

    [ContainerFact]
    public void A_file_that_cannot_be_executed_is_126()
    {
        var file = RunIn("/etc/not-executable");
        var directory = RunIn("/etc");

        Assert.Equal(126, file.ExitCode);
        Assert.Equal("isolate: exec /etc/not-executable: Permission denied\n", file.Stderr);
        Assert.Equal(126, directory.ExitCode);
    }

    [ContainerFact]
    public void A_missing_rootfs_is_125_and_named()
    {
        var result = IsolateBinary.Run("run", "--rootfs", "/nonexistent/rootfs", "--", "true");
        Assert.Equal(125, result.ExitCode);
        Assert.Equal("isolate: rootfs /nonexistent/rootfs: No such file or directory\n", result.Stderr);
    }

    [ContainerFact]
    public void A_rootfs_that_is_a_file_is_125()
    {
        string file = Rootfs.HostPath("etc/passwd");
        var result = IsolateBinary.Run("run", "--rootfs", file, "--", "true");
        Assert.Equal(125, result.ExitCode);
        Assert.Equal($"isolate: rootfs {file}: Not a directory\n", result.Stderr);
    }

    [ContainerFact]
    public void An_unknown_option_is_125()
    {
        var result = IsolateBinary.Run("run", "--no-such-option", "--", "true");
        Assert.Equal(125, result.ExitCode);
        Assert.Equal("isolate: unknown option '--no-such-option'; see 'isolate run --help'\n", result.Stderr);
    }

    [ContainerFact]
    public void A_failing_setup_step_in_the_child_is_125_and_names_step_and_path()
    {
        // The workdir is a file: chdir fails inside the child, after pivot_root.
        var result = RunIn(["-w", "/etc/passwd"], "true");
        Assert.Equal(125, result.ExitCode);
        Assert.Equal("isolate: chdir to working directory /etc/passwd: Not a directory\n", result.Stderr);
    }

    [ContainerFact]
    public void A_failing_mount_is_125_and_names_the_mount_and_path()
    {
        // /proc in this root is a file: mkdir for the proc mount point fails.
        string root = Directory.CreateTempSubdirectory("isolate-test-badroot-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(root, "proc"), "not a directory");
            var result = IsolateBinary.Run("run", "--rootfs", root, "--", "/bin/true");
            Assert.Equal(125, result.ExitCode);
            Assert.Equal("isolate: mount proc on /proc: Not a directory\n", result.Stderr);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [ContainerFact]
    public void Bad_option_values_are_125_and_create_nothing()
    {
        var cases = new (string[] Args, string Message)[]
        {
            (["--network", "bogus"], "invalid --network 'bogus': use none, host, bridge, container:NAME or ns:PATH"),
            (["--hostname", "bad_name"], "invalid --hostname 'bad_name': use letters, digits, '-' and '.', at most 64 characters"),
            (["-w", "relative"], "invalid --workdir 'relative': it must be an absolute path inside the container"),
            (["-e", "=x"], "invalid --env '=x': the variable name is empty; use KEY=VALUE"),
        };
        foreach (var (args, message) in cases)
        {
            var result = IsolateBinary.Run(["run", "--rootfs", Rootfs.Path, .. args, "--", "true"], stdin: null);
            Assert.Equal(125, result.ExitCode);
            Assert.Equal($"isolate: {message}\n", result.Stderr);
        }
    }
}
