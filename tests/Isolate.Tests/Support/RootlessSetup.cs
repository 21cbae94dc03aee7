using System.Diagnostics;

namespace Isolate.Tests.Support;

/// <summary>What a non-root user needs to run Isolate: a copy of the binary it may execute
/// (the build tree may sit under root's 0700 home) and a root filesystem of its own, owned
/// by it as one it unpacked itself would be. The user is a bare uid with no passwd entry.</summary>
public sealed class RootlessSetup : IDisposable
{
    public const int Uid = 4242;

    public string Dir { get; }
    public string Binary { get; }
    public string Rootfs { get; }

    /// <summary>Why rootless tests cannot run here, or null: asked once, of the kernel itself.</summary>
    public static string? Unavailable => LazyUnavailable.Value;

    private static readonly Lazy<string?> LazyUnavailable = new(() =>
    {
        if (!Environment.IsPrivilegedProcess)
            return "needs root, to become an unprivileged test user";
        var probe = AsUser("unshare", "--user", "--map-root-user", "true");
        return probe.ExitCode == 0 ? null
            : $"this machine does not let unprivileged users create user namespaces ({probe.Stderr.Trim()})";
    });

    public RootlessSetup()
    {
        Dir = Directory.CreateTempSubdirectory("isolate-test-rootless-").FullName;
        File.SetUnixFileMode(Dir, (UnixFileMode)0x1ED); // 0755
        Binary = Path.Combine(Dir, "isolate");
        Rootfs = Path.Combine(Dir, "rootfs");
        if (Unavailable != null)
            return;
        File.Copy(IsolateBinary.Path, Binary);
        File.SetUnixFileMode(Binary, (UnixFileMode)0x1ED);
    }

    /// <summary>The shared busybox root, copied (not hard-linked) and given to the test user.</summary>
    public void PrepareRootfs(string template)
    {
        if (Directory.Exists(Rootfs))
            return;
        Check(Host("cp", "-a", template, Rootfs));
        Check(Host("chown", "-R", $"{Uid}:{Uid}", Rootfs));
    }

    /// <summary>Runs a command as the test user (setpriv: real and effective uid and gid
    /// 4242, no supplementary groups), with the environment a login would not have.</summary>
    public static RunResult AsUser(params string[] command) => IsolateBinary.RunToEnd(Info("setpriv",
        ["--reuid", Uid.ToString(), "--regid", Uid.ToString(), "--clear-groups", "--", .. command]), TimeSpan.FromSeconds(60));

    public RunResult Isolate(params string[] args) => AsUser([Binary, .. args]);

    public static RunResult Host(params string[] command) => IsolateBinary.RunToEnd(Info(command[0], command[1..]));

    private static ProcessStartInfo Info(string file, IEnumerable<string> args)
    {
        var info = new ProcessStartInfo(file, args)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = "/",
        };
        return info;
    }

    private static void Check(RunResult result)
    {
        if (result.ExitCode != 0)
            throw new InvalidOperationException(result.ToString());
    }

    public void Dispose() => Directory.Delete(Dir, recursive: true);
}

/// <summary>A test that runs Isolate as an unprivileged user: skipped, saying why, where the
/// machine does not allow unprivileged user namespaces (or the tests do not run as root).</summary>
public sealed class RootlessFactAttribute : FactAttribute
{
    public RootlessFactAttribute()
    {
        if (RootlessSetup.Unavailable is { } reason)
            Skip = reason;
    }
}
