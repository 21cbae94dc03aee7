using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Isolate.Tests.Support;

namespace Isolate.Tests.Integration;

/// <summary>pull, login, logout and run IMAGE against a real registry (Debian's docker-registry,
/// one per test on a free loopback port): plain HTTP, HTTPS with a test CA, token auth from a
/// token server in the test process, and basic auth; tags, digests and multi-platform indexes;
/// blobs the registry serves corrupted; pulls killed part way and resumed; several pulls of one image
/// at once.</summary>
public sealed class ImageRegistryTests(BusyboxRootfs rootfs, Xunit.Abstractions.ITestOutputHelper output) : ImageTest(rootfs)
{
    private Registry StartRegistry(RegistryMode mode = RegistryMode.Plain) => Registry.Start(mode, Own);

    private static LayerBuilder Marker(string path, string text) => new LayerBuilder().Directory("etc").File(path, text + "\n");

    /// <summary>Pushes the busybox image with <paramref name="layers"/> on top as NAME:TAG; returns what was built.</summary>
    private WrittenImage Push(Registry registry, string nameAndTag, string? format = null, params LayerBuilder[] layers) =>
        Push(registry, Busybox(layers), nameAndTag, format);

    private WrittenImage Push(Registry registry, OciImageBuilder image, string nameAndTag, string? format = null)
    {
        string layout = NewDir("push-" + Guid.NewGuid().ToString("N")[..8]);
        var written = image.WriteLayout(layout, "push");
        registry.Push(layout, "push", nameAndTag, format: format);
        return written;
    }

    /// <summary>The id pull must print: the config digest of what the registry now holds (skopeo
    /// may have converted the manifest, never the config).</summary>
    private static string RegistryImageId(Registry registry, string name, string reference) =>
        OciDigest.Hex(JsonNode.Parse(registry.Manifest(name, reference).Body)!["config"]!["digest"]!.ToString());

    private static void AssertPulled(RunResult pull, string id)
    {
        Assert.True(pull.ExitCode == 0, pull.ToString());
        Assert.Equal(id, LastLine(pull.Stdout));
    }

    [ImageFact(Containers = true, Registry = true)]
    public void Pull_then_run_as_the_readme_shows()
    {
        // isolate pull localhost:5000/busybox && isolate run localhost:5000/busybox echo hi
        using var registry = StartRegistry();
        Push(registry, "busybox:latest", "v2s2", Marker("etc/hello", "hi from the registry"));
        string id = RegistryImageId(registry, "busybox", "latest");
        string image = $"localhost:{registry.Port}/busybox";

        // as docker does, a registry on loopback may answer in plain HTTP without --tls-verify=false
        AssertPulled(Store("pull", image), id);
        var run = RunImage(image, "echo", "hi");
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal("hi\n", run.Stdout);
        var cat = RunImage(image, "cat", "/etc/hello");
        Assert.Equal("hi from the registry\n", cat.Stdout);

        var images = Store("images");
        Assert.Contains(images.Stdout.Split('\n'), l => Regex.IsMatch(l, $@"^localhost:{registry.Port}/busybox\s+latest\s+{id[..12]}\s"));
        var inspect = JsonNode.Parse(Store("image", "inspect", image).Stdout)![0]!;
        Assert.Equal([$"localhost:{registry.Port}/busybox:latest"], inspect["RepoTags"]!.AsArray().Select(t => t!.ToString()));
        string digest = registry.Manifest("busybox", "latest").Digest!;
        Assert.Contains($"localhost:{registry.Port}/busybox@{digest}", inspect["RepoDigests"]!.AsArray().Select(t => t!.ToString()));

        // -q: only the id
        var quiet = Store("pull", "-q", "--tls-verify=false", image + ":latest");
        Assert.True(quiet.ExitCode == 0, quiet.ToString());
        Assert.Equal(id + "\n", quiet.Stdout);
        AssertStoreSettled();
    }

