using Isolate.Spec;

namespace Isolate.Tests.Unit;

/// <summary>docker's -v and --tmpfs syntax, without touching the filesystem.</summary>
public sealed class MountSpecParserTests
{
    private static VolumeSpec Volume(string value, bool? isFile = false) =>
        MountSpecParser.ParseVolume(value, p => "/canonical" + p.TrimStart('.'), _ => isFile);

    [Fact]
    public void A_volume_is_source_destination_and_mode()
    {
        Assert.Equal(new VolumeSpec("/canonical/srv/data", "/data", false, false), Volume("/srv/data:/data"));
        Assert.Equal(new VolumeSpec("/canonical/srv/data", "/data", true, false), Volume("/srv/data:/data:ro"));
        Assert.Equal(new VolumeSpec("/canonical/srv/data", "/data", false, false), Volume("/srv/data:/data:rw"));
        Assert.Equal(new VolumeSpec("/canonical/a.conf", "/etc/a.conf", true, true), Volume("./a.conf:/etc/a.conf:ro", isFile: true));
    }

    [Theory]
    [InlineData("/x:/a/../b/./c/", "/b/c")]
    [InlineData("/x:/../../../etc", "/etc")]
    [InlineData("/x://data//sub", "/data/sub")]
    public void Destinations_are_normalized_and_never_climb_above_slash(string value, string destination) =>
        Assert.Equal(destination, Volume(value).Destination);

    [Theory]
    [InlineData("/x", "invalid --volume '/x': use SRC:DST or SRC:DST:ro")]
    [InlineData("/x:/y:ro:z", "invalid --volume '/x:/y:ro:z': use SRC:DST or SRC:DST:ro")]
    [InlineData(":/y", "invalid --volume ':/y': use SRC:DST or SRC:DST:ro")]
    [InlineData("name:/y", "invalid --volume 'name:/y': the source must be a host path (absolute, or starting with ./); named volumes are not supported")]
    [InlineData("/x:y", "invalid --volume '/x:y': the destination 'y' must be an absolute path inside the container")]
    [InlineData("/x:/", "invalid --volume '/x:/': the destination cannot be the container's /")]
    [InlineData("/x:/..", "invalid --volume '/x:/..': the destination cannot be the container's /")]
    [InlineData("/x:/y:z", "invalid --volume '/x:/y:z': unknown option 'z'; use ro or rw")]
    public void Bad_volumes_are_one_line_errors(string value, string message) =>
        Assert.Equal(message, Assert.Throws<IsolateException>(() => Volume(value)).Message);

    [Fact]
    public void A_missing_volume_source_is_named()
    {
        var error = Assert.Throws<IsolateException>(() => Volume("/gone:/data", isFile: null));
        Assert.Equal("volume source /gone: No such file or directory", error.Message);
    }

    [Fact]
    public void A_tmpfs_defaults_to_docker_flags()
    {
        Assert.Equal(new TmpfsSpec("/run", "", false, true, true, true), MountSpecParser.ParseTmpfs("/run"));
    }

    [Fact]
    public void Tmpfs_options_split_into_data_and_flags()
    {
        Assert.Equal(new TmpfsSpec("/t", "size=64m,mode=1777,uid=1000,gid=100,nr_inodes=500", true, false, false, false),
            MountSpecParser.ParseTmpfs("/t:size=64m,mode=1777,uid=1000,gid=100,nr_inodes=500,ro,exec,suid,dev"));
        Assert.Equal("size=50%", MountSpecParser.ParseTmpfs("/t:size=50%").Data);
        Assert.Equal("size=4096", MountSpecParser.ParseTmpfs("/t:size=4096,rw,noexec,nosuid,nodev").Data);
    }

    [Theory]
    [InlineData("t", "invalid --tmpfs 't': the destination 't' must be an absolute path inside the container")]
    [InlineData("/t:size=big", "invalid --tmpfs '/t:size=big': bad value for size: 'big'; use a number with k, m or g, or a percentage (64m, 50%)")]
    [InlineData("/t:mode=999", "invalid --tmpfs '/t:mode=999': bad value for mode: '999'; use octal digits (1777)")]
    [InlineData("/t:uid=root", "invalid --tmpfs '/t:uid=root': bad value for uid: 'root'; use a number")]
    [InlineData("/t:noatime", "invalid --tmpfs '/t:noatime': unknown option 'noatime'")]
    [InlineData("/t:size=1024", "--tmpfs /t:size=1024: below the minimum of 4 KiB; give a size with a unit, such as 1024m")]
    [InlineData("/t:size=0", "--tmpfs /t:size=0: below the minimum of 4 KiB; give a size with a unit, such as 0m")]
    [InlineData("/t:size=3k", "--tmpfs /t:size=3k: below the minimum of 4 KiB; give at least 4k")]
    public void Bad_tmpfs_options_are_one_line_errors(string value, string message) =>
        Assert.Equal(message, Assert.Throws<IsolateException>(() => MountSpecParser.ParseTmpfs(value)).Message);
}
