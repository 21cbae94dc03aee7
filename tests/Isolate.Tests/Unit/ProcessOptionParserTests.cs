using Isolate.Spec;

namespace Isolate.Tests.Unit;

public sealed class ProcessOptionParserTests
{
    private const string UlimitNames =
        "cpu, fsize, data, stack, core, rss, nproc, nofile, memlock, as, locks, sigpending, msgqueue, nice, rtprio, rttime";

    private static string UlimitUsage(string value) =>
        $"invalid --ulimit '{value}': use NAME=SOFT[:HARD] with NAME one of {UlimitNames} (nofile=1024:2048)";

    private static IsolateException Fails(Action parse)
    {
        var error = Assert.Throws<IsolateException>(parse);
        Assert.Equal(125, error.ExitCode);
        Assert.DoesNotContain('\n', error.Message);
        return error;
    }

    // --ulimit

    [Theory]
    [InlineData("cpu", 0)]
    [InlineData("fsize", 1)]
    [InlineData("data", 2)]
    [InlineData("stack", 3)]
    [InlineData("core", 4)]
    [InlineData("rss", 5)]
    [InlineData("nproc", 6)]
    [InlineData("nofile", 7)]
    [InlineData("memlock", 8)]
    [InlineData("as", 9)]
    [InlineData("locks", 10)]
    [InlineData("sigpending", 11)]
    [InlineData("msgqueue", 12)]
    [InlineData("nice", 13)]
    [InlineData("rtprio", 14)]
    [InlineData("rttime", 15)]
    public void Every_docker_ulimit_name_maps_to_its_linux_rlimit_number(string name, int resource)
    {
        Assert.Equal(new RlimitSpec(name, resource, 100, 200), ProcessOptionParser.ParseUlimit($"{name}=100:200"));
    }

    [Fact]
    public void A_ulimit_without_a_hard_part_uses_the_soft_value_for_both()
    {
        Assert.Equal(new RlimitSpec("nofile", 7, 1024, 1024), ProcessOptionParser.ParseUlimit("nofile=1024"));
        Assert.Equal(new RlimitSpec("core", 4, 0, 0), ProcessOptionParser.ParseUlimit("core=0"));
    }

    [Fact]
    public void A_ulimit_takes_soft_and_hard_parts()
    {
        Assert.Equal(new RlimitSpec("nofile", 7, 1024, 2048), ProcessOptionParser.ParseUlimit("nofile=1024:2048"));
        Assert.Equal(new RlimitSpec("nproc", 6, 50, 50), ProcessOptionParser.ParseUlimit("nproc=50:50"));
        Assert.Equal(new RlimitSpec("core", 4, 0, 100), ProcessOptionParser.ParseUlimit("core=0:100"));
        Assert.Equal(new RlimitSpec("fsize", 1, 18446744073709551614, 18446744073709551614),
            ProcessOptionParser.ParseUlimit("fsize=18446744073709551614"));
    }

    [Theory]
    [InlineData("stack=unlimited", RlimitSpec.Unlimited, RlimitSpec.Unlimited)]
    [InlineData("stack=-1", RlimitSpec.Unlimited, RlimitSpec.Unlimited)]
    [InlineData("stack=-1:-1", RlimitSpec.Unlimited, RlimitSpec.Unlimited)]
    [InlineData("stack=unlimited:-1", RlimitSpec.Unlimited, RlimitSpec.Unlimited)]
    [InlineData("stack=8388608:unlimited", 8388608UL, RlimitSpec.Unlimited)]
    [InlineData("stack=8388608:-1", 8388608UL, RlimitSpec.Unlimited)]
    public void Unlimited_and_minus_one_mean_rlim_infinity(string value, ulong soft, ulong hard)
    {
        var limit = ProcessOptionParser.ParseUlimit(value);
        Assert.Equal("stack", limit.Name);
        Assert.Equal(3, limit.Resource);
        Assert.Equal(soft, limit.Soft);
        Assert.Equal(hard, limit.Hard);
    }

