using Isolate.Spec;

namespace Isolate.Tests.Unit;

public sealed class ContainerNamesTests
{
    [Fact]
    public void Ids_are_12_hex_digits_and_differ()
    {
        var ids = Enumerable.Range(0, 100).Select(_ => ContainerNames.NewId()).ToList();
        Assert.All(ids, id => Assert.Matches("^[0-9a-f]{12}$", id));
        Assert.Equal(ids.Count, ids.Distinct().Count());
    }

    [Theory]
    [InlineData("web")]
    [InlineData("web-1.example.com")]
    [InlineData("A1")]
    public void Valid_hostnames_pass(string name) => ContainerNames.ValidateHostname(name);

    [Theory]
    [InlineData("")]
    [InlineData("under_score")]
    [InlineData("-lead")]
    [InlineData("trail-")]
    [InlineData("a..b")]
    [InlineData("sp ace")]
    public void Invalid_hostnames_fail(string name) =>
        Assert.Throws<IsolateException>(() => ContainerNames.ValidateHostname(name));

    [Fact]
    public void Hostnames_longer_than_64_fail() =>
        Assert.Throws<IsolateException>(() => ContainerNames.ValidateHostname(new string('a', 65)));
}
