using Isolate.Tests.Support;

namespace Isolate.Tests.Unit;

/// <summary>How the README's examples are read and their shown output matched.</summary>
public sealed class ReadmeExamplesTests
{
    [Fact]
    public void Transcripts_scripts_and_table_examples_are_found_and_a_marker_skips_the_next_one()
    {
        const string markdown = """
            intro
            ```console
            $ isolate run -- echo hi \
                there
            hi there
            $ echo $?
            0
            ```
            <!-- not run: it builds -->
            ```sh
            ./build.sh
            ```
            ```
            isolate run [OPTIONS]
            ```
            | option | what it does | example |
            |---|---|---|
            | `-x` | a \| b | `isolate run -x -- true \| cat` |
            | `-y` | none | - |
            """;
        var examples = ReadmeExamples.Parse(markdown.Replace("\r\n", "\n"));
        Assert.Equal(3, examples.Count);
        Assert.Equal([("isolate run -- echo hi \\\n    there", "hi there"), ("echo $?", "0")], examples[0].Steps);
        Assert.Equal("it builds", examples[1].NotRunBecause);
        Assert.Null(examples[0].NotRunBecause);
        Assert.Equal(("isolate run -x -- true | cat", (string?)null), Assert.Single(examples[2].Steps));
    }

    [Fact]
    public void Shown_output_matches_with_ellipses_ids_and_column_widths_and_nothing_else()
    {
        Assert.True(ReadmeExamples.Matches("web\nweb  Up  ...  sleep", "web\nweb      Up   123 2026-12-05 07:00   sleep\n"));
        Assert.True(ReadmeExamples.Matches("I am PID 1 on 3f2a9c41d0b7", "I am PID 1 on 0123456789ab\n"));
        Assert.True(ReadmeExamples.Matches("first\n...\nlast", "first\na\nb\nlast\n"));
        Assert.True(ReadmeExamples.Matches("", ""));
        Assert.False(ReadmeExamples.Matches("", "something\n"));
        Assert.False(ReadmeExamples.Matches("hi", "hi\nmore\n"));
        Assert.False(ReadmeExamples.Matches("exit 3", "exit 4\n"));
        Assert.False(ReadmeExamples.Matches("I am PID 1 on 3f2a9c41d0b7", "I am PID 1 on web\n"));
    }
}