    [Fact]
    public void A_ulimit_shows_itself_in_soft_hard_form()
    {
        Assert.Equal("nofile=1024:2048", ProcessOptionParser.ParseUlimit("nofile=1024:2048").ToString());
        Assert.Equal("nofile=1024:1024", ProcessOptionParser.ParseUlimit("nofile=1024").ToString());
        Assert.Equal("stack=unlimited:unlimited", ProcessOptionParser.ParseUlimit("stack=-1").ToString());
        Assert.Equal("core=0:unlimited", ProcessOptionParser.ParseUlimit("core=0:unlimited").ToString());
    }

    [Theory]
    [InlineData("nofile=2048:1024")]
    [InlineData("nofile=1:0")]
    [InlineData("stack=unlimited:1024")]
    [InlineData("stack=-1:8388608")]
    public void A_soft_limit_above_the_hard_one_is_refused(string value)
    {
        Assert.Equal($"invalid --ulimit '{value}': the soft limit is above the hard one",
            Fails(() => ProcessOptionParser.ParseUlimit(value)).Message);
    }

    [Theory]
    [InlineData("nofiles=1024")]
    [InlineData("NOFILE=1024")]
    [InlineData("RLIMIT_NOFILE=1024")]
    [InlineData("nofile =1024")]
    [InlineData(" nofile=1024")]
    [InlineData("=1024")]
    [InlineData("nofile")]
    [InlineData("nofile:1024")]
    [InlineData("nofile=")]
    [InlineData("nofile=:1024")]
    [InlineData("nofile=1024:")]
    [InlineData("nofile=1024:2048:4096")]
    [InlineData("nofile=abc")]
    [InlineData("nofile=1024:abc")]
    [InlineData("nofile=1k")]
    [InlineData("nofile=1.5")]
    [InlineData("nofile=+5")]
    [InlineData("nofile=-5")]
    [InlineData("nofile=-2")]
    [InlineData("nofile= 5")]
    [InlineData("nofile=5 ")]
    [InlineData("nofile=Unlimited")]
    [InlineData("nofile=infinity")]
    [InlineData("nofile=18446744073709551615")]
    [InlineData("nofile=18446744073709551616")]
    [InlineData("")]
    public void Malformed_ulimits_name_the_option_the_value_and_the_accepted_names(string value)
    {
        Assert.Equal(UlimitUsage(value), Fails(() => ProcessOptionParser.ParseUlimit(value)).Message);
    }

    [Fact]
    public void Several_ulimits_come_back_ordered_by_resource()
    {
        var limits = ProcessOptionParser.ParseUlimits(["nofile=1024:2048", "core=0", "cpu=10:20"]);
        Assert.Equal(
            [new RlimitSpec("cpu", 0, 10, 20), new RlimitSpec("core", 4, 0, 0), new RlimitSpec("nofile", 7, 1024, 2048)],
            limits);
    }

    [Fact]
    public void The_last_ulimit_for_a_resource_wins_as_in_docker()
    {
        var limits = ProcessOptionParser.ParseUlimits(["nofile=1024:2048", "core=0", "nofile=512", "nofile=4096:8192"]);
        Assert.Equal([new RlimitSpec("core", 4, 0, 0), new RlimitSpec("nofile", 7, 4096, 8192)], limits);
    }

    [Fact]
    public void No_ulimits_are_an_empty_list()
    {
        Assert.Empty(ProcessOptionParser.ParseUlimits([]));
    }

    [Fact]
    public void One_bad_ulimit_among_several_is_the_error()
    {
        Assert.Equal(UlimitUsage("bogus=1"),
            Fails(() => ProcessOptionParser.ParseUlimits(["nofile=1024", "bogus=1", "core=0"])).Message);
        Assert.Equal("invalid --ulimit 'core=2:1': the soft limit is above the hard one",
            Fails(() => ProcessOptionParser.ParseUlimits(["core=2:1", "core=0"])).Message);
    }

    // --env-file

    [Fact]
    public void An_env_file_takes_key_value_lines_as_they_are()
    {
        const string text = "FOO=bar\nEMPTY=\nURL=http://host/?a=b&c=d\nQUOTED=\"not unquoted\"\nSPACED=  two  words  \nHASH=a # not a comment\nESCAPE=a\\nb\n";
        Assert.Equal(
            ["FOO=bar", "EMPTY=", "URL=http://host/?a=b&c=d", "QUOTED=\"not unquoted\"", "SPACED=  two  words  ", "HASH=a # not a comment", "ESCAPE=a\\nb"],
            ProcessOptionParser.ParseEnvFile(text, "app.env"));
    }

