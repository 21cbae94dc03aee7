using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Isolate.Tests.Support;

namespace Isolate.Tests.Integration;

/// <summary>The local image store without a registry: load (docker-archive, OCI archive, OCI
/// layout), images, inspect, rmi, image prune, and run IMAGE from what was loaded, with the image's
/// config applied and the store never written by a container. Each test has its own store.</summary>
public sealed partial class ImageStoreTests(BusyboxRootfs rootfs) : ImageTest(rootfs)
{
    [GeneratedRegex("^[0-9a-f]{12}$")]
    private static partial Regex ShortId();

    private static LayerBuilder Marker(string path, string text) =>
        new LayerBuilder().Directory("etc").File(path, text + "\n");

    [ImageFact(Containers = true)]
    public void Load_of_a_docker_archive_then_run_as_the_readme_shows()
    {
        // isolate load -i debian.tar && isolate run debian:12 sh -c ...
        string layout = NewDir("layout");
        var image = Busybox(Marker("etc/os-release", "PRETTY_NAME=\"Isolate test 12\"")).WriteLayout(layout, "12");
        string archive = Path.Combine(Work, "debian.tar");
        SkopeoArchive.DockerArchive(layout, "12", archive, "debian:12");

        var load = Store("load", "-i", archive);
        Assert.True(load.ExitCode == 0, load.ToString());
        Assert.Equal(["Loaded image: debian:12"], load.Stdout.TrimEnd('\n').Split('\n'));

        var run = RunImage("debian:12", "sh", "-c", ". /etc/os-release; echo \"$PRETTY_NAME\"");
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal("Isolate test 12\n", run.Stdout);

        var images = Store("images", "-q");
        Assert.Equal([image.Id[..12]], images.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        AssertStoreSettled();
        Assert.All(image.DiffIds, d => Assert.True(Directory.Exists(LayerDir(d)), $"no unpacked layer {d}"));
    }

    [ImageFact(Containers = true)]
    public void Load_names_images_from_an_oci_layout_an_oci_archive_and_reports_an_untagged_one_by_id()
    {
        // ref.name "12" is only a tag: NAME gives the repository
        string tagOnly = NewDir("tag-only");
        var debian = Busybox(Marker("etc/which", "debian")).WriteLayout(tagOnly, "12");
        var load = Store("load", "-i", tagOnly, "debian");
        Assert.True(load.ExitCode == 0, load.ToString());
        Assert.Equal("Loaded image: debian:12\n", load.Stdout);

        // a full ref.name is used as it is
        string full = NewDir("full");
        Busybox(Marker("etc/which", "app")).WriteLayout(full, "registry.example:5000/team/app:2.0");
        load = Store("load", "-i", full);
        Assert.True(load.ExitCode == 0, load.ToString());
        Assert.Equal("Loaded image: registry.example:5000/team/app:2.0\n", load.Stdout);

        // an OCI archive: the same layout as a tar
        string forArchive = NewDir("for-archive");
        Busybox(Marker("etc/which", "tools")).WriteLayout(forArchive, "3.1");
        string archive = Path.Combine(Work, "tools.tar");
        OciImageBuilder.WriteArchive(forArchive, archive);
        load = Store("load", "-i", archive, "tools");
        Assert.True(load.ExitCode == 0, load.ToString());
        Assert.Equal("Loaded image: tools:3.1\n", load.Stdout);

        // no ref.name at all: docker's wording for an untagged image
        string untagged = NewDir("untagged");
        var anonymous = Busybox(Marker("etc/which", "anonymous")).WriteLayout(untagged, refName: null);
        load = Store("load", "-i", untagged);
        Assert.True(load.ExitCode == 0, load.ToString());
        Assert.Equal($"Loaded image ID: sha256:{anonymous.Id}\n", load.Stdout);

        foreach (var (image, expected) in new[] { ("debian:12", "debian"), ("registry.example:5000/team/app:2.0", "app"), ("tools:3.1", "tools") })
        {
            var run = RunImage("--pull", "never", image, "cat", "/etc/which");
            Assert.True(run.ExitCode == 0, run.ToString());
            Assert.Equal(expected + "\n", run.Stdout);
        }
        Assert.Equal("sha256:" + anonymous.Id, Inspect(anonymous.Id)["Id"]!.ToString());
        Assert.Equal(debian.Id, Inspect("debian:12")["Id"]!.ToString()["sha256:".Length..]);
        AssertStoreSettled();
    }

    [ImageFact(Containers = true)]
    public void Images_lists_a_table_ids_and_json_and_image_ls_is_the_same()
    {
        string layout = NewDir("layout");
        var one = Busybox(Marker("etc/which", "one")).WriteLayout(layout, "1.0");
        var two = Busybox(Marker("etc/which", "two")).WriteLayout(layout, "2.0");
        var load = Store("load", "-i", layout, "example/app");
        Assert.True(load.ExitCode == 0, load.ToString());
        Assert.Equal(["Loaded image: example/app:1.0", "Loaded image: example/app:2.0"], load.Stdout.TrimEnd('\n').Split('\n').Order(StringComparer.Ordinal));

        var table = Store("images");
        Assert.True(table.ExitCode == 0, table.ToString());
        var lines = table.Stdout.TrimEnd('\n').Split('\n');
        Assert.Matches(@"^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE\s*$", lines[0]);
        Assert.Equal(3, lines.Length);
        Assert.Contains(lines, l => Regex.IsMatch(l, $@"^example/app\s+1\.0\s+{one.Id[..12]}\s+\S.*\s\d+(\.\d+)?\s*[kMG]?B\s*$"));
        Assert.Contains(lines, l => Regex.IsMatch(l, $@"^example/app\s+2\.0\s+{two.Id[..12]}\s+\S.*\s\d+(\.\d+)?\s*[kMG]?B\s*$"));
        // the columns line up: IMAGE ID starts where the header's does
        int column = lines[0].IndexOf("IMAGE ID", StringComparison.Ordinal);
        Assert.All(lines[1..], l => Assert.Matches("^[0-9a-f]{12}", l[column..]));

        var quiet = Store("images", "-q");
        Assert.True(quiet.ExitCode == 0, quiet.ToString());
        var ids = quiet.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.All(ids, id => Assert.Matches(ShortId(), id));
        Assert.Equal(new[] { one.Id[..12], two.Id[..12] }.Order(), ids.Distinct().Order());

        var json = Store("images", "--format", "json");
        Assert.True(json.ExitCode == 0, json.ToString());
        var parsed = ParseJsonRecords(json.Stdout);
        Assert.Equal(2, parsed.Count);
        Assert.All(parsed, p => Assert.Contains("example/app", p.ToJsonString()));
        Assert.Contains(parsed, p => p.ToJsonString().Contains(one.Id[..12], StringComparison.Ordinal));
        Assert.Contains(parsed, p => p.ToJsonString().Contains(two.Id[..12], StringComparison.Ordinal));

        var alias = Store("image", "ls");
        Assert.True(alias.ExitCode == 0, alias.ToString());
        Assert.Equal(table.Stdout, alias.Stdout);
    }

    /// <summary>--format json: one JSON array (podman) or one object per line (docker).</summary>
    private static List<JsonNode> ParseJsonRecords(string text)
    {
        text = text.Trim();
        if (text.StartsWith('['))
            return JsonNode.Parse(text)!.AsArray().Select(n => n!).ToList();
        return text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonNode.Parse(l)!).ToList();
    }