    [ImageFact(Containers = true, Registry = true)]
    public void Pull_over_tls_trusts_the_ca_file_and_refuses_an_unknown_ca()
    {
        using var registry = StartRegistry(RegistryMode.Tls);
        Push(registry, "busybox:1.0", null, Marker("etc/hello", "over tls"));
        string id = RegistryImageId(registry, "busybox", "1.0");

        var unknown = Store("pull", $"127.0.0.1:{registry.Port}/busybox:1.0");
        AssertError(unknown, $"127.0.0.1:{registry.Port}");
        Assert.Empty(Entries(LayersDir));

        AssertPulled(Store("pull", "--ca-file", registry.CaFile, $"127.0.0.1:{registry.Port}/busybox:1.0"), id);
        AssertPulled(Store("pull", "--ca-file", registry.CaFile, $"localhost:{registry.Port}/busybox:1.0"), id); // the name the certificate also has
        AssertPulled(Store("pull", "--tls-verify=false", $"localhost:{registry.Port}/busybox:1.0"), id);
        var run = RunImage($"127.0.0.1:{registry.Port}/busybox:1.0", "cat", "/etc/hello");
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal("over tls\n", run.Stdout);
        AssertStoreSettled();
    }

    [ImageFact(Containers = true, Registry = true)]
    public void Token_auth_login_stores_credentials_pull_uses_them_and_logout_forgets_them()
    {
        using var registry = StartRegistry(RegistryMode.Token);
        Push(registry, "private/busybox:1", null, Marker("etc/hello", "behind a token"));
        string id = RegistryImageId(registry, "private/busybox", "1");
        string image = $"{registry.Host}/private/busybox:1";

        AssertError(Store("pull", "--tls-verify=false", image)); // an anonymous token grants nothing
        Assert.Empty(Entries(LayersDir));

        var wrong = Isolate(["login", "-u", registry.User, "-p", "wrong", "--tls-verify=false", registry.Host]);
        AssertError(wrong, registry.Host);
        Assert.True(!File.Exists(AuthFile) || !File.ReadAllText(AuthFile).Contains(registry.Host, StringComparison.Ordinal), "login stored refused credentials");

        // login checks the credentials and fetches nothing: it makes no image store
        string untouched = Path.Combine(Work, "no-store");
        var login = Isolate(["--storage", untouched, "login", "-u", registry.User, "-p", registry.Password, "--tls-verify=false", registry.Host]);
        Assert.True(login.ExitCode == 0, login.ToString());
        Assert.False(Directory.Exists(untouched), "login made an image store");
        var auths = JsonNode.Parse(File.ReadAllText(AuthFile))!["auths"]!;
        Assert.Equal(Convert.ToBase64String(Encoding.UTF8.GetBytes($"{registry.User}:{registry.Password}")), auths[registry.Host]!["auth"]!.ToString());

        int tokensBefore = registry.Tokens!.Issued;
        AssertPulled(Store("pull", "--tls-verify=false", image), id);
        Assert.True(registry.Tokens.Issued > tokensBefore, "pull got no token with the stored credentials");
        var run = RunImage(image, "cat", "/etc/hello");
        Assert.True(run.ExitCode == 0 && run.Stdout == "behind a token\n", run.ToString());

        var logout = Isolate(["logout", registry.Host]);
        Assert.True(logout.ExitCode == 0, logout.ToString());
        Assert.Null(JsonNode.Parse(File.ReadAllText(AuthFile))!["auths"]?[registry.Host]);
        AssertError(Store("pull", "--tls-verify=false", image));

        AssertPulled(Store("pull", "--tls-verify=false", "--creds", $"{registry.User}:{registry.Password}", image), id);
        AssertStoreSettled();
    }

