using System.Formats.Tar;
using System.Text.Json.Nodes;
using Isolate.Tests.Support;

namespace Isolate.Tests.Integration;

/// <summary>Layers are untrusted input. A hostile one (a path out of the layer, a link out of it
/// and an entry written through it, a whiteout of "..") is refused: load exits 125 naming the
/// entry, a sentinel directory outside the store is untouched, and nothing of the image is left
/// in the store's tmp or layers. A legitimate one keeps what an image means: whiteouts and opaque
/// directories hide lower files, ownership, set-id modes, device nodes, hard links and xattrs
/// survive, gzip, plain and zstd layers all load, and blobs that do not match their digests or
/// diff ids are refused.</summary>
public sealed class ImageLayerSafetyTests(BusyboxRootfs rootfs) : ImageTest(rootfs)
{
    /// <summary>Enough "../" to climb from anywhere in the store to /, whatever its depth.</summary>
    private static readonly string Up = string.Concat(Enumerable.Repeat("../", 40));

    /// <summary>A hostile layer against a sentinel directory; the words its error line may use to name the entry.</summary>
    private sealed record Hostile(LayerBuilder Layer, string[] Names);

    private static Hostile Craft(string kind, string sentinel)
    {
        string rel = sentinel.TrimStart('/');
        return kind switch
        {
            "dotdot" => new(new LayerBuilder().File(Up + rel + "/escaped-dotdot", "x"), ["escaped-dotdot"]),
            "dotdot-inside" => new(new LayerBuilder().Directory("a").File("a/../../" + Up + rel + "/escaped-inside", "x"), ["escaped-inside"]),
            "absolute" => new(new LayerBuilder().File(sentinel + "/escaped-absolute", "x"), ["escaped-absolute"]),
            "long-pax-path" => new(new LayerBuilder().File(new string('d', 120) + "/" + Up + rel + "/escaped-pax", "x"), ["escaped-pax"]),
            "symlink-then-file" => new(new LayerBuilder().Symlink("evil", sentinel).File("evil/through-symlink", "x"), ["evil/through-symlink"]),
            "relative-symlink-then-file" => new(new LayerBuilder().Symlink("evil", Up + rel).File("evil/through-relative", "x"), ["evil/through-relative"]),
            "symlink-then-dir" => new(new LayerBuilder().Symlink("evil", sentinel).Directory("evil/made-dir"), ["evil/made-dir"]),
            "symlink-chain-then-file" => new(new LayerBuilder().Symlink("hop", sentinel).Symlink("evil", "hop").File("evil/through-chain", "x"), ["evil/through-chain"]),
            "hardlink-relative" => new(new LayerBuilder().HardLink("hl-relative", Up + rel + "/victim").File("hl-relative", "overwritten\n"), ["hl-relative", "victim"]),
            "hardlink-absolute" => new(new LayerBuilder().HardLink("hl-absolute", sentinel + "/victim").File("hl-absolute", "overwritten\n"), ["hl-absolute", "victim"]),
            "hardlink-through-symlink" => new(new LayerBuilder().Symlink("evil", sentinel).HardLink("hl-symlink", "evil/victim").File("hl-symlink", "overwritten\n"),
                ["hl-symlink", "evil/victim"]),
            "whiteout-dotdot" => new(new LayerBuilder().Directory("d").File("d/.wh...", ""), [".wh..."]),
            "whiteout-through-symlink" => new(new LayerBuilder().Symlink("evil", sentinel).File("evil/.wh.victim", ""), ["evil/.wh.victim"]),
            _ => throw new ArgumentException(kind),
        };
    }

    public static TheoryData<string> HostileKinds() =>
    [
        "dotdot", "dotdot-inside", "absolute", "long-pax-path", "symlink-then-file", "relative-symlink-then-file", "symlink-then-dir",
        "symlink-chain-then-file", "hardlink-relative", "hardlink-absolute", "hardlink-through-symlink", "whiteout-dotdot", "whiteout-through-symlink",
    ];

