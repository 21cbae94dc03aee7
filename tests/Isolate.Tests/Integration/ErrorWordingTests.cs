using System.Text.RegularExpressions;
using Isolate.Tests.Support;

namespace Isolate.Tests.Integration;

/// <summary>Every error the built binary prints is a sentence in Isolate's words: one line,
/// naming the file or value and errno's meaning or where the JSON went wrong, never a .NET
/// resource key (the binary is built with UseSystemResourceKeys, so an exception's Message is
/// one: IO_FileNotFound_FileName, ExpectedStartOfPropertyNotFound).</summary>
public sealed partial class ErrorWordingTests : ContainerTest, IDisposable
{
    private readonly string _work;

    public ErrorWordingTests(BusyboxRootfs rootfs) : base(rootfs)
    {
        _work = Own(Directory.CreateTempSubdirectory("isolate-errors-").FullName);
        File.SetUnixFileMode(_work, (UnixFileMode)0x1ED); // 0755: the unprivileged run reaches its files
    }

    void IDisposable.Dispose()
    {
        Directory.Delete(_work, recursive: true);
        Dispose();
    }

    /// <summary>An exit of 125 and exactly <paramref name="expected"/> on stderr, with no
    /// resource key in it.</summary>
    private static void Refused(string expected, RunResult result)
    {
        Assert.Equal(125, result.ExitCode);
        Assert.Equal(expected + "\n", result.Stderr);
        Assert.DoesNotMatch(ResourceKey(), result.Stderr);
    }

    [GeneratedRegex(@"[A-Z][A-Za-z]+_[A-Za-z_]+|[a-z][A-Z][a-z]+NotFound|Path: \$|LineNumber|BytePositionInLine")]
    private static partial Regex ResourceKey();

    [ContainerFact]
    public void An_env_file_that_is_missing_or_a_directory_is_named_with_errnos_meaning()
    {
        Refused("isolate: --env-file /no/such/env: No such file or directory",
            RunIn(["--env-file", "/no/such/env"], "true"));
        Refused($"isolate: --env-file {_work}: Is a directory", RunIn(["--env-file", _work], "true"));
    }

    [ContainerFact(Needs = "/usr/bin/setpriv", Why = "to read a file as a user who may not")]
    public void An_env_file_the_user_may_not_read_is_permission_denied()
    {
        string file = Path.Combine(_work, "secret.env");
        File.WriteAllText(file, "A=1\n");
        File.SetUnixFileMode(file, UnixFileMode.None);
        var result = IsolateBinary.RunFromShell(
            $"exec setpriv --reuid=65534 --regid=65534 --clear-groups \"$ISOLATE\" run --env-file {file} -- true");
        Refused($"isolate: --env-file {file}: Permission denied", result);
    }

    [ContainerFact]
    public void A_seccomp_profile_that_is_not_json_says_where()
    {
        string profile = Path.Combine(_work, "profile.json");
        File.WriteAllText(profile, "{ \"defaultAction\": \"SCMP_ACT_ALLOW\", b }");
        Refused($"isolate: seccomp profile {profile}: line 1, byte 38: not valid JSON: expected a property name in double quotes",
            RunIn(["--security-opt", $"seccomp={profile}"], "true"));
        Refused("isolate: seccomp profile /no/such/profile.json: No such file or directory",
            RunIn(["--security-opt", "seccomp=/no/such/profile.json"], "true"));
        File.WriteAllText(profile, "{\"defaultAction\": \"SCMP_ACT_ALLOW\",\n \"syscalls\": [1]}");
        Refused($"isolate: seccomp profile {profile}: line 2: syscalls[0]: expected an object",
            RunIn(["--security-opt", $"seccomp={profile}"], "true"));
    }

    [ContainerFact]
    public void A_config_json_that_is_not_json_says_where()
    {
        string bundle = Directory.CreateDirectory(Path.Combine(_work, "bundle")).FullName;
        File.WriteAllText(Path.Combine(bundle, "config.json"), "{\n  \"ociVersion\": \"1.0.2\",\n  process: {}\n}");
        string root = Path.Combine(_work, "state");
        Refused("isolate: config.json: line 3, byte 3: not valid JSON: expected a property name in double quotes",
            IsolateBinary.Run("--root", root, "create", "--bundle", bundle, "bad-json"));
        Refused("isolate: config.json: line 3, byte 3: not valid JSON: expected a property name in double quotes",
            IsolateBinary.Run("--root", root, "run", "--bundle", bundle, "bad-json"));
        Assert.Empty(Directory.Exists(root) ? Directory.GetDirectories(root) : []);
    }
}