    [Fact]
    public void Comments_and_blank_lines_are_skipped()
    {
        const string text = "# a comment\n\nA=1\n   \n\t\n  # an indented comment\n#B=2\nC=3\n\n";
        Assert.Equal(["A=1", "C=3"], ProcessOptionParser.ParseEnvFile(text, "app.env"));
    }

    [Fact]
    public void A_key_alone_is_kept_alone_to_copy_the_hosts_value()
    {
        Assert.Equal(["HOME", "A=1", "PATH"], ProcessOptionParser.ParseEnvFile("HOME\nA=1\nPATH", "app.env"));
    }

    [Fact]
    public void Leading_whitespace_is_trimmed_and_crlf_endings_are_taken()
    {
        Assert.Equal(["A=1", "B= 2", "C"], ProcessOptionParser.ParseEnvFile("  A=1\r\n\tB= 2\r\n C\r\n", "app.env"));
    }

    [Fact]
    public void The_last_line_needs_no_newline_and_an_empty_file_has_no_entries()
    {
        Assert.Equal(["A=1"], ProcessOptionParser.ParseEnvFile("A=1", "app.env"));
        Assert.Empty(ProcessOptionParser.ParseEnvFile("", "app.env"));
        Assert.Empty(ProcessOptionParser.ParseEnvFile("\n\r\n# only comments\n", "app.env"));
    }

    [Fact]
    public void Names_are_not_otherwise_checked_as_in_docker()
    {
        Assert.Equal(["1ST=a", "my-var=b", "a.b=c", "Ünïcode=d"],
            ProcessOptionParser.ParseEnvFile("1ST=a\nmy-var=b\na.b=c\nÜnïcode=d\n", "app.env"));
    }

    [Theory]
    [InlineData("=value", "")]
    [InlineData("  =value", "")]
    [InlineData("MY KEY=1", "MY KEY")]
    [InlineData("KEY =1", "KEY ")]
    [InlineData("KEY\t=1", "KEY\t")]
    [InlineData("KEY ", "KEY ")]
    [InlineData("TWO WORDS", "TWO WORDS")]
    [InlineData("A\u00A0B=1", "A\u00A0B")]
    public void A_line_without_a_variable_name_names_the_file_line_and_the_line(string line, string key)
    {
        Assert.StartsWith(key, line.TrimStart());
        Assert.Equal($"--env-file /etc/app.env:1: '{line.TrimStart()}' does not start with a variable name; use KEY=VALUE, one per line",
            Fails(() => ProcessOptionParser.ParseEnvFile(line + "\n", "/etc/app.env")).Message);
    }

    [Fact]
    public void The_line_number_counts_blank_and_comment_lines()
    {
        Assert.Equal("--env-file app.env:5: 'BAD KEY=2' does not start with a variable name; use KEY=VALUE, one per line",
            Fails(() => ProcessOptionParser.ParseEnvFile("# header\nA=1\n\n  # indented\nBAD KEY=2\nC=3\n", "app.env")).Message);
        Assert.Equal("--env-file app.env:3: '=oops' does not start with a variable name; use KEY=VALUE, one per line",
            Fails(() => ProcessOptionParser.ParseEnvFile("A=1\r\n\r\n=oops\r\n", "app.env")).Message);
    }

    [Fact]
    public void A_byte_order_mark_is_not_part_of_the_first_key()
    {
        Assert.Equal(["FOO=1", "BAR=2"], ProcessOptionParser.ParseEnvFile("\uFEFFFOO=1\nBAR=2\n", "bom.env"));
    }

    // --oom-score-adj

    [Theory]
    [InlineData("-1000", -1000)]
    [InlineData("1000", 1000)]
    [InlineData("0", 0)]
    [InlineData("-0", 0)]
    [InlineData("500", 500)]
    [InlineData("-17", -17)]
    [InlineData("+5", 5)]
    public void Oom_score_adj_takes_minus_1000_to_1000(string value, int adj)
    {
        Assert.Equal(adj, ProcessOptionParser.ParseOomScoreAdj(value));
    }

