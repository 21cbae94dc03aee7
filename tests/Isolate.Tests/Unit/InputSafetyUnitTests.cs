using System.Text.Json;
using Isolate.Oci;
using Isolate.Security;

namespace Isolate.Tests.Unit;

/// <summary>The pure halves of InputSafetyTests: (uid_t)-1 and NUL bytes refused before any
/// container exists, with the field named.</summary>
public sealed class InputSafetyUnitTests : IDisposable
{
    private readonly string _bundle;

    public InputSafetyUnitTests()
    {
        _bundle = Directory.CreateTempSubdirectory("isolate-inputsafety-unit-").FullName;
        Directory.CreateDirectory(Path.Combine(_bundle, "rootfs"));
    }

    public void Dispose() => Directory.Delete(_bundle, recursive: true);

    private void Parse(Action<OciConfig> edit)
    {
        var config = OciDefaultSpec.Build(false, 1000, 1001);
        edit(config);
        OciBundleLoader.Parse(JsonSerializer.Serialize(config, OciJsonContext.Default.OciConfig), _bundle, "x", new OciHost(0, 0, 40));
    }

    [Theory]
    [InlineData("0", true)]
    [InlineData("4294967294", true)]
    [InlineData("4294967295", false)]
    [InlineData("4294967296", false)]
    [InlineData("-1", false)]
    public void Ids_below_minus_one_parse(string text, bool valid) => Assert.Equal(valid, Ids.TryParse(text, out _));

    [Theory]
    [InlineData("4294967295", "uid 4294967295 is (uid_t)-1")]
    [InlineData("0:4294967295", "gid 4294967295 is (uid_t)-1")]
    public void The_user_resolver_refuses_minus_one(string user, string words) =>
        Assert.Contains(words, Assert.Throws<IsolateException>(() => UserResolver.Resolve(user, [], null, null)).Message);

    [Fact]
    public void A_passwd_entry_with_minus_one_is_refused_too() =>
        Assert.Contains("uid 4294967295 is (uid_t)-1", Assert.Throws<IsolateException>(
            () => UserResolver.Resolve("evil", [], "evil:x:4294967295:0::/:/bin/sh\n", null)).Message);

    [Fact]
    public void A_nul_in_a_sysctl_key_is_refused_naming_it()
    {
        var e = Assert.Throws<IsolateException>(() => Parse(c => c.Linux!.Sysctl = new() { ["kernel.a\0b"] = "1" }));
        Assert.Equal("config.json: a key in linux.sysctl: holds a NUL byte (\\u0000), which would cut the value short where the kernel reads it as a C string; remove it", e.Message);
    }

    [Fact]
    public void A_nul_in_annotations_is_kept() =>
        Parse(c => c.Annotations = new() { ["k\0"] = "v\0" });
}
