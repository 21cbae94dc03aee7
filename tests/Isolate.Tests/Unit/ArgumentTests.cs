using CommandLine;
using Isolate.Cli;
using Isolate.Cli.Commands;
using Isolate.Spec;

namespace Isolate.Tests.Unit;

/// <summary>How the command line becomes options and then a ContainerSpec: POSIX rules,
/// so the container's own arguments are never taken for Isolate's.</summary>
public sealed class ArgumentTests
{
    private static RunOptions Parse(params string[] args)
    {
        using var parser = Program.CreateParser();
        var result = parser.ParseArguments(Program.NormalizeArguments(args), typeof(RunOptions));
        return Assert.IsType<RunOptions>(Assert.IsType<Parsed<object>>(result).Value);
    }

    private static ContainerSpec ToSpec(params string[] args) => Isolate.Docker.RunConverter.ToSpec(new RunArguments(Parse(args)), _ => null);

    [Fact]
    public void Options_end_at_double_dash()
    {
        var options = Parse("run", "--hostname", "h", "--", "sh", "-c", "ls -la", "--hostname");
        Assert.Equal("h", options.Hostname);
        Assert.Equal(["sh", "-c", "ls -la", "--hostname"], options.Command);
    }

    [Fact]
    public void Options_end_at_the_first_operand()
    {
        var options = Parse("run", "-w", "/srv", "ls", "-la", "-e", "X=1");
        Assert.Equal("/srv", options.Workdir);
        Assert.Equal(["ls", "-la", "-e", "X=1"], options.Command);
        Assert.Empty(options.Env ?? []);
    }

    [Fact]
    public void The_hand_written_option_table_matches_the_attributes()
    {
        var reflected = OptionTable.FromAttributes<RunOptions>();
        Assert.Equal(reflected.Long.OrderBy(kv => kv.Key), RunOptions.Table.Long.OrderBy(kv => kv.Key));
        Assert.Equal(reflected.Short.OrderBy(kv => kv.Key), RunOptions.Table.Short.OrderBy(kv => kv.Key));
    }

    [Fact]
    public void A_sequence_option_does_not_swallow_the_command()
    {
        var options = Parse("run", "-e", "A=1", "sh", "-c", "echo $A");
        Assert.Equal(["A=1"], options.Env);
        Assert.Equal(["sh", "-c", "echo $A"], options.Command);
    }

    [Fact]
    public void Env_is_repeatable_in_both_spellings()
    {
        var options = Parse("run", "-e", "A=1", "--env", "B=2", "--env=C=3", "-eD=4", "true");
        Assert.Equal(["A=1", "B=2", "C=3", "D=4"], options.Env);
    }

    [Fact]
    public void Repeated_variables_keep_the_order_given_whatever_the_spelling()
    {
        var spec = ToSpec("run", "-e", "A=1", "--env", "A=2", "-eA=3", "true");
        Assert.Equal("3", Isolate.Plan.EnvironmentBuilder.Lookup(spec.Process.Env, "A"));
    }

    [Fact]
    public void Short_options_take_attached_or_separate_values()
    {
        var options = Parse("run", "-w/srv", "-eX=1", "--hostname=h", "true");
        Assert.Equal(("/srv", "h"), (options.Workdir, options.Hostname));
        Assert.Equal(["X=1"], options.Env);
    }

    [Fact]
    public void Unknown_options_are_left_for_the_parser_to_report()
    {
        using var parser = Program.CreateParser();
        var result = parser.ParseArguments(Program.NormalizeArguments(["run", "-x", "true"]), typeof(RunOptions));
        Assert.IsType<NotParsed<object>>(result);
    }

    [Fact]
    public void Defaults_are_the_host_root_no_network_a_generated_hostname_and_slash()
    {
        var spec = ToSpec("run", "true");
        Assert.Null(spec.Rootfs);
        Assert.Equal(NetworkMode.None, spec.Network);
        Assert.Equal("/", spec.Process.Workdir);
        Assert.Matches("^[0-9a-f]{12}$", spec.Hostname);
        Assert.Contains($"HOSTNAME={spec.Hostname}", spec.Process.Env);
    }