    private JsonNode Inspect(string image)
    {
        var inspect = Store("image", "inspect", image);
        Assert.True(inspect.ExitCode == 0, inspect.ToString());
        return Assert.Single(JsonNode.Parse(inspect.Stdout)!.AsArray())!;
    }

    [ImageFact(Containers = true)]
    public void Image_inspect_shows_the_config_as_docker_does()
    {
        var builder = Busybox(Marker("etc/which", "inspected"));
        builder.Entrypoint = ["/bin/sh", "-c"];
        builder.Cmd = ["echo hello"];
        builder.Env = ["PATH=/usr/bin:/bin", "GREETING=hi there"];
        builder.WorkingDir = "/srv";
        builder.User = "1000:1000";
        builder.ExposedPorts = ["8080/tcp", "53/udp"];
        builder.StopSignal = "SIGINT";
        builder.Labels["org.example.role"] = "test";
        var image = Load(builder, "1", "inspected");

        var json = Inspect("inspected:1");
        Assert.Equal("sha256:" + image.Id, json["Id"]!.ToString());
        Assert.Equal(["inspected:1"], json["RepoTags"]!.AsArray().Select(t => t!.ToString()));
        Assert.NotNull(json["RepoDigests"]);
        Assert.Equal(OciImageBuilder.HostArchitecture, json["Architecture"]!.ToString());
        Assert.Equal("linux", json["Os"]!.ToString());
        Assert.Equal(builder.Created, DateTimeOffset.Parse(json["Created"]!.ToString()));
        Assert.True(json["Size"]!.GetValue<long>() > 0, json.ToJsonString());
        var config = json["Config"]!;
        Assert.Equal(builder.Env, config["Env"]!.AsArray().Select(e => e!.ToString()));
        Assert.Equal(builder.Cmd, config["Cmd"]!.AsArray().Select(e => e!.ToString()));
        Assert.Equal(builder.Entrypoint, config["Entrypoint"]!.AsArray().Select(e => e!.ToString()));
        Assert.Equal("/srv", config["WorkingDir"]!.ToString());
        Assert.Equal("1000:1000", config["User"]!.ToString());
        Assert.Equal(["53/udp", "8080/tcp"], config["ExposedPorts"]!.AsObject().Select(p => p.Key).Order(StringComparer.Ordinal));
        Assert.Equal("SIGINT", config["StopSignal"]!.ToString());
        Assert.Equal("test", config["Labels"]!["org.example.role"]!.ToString());
        Assert.Equal("layers", json["RootFS"]!["Type"]!.ToString());
        Assert.Equal(image.DiffIds, json["RootFS"]!["Layers"]!.AsArray().Select(l => l!.ToString()));

        // by id and by short id too
        Assert.Equal("sha256:" + image.Id, Inspect(image.Id[..12])["Id"]!.ToString());
        AssertError(Store("image", "inspect", "nosuch:1"), "nosuch:1");
    }