    [ImageFact(Containers = true, Registry = true, Htpasswd = true)]
    public void Basic_auth_with_password_stdin_creds_and_the_docker_config()
    {
        using var registry = StartRegistry(RegistryMode.Basic);
        Push(registry, "team/busybox:1", null, Marker("etc/hello", "behind basic auth"));
        string id = RegistryImageId(registry, "team/busybox", "1");
        string image = $"{registry.Host}/team/busybox:1";

        AssertError(Store("pull", "--tls-verify=false", image));
        AssertError(Store("pull", "--tls-verify=false", "--creds", $"{registry.User}:wrong", image));
        AssertPulled(Store("pull", "--tls-verify=false", "--creds", $"{registry.User}:{registry.Password}", image), id);

        var login = Isolate(["login", "-u", registry.User, "--password-stdin", "--tls-verify=false", registry.Host], stdin: registry.Password + "\n");
        Assert.True(login.ExitCode == 0, login.ToString());
        AssertPulled(Store("pull", "--tls-verify=false", image), id);
        Assert.True(Isolate(["logout", registry.Host]).ExitCode == 0);

        // docker login's file: ~/.docker/config.json
        string docker = Directory.CreateDirectory(Path.Combine(Home, ".docker")).FullName;
        File.WriteAllText(Path.Combine(docker, "config.json"), new JsonObject
        {
            ["auths"] = new JsonObject
            {
                [registry.Host] = new JsonObject { ["auth"] = Convert.ToBase64String(Encoding.UTF8.GetBytes($"{registry.User}:{registry.Password}")) },
            },
        }.ToJsonString());
        AssertPulled(Store("pull", "--tls-verify=false", image), id);
        AssertStoreSettled();
    }

    [ImageFact(Containers = true, Registry = true)]
    public void Pull_by_digest_runs_that_manifest_and_a_digest_the_registry_lacks_is_an_error()
    {
        using var registry = StartRegistry();
        var pushed = Push(registry, "busybox:1", null, Marker("etc/hello", "by digest"));
        string digest = registry.Manifest("busybox", "1").Digest!;
        Assert.Equal(pushed.ManifestDigest, digest);
        string image = $"{registry.Host}/busybox@{digest}";

        AssertPulled(Store("pull", "--tls-verify=false", image), pushed.Id);
        var run = RunImage(image, "cat", "/etc/hello");
        Assert.True(run.ExitCode == 0 && run.Stdout == "by digest\n", run.ToString());
        var inspect = JsonNode.Parse(Store("image", "inspect", image).Stdout)![0]!;
        Assert.Contains($"{registry.Host}/busybox@{digest}", inspect["RepoDigests"]!.AsArray().Select(d => d!.ToString()));

        string absent = OciDigest.Of(Encoding.UTF8.GetBytes("no such manifest"));
        AssertError(Store("pull", "--tls-verify=false", $"{registry.Host}/busybox@{absent}"), OciDigest.Hex(absent)[..12]);
        AssertError(Store("pull", "--tls-verify=false", $"{registry.Host}/busybox@sha256:abc"), "sha256:abc");
        AssertStoreSettled();
    }

