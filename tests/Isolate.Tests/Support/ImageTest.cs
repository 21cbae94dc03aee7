using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace Isolate.Tests.Support;

/// <summary>A test of the image verbs: its own image store (--storage), state root (--root), auth
/// file (REGISTRY_AUTH_FILE) and HOME, all in one temp directory of its own, so it reads and
/// leaves nothing of anyone else's. Containers it left are removed (rm -f), and the directory
/// with them, before the scoped leak checks of <see cref="ContainerTest"/> run.</summary>
public abstract partial class ImageTest : ContainerTest, IDisposable
{
    protected ImageTest(BusyboxRootfs rootfs) : base(rootfs)
    {
        Work = Own(Directory.CreateTempSubdirectory("isolate-test-image-").FullName);
        Storage = Path.Combine(Work, "storage"); // made by Isolate, as the default one would be
        StateRoot = Directory.CreateDirectory(Path.Combine(Work, "state")).FullName;
        Home = Directory.CreateDirectory(Path.Combine(Work, "home")).FullName;
        AuthFile = Path.Combine(Work, "auth.json");
    }

    /// <summary>The test's temp directory; everything below is in it.</summary>
    protected string Work { get; }

    /// <summary>The image store: --storage.</summary>
    protected string Storage { get; }

    /// <summary>The containers' state: --root.</summary>
    protected string StateRoot { get; }

    /// <summary>HOME for Isolate (so ~/.docker/config.json and ~/.config are the test's).</summary>
    protected string Home { get; }

    /// <summary>REGISTRY_AUTH_FILE: where login stores credentials.</summary>
    protected string AuthFile { get; }

    /// <summary>The environment every image command gets on top of the test's.</summary>
    protected Dictionary<string, string?> ImageEnvironment() => new()
    {
        ["HOME"] = Home,
        ["XDG_CONFIG_HOME"] = Path.Combine(Home, ".config"),
        ["REGISTRY_AUTH_FILE"] = AuthFile,
    };

    /// <summary>isolate ARGS... with the test's environment (and stdin, when given).</summary>
    protected RunResult Isolate(IEnumerable<string> args, string? stdin = null, Dictionary<string, string?>? env = null, TimeSpan? timeout = null) =>
        IsolateBinary.RunToEnd(StartInfo(args, env), stdin, timeout);

    /// <summary>The start of an isolate command, stdio redirected, with the test's environment.</summary>
    protected ProcessStartInfo StartInfo(IEnumerable<string> args, Dictionary<string, string?>? env = null)
    {
        var info = IsolateBinary.StartInfo(args);
        foreach (var (key, value) in ImageEnvironment())
            info.Environment[key] = value;
        foreach (var (key, value) in env ?? [])
            info.Environment[key] = value;
        return info;
    }

    /// <summary>isolate --storage STORE ARGS...</summary>
    protected RunResult Store(params string[] args) => Isolate(["--storage", Storage, .. args]);

    /// <summary>isolate --root STATE --storage STORE run ARGS...</summary>
    protected RunResult RunImage(params string[] args) => Isolate(["--root", StateRoot, "--storage", Storage, "run", .. args]);

    /// <summary>isolate --root STATE ARGS... (ps, exec, rm ...).</summary>
    protected RunResult State(params string[] args) => Isolate(["--root", StateRoot, .. args]);

    /// <summary>A new directory in the test's temp directory.</summary>
    protected string NewDir(string name) => Directory.CreateDirectory(Path.Combine(Work, name)).FullName;

    /// <summary>The busybox root as one layer, built once per run and shared by the images built on it.</summary>
    protected Layer BusyboxLayer => OciImageBuilder.TreeLayer(Rootfs.Path);

    /// <summary>An image of the busybox root and then <paramref name="layers"/>, running `sh` unless told otherwise.</summary>
    protected OciImageBuilder Busybox(params LayerBuilder[] layers)
    {
        var image = new OciImageBuilder { Cmd = ["sh"] }.AddLayer(BusyboxLayer);
        foreach (var layer in layers)
            image.AddLayer(layer);
        return image;
    }