    [ImageFact(Containers = true)]
    public void Rmi_untags_then_deletes_the_image_and_only_the_layers_no_other_image_uses()
    {
        var onlyA = new LayerBuilder().Directory("etc").File("etc/which", "a\n");
        var onlyB = new LayerBuilder().Directory("etc").File("etc/which", "b\n");
        string layout = NewDir("layout");
        var a = Busybox(onlyA).WriteLayout(layout, "1");
        a = Busybox(onlyA).WriteLayout(layout, "2"); // the same manifest under a second tag
        var loadA = Store("load", "-i", layout, "app");
        Assert.True(loadA.ExitCode == 0, loadA.ToString());
        var b = Load(Busybox(onlyB), "1", "other");
        string layerA = LayerDir(a.DiffIds[1]), layerB = LayerDir(b.DiffIds[1]), shared = LayerDir(a.DiffIds[0]);
        Assert.Equal(a.DiffIds[0], b.DiffIds[0]);
        Assert.All(new[] { layerA, layerB, shared }, d => Assert.True(Directory.Exists(d), d));

        var untag = Store("rmi", "app:1");
        Assert.True(untag.ExitCode == 0, untag.ToString());
        Assert.Equal("Untagged: app:1\n", untag.Stdout);
        Assert.True(Directory.Exists(layerA), "a layer of an image that still has a tag went");
        var still = RunImage("--pull", "never", "app:2", "cat", "/etc/which");
        Assert.True(still.ExitCode == 0 && still.Stdout == "a\n", still.ToString());

        var delete = Store("rmi", "app:2");
        Assert.True(delete.ExitCode == 0, delete.ToString());
        Assert.Equal($"Untagged: app:2\nDeleted: sha256:{a.Id}\n", delete.Stdout);
        Assert.False(Directory.Exists(layerA), "the deleted image's own layer is still unpacked");
        Assert.True(Directory.Exists(shared), "the layer the other image uses went with the deleted one");
        Assert.Equal([b.Id[..12]], Store("images", "-q").Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        var other = RunImage("--pull", "never", "other:1", "cat", "/etc/which");
        Assert.True(other.ExitCode == 0 && other.Stdout == "b\n", other.ToString());
        AssertError(RunImage("--pull", "never", "app:2", "true"), "app:2");

        var last = Store("image", "rm", "other:1");
        Assert.True(last.ExitCode == 0, last.ToString());
        Assert.Equal($"Untagged: other:1\nDeleted: sha256:{b.Id}\n", last.Stdout);
        Assert.Empty(Entries(LayersDir));
        Assert.Empty(Store("images", "-q").Stdout.Trim());
        AssertError(Store("rmi", "other:1"), "other:1");
        AssertStoreSettled();
    }

    [ImageFact(Containers = true)]
    public void Image_prune_removes_untagged_images_and_unreferenced_blobs_and_layers_and_keeps_tagged_ones()
    {
        var kept = Load(Busybox(Marker("etc/which", "kept")), "1", "kept");
        string untaggedLayout = NewDir("untagged");
        var untagged = Busybox(Marker("etc/which", "untagged")).WriteLayout(untaggedLayout, refName: null);
        var load = Store("load", "-i", untaggedLayout);
        Assert.True(load.ExitCode == 0, load.ToString());
        Assert.True(Directory.Exists(LayerDir(untagged.DiffIds[1])));

        // a verified blob and an unpacked layer nothing refers to (as a crash between steps leaves)
        byte[] stray = System.Text.Encoding.UTF8.GetBytes("stray " + Guid.NewGuid());
        string strayBlob = Path.Combine(BlobsDir, OciDigest.Hex(OciDigest.Of(stray)));
        File.WriteAllBytes(strayBlob, stray);
        string strayLayer = LayerDir(OciDigest.Of(stray));
        Directory.CreateDirectory(strayLayer);
        File.WriteAllText(Path.Combine(strayLayer, "left"), "x");

        var prune = Store("image", "prune");
        Assert.True(prune.ExitCode == 0, prune.ToString());
        Assert.False(Directory.Exists(LayerDir(untagged.DiffIds[1])), "the untagged image's layer stays");
        Assert.False(File.Exists(Path.Combine(BlobsDir, untagged.Id)), "the untagged image's config stays");
        Assert.False(File.Exists(strayBlob), "an unreferenced blob stays");
        Assert.False(Directory.Exists(strayLayer), "an unreferenced layer stays");
        Assert.All(kept.DiffIds, d => Assert.True(Directory.Exists(LayerDir(d)), $"a tagged image's layer {d} went"));
        Assert.True(File.Exists(Path.Combine(BlobsDir, kept.Id)), "the tagged image's config went");
        Assert.Equal([kept.Id[..12]], Store("images", "-q").Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        var run = RunImage("--pull", "never", "kept:1", "cat", "/etc/which");
        Assert.True(run.ExitCode == 0 && run.Stdout == "kept\n", run.ToString());
        AssertStoreSettled();
    }

    [ImageFact(Containers = true)]
    public void Run_applies_the_images_entrypoint_cmd_env_workdir_and_user_and_options_override_them()
    {
        var app = new LayerBuilder().Directory("srv").Directory("srv/app").Directory("usr").Directory("usr/local").Directory("usr/local/bin")
            .File("usr/local/bin/show", "#!/bin/sh\necho \"args=$*\"\necho \"dir=$(pwd)\"\necho \"user=$(id -u):$(id -g)\"\necho \"greeting=$GREETING\"\n", 0x1ED);
        var builder = Busybox(app);
        builder.Entrypoint = ["/usr/local/bin/show"];
        builder.Cmd = ["default", "args"];
        builder.Env = ["PATH=/usr/local/bin:/usr/bin:/bin", "GREETING=hello"];
        builder.WorkingDir = "/srv/app";
        builder.User = "1000:1000";
        Load(builder, "1", "app");

        var plain = RunImage("app:1");
        Assert.True(plain.ExitCode == 0, plain.ToString());
        Assert.Equal("args=default args\ndir=/srv/app\nuser=1000:1000\ngreeting=hello\n", plain.Stdout);

        var withArgs = RunImage("app:1", "one", "two");
        Assert.True(withArgs.ExitCode == 0, withArgs.ToString());
        Assert.Equal("args=one two\ndir=/srv/app\nuser=1000:1000\ngreeting=hello\n", withArgs.Stdout);

        var overridden = RunImage("-e", "GREETING=bye", "-w", "/tmp", "-u", "0:0", "app:1");
        Assert.True(overridden.ExitCode == 0, overridden.ToString());
        Assert.Equal("args=default args\ndir=/tmp\nuser=0:0\ngreeting=bye\n", overridden.Stdout);

        var byName = RunImage("-u", "app", "app:1", "x");
        Assert.True(byName.ExitCode == 0, byName.ToString());
        Assert.Contains("user=1000:1000\n", byName.Stdout);

        // --entrypoint replaces the entrypoint and drops the image's Cmd, as docker does
        var entrypoint = RunImage("--entrypoint", "/bin/echo", "app:1", "plain");
        Assert.True(entrypoint.ExitCode == 0, entrypoint.ToString());
        Assert.Equal("plain\n", entrypoint.Stdout);
        var entrypointAlone = RunImage("--entrypoint", "/bin/pwd", "app:1");
        Assert.True(entrypointAlone.ExitCode == 0, entrypointAlone.ToString());
        Assert.Equal("/srv/app\n", entrypointAlone.Stdout);
    }

    [ImageFact(Containers = true)]
    public void Each_container_gets_a_fresh_upper_layer_and_writes_never_reach_the_store()
    {
        var image = Load(Busybox(Marker("etc/hello", "original")), "1", "box");
        var before = StoreSnapshot();

        var write = RunImage("box:1", "sh", "-c", "echo changed > /etc/hello && rm /bin/ls && touch /new && chmod 700 /bin && cat /etc/hello");
        Assert.True(write.ExitCode == 0, write.ToString());
        Assert.Equal("changed\n", write.Stdout);

        var fresh = RunImage("box:1", "sh", "-c", "cat /etc/hello; test -e /bin/ls && echo ls-there; test -e /new || echo no-new");
        Assert.True(fresh.ExitCode == 0, fresh.ToString());
        Assert.Equal("original\nls-there\nno-new\n", fresh.Stdout);

        Assert.Equal(before, StoreSnapshot());
        Assert.Equal("original\n", File.ReadAllText(Path.Combine(LayerDir(image.DiffIds[1]), "etc", "hello")));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute
            | UnixFileMode.OtherRead | UnixFileMode.OtherExecute, File.GetUnixFileMode(Path.Combine(LayerDir(image.DiffIds[0]), "bin")));
    }

    /// <summary>Every path under the store's layers with its size and mode.</summary>
    private List<string> StoreSnapshot() =>
        Directory.EnumerateFileSystemEntries(LayersDir, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 })
            .Select(p => new FileInfo(p))
            .Select(f => $"{Path.GetRelativePath(LayersDir, f.FullName)} {(f.Exists ? f.Length : -1)} {f.UnixFileMode}")
            .Order(StringComparer.Ordinal).ToList();

