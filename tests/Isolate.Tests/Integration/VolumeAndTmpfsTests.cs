using Isolate.Tests.Support;

namespace Isolate.Tests.Integration;

/// <summary>-v, --tmpfs and --read-only, checked from inside as a docker user would.</summary>
public sealed class VolumeAndTmpfsTests(BusyboxRootfs rootfs) : ContainerTest(rootfs), IDisposable
{
    private readonly string _host = Directory.CreateTempSubdirectory("isolate-test-volume-").FullName;

    void IDisposable.Dispose()
    {
        Directory.Delete(_host, recursive: true);
        Dispose();
    }

    [ContainerFact]
    public void A_read_only_volume_rejects_writes_with_EROFS()
    {
        File.WriteAllText(Path.Combine(_host, "existing"), "from the host\n");
        var result = Sh("cat /data/existing; echo x > /data/new", "-v", $"{_host}:/data:ro");

        Assert.NotEqual(0, result.ExitCode);
        Assert.Equal("from the host\n", result.Stdout);
        Assert.Contains("Read-only file system", result.Stderr);
        Assert.False(File.Exists(Path.Combine(_host, "new")));
    }

    [ContainerFact]
    public void A_read_write_volume_writes_to_the_host()
    {
        var result = Sh("echo written > /data/out && mkdir /data/dir", "-v", $"{_host}:/data");
        var explicitRw = Sh("echo again >> /data/out", "-v", $"{_host}:/data:rw");

        Assert.Equal(0, result.ExitCode);
        Assert.Equal(0, explicitRw.ExitCode);
        Assert.Equal("written\nagain\n", File.ReadAllText(Path.Combine(_host, "out")));
        Assert.True(Directory.Exists(Path.Combine(_host, "dir")));
    }

    [ContainerFact]
    public void A_file_volume_lands_on_a_file_created_where_missing()
    {
        string file = Path.Combine(_host, "app.conf");
        File.WriteAllText(file, "setting=1\n");
        var result = Sh("cat /etc/app/app.conf; [ -f /etc/app/app.conf ] && echo is-a-file", "-v", $"{file}:/etc/app/app.conf:ro");

        Assert.Equal(0, result.ExitCode);
        Assert.Equal("setting=1\nis-a-file\n", result.Stdout);
        Assert.False(Directory.Exists(Rootfs.HostPath("etc/app")), "the mount point was created in the rootfs on disk, not in the overlay");
    }

    [ContainerFact]
    public void A_missing_volume_source_or_bad_syntax_is_125()
    {
        var missing = RunIn(["-v", "/nonexistent-isolate-src:/data"], "true");
        var relativeDestination = RunIn(["-v", $"{_host}:data"], "true");
        var named = RunIn(["-v", "myvolume:/data"], "true");
        var badOption = RunIn(["-v", $"{_host}:/data:rx"], "true");
        var duplicate = RunIn(["-v", $"{_host}:/data", "--tmpfs", "/data"], "true");

        Assert.Equal((125, "isolate: volume source /nonexistent-isolate-src: No such file or directory\n"), (missing.ExitCode, missing.Stderr));
        Assert.Equal((125, $"isolate: invalid --volume '{_host}:data': the destination 'data' must be an absolute path inside the container\n"),
            (relativeDestination.ExitCode, relativeDestination.Stderr));
        Assert.Equal(125, named.ExitCode);
        Assert.Contains("named volumes are not supported", named.Stderr);
        Assert.Equal((125, $"isolate: invalid --volume '{_host}:/data:rx': unknown option 'rx'; use ro or rw\n"), (badOption.ExitCode, badOption.Stderr));
        Assert.Equal((125, "isolate: duplicate mount point /data: give each --volume and --tmpfs its own destination\n"), (duplicate.ExitCode, duplicate.Stderr));
    }

    [ContainerFact]
    public void Volumes_work_on_the_host_root_default_too()
    {
        File.WriteAllText(Path.Combine(_host, "f"), "hello\n");
        // /data does not exist on the read-only host: a volume needs an existing mount point there
        var result = IsolateBinary.Run("run", "-v", $"{_host}:/mnt", "--", "sh", "-c", "cat /mnt/f; echo more >> /mnt/f");

        Assert.Equal(0, result.ExitCode);
        Assert.Equal("hello\n", result.Stdout);
        Assert.Equal("hello\nmore\n", File.ReadAllText(Path.Combine(_host, "f")));
    }