    /// <summary>A directory outside the store holding one file, "victim", which no layer may touch.</summary>
    private string Sentinel()
    {
        string dir = Own(Directory.CreateTempSubdirectory("isolate-test-sentinel-").FullName);
        File.WriteAllText(Path.Combine(dir, "victim"), "untouched\n");
        return dir;
    }

    private void AssertUntouched(string sentinel)
    {
        Assert.Equal(["victim"], Entries(sentinel));
        Assert.Equal("untouched\n", File.ReadAllText(Path.Combine(sentinel, "victim")));
        Assert.Equal("1", Host("/usr/bin/stat", "-c", "%h", Path.Combine(sentinel, "victim")).Stdout.Trim()); // no hard link to it
    }

    [ImageTheory(Containers = true)]
    [MemberData(nameof(HostileKinds))]
    public void A_hostile_layer_is_refused_naming_the_entry_and_leaves_nothing(string kind)
    {
        string sentinel = Sentinel();
        try
        {
            var hostile = Craft(kind, sentinel);
            // a harmless file first: the refusal comes after some of the layer was unpacked
            var layer = new LayerBuilder().Directory("etc").File("etc/before", "x");
            var image = new OciImageBuilder { Cmd = ["sh"] }.AddLayer(BusyboxLayer).AddLayer(Concat(layer, hostile.Layer));
            string layout = NewDir("layout");
            var written = image.WriteLayout(layout, "hostile");

            var load = Store("load", "-i", layout, "bad");
            Assert.True(load.ExitCode == 125, load.ToString());
            var errors = load.Stderr.Split('\n').Where(l => l.StartsWith("isolate: ", StringComparison.Ordinal)).ToList();
            Assert.True(errors.Count == 1, $"expected one 'isolate: ' line:\n{load}");
            Assert.True(hostile.Names.Any(n => errors[0].Contains(n, StringComparison.Ordinal)),
                $"the error names none of {string.Join(", ", hostile.Names)}:\n{load}");

            AssertUntouched(sentinel);
            Assert.False(Directory.Exists(LayerDir(written.DiffIds[1])), "the hostile layer is in the store");
            Assert.Empty(TmpLeftovers());
            Assert.Empty(Store("images", "-q").Stdout.Trim());
            AssertError(RunImage("--pull", "never", "bad:hostile", "true"), "bad:hostile");
        }
        finally
        {
            Directory.Delete(sentinel, recursive: true);
        }
    }

    /// <summary>One layer with the entries of both, in order.</summary>
    private static LayerBuilder Concat(LayerBuilder first, LayerBuilder second)
    {
        var all = new LayerBuilder();
        foreach (var layer in new[] { first, second })
        {
            using var reader = new TarReader(new MemoryStream(layer.Build(LayerCompression.None).Tar));
            while (reader.GetNextEntry(copyData: true) is { } entry)
                all.Raw(entry);
        }
        return all;
    }

    [ImageFact(Containers = true)]
    public void A_symlink_out_in_a_lower_layer_does_not_lead_an_upper_layers_file_out()
    {
        // each layer unpacks on its own: "evil/" of the upper one is its own directory, never the
        // lower one's link followed (Isolate loads the image; overlayfs shows the upper directory)
        string sentinel = Sentinel();
        try
        {
            var image = new OciImageBuilder { Cmd = ["sh"] }.AddLayer(BusyboxLayer)
                .AddLayer(new LayerBuilder().Symlink("evil", sentinel))
                .AddLayer(new LayerBuilder().Directory("evil").File("evil/cross-layer", "x"));
            string layout = NewDir("layout");
            image.WriteLayout(layout, "1");
            var load = Store("load", "-i", layout, "cross");
            Assert.True(load.ExitCode == 0, load.ToString());
            AssertUntouched(sentinel);
            var run = RunImage("cross:1", "sh", "-c", "cat /evil/cross-layer; ls " + sentinel + " 2>/dev/null | wc -l");
            Assert.True(run.ExitCode == 0, run.ToString());
            Assert.Equal("x0\n", run.Stdout.Replace("\n", "", StringComparison.Ordinal) + "\n");
            AssertUntouched(sentinel);
            AssertStoreSettled();
        }
        finally
        {
            Directory.Delete(sentinel, recursive: true);
        }
    }