    [ImageFact(Containers = true)]
    public void A_bare_command_still_runs_on_the_hosts_root_and_touches_no_store()
    {
        // "echo" and "busybox" have no tag, digest or registry host: commands, not images
        var echo = Store("run", "echo", "hi");
        Assert.True(echo.ExitCode == 0, echo.ToString());
        Assert.Equal("hi\n", echo.Stdout);
        var busybox = Store("run", "busybox", "echo", "from-busybox");
        Assert.True(busybox.ExitCode == 0, busybox.ToString());
        Assert.Equal("from-busybox\n", busybox.Stdout);
        Assert.Empty(Entries(LayersDir));
        Assert.Empty(Entries(BlobsDir));
    }

    [ImageFact(Containers = true)]
    public void Run_d_of_an_image_runs_detached_in_the_state_root_and_exec_sees_the_images_files()
    {
        Load(Busybox(Marker("etc/hello", "detached")), "1", "box");
        string name = "img" + Guid.NewGuid().ToString("N")[..10];
        var started = RunImage("-d", "--name", name, "box:1", "sh", "-c", "echo up > /tmp/state; exec sleep 60");
        Assert.True(started.ExitCode == 0, started.ToString());

        var exec = State("exec", name, "sh", "-c", "for i in 1 2 3 4 5 6 7 8 9 10; do test -e /tmp/state && break; sleep 0.1; done; cat /etc/hello /tmp/state");
        Assert.True(exec.ExitCode == 0, exec.ToString());
        Assert.Equal("detached\nup\n", exec.Stdout);
        var ps = State("ps");
        Assert.Contains(name, ps.Stdout);

        // the image goes while the container runs (Isolate's choice; docker refuses), and the
        // layers the container holds stay until it is gone
        var rmi = Store("rmi", "box:1");
        Assert.True(rmi.ExitCode == 0, rmi.ToString());
        Assert.NotEmpty(LayerDirs());
        var after = State("exec", name, "cat", "/etc/hello");
        Assert.True(after.ExitCode == 0 && after.Stdout == "detached\n", after.ToString());

        var rm = State("rm", "-f", name);
        Assert.True(rm.ExitCode == 0, rm.ToString());
        Assert.DoesNotContain(name, State("ps", "-a").Stdout);
        // what the container held is collected once it is gone
        var prune = Store("image", "prune");
        Assert.True(prune.ExitCode == 0, prune.ToString());
        Assert.Empty(LayerDirs());
        AssertStoreSettled();
    }

