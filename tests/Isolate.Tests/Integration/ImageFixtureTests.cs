using System.Formats.Tar;
using System.IO.Compression;
using System.Text.Json.Nodes;
using Isolate.Tests.Support;

namespace Isolate.Tests.Integration;

/// <summary>The image tests' own tools, checked without Isolate: a layout the builder writes is one
/// skopeo reads, each kind of test registry takes a push and serves the manifest back by tag and by
/// digest, and a docker-archive comes out tagged. When an image test fails, these say whether the
/// fixture or Isolate is at fault.</summary>
public sealed class ImageFixtureTests : IDisposable
{
    private readonly string _work = Directory.CreateTempSubdirectory("isolate-test-imagefixture-").FullName;

    public void Dispose() => Directory.Delete(_work, recursive: true);

    private static OciImageBuilder SmallImage(string text) => new OciImageBuilder { Cmd = ["/hello"] }
        .AddLayer(new LayerBuilder().Directory("etc").File("etc/hello", text + "\n").File("hello", "#!/bin/sh\necho hi\n", 0x1ED));

    [ImageTheory(Registry = true)]
    [InlineData(RegistryMode.Plain)]
    [InlineData(RegistryMode.Tls)]
    [InlineData(RegistryMode.Token)]
    public void A_registry_of_each_kind_takes_a_push_and_serves_the_manifest(RegistryMode mode) => PushAndServe(mode);

    [ImageFact(Registry = true, Htpasswd = true)]
    public void A_registry_with_basic_auth_takes_a_push_and_serves_the_manifest() => PushAndServe(RegistryMode.Basic);

    private void PushAndServe(RegistryMode mode)
    {
        string layout = Path.Combine(_work, "layout");
        var image = SmallImage("fixture " + mode).WriteLayout(layout, "1.0");
        using var registry = Registry.Start(mode);
        registry.Push(layout, "1.0", "fixture/small:1.0");

        var (body, digest, mediaType) = registry.Manifest("fixture/small", "1.0");
        Assert.Equal(image.ManifestDigest, digest); // stored as the OCI manifest it was, byte for byte
        Assert.Equal("application/vnd.oci.image.manifest.v1+json", mediaType);
        Assert.Equal(image.ConfigDigest, JsonNode.Parse(body)!["config"]!["digest"]!.ToString());
        Assert.Equal(image.ManifestDigest, registry.Manifest("fixture/small", image.ManifestDigest).Digest);
        Assert.Contains(registry.Requests, r => r.StartsWith("PUT /v2/fixture/small/manifests/1.0 201", StringComparison.Ordinal));
        if (mode == RegistryMode.Token)
            Assert.True(registry.Tokens!.Issued > 0, "skopeo pushed without a token");
    }

    [ImageFact]
    public void Skopeo_reads_the_builders_layout_and_multi_platform_index_and_writes_a_tagged_docker_archive()
    {
        string layout = Path.Combine(_work, "layout");
        var image = SmallImage("one").WriteLayout(layout, "12");
        var inspect = Registry.Run(Registry.Skopeo, "inspect", "--raw", $"oci:{layout}:12");
        Assert.True(inspect.ExitCode == 0, inspect.ToString());
        Assert.Equal(image.ManifestDigest, OciDigest.Of(System.Text.Encoding.UTF8.GetBytes(inspect.Stdout)));
        var config = Registry.Run(Registry.Skopeo, "inspect", "--config", $"oci:{layout}:12");
        Assert.Equal(image.DiffIds, JsonNode.Parse(config.Stdout)!["rootfs"]!["diff_ids"]!.AsArray().Select(d => d!.ToString()));

        var foreign = SmallImage("foreign");
        foreign.Architecture = OciImageBuilder.ForeignArchitecture;
        var (_, images) = OciImageBuilder.WriteMultiPlatform(layout, "multi", SmallImage("native"), foreign);
        var native = Registry.Run(Registry.Skopeo, "inspect", "--config", $"oci:{layout}:multi");
        Assert.True(native.ExitCode == 0, native.ToString());
        Assert.Equal(OciImageBuilder.HostArchitecture, JsonNode.Parse(native.Stdout)!["architecture"]!.ToString());
        Assert.Equal(images[0].DiffIds, JsonNode.Parse(native.Stdout)!["rootfs"]!["diff_ids"]!.AsArray().Select(d => d!.ToString()));

        string archive = Path.Combine(_work, "debian.tar");
        SkopeoArchive.DockerArchive(layout, "12", archive, "debian:12", "debian:latest");
        var manifest = ReadEntry(archive, "manifest.json");
        Assert.Equal(["docker.io/library/debian:12", "docker.io/library/debian:latest"],
            JsonNode.Parse(manifest)![0]!["RepoTags"]!.AsArray().Select(t => t!.ToString()));

        string ociArchive = Path.Combine(_work, "oci.tar");
        OciImageBuilder.WriteArchive(layout, ociArchive);
        var fromArchive = Registry.Run(Registry.Skopeo, "inspect", "--raw", $"oci-archive:{ociArchive}:12");
        Assert.True(fromArchive.ExitCode == 0, fromArchive.ToString());
    }

    [Fact]
    public void Layers_of_each_compression_have_the_diff_id_of_their_tar_and_zstd_is_real_zstd()
    {
        var builder = new LayerBuilder().File("a", "x").Whiteout("gone/file").Opaque("dir").CharDevice("null", 1, 3);
        var plain = builder.Build(LayerCompression.None);
        var gzip = builder.Build(LayerCompression.Gzip);
        Assert.Equal(plain.DiffId, gzip.DiffId);
        Thread.Sleep(1100);
        Assert.Equal(gzip.Digest, builder.Build(LayerCompression.Gzip).Digest); // no clock in it: images built twice share layers
        Assert.Equal(plain.Tar, plain.Blob);
        using (var unzip = new GZipStream(new MemoryStream(gzip.Blob), CompressionMode.Decompress))
        {
            var back = new MemoryStream();
            unzip.CopyTo(back);
            Assert.Equal(plain.Tar, back.ToArray());
        }
        var names = new List<string>();
        using (var reader = new TarReader(new MemoryStream(plain.Tar)))
        {
            while (reader.GetNextEntry() is { } entry)
                names.Add(entry.Name);
        }
        Assert.Equal(["a", "gone/.wh.file", "dir/.wh..wh..opq", "null"], names);
        if (LayerBuilder.ZstdTool == null)
            return;
        var zstd = builder.Build(LayerCompression.Zstd);
        Assert.Equal(plain.DiffId, zstd.DiffId);
        Assert.Equal([0x28, 0xB5, 0x2F, 0xFD], zstd.Blob[..4]); // zstd's frame magic
        Assert.EndsWith("+zstd", zstd.MediaType);
    }

    private static string ReadEntry(string tarFile, string name)
    {
        using var reader = new TarReader(File.OpenRead(tarFile));
        while (reader.GetNextEntry() is { } entry)
        {
            if (entry.Name == name)
                return new StreamReader(entry.DataStream!).ReadToEnd();
        }
        throw new FileNotFoundException($"{name} is not in {tarFile}");
    }
}