    [ImageFact(Containers = true, Registry = true)]
    public void A_layer_or_manifest_the_registry_serves_corrupted_is_refused_and_nothing_of_it_is_kept()
    {
        using var registry = StartRegistry();
        var pushed = Push(registry, "busybox:1", null, Marker("etc/hello", "not yet corrupted"));
        var top = pushed.Layers[1];
        string blobFile = registry.BlobFile(top.Digest);
        byte[] original = File.ReadAllBytes(blobFile);
        byte[] corrupted = (byte[])original.Clone();
        corrupted[^12] ^= 0xff; // same length: only the digest tells
        File.WriteAllBytes(blobFile, corrupted);

        AssertError(Store("pull", "--tls-verify=false", $"{registry.Host}/busybox:1"), OciDigest.Hex(top.Digest)[..12]);
        Assert.False(Directory.Exists(LayerDir(top.DiffId)), "the corrupted layer was unpacked");
        Assert.False(File.Exists(Path.Combine(BlobsDir, OciDigest.Hex(top.Digest))), "the corrupted blob was kept");
        Assert.Empty(Store("images", "-q").Stdout.Trim());
        AssertStoreSettled();

        // the registry heals: the next pull takes it whole (nothing bad was cached)
        File.WriteAllBytes(blobFile, original);
        AssertPulled(Store("pull", "--tls-verify=false", $"{registry.Host}/busybox:1"), pushed.Id);
        var run = RunImage($"{registry.Host}/busybox:1", "cat", "/etc/hello");
        Assert.True(run.ExitCode == 0 && run.Stdout == "not yet corrupted\n", run.ToString());

        // a manifest asked for by digest whose bytes are not that digest (valid JSON, same length)
        var other = Push(registry, "busybox:2", null, Marker("etc/hello", "manifest"));
        string manifestFile = registry.BlobFile(other.ManifestDigest);
        string manifest = File.ReadAllText(manifestFile);
        string size = $"\"size\":{other.Layers[1].Blob.Length}";
        Assert.Contains(size, manifest);
        string lastDigit = size[^1..];
        File.WriteAllText(manifestFile, manifest.Replace(size, size[..^1] + (lastDigit == "1" ? "2" : "1"), StringComparison.Ordinal));
        var tampered = Store("pull", "--tls-verify=false", $"{registry.Host}/busybox@{other.ManifestDigest}");
        AssertError(tampered, OciDigest.Hex(other.ManifestDigest)[..12]);
        Assert.False(Directory.Exists(LayerDir(other.DiffIds[1])), "a layer of a manifest that failed its digest was unpacked");
        AssertStoreSettled();
    }

    [ImageFact(Containers = true, Registry = true)]
    public void A_multi_platform_index_resolves_to_this_machines_architecture()
    {
        using var registry = StartRegistry();
        var native = Busybox(Marker("etc/arch", OciImageBuilder.HostArchitecture));
        var foreign = Busybox(Marker("etc/arch", OciImageBuilder.ForeignArchitecture));
        foreign.Architecture = OciImageBuilder.ForeignArchitecture;
        string layout = NewDir("multi");
        var (indexDigest, images) = OciImageBuilder.WriteMultiPlatform(layout, "multi", foreign, native); // this machine's second
        registry.Push(layout, "multi", "multi:1", all: true);
        Assert.Equal(indexDigest, registry.Manifest("multi", "1").Digest);

        AssertPulled(Store("pull", "--tls-verify=false", $"{registry.Host}/multi:1"), images[1].Id);
        var run = RunImage($"{registry.Host}/multi:1", "cat", "/etc/arch");
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal(OciImageBuilder.HostArchitecture + "\n", run.Stdout);
        var inspect = JsonNode.Parse(Store("image", "inspect", $"{registry.Host}/multi:1").Stdout)![0]!;
        Assert.Equal(OciImageBuilder.HostArchitecture, inspect["Architecture"]!.ToString());
        Assert.False(Directory.Exists(LayerDir(images[0].DiffIds[1])), "the other architecture's layer was pulled");

        // an index with nothing for this machine: an error that says which platform was wanted
        string foreignOnly = NewDir("foreign-only");
        var lonely = Busybox(Marker("etc/arch", OciImageBuilder.ForeignArchitecture));
        lonely.Architecture = OciImageBuilder.ForeignArchitecture;
        OciImageBuilder.WriteMultiPlatform(foreignOnly, "foreign", lonely);
        registry.Push(foreignOnly, "foreign", "multi:foreign", all: true);
        AssertError(Store("pull", "--tls-verify=false", $"{registry.Host}/multi:foreign"), OciImageBuilder.HostArchitecture);

        // by the index's digest too
        AssertPulled(Store("pull", "--tls-verify=false", $"{registry.Host}/multi@{indexDigest}"), images[1].Id);

        // Docker's manifest list, as docker buildx pushes it
        registry.Push(layout, "multi", "multi:docker", all: true, format: "v2s2");
        Assert.Equal("application/vnd.docker.distribution.manifest.list.v2+json", registry.Manifest("multi", "docker").MediaType);
        var docker = Store("pull", "--tls-verify=false", $"{registry.Host}/multi:docker");
        Assert.True(docker.ExitCode == 0, docker.ToString());
        var dockerRun = RunImage($"{registry.Host}/multi:docker", "cat", "/etc/arch");
        Assert.Equal(OciImageBuilder.HostArchitecture + "\n", dockerRun.Stdout);
        AssertStoreSettled();
    }