    [Theory]
    [InlineData("-1001")]
    [InlineData("1001")]
    [InlineData("99999999999")]
    [InlineData("abc")]
    [InlineData("1.5")]
    [InlineData("10%")]
    [InlineData(" 5")]
    [InlineData("5 ")]
    [InlineData("0x10")]
    [InlineData("")]
    public void Bad_oom_score_adjs_name_the_option_and_value(string value)
    {
        Assert.Equal($"invalid --oom-score-adj '{value}': use a number from -1000 (never killed) to 1000 (killed first)",
            Fails(() => ProcessOptionParser.ParseOomScoreAdj(value)).Message);
    }

    // --stop-signal

    [Theory]
    [InlineData("TERM", 15)]
    [InlineData("SIGTERM", 15)]
    [InlineData("sigterm", 15)]
    [InlineData("term", 15)]
    [InlineData("SigTerm", 15)]
    [InlineData("15", 15)]
    [InlineData("015", 15)]
    [InlineData("KILL", 9)]
    [InlineData("SIGKILL", 9)]
    [InlineData("9", 9)]
    [InlineData("HUP", 1)]
    [InlineData("SIGQUIT", 3)]
    [InlineData("INT", 2)]
    [InlineData("USR1", 10)]
    [InlineData("sigusr2", 12)]
    [InlineData("WINCH", 28)]
    [InlineData("SYS", 31)]
    [InlineData("1", 1)]
    [InlineData("32", 32)]
    [InlineData("64", 64)]
    [InlineData("RTMIN+0", 34)]
    [InlineData("RTMIN+1", 35)]
    [InlineData("sigrtmin+2", 36)]
    [InlineData("SIGRTMIN+30", 64)]
    public void Signals_are_taken_by_name_with_or_without_sig_in_any_case_or_by_number(string value, int signal)
    {
        Assert.Equal(signal, ProcessOptionParser.ParseSignal("--stop-signal", value));
    }

    [Theory]
    [InlineData("0")]
    [InlineData("65")]
    [InlineData("-1")]
    [InlineData("+15")]
    [InlineData("99999999999")]
    [InlineData("15 ")]
    [InlineData(" TERM")]
    [InlineData("SIG")]
    [InlineData("SIG15")]
    [InlineData("FOO")]
    [InlineData("SIGFOO")]
    [InlineData("SIG_TERM")]
    [InlineData("RTMIN+31")]
    [InlineData("RTMIN+2147483647")] // 34 + n would overflow to a negative signal
    [InlineData("RTMIN+-1")]
    [InlineData("RTMIN+")]
    [InlineData("RTMIN+x")]
    [InlineData("RTMIN-1")]
    [InlineData("")]
    public void Unknown_signals_name_the_option_and_value(string value)
    {
        Assert.Equal($"invalid --stop-signal '{value}': use a signal name or number (TERM, SIGQUIT, 15)",
            Fails(() => ProcessOptionParser.ParseSignal("--stop-signal", value)).Message);
    }

    [Fact]
    public void The_signal_error_names_whichever_option_was_given()
    {
        Assert.Equal("invalid --signal 'NOPE': use a signal name or number (TERM, SIGQUIT, 15)",
            Fails(() => ProcessOptionParser.ParseSignal("--signal", "NOPE")).Message);
    }

    [Theory]
    [InlineData(1, "SIGHUP")]
    [InlineData(2, "SIGINT")]
    [InlineData(9, "SIGKILL")]
    [InlineData(15, "SIGTERM")]
    [InlineData(17, "SIGCHLD")]
    [InlineData(31, "SIGSYS")]
    [InlineData(0, "signal 0")]
    [InlineData(32, "signal 32")]
    [InlineData(34, "signal 34")]
    [InlineData(64, "signal 64")]
    [InlineData(-1, "signal -1")]
    public void Signal_names_have_the_sig_prefix_or_fall_back_to_the_number(int signal, string name)
    {
        Assert.Equal(name, ProcessOptionParser.SignalName(signal));
    }