    [ImageFact(Containers = true)]
    public void Rmi_by_id_of_an_image_with_two_tags_needs_f()
    {
        string layout = NewDir("layout");
        var layer = Marker("etc/which", "twice");
        var image = Busybox(layer).WriteLayout(layout, "1");
        Busybox(layer).WriteLayout(layout, "2");
        var load = Store("load", "-i", layout, "twice");
        Assert.True(load.ExitCode == 0, load.ToString());

        AssertError(Store("rmi", image.Id[..12]), image.Id[..12]);
        Assert.Equal([image.Id[..12]], Store("images", "-q").Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Distinct());

        var forced = Store("rmi", "-f", image.Id[..12]);
        Assert.True(forced.ExitCode == 0, forced.ToString());
        var lines = forced.Stdout.TrimEnd('\n').Split('\n');
        Assert.Equal(["Untagged: twice:1", "Untagged: twice:2"], lines[..^1].Order(StringComparer.Ordinal));
        Assert.Equal($"Deleted: sha256:{image.Id}", lines[^1]);
        Assert.Empty(LayerDirs());
        AssertStoreSettled();
    }

    [ImageFact(Containers = true)]
    public void Errors_name_the_missing_image_or_file()
    {
        AssertError(RunImage("--pull", "never", "nosuch:1", "true"), "nosuch:1");
        AssertError(Store("load", "-i", Path.Combine(Work, "missing.tar")), "missing.tar");
        AssertError(Store("rmi", "nosuch:2"), "nosuch:2");
        string notAnImage = Path.Combine(Work, "not-an-image.tar");
        File.WriteAllText(notAnImage, "this is not a tar\n");
        AssertError(Store("load", "-i", notAnImage), "not-an-image.tar");
        Assert.Empty(Entries(LayersDir));
        AssertStoreSettled();
    }
}