    /// <summary>Writes <paramref name="image"/> as an OCI layout named <paramref name="refName"/>,
    /// loads it (with <paramref name="name"/> as the repository when given) and checks it loaded.</summary>
    protected WrittenImage Load(OciImageBuilder image, string refName, string? name = null)
    {
        string layout = Path.Combine(Work, "layout-" + Guid.NewGuid().ToString("N")[..8]);
        var written = image.WriteLayout(layout, refName);
        var load = Store(name == null ? ["load", "-i", layout] : ["load", "-i", layout, name]);
        Assert.True(load.ExitCode == 0, load.ToString());
        return written;
    }

    // ---- the store, as the contract lays it out

    protected string LayersDir => Path.Combine(Storage, "layers");

    protected string BlobsDir => Path.Combine(Storage, "blobs", "sha256");

    protected string TmpDir => Path.Combine(Storage, "tmp");

    protected string LayerDir(string diffId) => Path.Combine(LayersDir, OciDigest.Hex(diffId));

    protected static string[] Entries(string dir) =>
        Directory.Exists(dir) ? Directory.GetFileSystemEntries(dir).Select(Path.GetFileName).OfType<string>().Order(StringComparer.Ordinal).ToArray() : [];

    /// <summary>The names of the unpacked layers' directories (the store may keep files beside them).</summary>
    protected string[] LayerDirs() =>
        Directory.Exists(LayersDir) ? Directory.GetDirectories(LayersDir).Select(Path.GetFileName).OfType<string>().Order(StringComparer.Ordinal).ToArray() : [];

    /// <summary>What work in progress left in the store's tmp: anything at all, once a verb has
    /// ended (each writer removes its own lock file; a waiter re-checks the file it locked).</summary>
    protected string[] TmpLeftovers() => Entries(TmpDir);

    /// <summary>What a store must be after any verb ends: nothing half-done in tmp, each blob's
    /// bytes match its name, and each unpacked layer is named by a diff id.</summary>
    protected void AssertStoreSettled()
    {
        Assert.True(TmpLeftovers().Length == 0, $"left in {TmpDir}: {string.Join(", ", TmpLeftovers())}");
        foreach (string blob in Directory.Exists(BlobsDir) ? Directory.GetFiles(BlobsDir) : [])
        {
            using var stream = File.OpenRead(blob);
            Assert.Equal(Path.GetFileName(blob), Convert.ToHexStringLower(SHA256.HashData(stream)));
        }
        Assert.All(LayerDirs(), name => Assert.Matches("^[0-9a-f]{64}$", name));
    }

    /// <summary>Isolate's error convention: exit 125 and one "isolate: " line, which names each of
    /// <paramref name="mentions"/> (what is wrong). Progress lines may come before it.</summary>
    protected static void AssertError(RunResult result, params string[] mentions)
    {
        Assert.True(result.ExitCode == 125, result.ToString());
        var errors = result.Stderr.Split('\n').Where(l => l.StartsWith("isolate: ", StringComparison.Ordinal)).ToList();
        Assert.True(errors.Count == 1, $"expected one 'isolate: ' line:\n{result}");
        foreach (string mention in mentions)
            Assert.True(errors[0].Contains(mention, StringComparison.Ordinal), $"the error does not name '{mention}':\n{result}");
    }

    /// <summary>The last line of stdout: the image id pull prints.</summary>
    protected static string LastLine(string stdout) => stdout.TrimEnd('\n').Split('\n')[^1];

    /// <summary>A host program, to its end.</summary>
    protected static RunResult Host(string program, params string[] args) => Registry.Run(program, args);

    /// <summary>An extended attribute of a host file (not followed if a link), or null.</summary>
    protected static string? HostXattr(string path, string name)
    {
        var buffer = new byte[4096];
        long size = lgetxattr(path, name, buffer, buffer.Length);
        return size < 0 ? null : System.Text.Encoding.UTF8.GetString(buffer, 0, (int)size);
    }

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial long lgetxattr(string path, string name, byte[] value, long size);

