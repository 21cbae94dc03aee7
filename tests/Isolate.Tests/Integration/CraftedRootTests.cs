using Isolate.Tests.Support;

namespace Isolate.Tests.Integration;

/// <summary>Root filesystems crafted to redirect a mount or a device node onto the host
/// (CVE-2021-30465, CVE-2019-19921, CVE-2026-47766 and friends). For each: the mount lands
/// inside the root, or Isolate refuses with 125 - and a host path proves nothing was written.
/// They run with --no-overlay, so whatever Isolate creates goes to the directory on disk
/// and can be checked there.</summary>
public sealed class CraftedRootTests(BusyboxRootfs rootfs) : ContainerTest(rootfs), IDisposable
{
    private readonly RootfsVariant _root = rootfs.CreateVariant();
    private readonly string _host = Directory.CreateTempSubdirectory("isolate-test-host-").FullName;
    private readonly string _source = Directory.CreateTempSubdirectory("isolate-test-src-").FullName;

    void IDisposable.Dispose()
    {
        _root.Dispose();
        Directory.Delete(_host, recursive: true);
        Directory.Delete(_source, recursive: true);
        Dispose();
    }

    private RunResult Run(string[] options, params string[] command) =>
        IsolateBinary.Run(["run", "--rootfs", _root.Path, "--no-overlay", .. options, "--", .. command], stdin: null);

    private void AssertHostUntouched() =>
        Assert.Empty(Directory.EnumerateFileSystemEntries(_host));

    [ContainerFact]
    public void A_volume_destination_symlinked_to_a_host_directory_lands_inside_the_root()
    {
        // /data -> <host dir>/created: followed naively, Isolate would create and mount on the host
        File.CreateSymbolicLink(_root.HostPath("data"), Path.Combine(_host, "created"));
        File.WriteAllText(Path.Combine(_source, "marker"), "volume\n");

        var result = Run(["-v", $"{_source}:/data"], "cat", "/data/marker");

        Assert.Equal((0, "volume\n"), (result.ExitCode, result.Stdout));
        AssertHostUntouched();
        Assert.True(Directory.Exists(_root.HostPath(Path.Combine(_host, "created"))), "the mount point should have been made inside the root");
    }

    [ContainerFact]
    public void A_volume_destination_symlinked_to_etc_lands_on_the_roots_etc()
    {
        File.CreateSymbolicLink(_root.HostPath("data"), "/etc");
        File.WriteAllText(Path.Combine(_source, "marker"), "volume\n");

        var result = Run(["-v", $"{_source}:/data"], "cat", "/etc/marker");

        Assert.Equal((0, "volume\n"), (result.ExitCode, result.Stdout));
        Assert.False(File.Exists("/etc/marker"));
    }

    [ContainerFact]
    public void A_relative_symlink_climbing_out_stops_at_the_root()
    {
        File.CreateSymbolicLink(_root.HostPath("data"), "../../../../../../.." + _host);
        var result = Run(["-v", $"{_source}:/data/sub"], "true");

        Assert.Equal(0, result.ExitCode);
        AssertHostUntouched();
        Assert.True(Directory.Exists(_root.HostPath(_host + "/sub")));
    }

    [ContainerFact]
    public void A_destination_with_dot_dots_stays_inside()
    {
        string name = Path.GetFileName(_host);
        var result = Run(["-v", $"{_source}:/../../../../tmp/{name}/escaped", "--tmpfs", $"/../../../..{_host}/tmpfs"], "true");

        Assert.Equal(0, result.ExitCode);
        AssertHostUntouched();
        Assert.True(Directory.Exists(_root.HostPath($"tmp/{name}/escaped")));
    }

    [ContainerFact]
    public void Proc_as_a_symlink_is_refused()
    {
        File.CreateSymbolicLink(_root.HostPath("proc"), _host);

        var result = Run([], "true");

        Assert.Equal(125, result.ExitCode);
        Assert.Equal("isolate: mount proc on /proc: Too many levels of symbolic links (the rootfs has a symlink there; proc is mounted only on a real directory)\n", result.Stderr);
        AssertHostUntouched();
    }

    [ContainerFact]
    public void Sys_as_a_symlink_is_refused()
    {
        Directory.CreateDirectory(_root.HostPath("proc"));
        File.CreateSymbolicLink(_root.HostPath("sys"), "/proc/1/root/etc");

        var result = Run([], "true");

        Assert.Equal(125, result.ExitCode);
        Assert.StartsWith("isolate: mount sysfs on /sys: Too many levels of symbolic links", result.Stderr);
    }

