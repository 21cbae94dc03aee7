using Isolate.Tests.Support;

namespace Isolate.Tests.Integration;

/// <summary>The shim's fallbacks for kernels older than this one, driven for real: the
/// sysfail helper (native/test/sysfail.c) runs isolate under a seccomp filter that fails
/// openat2, mount_setattr, close_range or clone(CLONE_PIDFD) as those kernels do.</summary>
public sealed class OldKernelTests(BusyboxRootfs rootfs) : ContainerTest(rootfs), IDisposable
{
    private static readonly string Sysfail = Path.Combine(IsolateBinary.RepoRoot, "build", "native", "sysfail");

    private readonly RootfsVariant _root = rootfs.CreateVariant();
    private readonly string _host = Directory.CreateTempSubdirectory("isolate-test-host-").FullName;

    void IDisposable.Dispose()
    {
        _root.Dispose();
        Directory.Delete(_host, recursive: true);
        Dispose();
    }

    private static RunResult Run(string[] sysfail, params string[] isolateArgs)
    {
        Assert.True(File.Exists(Sysfail), $"{Sysfail} is missing: it is built with the shim (cmake)");
        return IsolateBinary.RunFromShell($"exec {Sysfail} {string.Join(' ', sysfail)} -- \"$ISOLATE\" " + string.Join(' ', isolateArgs.Select(Quote)));
    }

    private static string Quote(string arg) => "'" + arg.Replace("'", "'\\''") + "'";

    [ContainerFact]
    public void Without_openat2_destinations_still_resolve_inside_the_root()
    {
        File.CreateSymbolicLink(_root.HostPath("dev"), _host + "/dev");
        File.CreateSymbolicLink(_root.HostPath("data"), _host + "/data");
        string source = Directory.CreateTempSubdirectory("isolate-test-src-").FullName;
        try
        {
            var result = Run(["--enosys", "openat2"], "run", "--rootfs", _root.Path, "--no-overlay", "-v", $"{source}:/data",
                "--", "sh", "-c", "echo ok > /dev/null && [ -c /dev/zero ] && [ -d /data ] && echo fine");

            Assert.Equal((0, "fine\n"), (result.ExitCode, result.Stdout));
            Assert.Empty(Directory.EnumerateFileSystemEntries(_host));
        }
        finally
        {
            Directory.Delete(source, recursive: true);
        }
    }

    [ContainerFact]
    public void Without_openat2_a_destination_naming_an_existing_host_path_still_lands_inside()
    {
        // Opened naively, /data -> <host dir> would be the host's directory, which exists.
        File.CreateSymbolicLink(_root.HostPath("data"), _host);
        File.CreateSymbolicLink(_root.HostPath("up"), "../../../../../../../.." + _host);
        var result = Run(["--enosys", "openat2"], "run", "--rootfs", _root.Path, "--no-overlay", "--tmpfs", "/data", "--tmpfs", "/up/x",
            "--", "sh", "-c", "touch /data/in-tmpfs /up/x/in-tmpfs && echo ok");

        Assert.Equal((0, "ok\n"), (result.ExitCode, result.Stdout));
        Assert.Empty(Directory.EnumerateFileSystemEntries(_host));
        Assert.True(Directory.Exists(_root.HostPath(_host))); // both led to <root>/<host dir>: /up/x is inside the /data tmpfs
    }

    [ContainerFact]
    public void Without_openat2_proc_as_a_symlink_is_refused()
    {
        File.CreateSymbolicLink(_root.HostPath("proc"), _host);
        var result = Run(["--enosys", "openat2"], "run", "--rootfs", _root.Path, "--no-overlay", "--", "true");

        Assert.Equal(125, result.ExitCode);
        Assert.StartsWith("isolate: mount proc on /proc: Too many levels of symbolic links", result.Stderr);
        Assert.Empty(Directory.EnumerateFileSystemEntries(_host));
    }

