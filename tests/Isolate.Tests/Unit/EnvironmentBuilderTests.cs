using Isolate.Plan;

namespace Isolate.Tests.Unit;

public sealed class EnvironmentBuilderTests
{
    private static readonly Dictionary<string, string> Host = new() { ["TERM"] = "screen", ["LANG"] = "C.UTF-8" };

    private static IReadOnlyList<string> Build(bool terminal, params string[] entries) =>
        EnvironmentBuilder.Build("box", entries, k => Host.GetValueOrDefault(k), terminal);

    [Fact]
    public void Defaults_are_path_hostname_and_home()
    {
        Assert.Equal(
            ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOSTNAME=box", "HOME=/root"],
            Build(terminal: false));
    }

    [Fact]
    public void Term_is_set_only_when_a_terminal_is_attached()
    {
        Assert.Contains("TERM=screen", Build(terminal: true));
        Assert.Equal("xterm", EnvironmentBuilder.Lookup(EnvironmentBuilder.Build("b", [], _ => null, true), "TERM"));
        Assert.DoesNotContain(Build(terminal: false), e => e.StartsWith("TERM="));
    }

    [Fact]
    public void User_entries_override_and_add_in_order()
    {
        var env = Build(false, "HOME=/srv", "A=1", "B=x=y", "A=2", "EMPTY=");
        Assert.Equal(["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOSTNAME=box", "HOME=/srv", "A=2", "B=x=y", "EMPTY="], env);
    }

    [Fact]
    public void A_bare_name_copies_the_hosts_value_or_nothing()
    {
        var env = Build(false, "LANG", "NOT_ON_HOST");
        Assert.Contains("LANG=C.UTF-8", env);
        Assert.DoesNotContain(env, e => e.StartsWith("NOT_ON_HOST"));
    }

    [Fact]
    public void An_empty_name_is_an_error()
    {
        var error = Assert.Throws<IsolateException>(() => Build(false, "=value"));
        Assert.Equal("invalid --env '=value': the variable name is empty; use KEY=VALUE", error.Message);
        Assert.Equal(125, error.ExitCode);
    }

    [Fact]
    public void Lookup_takes_the_last_value()
    {
        Assert.Equal("2", EnvironmentBuilder.Lookup(["A=1", "AB=3", "A=2"], "A"));
        Assert.Null(EnvironmentBuilder.Lookup(["AB=3"], "A"));
    }
}