    [ImageFact(Containers = true)]
    public void A_file_entry_over_an_earlier_link_of_the_same_name_replaces_the_link_and_never_writes_through_it()
    {
        // tar semantics: a later entry replaces an earlier one; an unpacker that opened the name
        // with O_TRUNC would write into the link's target (out of the layer, or another file of it)
        string sentinel = Sentinel();
        try
        {
            var layer = new LayerBuilder().Directory("etc").File("etc/before", "kept\n")
                .Symlink("evil", sentinel + "/victim").File("evil", "replaced-symlink\n")
                .HardLink("twin", "etc/before").File("twin", "replaced-hardlink\n");
            string layout = NewDir("layout");
            Busybox(layer).WriteLayout(layout, "1");
            var load = Store("load", "-i", layout, "replace");
            // Isolate's choice: the name is unlinked first, then the file made O_EXCL|O_NOFOLLOW
            Assert.True(load.ExitCode == 0, load.ToString());
            AssertUntouched(sentinel);
            var run = RunImage("replace:1", "sh", "-c", "cat /evil /twin /etc/before; stat -c %h /etc/before");
            Assert.True(run.ExitCode == 0, run.ToString());
            Assert.Equal("replaced-symlink\nreplaced-hardlink\nkept\n1\n", run.Stdout);
            AssertStoreSettled();
        }
        finally
        {
            Directory.Delete(sentinel, recursive: true);
        }
    }

    [ImageFact(Containers = true)]
    public void A_digest_in_a_layout_that_is_not_sha256_hex_is_refused_before_it_becomes_a_path()
    {
        // blobs/sha256/<digest> is a path: "../" in a digest would read any file of the host
        string layout = NewDir("layout");
        var image = Busybox(new LayerBuilder().Directory("etc").File("etc/which", "x\n")).WriteLayout(layout, "1");
        var manifest = JsonNode.Parse(image.Manifest)!;
        string evil = "sha256:" + Up + "etc/hostname";
        manifest["layers"]![1]!["digest"] = evil;
        byte[] bytes = System.Text.Encoding.UTF8.GetBytes(manifest.ToJsonString());
        File.WriteAllBytes(Path.Combine(layout, "blobs", "sha256", OciDigest.Hex(OciDigest.Of(bytes))), bytes);
        var index = JsonNode.Parse(File.ReadAllText(Path.Combine(layout, "index.json")))!;
        index["manifests"]![0]!["digest"] = OciDigest.Of(bytes);
        index["manifests"]![0]!["size"] = bytes.Length;
        File.WriteAllText(Path.Combine(layout, "index.json"), index.ToJsonString());

        var load = Store("load", "-i", layout, "digest");
        AssertError(load, "etc/hostname");
        Assert.Empty(Store("images", "-q").Stdout.Trim());
        AssertStoreSettled();
    }

    [ImageFact(Containers = true)]
    public void File_modification_times_are_kept()
    {
        var layer = new LayerBuilder().Directory("times").File("times/file", "x\n").Symlink("times/link", "file");
        Load(Busybox(layer), "1", "times");
        var run = RunImage("times:1", "stat", "-c", "%Y", "/times/file");
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal("1704164645\n", run.Stdout); // 2024-01-02 03:04:05 UTC, as the tar says
    }