    [Fact]
    public void Network_host_is_accepted()
    {
        Assert.Equal(NetworkMode.Host, ToSpec("run", "--network", "host", "true").Network);
        Assert.Equal(NetworkMode.Host, ToSpec("run", "--network=host", "true").Network);
    }

    [Theory]
    [InlineData("invalid --network 'bogus': use none, host, bridge, container:NAME or ns:PATH", "run", "--network", "bogus", "true")]
    [InlineData("invalid --workdir 'srv': it must be an absolute path inside the container", "run", "-w", "srv", "true")]
    [InlineData("invalid --hostname '-x': use letters, digits, '-' and '.', at most 64 characters", "run", "--hostname", "-x", "true")]
    [InlineData("run: no command given; usage: isolate run [OPTIONS] [--] COMMAND [ARG...], or isolate run [OPTIONS] IMAGE [COMMAND [ARG...]]", "run")]
    [InlineData("run: no command given; usage: isolate run [OPTIONS] [--] COMMAND [ARG...], or isolate run [OPTIONS] IMAGE [COMMAND [ARG...]]", "run", "--")]
    public void Bad_input_is_a_one_line_error_with_exit_125(string message, params string[] args)
    {
        var error = Assert.Throws<IsolateException>(() => ToSpec(args));
        Assert.Equal(message, error.Message);
        Assert.Equal(125, error.ExitCode);
    }

    [Fact]
    public void A_rootfs_is_canonicalized()
    {
        string dir = Directory.CreateTempSubdirectory("isolate-args-").FullName;
        string link = dir + "-link";
        try
        {
            File.CreateSymbolicLink(link, dir);
            Assert.Equal(dir, ToSpec("run", "--rootfs", link + "/.", "true").Rootfs);
        }
        finally
        {
            File.Delete(link);
            Directory.Delete(dir);
        }
    }

    [Fact]
    public void The_hosts_root_cannot_be_a_rootfs()
    {
        var error = Assert.Throws<IsolateException>(() => ToSpec("run", "--rootfs", "/", "true"));
        Assert.StartsWith("rootfs /: the host's own / cannot be a container root", error.Message);
    }

    [Theory]
    [InlineData(new[] { "help" }, new[] { "--help" })]
    [InlineData(new[] { "-h" }, new[] { "--help" })]
    [InlineData(new[] { "help", "run" }, new[] { "run", "--help" })]
    [InlineData(new[] { "help", "unpause" }, new[] { "unpause", "--help" })]
    [InlineData(new[] { "kill", "-h" }, new[] { "kill", "-h" })] // the verb's own: AskedForHelp
    public void Help_forms_become_the_parsers_help(string[] args, string[] expected)
    {
        Assert.Equal(expected, Program.HelpForms(args));
    }

    [Theory]
    [InlineData(new[] { "kill", "-h" }, new[] { "kill", "--help" })]
    [InlineData(new[] { "kill", "some-id", "-h" }, new[] { "kill", "--help" })]
    [InlineData(new[] { "ps", "-a", "--help" }, new[] { "ps", "--help" })]
    [InlineData(new[] { "run", "--rootfs", "/r", "-h" }, new[] { "run", "--help" })]
    [InlineData(new[] { "run", "-dh" }, new[] { "run", "--help" })]
    [InlineData(new[] { "run", "sh", "-h" }, new[] { "run", "--", "sh", "-h" })] // the command's own
    [InlineData(new[] { "exec", "c1", "ls", "--help" }, new[] { "exec", "--", "c1", "ls", "--help" })]
    [InlineData(new[] { "state", "--", "-h" }, new[] { "state", "--", "-h" })]
    public void A_verbs_h_or_help_among_its_options_is_its_help(string[] args, string[] expected)
    {
        Assert.Equal(expected, Program.AskedForHelp(Program.NormalizeArguments(args)));
    }

    [Fact]
    public void Help_for_an_unknown_command_is_an_error()
    {
        Assert.Equal("unknown command 'nosuch'; see 'isolate --help'", Assert.Throws<IsolateException>(() => Program.HelpForms(["help", "nosuch"])).Message);
    }