    [ImageFact(Containers = true, Registry = true)]
    public void Run_pulls_an_image_on_first_use_and_pull_always_and_never_do_as_they_say()
    {
        using var registry = StartRegistry();
        Push(registry, "app:1", null, Marker("etc/hello", "version one"));
        string image = $"{registry.Host}/app:1";

        AssertError(RunImage("--pull", "never", image, "true"), image);
        Assert.Empty(Entries(LayersDir));

        var first = RunImage("--tls-verify=false", image, "cat", "/etc/hello");
        Assert.True(first.ExitCode == 0, first.ToString());
        Assert.Equal("version one\n", first.Stdout); // progress goes to stderr

        Push(registry, "app:1", null, Marker("etc/hello", "version two"));
        var missing = RunImage("--tls-verify=false", image, "cat", "/etc/hello");
        Assert.Equal("version one\n", missing.Stdout); // present: not pulled again
        var always = RunImage("--pull", "always", "--tls-verify=false", image, "cat", "/etc/hello");
        Assert.True(always.ExitCode == 0, always.ToString());
        Assert.Equal("version two\n", always.Stdout);
        var never = RunImage("--pull", "never", image, "cat", "/etc/hello");
        Assert.Equal("version two\n", never.Stdout);
        AssertStoreSettled();
    }

    /// <summary>A layer of random bytes (it does not compress): big enough that a pull takes a while.</summary>
    private static (LayerBuilder Layer, string Sha256) BigLayer(int megabytes)
    {
        byte[] big = RandomNumberGenerator.GetBytes(megabytes << 20);
        return (new LayerBuilder().Directory("data").File("data/big", big), Convert.ToHexStringLower(SHA256.HashData(big)));
    }