    [ImageFact(Containers = true)]
    public void Whiteouts_and_opaque_directories_hide_the_lower_layers_files()
    {
        var lower = new LayerBuilder().Directory("data").File("data/keep", "k").File("data/gone", "g").Directory("data/olddir").File("data/olddir/f", "f")
            .Directory("opq").File("opq/old1", "1").Directory("opq/sub").File("opq/sub/old2", "2");
        var upper = new LayerBuilder().Directory("data").Whiteout("data/gone").Whiteout("data/olddir")
            .Directory("opq").Opaque("opq").File("opq/new", "n");
        Load(Busybox(lower, upper), "1", "whiteouts");

        var run = RunImage("whiteouts:1", "sh", "-c", "echo \"$(ls -A /data)|$(ls -A /opq)|$(cat /data/keep /opq/new)\"; test -e /opq/sub/old2 || echo sub-hidden");
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal("keep|new|kn\nsub-hidden\n", run.Stdout);
        // and the whiteouts are not files a container sees
        var names = RunImage("whiteouts:1", "sh", "-c", "find / -xdev -name '.wh.*' | head -3");
        Assert.True(names.ExitCode == 0, names.ToString());
        Assert.Equal("", names.Stdout);
        AssertStoreSettled();
    }

    [ImageFact(Containers = true)]
    public void Ownership_set_id_modes_device_nodes_hard_links_symlinks_and_xattrs_are_kept()
    {
        var layer = new LayerBuilder()
            .Directory("owned", 0x1ED, 1000, 1000)
            .File("owned/by-app", "x", 0x1A0 /* 0640 */, 1000, 1000)
            .File("owned/by-odd", "x", 0x180 /* 0600 */, 123, 456)
            .Directory("modes")
            .File("modes/suid", "#!/bin/sh\n", 0x9ED /* 04755 */)
            .File("modes/sgid", "#!/bin/sh\n", 0x5ED /* 02755 */)
            .Directory("modes/sticky", 0x3FF /* 01777 */)
            .Directory("devs")
            .CharDevice("devs/null", 1, 3)
            .Directory("links")
            .File("links/a", "same\n")
            .HardLink("links/b", "links/a")
            .Symlink("links/s", "a")
            .Directory("xattr")
            .File("xattr/file", "x", xattrs: new Dictionary<string, string> { ["user.isolate.test"] = "hello" });
        var image = Load(Busybox(layer), "1", "kept");

        var run = RunImage("kept:1", "sh", "-c",
            "stat -c '%n %u:%g %a %F' /owned /owned/by-app /owned/by-odd /modes/suid /modes/sgid /modes/sticky; "
            + "stat -c '%n %F %t,%T' /devs/null; stat -c '%i %h' /links/a /links/b; readlink /links/s; cat /links/s; ls -ln /owned/by-odd");
        Assert.True(run.ExitCode == 0, run.ToString());
        var lines = run.Stdout.TrimEnd('\n').Split('\n');
        Assert.Equal([
            "/owned 1000:1000 755 directory",
            "/owned/by-app 1000:1000 640 regular file",
            "/owned/by-odd 123:456 600 regular file",
            "/modes/suid 0:0 4755 regular file",
            "/modes/sgid 0:0 2755 regular file",
            "/modes/sticky 0:0 1777 directory",
            "/devs/null character special file 1,3",
        ], lines[..7]);
        Assert.Equal(lines[7], lines[8]); // one inode, two names
        Assert.EndsWith(" 2", lines[7]);
        Assert.Equal("a", lines[9]);
        Assert.Equal("same", lines[10]);
        Assert.Matches(@"^-rw------- +1 +123 +456 ", lines[11]);

        // xattrs: busybox has no getfattr; the unpacked layer on the host has it
        Assert.Equal("hello", HostXattr(Path.Combine(LayerDir(image.DiffIds[1]), "xattr", "file"), "user.isolate.test"));
        AssertStoreSettled();
    }

    [ImageFact(Containers = true, Zstd = true)]
    public void Gzip_uncompressed_and_zstd_layers_load_and_stack()
    {
        var image = Busybox();
        image.AddLayer(new LayerBuilder().Directory("etc").File("etc/plain", "plain\n"), LayerCompression.None);
        image.AddLayer(new LayerBuilder().Directory("etc").File("etc/zstd", "zstd\n"), LayerCompression.Zstd);
        image.AddLayer(new LayerBuilder().Directory("etc").File("etc/gzip", "gzip\n"), LayerCompression.Gzip);
        var written = Load(image, "1", "mixed");
        var run = RunImage("mixed:1", "cat", "/etc/plain", "/etc/zstd", "/etc/gzip");
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal("plain\nzstd\ngzip\n", run.Stdout);
        Assert.All(written.DiffIds, d => Assert.True(Directory.Exists(LayerDir(d)), d));
        AssertStoreSettled();
    }