    [ContainerFact]
    public void Without_mount_setattr_read_only_volumes_still_work_and_the_host_default_says_why_it_cannot()
    {
        var volume = Run(["--enosys", "mount_setattr"], "run", "--rootfs", Rootfs.Path, "-v", $"{_host}:/data:ro", "--", "touch", "/data/x");
        var hostRoot = Run(["--enosys", "mount_setattr"], "run", "--", "true");

        Assert.NotEqual(0, volume.ExitCode);
        Assert.Contains("Read-only file system", volume.Stderr);
        Assert.Equal(125, hostRoot.ExitCode);
        Assert.Equal("isolate: make the host's filesystem read-only: Function not implemented (mount_setattr needs Linux 5.12 or later; on this kernel give a root with --rootfs DIR)\n", hostRoot.Stderr);
    }

    [ContainerFact]
    public void Without_close_range_only_stdio_still_reaches_the_container()
    {
        var result = Run(["--enosys", "close_range"], "run", "--rootfs", Rootfs.Path, "--", "ls", "/proc/self/fd");
        Assert.Equal(0, result.ExitCode);
        Assert.Equal(["0", "1", "2", "3"], result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [ContainerFact]
    public void Without_clone_pidfd_containers_run_and_signals_still_stop_them()
    {
        var result = IsolateBinary.RunFromShell(
            $"{Sysfail} --no-clone-pidfd -- \"$ISOLATE\" run --rootfs {Rootfs.Path} -- sh -c 'echo started; sleep 5' & p=$!; " +
            "sleep 0.5; kill -TERM $p; wait $p; echo $?");

        Assert.Equal("started\n143\n", result.Stdout);
    }

    [ContainerFact]
    public void Without_openat2_magic_links_are_refused_as_openat2_refuses_them()
    {
        File.CreateSymbolicLink(_root.HostPath("data"), "/proc/1/root/etc");
        string source = Directory.CreateTempSubdirectory("isolate-test-src-").FullName;
        try
        {
            var withOpenat2 = IsolateBinary.Run(["run", "--rootfs", _root.Path, "--no-overlay", "-v", $"{source}:/data", "--", "true"], stdin: null);
            var without = Run(["--enosys", "openat2"], "run", "--rootfs", _root.Path, "--no-overlay", "-v", $"{source}:/data", "--", "true");

            Assert.Equal(125, withOpenat2.ExitCode);
            Assert.Equal((withOpenat2.ExitCode, withOpenat2.Stderr), (without.ExitCode, without.Stderr));
            Assert.Contains("Too many levels of symbolic links", without.Stderr);
        }
        finally
        {
            Directory.Delete(source, recursive: true);
        }
    }

    [ContainerTheory]
    [InlineData("mount_setattr")]           // Linux 5.2 to 5.11: open_tree, no mount_setattr
    [InlineData("open_tree,mount_setattr")] // before 5.2: bind by path, remount through a checked fd
    public void A_read_only_volume_with_a_submount_never_leaves_the_submount_writable(string missing)
    {
        string source = Directory.CreateTempSubdirectory("isolate-test-src-").FullName;
        Directory.CreateDirectory(Path.Combine(source, "sub"));
        // the submount exists only in this helper's own mount namespace, around isolate
        var result = IsolateBinary.RunFromShell(
            $"unshare -m --propagation private sh -c 'mount -t tmpfs t {source}/sub && " +
            $"exec {Sysfail} --enosys {missing} -- \"$ISOLATE\" run --rootfs {Rootfs.Path} -v {source}:/v:ro -- sh -c \"touch /v/a; touch /v/sub/b; ls /v\"'");
        try
        {
            Assert.Contains("touch: /v/a: Read-only file system", result.Stderr);
            Assert.Contains("touch: /v/sub/b:", result.Stderr); // refused: read-only, or the submount left out
            Assert.False(File.Exists(Path.Combine(source, "a")));
            Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(source, "sub")));
        }
        finally
        {
            Directory.Delete(source, recursive: true);
        }
    }
}