    [Fact]
    public void Every_named_signal_round_trips_through_its_name()
    {
        for (int signal = 1; signal <= 31; signal++)
        {
            string name = ProcessOptionParser.SignalName(signal);
            Assert.StartsWith("SIG", name);
            Assert.Equal(signal, ProcessOptionParser.ParseSignal("--stop-signal", name));
            Assert.Equal(signal, ProcessOptionParser.ParseSignal("--stop-signal", name[3..]));
            Assert.Equal(signal, ProcessOptionParser.ParseSignal("--stop-signal", name.ToLowerInvariant()));
            Assert.Equal(signal, ProcessOptionParser.ParseSignal("--stop-signal", signal.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        }
    }

    // --stop-timeout and --timeout

    [Theory]
    [InlineData("30s", 30_000)]
    [InlineData("5m", 300_000)]
    [InlineData("1h", 3_600_000)]
    [InlineData("2d", 172_800_000)]
    [InlineData("1.5s", 1_500)]
    [InlineData(".5s", 500)]
    [InlineData("0.25h", 900_000)]
    [InlineData("500ms", 500)]
    [InlineData("1500ms", 1_500)]
    [InlineData("1ms", 1)]
    [InlineData("10", 10_000)]
    [InlineData("1.5", 1_500)]
    [InlineData("007s", 7_000)]
    [InlineData("1000d", 86_400_000_000)]
    [InlineData("0.043s", 43)] // not a tick less: the double 0.043 is just below it
    [InlineData("0.0015s", 2)] // rounded to whole milliseconds
    public void Durations_take_units_and_plain_numbers_are_seconds(string value, long milliseconds)
    {
        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), ProcessOptionParser.ParseDuration("--timeout", value));
        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), ProcessOptionParser.ParseDuration("--timeout", value, allowZero: true));
    }

    [Theory]
    [InlineData("0")]
    [InlineData("0s")]
    [InlineData("0ms")]
    [InlineData("0.0m")]
    [InlineData("00h")]
    public void Zero_is_a_duration_only_where_allowed(string value)
    {
        Assert.Equal(TimeSpan.Zero, ProcessOptionParser.ParseDuration("--stop-timeout", value, allowZero: true));
        Assert.Equal($"invalid --timeout '{value}': use a duration such as 30s, 5m, 1h or 1.5s",
            Fails(() => ProcessOptionParser.ParseDuration("--timeout", value)).Message);
    }

    [Theory]
    [InlineData("-1")]
    [InlineData("-5s")]
    [InlineData("+5s")]
    [InlineData("abc")]
    [InlineData("")]
    [InlineData("s")]
    [InlineData("ms")]
    [InlineData("5S")]
    [InlineData("5sec")]
    [InlineData("5 s")]
    [InlineData(" 5s")]
    [InlineData("5s ")]
    [InlineData("1h30m")]
    [InlineData("1,5s")]
    [InlineData("1e3")]
    [InlineData("1.2.3s")]
    [InlineData("Infinity")]
    [InlineData("NaN")]
    [InlineData("NaNs")]
    [InlineData("99999999999999d")]
    [InlineData("999999999999999999999999999999")]
    public void Bad_durations_name_the_option_and_value(string value)
    {
        Assert.Equal($"invalid --timeout '{value}': use a duration such as 30s, 5m, 1h or 1.5s",
            Fails(() => ProcessOptionParser.ParseDuration("--timeout", value)).Message);
        Assert.Equal($"invalid --stop-timeout '{value}': use a duration such as 30s, 5m, 1h or 1.5s (0: at once)",
            Fails(() => ProcessOptionParser.ParseDuration("--stop-timeout", value, allowZero: true)).Message);
    }

    [Fact]
    public void A_duration_below_a_millisecond_is_not_zero_in_disguise()
    {
        Assert.Equal("invalid --timeout '0.0001s': use a duration such as 30s, 5m, 1h or 1.5s; the smallest is 1ms",
            Fails(() => ProcessOptionParser.ParseDuration("--timeout", "0.0001s")).Message);
    }
}
