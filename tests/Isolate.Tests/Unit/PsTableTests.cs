using Isolate.Cli.Commands;
using Isolate.Containers;
using Isolate.State;

namespace Isolate.Tests.Unit;

/// <summary>docker ps's table from recorded states, at a fixed "now": status words with the
/// time since the start or the end, OOM kills, and columns that a long entry cannot break.</summary>
public sealed class PsTableTests
{
    private static readonly DateTime Now = new(2026, 12, 5, 12, 0, 0, DateTimeKind.Utc);

    private static string Ago(TimeSpan span) => (Now - span).ToString("yyyy-MM-ddTHH:mm:ss.fffffffZ", System.Globalization.CultureInfo.InvariantCulture);

    private static ContainerState State(string id, TimeSpan age, string[]? command = null, int? exit = null, TimeSpan? endedAgo = null, bool oom = false) => new()
    {
        Id = id,
        Kind = ContainerKind.Detached,
        Bundle = "",
        Pid = 4242,
        Created = Ago(age),
        Command = [.. command ?? ["sleep", "100"]],
        ExitCode = exit,
        Finished = endedAgo is { } e ? Ago(e) : null,
        OomKilled = oom,
    };

    [Theory]
    [InlineData(0.4, "Less than a second")]
    [InlineData(1, "1 second")]
    [InlineData(59, "59 seconds")]
    [InlineData(90, "About a minute")]
    [InlineData(300, "5 minutes")]
    [InlineData(3600, "About an hour")]
    [InlineData(3 * 3600, "3 hours")]
    [InlineData(3 * 86400, "3 days")]
    [InlineData(20 * 86400, "2 weeks")]
    [InlineData(90 * 86400, "3 months")]
    [InlineData(800 * 86400, "2 years")]
    public void Durations_read_as_dockers(double seconds, string expected)
    {
        Assert.Equal(expected, DetachedVerbs.HumanDuration(TimeSpan.FromSeconds(seconds)));
    }

    [Fact]
    public void Status_says_how_long_it_has_run_or_how_long_ago_it_ended_and_why()
    {
        Assert.Equal("Up 5 minutes", DetachedVerbs.Describe(State("a", TimeSpan.FromMinutes(5)), ContainerStatus.Running, Now));
        Assert.Equal("Up 3 hours (Paused)", DetachedVerbs.Describe(State("a", TimeSpan.FromHours(3)), ContainerStatus.Paused, Now));
        Assert.Equal("Exited (0) 2 minutes ago",
            DetachedVerbs.Describe(State("a", TimeSpan.FromMinutes(10), exit: 0, endedAgo: TimeSpan.FromMinutes(2)), ContainerStatus.Stopped, Now));
        Assert.Equal("Exited (137, OOM killed) 3 seconds ago",
            DetachedVerbs.Describe(State("a", TimeSpan.FromMinutes(1), exit: 137, endedAgo: TimeSpan.FromSeconds(3), oom: true), ContainerStatus.Stopped, Now));
        // an OCI container's end is not recorded: no code, no time
        Assert.Equal("Exited", DetachedVerbs.Describe(State("a", TimeSpan.FromMinutes(1)), ContainerStatus.Stopped, Now));
    }

    [Fact]
    public void Columns_are_as_wide_as_their_widest_entry_and_long_commands_are_cut()
    {
        string name = new('n', 70);
        string[] command = ["sh", "-c", "echo " + new string('x', 80)];
        var rows = new List<(ContainerState, ContainerStatus)>
        {
            (State(name, TimeSpan.FromMinutes(5), command), ContainerStatus.Running),
            (State("short", TimeSpan.FromDays(3), exit: 137, endedAgo: TimeSpan.FromDays(2), oom: true), ContainerStatus.Stopped),
        };
        string[] lines = PsVerb.Table(rows, Now, noTrunc: false).Split('\n', StringSplitOptions.RemoveEmptyEntries);

        Assert.Equal(3, lines.Length);
        foreach (string column in new[] { "STATUS", "PID", "CREATED", "COMMAND" })
        {
            int at = lines[0].IndexOf(column, StringComparison.Ordinal);
            Assert.All(lines[1..], line => Assert.True(line[at - 1] == ' ' && line[at] != ' ', $"{column} at {at}: {line}"));
        }
        Assert.StartsWith(name + "   Up 5 minutes   ", lines[1]);
        Assert.StartsWith("short", lines[2]);
        Assert.Contains("   Exited (137, OOM killed) 2 days ago   -   ", lines[2]);
        string cut = lines[1][lines[0].IndexOf("COMMAND", StringComparison.Ordinal)..];
        Assert.Equal("sh -c echo " + new string('x', 28) + "\u2026", cut);
        Assert.Equal(PsVerb.CommandWidth, cut.Length);

        string whole = PsVerb.Table(rows, Now, noTrunc: true).Split('\n')[1];
        Assert.EndsWith("sh -c echo " + new string('x', 80), whole);
    }

    [Fact]
    public void A_line_break_in_a_command_does_not_break_the_table()
    {
        var rows = new List<(ContainerState, ContainerStatus)> { (State("a", TimeSpan.FromMinutes(1), ["sh", "-c", "echo a\necho\tb"]), ContainerStatus.Running) };
        string table = PsVerb.Table(rows, Now, noTrunc: true);
        Assert.Equal(2, table.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        Assert.EndsWith("sh -c echo a\\necho\\tb\n", table);
    }
}