    [ContainerFact]
    public void Dev_as_a_symlink_to_a_host_directory_is_built_inside_the_root()
    {
        File.CreateSymbolicLink(_root.HostPath("dev"), _host);

        var result = Run([], "sh", "-c", "echo ok > /dev/null && [ -c /dev/zero ] && readlink /dev && ls /dev | wc -l");

        Assert.Equal(0, result.ExitCode);
        Assert.Equal($"{_host}\n13\n", result.Stdout);
        AssertHostUntouched(); // no device node was created on the host
    }

    [ContainerFact]
    public void A_chain_of_dangling_symlinks_is_followed_inside_the_root()
    {
        File.CreateSymbolicLink(_root.HostPath("a"), "/b");
        File.CreateSymbolicLink(_root.HostPath("b"), _host + "/c");
        var result = Run(["-v", $"{_source}:/a/d"], "true");

        Assert.Equal(0, result.ExitCode);
        AssertHostUntouched();
        Assert.True(Directory.Exists(_root.HostPath(_host + "/c/d")));
    }

    [ContainerFact]
    public void A_symlink_loop_is_refused()
    {
        File.CreateSymbolicLink(_root.HostPath("loop1"), "/loop2");
        File.CreateSymbolicLink(_root.HostPath("loop2"), "/loop1");

        var result = Run(["-v", $"{_source}:/loop1/x"], "true");

        Assert.Equal(125, result.ExitCode);
        Assert.Equal($"isolate: bind {_source} onto /loop1/x: Too many levels of symbolic links\n", result.Stderr);
    }

    [ContainerFact]
    public void A_file_volume_onto_a_symlinked_file_lands_inside_the_root()
    {
        string hostFile = Path.Combine(_host, "victim");
        File.CreateSymbolicLink(_root.HostPath("etc/app.conf"), hostFile);
        string source = Path.Combine(_source, "app.conf");
        File.WriteAllText(source, "mine\n");

        var result = Run(["-v", $"{source}:/etc/app.conf"], "cat", "/etc/app.conf");

        Assert.Equal((0, "mine\n"), (result.ExitCode, result.Stdout));
        AssertHostUntouched();
        Assert.True(File.Exists(_root.HostPath(hostFile)));
    }

    [ContainerFact]
    public void A_crafted_root_cannot_turn_a_read_only_volume_writable()
    {
        // The volume source holds a link that, followed from inside the mounted volume,
        // leads to /proc: a second lookup of the destination after the bind would have
        // made /proc read-only and left the volume writable (found in review).
        File.WriteAllText(Path.Combine(_source, "file"), "original\n");
        File.CreateSymbolicLink(Path.Combine(_source, "os-release"), "../usr/lib/os-release");
        Directory.CreateDirectory(_root.HostPath("e"));
        Directory.CreateDirectory(_root.HostPath("usr/lib"));
        File.CreateSymbolicLink(_root.HostPath("hostetc"), "/e/os-release");
        File.CreateSymbolicLink(_root.HostPath("e/os-release"), ".");
        File.CreateSymbolicLink(_root.HostPath("usr/lib/os-release"), "/proc");

        var result = Run(["-v", $"{_source}:/hostetc:ro"], "sh", "-c", "echo pwned > /e/file; echo pwned > /hostetc/file; grep -c ' ro,' /proc/self/mountinfo >/dev/null");

        Assert.Equal("original\n", File.ReadAllText(Path.Combine(_source, "file")));
        Assert.Contains("Read-only file system", result.Stderr);
    }

    [ContainerFact]
    public void Dev_linked_to_the_root_itself_is_refused()
    {
        File.CreateSymbolicLink(_root.HostPath("dev"), "/");

        var result = Run([], "true");

        Assert.Equal(125, result.ExitCode);
        Assert.Equal("isolate: mount tmpfs on /dev: Device or resource busy (it resolves to the container's / itself)\n", result.Stderr);
        Assert.False(File.Exists(_root.HostPath("null")), "a device node landed in the rootfs on disk");
    }

    [ContainerFact]
    public void Mount_points_are_created_with_docker_modes_whatever_the_callers_umask()
    {
        string file = Path.Combine(_source, "conf");
        File.WriteAllText(file, "x\n");
        var result = IsolateBinary.RunFromShell(
            $"umask 077; exec \"$ISOLATE\" run --rootfs {_root.Path} --no-overlay -v {_source}:/a/b/c -v {file}:/etc/conf/app.conf " +
            "-- sh -c 'stat -c %a /a /a/b /etc/conf; umask'");

        Assert.Equal(0, result.ExitCode);
        Assert.Equal("755\n755\n755\n0022\n", result.Stdout);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead,
            File.GetUnixFileMode(_root.HostPath("etc/conf/app.conf")));
    }
}
