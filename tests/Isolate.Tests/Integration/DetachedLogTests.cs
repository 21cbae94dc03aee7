using System.Text.RegularExpressions;
using Isolate.Tests.Support;

namespace Isolate.Tests.Integration;

/// <summary>A detached container's log (run -d --log-opt, logs --tail/--since/-t/-f) and wait
/// on many ids, on a private state root: the log lives in the container's state directory there,
/// and rm leaves nothing.</summary>
public sealed partial class DetachedLogTests : StateRootTest
{

    public DetachedLogTests(BusyboxRootfs rootfs) : base(rootfs, "isolate-detached-log-")
    {
    }

    private void Detach(string name, string[] options, string script)
    {
        var run = Isolate(["run", "-d", "--name", name, "--rootfs", Rootfs.Path, .. options, "--", "sh", "-c", script]);
        Assert.True(run.ExitCode == 0, run.ToString());
    }

    private void WaitFor(string name, string status = "0")
    {
        var wait = Isolate("wait", name);
        Assert.True(wait.Stdout == status + "\n", wait.ToString());
    }

    /// <summary>`logs` with stdout and stderr to files, read back as bytes (.NET's process API would decode them).</summary>
    private (byte[] Stdout, byte[] Stderr) LogBytes(string name, params string[] options)
    {
        string files = Own(Directory.CreateTempSubdirectory("isolate-logs-out-").FullName);
        var run = IsolateBinary.RunFromShell($"\"$ISOLATE\" --root {StateRoot} logs {string.Join(' ', options)} {name} >{files}/out 2>{files}/err");
        Assert.True(run.ExitCode == 0, run.ToString());
        var result = (File.ReadAllBytes($"{files}/out"), File.ReadAllBytes($"{files}/err"));
        Directory.Delete(files, recursive: true);
        return result;
    }

    private string[] LogFiles(string name) =>
        [.. Directory.GetFiles(Path.Combine(StateRoot, name), "container.log*").Select(Path.GetFileName).OfType<string>().Order()];

    [ContainerFact]
    public void A_chatty_containers_log_is_capped_at_max_size_times_max_file()
    {
        // about 390 KB of output into a log of at most 2 x 64 KiB
        Detach("chatty", ["--log-opt", "max-size=64k", "--log-opt", "max-file=2"],
            "i=0; while [ $i -lt 40000 ]; do echo line $i; i=$((i+1)); done");
        WaitFor("chatty");

        Assert.Equal(["container.log", "container.log.1"], LogFiles("chatty"));
        foreach (string file in LogFiles("chatty"))
            Assert.InRange(new FileInfo(Path.Combine(StateRoot, "chatty", file)).Length, 1, 64 * 1024);
        var (stdout, stderr) = LogBytes("chatty");
        string[] lines = System.Text.Encoding.ASCII.GetString(stdout).Split('\n');
        Assert.Equal("line 39999", lines[^2]); // the newest lines are kept, the oldest rotated away
        Assert.Equal("", lines[^1]);
        Assert.Empty(stderr);

        Assert.Equal(0, Isolate("rm", "chatty").ExitCode);
        Assert.Empty(Directory.GetFileSystemEntries(StateRoot)); // the log went with the state
    }

    [ContainerFact]
    public void Logs_give_back_every_byte_stdout_on_stdout_and_stderr_on_stderr()
    {
        // every byte value, newlines among them, and a last line without one, on both streams
        const string all = "i=0; while [ $i -le 255 ]; do printf \"\\\\$(printf %o $i)\"; i=$((i+1)); done";
        Detach("bytes", [], $"{all}; printf 'out end'; ({all}; printf 'err end') >&2");
        WaitFor("bytes");

        byte[] every = [.. Enumerable.Range(0, 256).Select(b => (byte)b)];
        var (stdout, stderr) = LogBytes("bytes");
        Assert.Equal([.. every, .. "out end"u8], stdout);
        Assert.Equal([.. every, .. "err end"u8], stderr);
    }

    [ContainerFact]
    public void Output_written_just_before_the_container_exits_is_all_in_the_log()
    {
        Detach("burst", [], "yes 0123456789abcdef | head -c 3000000; printf END");
        WaitFor("burst");
        var (stdout, _) = LogBytes("burst");
        Assert.Equal(3000003, stdout.Length);
        Assert.Equal("END"u8.ToArray(), stdout[^3..]);
    }

    [GeneratedRegex(@"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z) (.*)$")]
    private static partial Regex TimestampedLine();

    [ContainerFact]
    public void Logs_take_tail_since_and_timestamps_as_docker_does()
    {
        // stdout and stderr are two pipes: which of two writes in the same instant is read first is
        // not known (as in docker), so the stderr line has a moment to itself
        Detach("lines", [], "echo one; sleep 1; echo two; echo three >&2; sleep 0.5; echo four");
        WaitFor("lines");

        Assert.Equal("one\ntwo\nfour\n", Isolate("logs", "lines").Stdout);
        Assert.Equal("three\n", Isolate("logs", "lines").Stderr);
        Assert.Equal("four\n", Isolate("logs", "--tail", "1", "lines").Stdout);
        var tail2 = Isolate("logs", "--tail", "2", "lines");
        Assert.Equal(("four\n", "three\n"), (tail2.Stdout, tail2.Stderr));
        Assert.Equal("", Isolate("logs", "--tail", "0", "lines").Stdout);
        Assert.Equal("one\ntwo\nfour\n", Isolate("logs", "--tail", "all", "--since", "10m", "lines").Stdout);

        var stamped = Isolate("logs", "-t", "lines").Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => TimestampedLine().Match(line)).ToList();
        Assert.All(stamped, m => Assert.True(m.Success, m.Value));
        Assert.Equal(["one", "two", "four"], stamped.Select(m => m.Groups[2].Value));