    /// <summary>`run` and `update` take each limit under the same names (docker's, and Isolate's alias).</summary>
    [Fact]
    public void Run_and_update_take_every_limit_under_the_same_names()
    {
        static (string Long, string Short) Names(Type options, string property) =>
            options.GetProperty(property)?.GetCustomAttributes(typeof(OptionAttribute), false).OfType<OptionAttribute>().SingleOrDefault() is { } o
                ? (o.LongName, o.ShortName) : ("(none)", "");
        foreach (var property in typeof(Isolate.Docker.ILimitArguments).GetProperties())
            Assert.Equal(Names(typeof(UpdateOptions), property.Name), Names(typeof(RunOptions), property.Name));
        var update = OptionTable.FromAttributes<UpdateOptions>();
        // runc update's own: its spelling --cpu-share, the TCP buffer limit, -r FILE
        string[] updateOnly = ["cpu-share", "kernel-memory-tcp", "resources"];
        Assert.Subset(OptionTable.FromAttributes<RunOptions>().Long.Keys.ToHashSet(), update.Long.Keys.Except(updateOnly).ToHashSet());
        Assert.Contains("blkio-weight", update.Long.Keys);
        Assert.Contains("io-weight", update.Long.Keys);
    }

    [Fact]
    public void The_io_weight_is_read_under_either_name_and_once()
    {
        Assert.Equal(300, ToSpec("run", "--blkio-weight", "300", "true").Resources.IoWeight);
        Assert.Equal(300, ToSpec("run", "--io-weight", "300", "true").Resources.IoWeight);
        Assert.Equal(300, ToSpec("run", "--io-weight", "300", "--blkio-weight", "300", "true").Resources.IoWeight);
        Assert.Equal("--blkio-weight 100 and --io-weight 200 set the same limit: give one",
            Assert.Throws<IsolateException>(() => ToSpec("run", "--blkio-weight", "100", "--io-weight", "200", "true")).Message);
        Assert.Equal(64L << 20, ToSpec("run", "-m", "64m", "true").Resources.MemoryBytes);
        // a bad value is named as it was typed
        Assert.Equal("invalid --blkio-weight '5': use a number from 10 to 1000",
            Assert.Throws<IsolateException>(() => ToSpec("run", "--blkio-weight", "5", "true")).Message);
        Assert.Equal("invalid --io-weight '5': use a number from 10 to 1000",
            Assert.Throws<IsolateException>(() => ToSpec("run", "--io-weight", "5", "true")).Message);

        using var parser = Program.CreateOciParser();
        var update = Assert.IsType<UpdateOptions>(Assert.IsType<Parsed<object>>(parser.ParseArguments(["update", "--io-weight", "250", "c1"], typeof(UpdateOptions))).Value);
        Assert.Equal(250, Isolate.Docker.LimitsConverter.From(new UpdateArguments(update)).IoWeight);
    }

    /// <summary>The options types implement no interface (CommandLineParser would read its
    /// properties too, on every start); RunArguments and UpdateArguments hand each value on
    /// under its own name.</summary>
    [Fact]
    public void The_converters_get_every_option_under_its_own_name()
    {
        static void Check(object options, object arguments, Type contract)
        {
            Assert.Empty(options.GetType().GetInterfaces());
            var properties = contract.GetProperties().Concat(contract.GetInterfaces().SelectMany(i => i.GetProperties())).ToList();
            foreach (var property in properties)
            {
                var option = options.GetType().GetProperty(property.Name)!;
                // a value no other property holds: the property's own name
                object value = option.PropertyType == typeof(bool) ? true
                    : option.PropertyType == typeof(string) ? property.Name
                    : new[] { property.Name };
                option.SetValue(options, value);
                Assert.Equal(value, property.GetValue(arguments));
                option.SetValue(options, option.PropertyType == typeof(bool) ? false : option.PropertyType == typeof(string) ? null : Array.Empty<string>());
            }
            Assert.True(properties.Count > 10, $"{contract.Name}: {properties.Count} properties");
        }
        var run = new RunOptions();
        Check(run, new RunArguments(run), typeof(Isolate.Docker.IRunArguments));
        var update = new UpdateOptions();
        Check(update, new UpdateArguments(update), typeof(Isolate.Docker.IUpdateLimitArguments));
    }