    /// <summary>Whether what a test watches in the store has happened: false while the store is
    /// not there yet, or a file vanished under the look (the pull renames and deletes as it goes).</summary>
    private static bool Observed(Func<bool> condition)
    {
        try
        {
            return condition();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    [ImageFact(Containers = true, Registry = true)]
    public void A_pull_killed_at_any_point_leaves_nothing_used_and_the_next_pull_completes()
    {
        using var registry = StartRegistry();
        var (big, bigHash) = BigLayer(48);
        var pushed = Push(registry, "big:1", null, big, Marker("etc/hello", "resumed"));
        string image = $"{registry.Host}/big:1";
        string bigBlob = OciDigest.Hex(pushed.Layers[1].Digest);
        int seed = System.Environment.TickCount;
        var random = new Random(seed);
        var rounds = new List<string>();

        // kill -9: while a download is in tmp, once the big blob is verified (unpacking), then at random moments
        var whens = new List<(string Name, Func<DateTime, bool> Now)>
        {
            ("downloading", _ => Directory.EnumerateFiles(TmpDir).Any(f => new FileInfo(f).Length > (1 << 20))),
            ("unpacking", _ => File.Exists(Path.Combine(BlobsDir, bigBlob)) || Directory.EnumerateDirectories(TmpDir).Any()),
        };
        for (int i = 0; i < 4; i++)
        {
            int delay = random.Next(5, 600);
            whens.Add(($"after {delay} ms", started => DateTime.UtcNow >= started.AddMilliseconds(delay)));
        }
        int killed = 0;
        foreach (var (name, now) in whens)
        {
            var started = DateTime.UtcNow;
            using var pull = Process.Start(StartInfo(["--storage", Storage, "pull", "--tls-verify=false", image]))!;
            var stdout = pull.StandardOutput.ReadToEndAsync();
            var stderr = pull.StandardError.ReadToEndAsync();
            pull.StandardInput.Close();
            bool kill;
            try
            {
                while (!pull.HasExited && !Observed(() => now(started)) && DateTime.UtcNow < started.AddSeconds(30))
                    Thread.Sleep(1);
            }
            finally
            {
                kill = !pull.HasExited;
                if (kill)
                    pull.Kill(); // SIGKILL
                pull.WaitForExit();
            }
            if (kill)
                killed++;
            rounds.Add(kill ? $"{name}: killed" : $"{name}: ended by itself, exit {pull.ExitCode}, {(DateTime.UtcNow - started).TotalMilliseconds:F0} ms");
            Assert.True(pull.ExitCode is 0 or 137 or -1, $"{name}: {new RunResult(pull.ExitCode, stdout.Result, stderr.Result)}");
            // whatever a kill left, nothing half-made is where a reader looks
            Assert.All(LayerDirs(), l => Assert.Contains("sha256:" + l, pushed.DiffIds));
        }
        string story = $"seed {seed}: {string.Join("; ", rounds)}";
        output.WriteLine(story);
        Assert.True(killed > 0, "no pull was killed part way: " + story);

        var last = Store("pull", "--tls-verify=false", image);
        Assert.True(last.ExitCode == 0, story + "\n" + last);
        Assert.Equal(pushed.Id, LastLine(last.Stdout));
        AssertStoreSettled();
        Assert.All(pushed.DiffIds, d => Assert.True(Directory.Exists(LayerDir(d)), $"{story}: layer {d} missing"));
        var run = RunImage(image, "sh", "-c", "sha256sum /data/big; cat /etc/hello");
        Assert.True(run.ExitCode == 0, story + "\n" + run);
        Assert.Equal($"{bigHash}  /data/big\nresumed\n", run.Stdout);
    }

    [ImageFact(Containers = true, Registry = true)]
    public void Pulls_of_one_image_at_once_all_succeed_and_each_blob_is_downloaded_once()
    {
        using var registry = StartRegistry();
        var (big, _) = BigLayer(24);
        var pushed = Push(registry, "shared:1", null, big);
        string image = $"{registry.Host}/shared:1";

        // four rather than two: a window between one pull's check and another's cleanup shows far more often
        var pulls = Enumerable.Range(0, 4).Select(_ => Process.Start(StartInfo(["--storage", Storage, "pull", "--tls-verify=false", image]))!).ToList();
        var results = pulls.Select(p =>
        {
            p.StandardInput.Close();
            var stdout = p.StandardOutput.ReadToEndAsync();
            var stderr = p.StandardError.ReadToEndAsync();
            return (p, stdout, stderr);
        }).ToList().Select(x =>
        {
            Assert.True(x.p.WaitForExit(TimeSpan.FromSeconds(60)), "a pull did not finish");
            var r = new RunResult(x.p.ExitCode, x.stdout.Result, x.stderr.Result);
            x.p.Dispose();
            return r;
        }).ToList();

        foreach (var result in results)
            AssertPulled(result, pushed.Id);
        foreach (var layer in pushed.Layers)
            Assert.True(registry.BlobDownloads(layer.Digest) == 1,
                $"{layer.Digest} was downloaded {registry.BlobDownloads(layer.Digest)} times:\n{string.Join('\n', registry.Requests)}");
        AssertStoreSettled();
        var run = RunImage(image, "sh", "-c", "test -s /data/big && echo ok");
        Assert.Equal("ok\n", run.Stdout);
    }
}