    void IDisposable.Dispose()
    {
        try
        {
            foreach (string dir in Directory.Exists(StateRoot) ? Directory.GetDirectories(StateRoot) : [])
            {
                if (!Path.GetFileName(dir).StartsWith('.'))
                    State("rm", "-f", Path.GetFileName(dir));
            }
        }
        finally
        {
            try
            {
                Dispose();
            }
            finally
            {
                // never a recursive delete through a mount a failed test left
                if (!File.ReadAllText("/proc/self/mountinfo").Contains(Work, StringComparison.Ordinal))
                    Directory.Delete(Work, recursive: true);
            }
        }
    }
}

/// <summary>The host programs the image tests use, and why a test cannot run without them.</summary>
public sealed class ImageTools
{
    /// <summary>Starts containers: needs root.</summary>
    public bool Containers { get; set; }

    /// <summary>Starts a registry: docker-registry.</summary>
    public bool Registry { get; set; }

    /// <summary>Basic auth: htpasswd makes the bcrypt file docker-registry reads.</summary>
    public bool Htpasswd { get; set; }

    /// <summary>zstd layers: .NET has no zstd, the zstd tool makes them.</summary>
    public bool Zstd { get; set; }

    /// <summary>Runs isolate as the test user (RootlessSetup): setpriv and user namespaces.</summary>
    public bool Rootless { get; set; }

    /// <summary>Why a test needing these cannot run here, or null. skopeo is always needed: it
    /// writes docker-archives and pushes to the registries.</summary>
    public string? Why()
    {
        if (Containers && !Environment.IsPrivilegedProcess)
            return "needs root: containers create namespaces and mounts";
        if (Rootless && RootlessSetup.Unavailable is { } rootless)
            return rootless;
        var needed = new List<(string File, string Package)> { (Support.Registry.Skopeo, "skopeo") };
        if (Registry)
            needed.Add((Support.Registry.Program, "docker-registry"));
        if (Htpasswd)
            needed.Add((Support.Registry.Htpasswd, "apache2-utils"));
        if (Zstd)
            needed.Add(("/usr/bin/zstd", "zstd"));
        var missing = needed.Where(n => !File.Exists(n.File)).ToList();
        return missing.Count == 0 ? null
            : $"needs {string.Join(", ", missing.Select(m => m.File))} (apt-get install {string.Join(' ', missing.Select(m => m.Package))}): not installed here";
    }
}

/// <summary>An image test: skipped, saying why, when a program it needs is missing (CI installs
/// them all) or, for one that starts containers, when not root.</summary>
public sealed class ImageFactAttribute : FactAttribute
{
    private readonly ImageTools _tools = new();

    public ImageFactAttribute() => Skip = _tools.Why();

    public bool Containers { get => _tools.Containers; set { _tools.Containers = value; Skip = _tools.Why(); } }

    public bool Registry { get => _tools.Registry; set { _tools.Registry = value; Skip = _tools.Why(); } }

    public bool Htpasswd { get => _tools.Htpasswd; set { _tools.Htpasswd = value; Skip = _tools.Why(); } }

    public bool Zstd { get => _tools.Zstd; set { _tools.Zstd = value; Skip = _tools.Why(); } }

    public bool Rootless { get => _tools.Rootless; set { _tools.Rootless = value; Skip = _tools.Why(); } }
}

public sealed class ImageTheoryAttribute : TheoryAttribute
{
    private readonly ImageTools _tools = new();

    public ImageTheoryAttribute() => Skip = _tools.Why();

    public bool Containers { get => _tools.Containers; set { _tools.Containers = value; Skip = _tools.Why(); } }

    public bool Registry { get => _tools.Registry; set { _tools.Registry = value; Skip = _tools.Why(); } }
}