    /// <summary>`run` with only everyday options is parsed as RunEverydayOptions (the parser is
    /// handed 18 options, not 55) and must come out as the full parse would.</summary>
    [Theory]
    [InlineData("run", "--rootfs", "/r", "--", "/bin/true")]
    [InlineData("run", "--rootfs", "/r", "/bin/true")]
    [InlineData("run", "-it", "--rm", "--name", "web", "-e", "A=1", "--env=B=2", "-e", "A=3", "-v", "/a:/b:ro", "--volume", "/c:/d", "sh", "-c", "ls -la")]
    [InlineData("run", "-d", "-w/srv", "-u", "1000:1000", "-m", "64m", "--cpus", "0.5", "--network", "host", "--read-only", "--tmpfs", "/t", "--init", "--hostname", "h", "--", "x", "--rootfs")]
    [InlineData("run", "-dit", "top")]
    [InlineData("run", "--gpus", "all", "--rootfs", "/r", "nvidia-smi")]
    [InlineData("run", "true")]
    public void Everyday_options_parse_as_the_full_options_do(params string[] args)
    {
        using var parser = Program.CreateParser();
        var normalized = Program.NormalizeArguments(args);
        var everyday = Assert.IsType<RunOptions>(Program.ParseEveryday(parser, Verbs.Find("run")!, normalized));
        var full = Parse(args);
        foreach (var property in typeof(RunOptions).GetProperties())
        {
            object? expected = property.GetValue(full), actual = property.GetValue(everyday);
            if (expected is IEnumerable<string> list)
                Assert.Equal(list.ToList(), ((IEnumerable<string>)actual!).ToList());
            else
                Assert.Equal(expected, actual);
        }
    }

    [Theory]
    [InlineData("run", "--privileged", "true")]
    [InlineData("run", "--rootfs", "/r", "--cap-add", "ALL", "true")]
    [InlineData("run", "--stats", "true")]
    [InlineData("run", "-x", "true")]
    [InlineData("run", "--help")]
    [InlineData("run", "-t=1", "true")]
    public void Any_other_option_goes_to_the_full_options(params string[] args)
    {
        using var parser = Program.CreateParser();
        Assert.Null(Program.ParseEveryday(parser, Verbs.Find("run")!, Program.AskedForHelp(Program.NormalizeArguments(args))));
    }

    [Fact]
    public void The_everyday_options_are_runs_own_under_the_same_names_types_and_defaults()
    {
        var everyday = OptionTable.FromAttributes<RunEverydayOptions>();
        Assert.Equal(18, everyday.Long.Count - 2); // besides help and version
        foreach (var (name, takesValue) in everyday.Long)
        {
            Assert.True(name is "help" or "version" || RunEverydayOptions.Has(name), name);
            Assert.Equal(RunOptions.Table.Long[name], takesValue);
        }
        Assert.Subset(RunOptions.Table.Short.ToHashSet(), everyday.Short.ToHashSet());
        foreach (string name in RunOptions.Table.Long.Keys.Where(n => !everyday.Long.ContainsKey(n)))
            Assert.False(RunEverydayOptions.Has(name), name);
        var fresh = new RunEverydayOptions().ToRunOptions();
        var reference = new RunOptions();
        foreach (var property in typeof(RunEverydayOptions).GetProperties())
        {
            var full = typeof(RunOptions).GetProperty(property.Name)!;
            Assert.Equal(full.PropertyType, property.PropertyType);
            var option = full.GetCustomAttributes(typeof(OptionAttribute), false).OfType<OptionAttribute>().SingleOrDefault();
            var mine = property.GetCustomAttributes(typeof(OptionAttribute), false).OfType<OptionAttribute>().SingleOrDefault();
            Assert.Equal((option?.LongName, option?.ShortName, option?.Default), (mine?.LongName, mine?.ShortName, mine?.Default));
            object? expected = full.GetValue(reference), actual = full.GetValue(fresh);
            Assert.Equal(expected is IEnumerable<string> e ? string.Join(",", e) : expected, actual is IEnumerable<string> a ? string.Join(",", a) : actual);
            // each property is handed on under its own name
            var copy = new RunEverydayOptions();
            object value = property.PropertyType == typeof(bool) ? true : property.PropertyType == typeof(string) ? property.Name : new[] { property.Name };
            property.SetValue(copy, value);
            Assert.Equal(value, full.GetValue(copy.ToRunOptions()));
        }
    }
}
