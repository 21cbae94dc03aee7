using System.Text.Json.Nodes;
using Isolate.Tests.Support;

namespace Isolate.Tests.Integration;

/// <summary>The mount option tmpcopyup (crun's and runc's extension; podman puts it on every
/// --tmpfs): the tmpfs mounted on a directory starts with what the directory held, files,
/// directories and symlinks with their modes, owners and contents, and writes stay in the
/// tmpfs. Checked from inside with ls, stat, cat and readlink, and against runc 1.1.5 on
/// the same bundle (same listing, modes and owners).</summary>
public sealed class OciTmpcopyupTests : ContainerTest, IDisposable
{
    private readonly string _work;
    private readonly string _root;
    private readonly string _bundle;
    private readonly RootfsVariant _variant;

    private const string Inspect =
        "ls -ln /data | sed 1d | awk '{print $1, $3, $4, $NF}'; echo ---; " +
        "stat -c '%a %u %g %n' /data /data/file /data/sub /data/sub/inner /data/link; echo ---; " +
        "cat /data/file /data/sub/inner; readlink /data/link; echo ---; " +
        "echo new > /data/new && echo changed > /data/file && cat /data/new /data/file; echo ---; " +
        "grep ' /data ' /proc/self/mountinfo";

    public OciTmpcopyupTests(BusyboxRootfs rootfs) : base(rootfs)
    {
        _work = Own(Directory.CreateTempSubdirectory("isolate-tmpcopyup-").FullName);
        _root = Path.Combine(_work, "state");
        _bundle = Path.Combine(_work, "bundle");
        Directory.CreateDirectory(_bundle);
        _variant = Rootfs.CreateVariant();
        MakeData();
    }

    void IDisposable.Dispose()
    {
        foreach (string dir in Directory.Exists(_root) ? Directory.GetDirectories(_root) : [])
            IsolateBinary.Run(["--root", _root, "delete", "--force", Path.GetFileName(dir)]);
        Dispose();
        _variant.Dispose();
        Directory.Delete(_work, recursive: true);
    }

    /// <summary>/data (0750, 1000:1000) with file (0640, 1000:1000), sub/ (0710, 0:50) with
    /// inner (0600), and link -> file (owned 1000:1000), in the rootfs itself.</summary>
    private void MakeData()
    {
        string data = Directory.CreateDirectory(_variant.HostPath("/data")).FullName;
        File.WriteAllText(Path.Combine(data, "file"), "from the image\n");
        Directory.CreateDirectory(Path.Combine(data, "sub"));
        File.WriteAllText(Path.Combine(data, "sub", "inner"), "inner\n");
        File.CreateSymbolicLink(Path.Combine(data, "link"), "file");
        File.SetUnixFileMode(data, (UnixFileMode)0x1E8); // 0750
        File.SetUnixFileMode(Path.Combine(data, "file"), (UnixFileMode)0x1A0); // 0640
        File.SetUnixFileMode(Path.Combine(data, "sub"), (UnixFileMode)0x1C8); // 0710
        File.SetUnixFileMode(Path.Combine(data, "sub", "inner"), (UnixFileMode)0x180); // 0600
        Host("chown", "-h", "1000:1000", data, Path.Combine(data, "file"), Path.Combine(data, "link"));
        Host("chown", "0:50", Path.Combine(data, "sub"));
    }

    private static void Host(params string[] command)
    {
        var result = RootlessSetup.Host(command);
        Assert.True(result.ExitCode == 0, result.ToString());
    }

    private void MakeBundle(string script, params JsonObject[] mounts)
    {
        var config = OciBundleWriter.Start(_bundle, _variant.Path, ["sh", "-c", script]);
        // root without CAP_DAC_OVERRIDE (runc's default set) could not read a file of uid 1000
        foreach (var set in config["process"]!["capabilities"]!.AsObject())
            set.Value!.AsArray().Add("CAP_DAC_OVERRIDE");
        foreach (var mount in mounts)
            config["mounts"]!.AsArray().Add(mount);
        OciBundleWriter.Save(_bundle, config);
    }

    private RunResult Run(string id) =>
        IsolateBinary.Run(["--root", _root, "run", "--bundle", _bundle, $"tmpcopyup-{id}-{Guid.NewGuid().ToString("N")[..8]}"]);

    private static JsonObject Mount(string destination, string type, string source, params string[] options) =>
        new()
        {
            ["destination"] = destination,
            ["type"] = type,
            ["source"] = source,
            ["options"] = new JsonArray(options.Select(o => (JsonNode)o!).ToArray()),
        };

    /// <summary>The image's /data as it was made: the container's writes did not reach it.</summary>
    private void AssertImageUntouched()
    {
        Assert.False(File.Exists(_variant.HostPath("/data/new")), "a write to the tmpfs reached the rootfs");
        Assert.Equal("from the image\n", File.ReadAllText(_variant.HostPath("/data/file")));
    }