        // since the time -t printed for "two": "one" (a second earlier) is left out
        var since = Isolate("logs", "--since", stamped[1].Groups[1].Value, "lines");
        Assert.Equal(("two\nfour\n", "three\n"), (since.Stdout, since.Stderr));

        var bad = Isolate("logs", "--since", "yesterday", "lines");
        Assert.Equal(125, bad.ExitCode);
        Assert.StartsWith("isolate: invalid --since 'yesterday'", bad.Stderr);
    }

    [ContainerFact]
    public void Follow_prints_every_line_across_rotations()
    {
        // ~49 KB of records in 2 KiB files, 40 of them: rotated about 24 times while it is
        // followed, and nothing is rotated away, so a follower that lags still owes every line
        Detach("rotating", ["--log-opt", "max-size=2k", "--log-opt", "max-file=40"],
            "i=0; while [ $i -lt 1000 ]; do echo line $i; i=$((i+1)); [ $((i % 50)) = 0 ] && sleep 0.05; done; true");
        var logs = Isolate("logs", "-f", "rotating");

        Assert.Equal(string.Concat(Enumerable.Range(0, 1000).Select(i => $"line {i}\n")), logs.Stdout);
        Assert.Contains("container.log.10", LogFiles("rotating"));
        WaitFor("rotating");
    }

    private static void Host(string program, params string[] args)
    {
        using var process = System.Diagnostics.Process.Start(program, args);
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"{program} {string.Join(' ', args)}: exit {process.ExitCode}");
    }

    [ContainerFact]
    public void A_full_disk_drops_output_without_holding_up_the_container_and_its_status_is_kept()
    {
        // a state root on a 1 MiB tmpfs, where the log shares the full disk with the state
        string small = Own(Directory.CreateTempSubdirectory("isolate-full-").FullName);
        Host("mount", "-t", "tmpfs", "-o", "size=1m,mode=700", "tmpfs", small);
        try
        {
            var run = IsolateBinary.Run(["--root", small, "run", "-d", "--name", "full", "--log-opt", "max-size=-1",
                "--rootfs", Rootfs.Path, "--", "sh", "-c", "yes 0123456789 | head -c 3000000; exit 3"]);
            Assert.True(run.ExitCode == 0, run.ToString());
            Assert.Equal("3\n", IsolateBinary.Run("--root", small, "wait", "full").Stdout);

            var state = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(small, "full", "state.json")))!;
            long dropped = (long)state["logDroppedBytes"]!;
            string kept = IsolateBinary.Run("--root", small, "logs", "full").Stdout;
            Assert.Equal(3000000, dropped + kept.Length);
            Assert.InRange(kept.Length, 1, 1 << 20);
            Assert.Equal(0, IsolateBinary.Run("--root", small, "rm", "full").ExitCode);
        }
        finally
        {
            Host("umount", small);
            Directory.Delete(small);
        }
    }

    [ContainerFact]
    public void Wait_prints_each_status_in_order_and_an_unknown_id_is_an_error_after_the_others()
    {
        for (int i = 1; i <= 4; i++)
            Detach($"c{i}", [], $"sleep 1; exit {i}");

        var wait = Isolate("wait", "c1", "c2", "nosuch", "c3", "c4");
        Assert.Equal("1\n2\n3\n4\n", wait.Stdout);
        Assert.Equal("isolate: container nosuch does not exist\n", wait.Stderr);
        Assert.Equal(125, wait.ExitCode);
        Assert.Equal("1\n1\n", Isolate("wait", "c1", "c1").Stdout); // a stopped one answers at once, as often as asked
    }

    [ContainerFact]
    public void Log_options_other_than_max_size_and_max_file_and_other_drivers_are_refused()
    {
        foreach (var (options, expected) in new[]
        {
            (new[] { "--log-opt", "compress=true" }, "isolate: --log-opt compress: unknown option"),
            (new[] { "--log-driver", "json-file" }, "isolate: --log-driver json-file: not supported"),
            (new[] { "--log-opt", "max-file=0" }, "isolate: invalid --log-opt max-file '0'"),
        })
        {
            var run = Isolate(["run", "-d", "--rootfs", Rootfs.Path, .. options, "--", "true"]);
            Assert.Equal(125, run.ExitCode);
            Assert.StartsWith(expected, run.Stderr);
            Assert.Equal(1, run.Stderr.Count(c => c == '\n'));
        }
        Assert.Empty(Directory.GetFileSystemEntries(StateRoot));
        Assert.Equal(0, Isolate(["run", "-d", "--name", "ok", "--rootfs", Rootfs.Path, "--log-driver", "k8s-file", "--", "true"]).ExitCode);
        WaitFor("ok");
    }
}