    [ImageFact(Containers = true)]
    public void A_blob_that_does_not_match_its_digest_is_refused()
    {
        string layout = NewDir("layout");
        var image = Busybox(new LayerBuilder().Directory("etc").File("etc/which", "tampered\n")).WriteLayout(layout, "1");
        // same length, other bytes: only the digest can tell
        string blob = Path.Combine(layout, "blobs", "sha256", OciDigest.Hex(image.Layers[1].Digest));
        byte[] bytes = File.ReadAllBytes(blob);
        bytes[^10] ^= 0xff;
        File.WriteAllBytes(blob, bytes);

        AssertError(Store("load", "-i", layout, "tampered"), OciDigest.Hex(image.Layers[1].Digest)[..12]);
        Assert.False(Directory.Exists(LayerDir(image.DiffIds[1])), "the tampered layer is in the store");
        Assert.False(File.Exists(Path.Combine(BlobsDir, OciDigest.Hex(image.Layers[1].Digest))), "the tampered blob is in the store");
        Assert.Empty(Store("images", "-q").Stdout.Trim());
        AssertStoreSettled();
    }

    [ImageFact(Containers = true)]
    public void A_layer_whose_content_is_not_its_diff_id_is_refused()
    {
        // the manifest's digest is right, the config's diff id is another tar's
        var real = new LayerBuilder().Directory("etc").File("etc/which", "real\n").Build();
        var other = new LayerBuilder().Directory("etc").File("etc/which", "other\n").Build();
        var image = new OciImageBuilder { Cmd = ["sh"] }.AddLayer(BusyboxLayer).AddLayer(real);
        string layout = NewDir("layout");
        var written = image.WriteLayout(layout, "1");
        // rewrite the config with the other diff id, and the manifest and index to match
        var config = JsonNode.Parse(written.Config)!;
        config["rootfs"]!["diff_ids"]![1] = other.DiffId;
        byte[] configBytes = System.Text.Encoding.UTF8.GetBytes(config.ToJsonString());
        File.WriteAllBytes(Path.Combine(layout, "blobs", "sha256", OciDigest.Hex(OciDigest.Of(configBytes))), configBytes);
        var manifest = JsonNode.Parse(written.Manifest)!;
        manifest["config"]!["digest"] = OciDigest.Of(configBytes);
        manifest["config"]!["size"] = configBytes.Length;
        byte[] manifestBytes = System.Text.Encoding.UTF8.GetBytes(manifest.ToJsonString());
        File.WriteAllBytes(Path.Combine(layout, "blobs", "sha256", OciDigest.Hex(OciDigest.Of(manifestBytes))), manifestBytes);
        var index = JsonNode.Parse(File.ReadAllText(Path.Combine(layout, "index.json")))!;
        index["manifests"]![0]!["digest"] = OciDigest.Of(manifestBytes);
        index["manifests"]![0]!["size"] = manifestBytes.Length;
        File.WriteAllText(Path.Combine(layout, "index.json"), index.ToJsonString());

        var load = Store("load", "-i", layout, "mismatch");
        Assert.True(load.ExitCode == 125, load.ToString());
        Assert.Contains("isolate: ", load.Stderr);
        Assert.False(Directory.Exists(LayerDir(other.DiffId)), "a layer is in the store under a diff id its content does not have");
        Assert.False(Directory.Exists(LayerDir(real.DiffId)), "a layer of the refused image is in the store");
        Assert.Empty(Store("images", "-q").Stdout.Trim());
        AssertStoreSettled();
    }
}