    [ContainerFact]
    public void Tmpcopyup_copies_the_directory_with_modes_owners_and_links()
    {
        MakeBundle(Inspect, Mount("/data", "tmpfs", "tmpfs", "nosuid", "nodev", "tmpcopyup"));
        var result = Run("copy");
        Assert.True(result.ExitCode == 0, result.ToString());
        string[] parts = result.Stdout.Split("---\n");
        Assert.True(parts.Length == 5, result.ToString());
        // runc 1.1.5 on the same bundle lists the same three entries, modes and owners
        Assert.Equal(
            "-rw-r----- 1000 1000 file\n" +
            "lrwxrwxrwx 1000 1000 file\n" + // ls -ln ends a link's line with its target
            "drwx--x--- 0 50 sub\n", parts[0]);
        // the tmpfs's root: the directory's mode, owned by root, as runc 1.1.5 gives it
        Assert.Equal(
            "750 0 0 /data\n" +
            "640 1000 1000 /data/file\n" +
            "710 0 50 /data/sub\n" +
            "600 0 0 /data/sub/inner\n" +
            "777 1000 1000 /data/link\n", parts[1]);
        Assert.Equal("from the image\ninner\nfile\n", parts[2]);
        Assert.Equal("new\nchanged\n", parts[3]);
        Assert.Contains(" - tmpfs tmpfs ", parts[4]);
        AssertImageUntouched();
    }

    /// <summary>podman's way: create, then start; the container's stdout on a file.</summary>
    [ContainerFact]
    public void Create_then_start_copies_too()
    {
        MakeBundle("cat /data/file /data/sub/inner", Mount("/data", "tmpfs", "tmpfs", "rw", "tmpcopyup"));
        string id = $"tmpcopyup-cs-{Guid.NewGuid().ToString("N")[..8]}";
        string output = Path.Combine(_work, "out");
        var create = IsolateBinary.RunFromShell(
            $"exec \"$ISOLATE\" --root {_root} create --bundle {_bundle} {id} </dev/null >{output} 2>{_work}/err");
        Assert.True(create.ExitCode == 0, create + File.ReadAllText(Path.Combine(_work, "err")));
        var start = IsolateBinary.Run(["--root", _root, "start", id]);
        Assert.True(start.ExitCode == 0, start.ToString());
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (!IsolateBinary.Run(["--root", _root, "state", id]).Stdout.Contains("\"stopped\""))
        {
            Assert.True(DateTime.UtcNow < deadline, "the container never stopped");
            Thread.Sleep(20);
        }
        Assert.Equal("from the image\ninner\n", File.ReadAllText(output));
    }

    [ContainerFact]
    public void A_read_only_tmpfs_is_filled_before_it_becomes_read_only()
    {
        MakeBundle("cat /data/file /data/sub/inner; touch /data/new 2>/dev/null && echo writable; grep ' /data ' /proc/self/mountinfo",
            Mount("/data", "tmpfs", "tmpfs", "ro", "nosuid", "tmpcopyup"));
        var result = Run("ro");
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.StartsWith("from the image\ninner\n", result.Stdout);
        Assert.DoesNotContain("writable", result.Stdout);
        Assert.Matches(@" /data ro,nosuid[ ,].* - tmpfs ", result.Stdout);
        AssertImageUntouched();
    }

    [ContainerFact]
    public void Notmpcopyup_leaves_the_tmpfs_empty()
    {
        MakeBundle("ls -A /data; stat -c '%a %n' /data; grep -c ' /data .* - tmpfs ' /proc/self/mountinfo",
            Mount("/data", "tmpfs", "tmpfs", "tmpcopyup", "nosuid", "notmpcopyup"));
        var result = Run("off");
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal("750 /data\n1\n", result.Stdout); // empty; the mode kept as runc keeps it
    }

    [ContainerFact]
    public void A_tmpfs_without_the_option_starts_empty()
    {
        MakeBundle("ls -A /data; echo end", Mount("/data", "tmpfs", "tmpfs", "nosuid"));
        var result = Run("bare");
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal("end\n", result.Stdout);
    }

    [ContainerFact]
    public void Tmpcopyup_on_a_new_directory_mounts_an_empty_tmpfs()
    {
        MakeBundle("ls -A /fresh; echo end", Mount("/fresh", "tmpfs", "tmpfs", "tmpcopyup"));
        var result = Run("fresh");
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal("end\n", result.Stdout);
    }

    [ContainerFact]
    public void Tmpcopyup_on_a_bind_mount_is_refused_with_one_line()
    {
        MakeBundle("true", Mount("/data", "bind", _work, "rbind", "tmpcopyup"));
        var result = Run("bind");
        Assert.Equal(125, result.ExitCode);
        Assert.StartsWith("isolate: config.json: mounts[", result.Stderr);
        Assert.Contains(".options[1]: 'tmpcopyup'", result.Stderr);
        Assert.Single(result.Stderr.Trim().Split('\n'));
        Assert.Empty(Directory.Exists(_root) ? Directory.GetDirectories(_root) : []);
    }

    [ContainerFact]
    public void A_tree_deeper_than_the_copy_goes_fails_naming_the_mount()
    {
        string deep = _variant.HostPath("/deep");
        Directory.CreateDirectory(Path.Combine([deep, .. Enumerable.Repeat("d", 40)]));
        MakeBundle("true", Mount("/deep", "tmpfs", "tmpfs", "tmpcopyup"));
        var result = Run("deep");
        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("tmpcopyup", result.Stderr);
        Assert.Contains("/deep", result.Stderr);
        Assert.Contains("32 levels", result.Stderr);
    }
}
