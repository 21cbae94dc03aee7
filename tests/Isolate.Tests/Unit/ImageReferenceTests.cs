using System.Formats.Tar;
using System.Text;
using Isolate.Images;

namespace Isolate.Tests.Unit;

/// <summary>Image names as docker reads them, `run`'s rule for telling an image from a
/// command, and the layer tar reader against archives .NET's own writer makes.</summary>
public sealed class ImageReferenceTests
{
    [Theory]
    [InlineData("debian", "docker.io", "library/debian", "latest", null, "debian:latest")]
    [InlineData("debian:12", "docker.io", "library/debian", "12", null, "debian:12")]
    [InlineData("user/app:v1", "docker.io", "user/app", "v1", null, "user/app:v1")]
    [InlineData("localhost:5000/busybox", "localhost:5000", "busybox", "latest", null, "localhost:5000/busybox:latest")]
    [InlineData("localhost/busybox:1", "localhost", "busybox", "1", null, "localhost/busybox:1")]
    [InlineData("quay.io/a/b-c_d.e:1.0", "quay.io", "a/b-c_d.e", "1.0", null, "quay.io/a/b-c_d.e:1.0")]
    [InlineData("127.0.0.1:5000/x@sha256:0000000000000000000000000000000000000000000000000000000000000000", "127.0.0.1:5000", "x", null,
        "sha256:0000000000000000000000000000000000000000000000000000000000000000", "127.0.0.1:5000/x@sha256:0000000000000000000000000000000000000000000000000000000000000000")]
    public void Parses_as_docker_does(string text, string registry, string repository, string? tag, string? digest, string shown)
    {
        var reference = ImageReference.Parse(text);
        Assert.Equal(registry, reference.Registry);
        Assert.Equal(repository, reference.Repository);
        Assert.Equal(tag, reference.Tag);
        Assert.Equal(digest, reference.Digest);
        Assert.Equal(shown, reference.ToString());
    }

    [Theory]
    [InlineData("Debian", "lowercase")]
    [InlineData("debian:", "tag")]
    [InlineData("debian@sha256:abc", "digest")]
    [InlineData("a//b", "name may hold")]
    public void Refuses_bad_names_naming_what_is_wrong(string text, string expected)
    {
        var e = Assert.Throws<IsolateException>(() => ImageReference.Parse(text));
        Assert.Contains(expected, e.Message);
        Assert.Contains(text, e.Message);
    }

    [Theory]
    [InlineData("debian:12", true)]
    [InlineData("localhost:5000/busybox", true)]
    [InlineData("localhost/busybox", true)]
    [InlineData("quay.io/x/y", true)]
    [InlineData("x@sha256:0000000000000000000000000000000000000000000000000000000000000000", true)]
    [InlineData("sh", false)]          // a command, as it always was
    [InlineData("busybox", false)]     // a bare word stays a command
    [InlineData("/bin/sh", false)]
    [InlineData("./a:b", false)]
    [InlineData("bin/tool", false)]    // a relative path
    [InlineData("-c", false)]
    [InlineData("Foo:1", false)]       // not a valid name: a command
    public void Run_tells_an_image_from_a_command(string word, bool image) =>
        Assert.Equal(image, ImageReference.LooksLikeImage(word));

    [Fact]
    public void Tar_reader_reads_pax_names_xattrs_links_and_nodes()
    {
        using var archive = new MemoryStream();
        using (var writer = new System.Formats.Tar.TarWriter(archive, TarEntryFormat.Pax, leaveOpen: true))
        {
            string longName = "dir/" + new string('n', 150) + "/file";
            var file = new PaxTarEntry(System.Formats.Tar.TarEntryType.RegularFile, longName,
                new Dictionary<string, string> { ["SCHILY.xattr.user.note"] = "kept" })
            {
                DataStream = new MemoryStream(Encoding.ASCII.GetBytes("content")),
                Mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.SetUser,
                Uid = 1000,
                Gid = 70000,
            };
            writer.WriteEntry(file);
            writer.WriteEntry(new PaxTarEntry(System.Formats.Tar.TarEntryType.SymbolicLink, "link") { LinkName = "/etc/passwd" });
            writer.WriteEntry(new PaxTarEntry(System.Formats.Tar.TarEntryType.HardLink, "hard") { LinkName = longName });
            writer.WriteEntry(new PaxTarEntry(System.Formats.Tar.TarEntryType.CharacterDevice, "null") { DeviceMajor = 1, DeviceMinor = 3 });
        }
        archive.Position = 0;
        var reader = new Isolate.Images.TarReader(archive);

        var first = reader.Next()!;
        Assert.Equal(Isolate.Images.TarEntryType.File, first.Type);
        Assert.EndsWith("/file", first.Name);
        Assert.Equal(159, first.Name.Length);
        Assert.Equal(1000u, first.Uid);
        Assert.Equal(70000u, first.Gid);
        Assert.Equal(0x980u, first.Mode); // setuid, rw-
        Assert.Contains(first.Xattrs, x => x.Name == "user.note" && Encoding.ASCII.GetString(x.Value) == "kept");
        var data = new byte[16];
        Assert.Equal(7, reader.Read(data));
        Assert.Equal("content", Encoding.ASCII.GetString(data, 0, 7));

        var link = reader.Next()!;
        Assert.Equal((Isolate.Images.TarEntryType.Symlink, "link", "/etc/passwd"), (link.Type, link.Name, link.LinkName));
        var hard = reader.Next()!;
        Assert.Equal((Isolate.Images.TarEntryType.HardLink, first.Name), (hard.Type, hard.LinkName));
        var node = reader.Next()!;
        Assert.Equal((Isolate.Images.TarEntryType.CharDevice, 1u, 3u), (node.Type, node.DeviceMajor, node.DeviceMinor));
        Assert.Null(reader.Next());
    }

    [Fact]
    public void Tar_reader_refuses_a_corrupt_header()
    {
        var block = new byte[1024];
        Encoding.ASCII.GetBytes("name").CopyTo(block, 0);
        Encoding.ASCII.GetBytes("0000000").CopyTo(block, 148); // a checksum that cannot match
        var e = Assert.Throws<IsolateException>(() => new Isolate.Images.TarReader(new MemoryStream(block)).Next());
        Assert.Contains("checksum", e.Message);
    }
}
