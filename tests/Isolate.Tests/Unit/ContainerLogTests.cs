using System.Text;
using Isolate.Interop;
using Isolate.Logs;

namespace Isolate.Tests.Unit;

/// <summary>A detached container's log: docker's --log-opt, the CRI records the monitor
/// writes, rotation, a full disk, and what `logs` selects.</summary>
public sealed class ContainerLogTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("isolate-log-").FullName;
    private string Log => Path.Combine(_dir, "container.log");
    private static readonly DateTime Noon = new(2026, 12, 5, 12, 0, 0, DateTimeKind.Utc);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Log_options_default_to_10m_times_3_and_take_dockers_spelling()
    {
        Assert.Equal(new LogOptions(10L << 20, 3), LogOptions.Parse(null, []));
        Assert.Equal(new LogOptions(1536, 7), LogOptions.Parse("k8s-file", ["max-size=1.5k", "max-file=7"]));
        Assert.Equal(new LogOptions(null, 3), LogOptions.Parse(null, ["max-size=-1"]));
    }

    [Theory]
    [InlineData("json-file", new string[0], "--log-driver json-file: not supported")]
    [InlineData(null, new[] { "mode=non-blocking" }, "--log-opt mode: unknown option")]
    [InlineData(null, new[] { "max-size" }, "invalid --log-opt 'max-size': use KEY=VALUE")]
    [InlineData(null, new[] { "max-size=10q" }, "invalid --log-opt max-size '10q'")]
    [InlineData(null, new[] { "max-file=0" }, "invalid --log-opt max-file '0'")]
    public void Other_log_drivers_and_options_are_refused_in_one_line(string? driver, string[] options, string expected)
    {
        var error = Assert.Throws<IsolateException>(() => LogOptions.Parse(driver, options));
        Assert.StartsWith(expected, error.Message);
        Assert.DoesNotContain('\n', error.Message);
        Assert.Equal(125, error.ExitCode);
    }

    private LogWriter Writer(LogOptions options) => new(Log, options, () => Noon);

    [Fact]
    public void Each_line_is_a_CRI_record_with_its_time_and_stream_and_bytes_kept_as_they_are()
    {
        using (var writer = Writer(LogOptions.Default))
        {
            writer.Append(stderr: false, [.. "one\ntw"u8]);
            writer.Append(stderr: true, [0xff, 0x00, 0xfe, (byte)'\n']);
            writer.Append(stderr: false, [.. "o\n\nend"u8]);
        }
        byte[] expected =
        [
            .. "2026-12-05T12:00:00.000000000Z stdout F one\n"u8,
            .. "2026-12-05T12:00:00.000000000Z stdout P tw\n"u8,
            .. "2026-12-05T12:00:00.000000000Z stderr F "u8, 0xff, 0x00, 0xfe, (byte)'\n',
            .. "2026-12-05T12:00:00.000000000Z stdout F o\n"u8,
            .. "2026-12-05T12:00:00.000000000Z stdout F \n"u8,
            .. "2026-12-05T12:00:00.000000000Z stdout P end\n"u8,
        ];
        Assert.Equal(expected, File.ReadAllBytes(Log));
        var records = LogReader.ReadAll(Log).ToList();
        Assert.Equal([false, false, true, false, false, false], records.Select(r => r.Stderr));
        Assert.Equal([false, true, false, false, false, true], records.Select(r => r.Partial));
        Assert.Equal(Noon, records[0].Time);
        Assert.Equal(new byte[] { 0xff, 0x00, 0xfe }, records[2].Content.ToArray());
    }

    [Fact]
    public void A_line_longer_than_16_KiB_is_split_into_partial_records()
    {
        byte[] line = [.. Enumerable.Repeat((byte)'x', 40000), (byte)'\n'];
        using (var writer = Writer(LogOptions.Default))
            writer.Append(stderr: false, line);
        var records = LogReader.ReadAll(Log).ToList();
        Assert.Equal([16384, 16384, 7232], records.Select(r => r.Content.Length));
        Assert.Equal([true, true, false], records.Select(r => r.Partial));
    }

    [Fact]
    public void The_log_rotates_at_max_size_and_keeps_max_file_files()
    {
        using (var writer = Writer(new LogOptions(1000, 3)))
        {
            for (int i = 0; i < 200; i++)
                writer.Append(stderr: false, Encoding.ASCII.GetBytes($"line {i}\n"));
        }
        Assert.Equal(["container.log", "container.log.1", "container.log.2"], Directory.GetFiles(_dir).Select(Path.GetFileName).Order());
        Assert.All(Directory.GetFiles(_dir), f => Assert.InRange(new FileInfo(f).Length, 1, 1000));
        Assert.InRange(new FileInfo(Log + ".1").Length, 900, 1000); // full before it was rotated
        var lines = LogReader.ReadAll(Log).Select(r => Encoding.ASCII.GetString(r.Content.Span)).ToList();
        Assert.Equal("line 199", lines[^1]);
        Assert.Equal(Enumerable.Range(200 - lines.Count, lines.Count).Select(i => $"line {i}"), lines); // oldest first, none missing
    }

    [Fact]
    public void A_full_disk_drops_and_counts_the_output_and_says_so_once_writing_works_again()
    {
        using var writer = Writer(LogOptions.Default);
        bool full = false;
        var write = writer.WriteFile;
        writer.WriteFile = (fd, bytes) => full ? (-1, Errno.ENOSPC) : write(fd, bytes);
        writer.Append(stderr: false, [.. "kept\n"u8]);
        full = true;
        writer.Append(stderr: false, [.. "lost\n"u8]);
        writer.Append(stderr: true, [.. "lost too"u8]);
        Assert.Equal(13, writer.Dropped);
        full = false;
        writer.Append(stderr: false, [.. "back\n"u8]);

        var records = LogReader.ReadAll(Log).Select(r => (r.Stderr, Encoding.UTF8.GetString(r.Content.Span))).ToList();
        Assert.Equal(3, records.Count);
        Assert.Equal((false, "kept"), records[0]);
        Assert.True(records[1].Item1);
        Assert.StartsWith("isolate: warning: 13 bytes of the container's output were dropped: write ", records[1].Item2);
        Assert.EndsWith("No space left on device", records[1].Item2);
        Assert.Equal((false, "back"), records[2]);
    }

    private static CriRecord Record(int second, bool stderr, bool partial, string text) =>
        new(Noon.AddSeconds(second), stderr, partial, Encoding.ASCII.GetBytes(text));

    [Fact]
    public void Tail_counts_lines_per_stream_and_since_keeps_later_records()
    {
        CriRecord[] records =
        [
            Record(0, false, false, "a"),
            Record(1, false, true, "b1"),
            Record(2, true, false, "err"),
            Record(3, false, false, "b2"),
            Record(4, false, false, "c"),
        ];
        string Text(LogQuery query) => string.Join(",", LogReader.Select(records, query).Select(r => Encoding.ASCII.GetString(r.Content.Span)));
        Assert.Equal("a,b1,err,b2,c", Text(new LogQuery()));
        Assert.Equal("c", Text(new LogQuery(Tail: 1)));
        Assert.Equal("err,c", Text(new LogQuery(Tail: 2))); // lines numbered by their first record: b (b1 b2) came before err
        Assert.Equal("b1,err,b2,c", Text(new LogQuery(Tail: 3)));
        Assert.Equal("", Text(new LogQuery(Tail: 0)));
        Assert.Equal("err,b2,c", Text(new LogQuery(Since: Noon.AddSeconds(2))));
    }

    [Fact]
    public void Since_takes_an_RFC_3339_time_a_Unix_time_or_a_duration()
    {
        var now = new DateTime(2026, 12, 5, 12, 0, 0, DateTimeKind.Utc);
        Assert.Equal(new DateTime(2026, 12, 5, 7, 0, 0, DateTimeKind.Utc), LogArguments.ParseSince("2026-12-05T07:00:00Z", now));
        Assert.Equal(new DateTime(2026, 12, 5, 7, 0, 0, DateTimeKind.Utc), LogArguments.ParseSince("2026-12-05T08:00:00+01:00", now));
        Assert.Equal(new DateTime(2026, 12, 5, 7, 0, 0, DateTimeKind.Utc).AddTicks(1234567), LogArguments.ParseSince("2026-12-05T07:00:00.123456789Z", now));
        Assert.Equal(DateTime.UnixEpoch.AddSeconds(1796454000.5), LogArguments.ParseSince("1796454000.5", now));
        Assert.Equal(now.AddMinutes(-10), LogArguments.ParseSince("10m", now));
        Assert.Equal(now.AddMinutes(-90), LogArguments.ParseSince("1h30m", now));
        Assert.Equal(125, Assert.Throws<IsolateException>(() => LogArguments.ParseSince("yesterday", now)).ExitCode);
        Assert.Null(LogArguments.ParseTail("all"));
        Assert.Equal(5, LogArguments.ParseTail("5"));
        Assert.Throws<IsolateException>(() => LogArguments.ParseTail("-1"));
    }

    [Fact]
    public void Logs_go_to_disk_by_default_and_under_the_state_root_when_one_is_given()
    {
        // tests run as root: /var/lib, not /run's RAM
        Assert.Equal("/var/lib/isolate/containers", new Isolate.Cli.GlobalOptions().Store.LogRoot);
        Assert.Equal("/var/lib/isolate/containers/abc", new Isolate.Cli.GlobalOptions().Store.LogDirectoryOf("abc"));
        var given = new Isolate.Cli.GlobalOptions { Root = _dir }.Store;
        Assert.Null(given.LogRoot);
        Assert.Equal(Path.Combine(_dir, "abc"), given.LogDirectoryOf("abc"));
    }
}