    [ContainerFact]
    public void A_tmpfs_has_the_given_size_mode_and_docker_default_flags()
    {
        var result = Sh("grep ' /scratch ' /proc/self/mountinfo; stat -c %a /scratch; df -k /scratch | tail -1",
            "--tmpfs", "/scratch:size=8m,mode=1777");
        Assert.Equal(0, result.ExitCode);
        string[] lines = result.Stdout.Trim().Split('\n');

        string[] mount = lines[0].Split(' ');
        Assert.Equal("tmpfs", mount[^3]);
        Assert.Equal(["rw", "nosuid", "nodev", "noexec", "relatime"], mount[5].Split(','));
        Assert.Contains("size=8192k", mount[^1].Split(','));
        Assert.Equal("1777", lines[1]);
        Assert.Equal("8192", lines[2].Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]); // 1K-blocks
    }

    [ContainerFact]
    public void A_tmpfs_can_allow_exec_and_be_read_only()
    {
        var exec = Sh("grep ' /run ' /proc/self/mountinfo | cut -d' ' -f6", "--tmpfs", "/run:exec,ro");
        Assert.Equal("ro,nosuid,nodev,relatime\n", exec.Stdout);
    }

    [ContainerFact]
    public void Bad_tmpfs_options_are_125()
    {
        var size = RunIn(["--tmpfs", "/x:size=lots"], "true");
        var unknown = RunIn(["--tmpfs", "/x:colour=blue"], "true");

        Assert.Equal((125, "isolate: invalid --tmpfs '/x:size=lots': bad value for size: 'lots'; use a number with k, m or g, or a percentage (64m, 50%)\n"),
            (size.ExitCode, size.Stderr));
        Assert.Equal((125, "isolate: invalid --tmpfs '/x:colour=blue': unknown option 'colour'\n"), (unknown.ExitCode, unknown.Stderr));
    }

    [ContainerFact]
    public void Read_only_makes_the_root_unwritable_but_tmpfs_and_volumes_keep_their_mode()
    {
        var result = Sh("touch /root/x 2>&1; touch /tmp/x && echo tmp-ok; echo v > /data/v && echo volume-ok",
            "--read-only", "--tmpfs", "/tmp", "-v", $"{_host}:/data");

        Assert.Contains("Read-only file system", result.Stdout);
        Assert.Contains("tmp-ok\n", result.Stdout);
        Assert.Contains("volume-ok\n", result.Stdout);
        Assert.True(File.Exists(Path.Combine(_host, "v")));
        Assert.False(File.Exists(Rootfs.HostPath("root/x")));
    }

    [ContainerFact]
    public void A_volume_nested_under_a_tmpfs_stays_visible()
    {
        File.WriteAllText(Path.Combine(_host, "f"), "under\n");
        var result = Sh("cat /data/sub/f", "--tmpfs", "/data", "-v", $"{_host}:/data/sub");
        Assert.Equal((0, "under\n"), (result.ExitCode, result.Stdout));
    }

    [ContainerFact]
    public void A_volume_of_the_hosts_root_shows_the_host_not_isolates_staging()
    {
        string[] hostMnt = Directory.GetFileSystemEntries("/mnt").Select(Path.GetFileName).Order().ToArray()!;
        var result = Sh("ls -A /host/mnt", "-v", "/:/host:ro");

        Assert.Equal(0, result.ExitCode);
        Assert.Equal(hostMnt, result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Order().ToArray());
    }

    [ContainerFact]
    public void Read_only_creates_no_mount_point_in_the_rootfs_on_disk()
    {
        string before = CopyOnWriteTests.TreeHash(Rootfs.Path);
        var result = Sh("true", "--read-only", "--tmpfs", "/new-tmpfs", "-v", $"{_host}:/new-volume");

        Assert.Equal(0, result.ExitCode);
        Assert.Equal(before, CopyOnWriteTests.TreeHash(Rootfs.Path));
    }
}
