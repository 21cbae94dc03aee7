using System.Diagnostics;
using System.Text;

namespace Isolate.Tests.Support;

/// <summary>What one run of out/isolate did.</summary>
public sealed record RunResult(int ExitCode, string Stdout, string Stderr)
{
    public override string ToString() => $"exit {ExitCode}\n--- stdout\n{Stdout}\n--- stderr\n{Stderr}";
}

/// <summary>Runs the built, statically linked binary: integration tests test what users run.</summary>
public static class IsolateBinary
{
    /// <summary>The repository's top directory (where build.sh is). Declared first: static
    /// initializers run in text order, and Path needs it.</summary>
    public static string RepoRoot { get; } = FindRepoRoot();

    public static string Path { get; } = Locate();

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
        {
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "build.sh")))
                return dir.FullName;
        }
        throw new FileNotFoundException("cannot find the repository (build.sh) above " + AppContext.BaseDirectory);
    }

    private static string Locate()
    {
        string? fromEnv = Environment.GetEnvironmentVariable("ISOLATE_BIN");
        if (!string.IsNullOrEmpty(fromEnv))
            return File.Exists(fromEnv) ? fromEnv : throw new FileNotFoundException($"ISOLATE_BIN={fromEnv} does not exist; run ./build.sh");
        string candidate = System.IO.Path.Combine(RepoRoot, "out", "isolate");
        return File.Exists(candidate) ? candidate : throw new FileNotFoundException($"{candidate} is missing; run ./build.sh (or ./build.sh test)");
    }

    public static ProcessStartInfo StartInfo(IEnumerable<string> args)
    {
        var info = new ProcessStartInfo(Path)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string arg in WithTestCgroupParent(args.ToList()))
            info.ArgumentList.Add(arg);
        return info;
    }

    /// <summary>In a container test, a docker-style `run` that names no --cgroup-parent gets the
    /// test's own (<see cref="TestScope"/>): its groups are then the test's alone to check.
    /// OCI runs (a bundle's cgroupsPath) and tests on the default parent are left as they are.</summary>
    public static IReadOnlyList<string> WithTestCgroupParent(IReadOnlyList<string> args)
    {
        if (TestScope.Current?.CgroupParent is not { } parent)
            return args;
        int verb = 0;
        while (verb < args.Count && args[verb].StartsWith("--", StringComparison.Ordinal) && args[verb] != "--")
            verb += args[verb] == "--debug" || args[verb].Contains('=') ? 1 : 2; // the global options: --root R, --log F, --debug
        if (verb >= args.Count || args[verb] != "run" || Isolate.Cli.Commands.OciRunVerb.Applies(args.Skip(verb).ToArray()))
            return args;
        if (args.Skip(verb).TakeWhile(a => a != "--").Any(a => a == "--cgroup-parent" || a.StartsWith("--cgroup-parent=", StringComparison.Ordinal)))
            return args;
        return [.. args.Take(verb + 1), "--cgroup-parent", parent, .. args.Skip(verb + 1)];
    }

    public static RunResult Run(params string[] args) => Run(args, stdin: null);

    public static RunResult Run(IEnumerable<string> args, string? stdin, TimeSpan? timeout = null) =>
        RunToEnd(StartInfo(args), stdin, timeout);

    /// <summary>Runs a host shell script with $ISOLATE set to the binary: for what a caller's
    /// shell does before exec'ing isolate (ignored signals, closed or extra fds).</summary>
    public static RunResult RunFromShell(string script, TimeSpan? timeout = null)
    {
        var info = StartInfo([]);
        info.FileName = "/bin/sh";
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add(script);
        info.Environment["ISOLATE"] = Path;
        return RunToEnd(info, stdin: null, timeout);
    }

    /// <summary>Runs any prepared command (stdio redirected, as <see cref="StartInfo"/> makes it) to its end.</summary>
    public static RunResult RunToEnd(ProcessStartInfo info, TimeSpan? timeout = null) => RunToEnd(info, stdin: null, timeout);

    internal static RunResult RunToEnd(ProcessStartInfo info, string? stdin, TimeSpan? timeout)
    {
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (stdin != null)
            process.StandardInput.Write(stdin);
        process.StandardInput.Close();
        if (!process.WaitForExit(timeout ?? TimeSpan.FromSeconds(60)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{info.FileName} {string.Join(' ', info.ArgumentList)} did not finish");
        }
        process.WaitForExit();
        return new RunResult(process.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>Starts isolate and waits until the container printed <paramref name="readyLine"/>.</summary>
    /// <remarks>Through `env --default-signal`, which execs isolate in the same process: a test
    /// run started as a background job of a script inherits SIGINT and SIGQUIT ignored, and
    /// isolate rightly keeps what its caller ignored - the signal tests need the defaults.</remarks>
    public static RunningIsolate Start(IEnumerable<string> args, string? readyLine = "ready")
    {
        var info = StartInfo(args);
        info.ArgumentList.Insert(0, info.FileName);
        info.ArgumentList.Insert(0, "--default-signal=HUP,INT,QUIT,USR1,USR2,TERM");
        info.FileName = "/usr/bin/env";
        var process = Process.Start(info)!;
        process.StandardInput.Close();
        var running = new RunningIsolate(process);
        if (readyLine != null)
            running.WaitForLine(readyLine, TimeSpan.FromSeconds(30));
        return running;
    }
}

public sealed class RunningIsolate : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _stdout = new();
    private readonly Task<string> _stderr;

    public RunningIsolate(Process process)
    {
        _process = process;
        _stderr = process.StandardError.ReadToEndAsync();
    }

    public int Pid => _process.Id;

    public void WaitForLine(string line, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            var read = _process.StandardOutput.ReadLineAsync();
            if (!read.Wait(deadline - DateTime.UtcNow) || read.Result is null)
                break;
            _stdout.AppendLine(read.Result);
            if (read.Result == line)
                return;
        }
        throw new TimeoutException($"the container never printed '{line}'; stdout so far: {_stdout}");
    }

    /// <summary>The container's PID 1 as the host sees it: isolate's child in another PID
    /// namespace (its other child is the cgroup reaper).</summary>
    public int ContainerPid()
    {
        string? ours = HostProcesses.PidNamespace(Environment.ProcessId);
        return HostProcesses.ChildrenOf(Pid).Single(p => HostProcesses.PidNamespace(p) != ours);
    }

    /// <summary>The cgroup reaper: isolate's child named so.</summary>
    public int ReaperPid() => HostProcesses.ChildrenOf(Pid).Single(p => HostProcesses.Comm(p) == "isolate-reaper");

    /// <summary>What isolate said on stderr so far (complete once it has exited).</summary>
    public string StderrSoFar => _stderr.IsCompleted ? _stderr.Result : "";

    public RunResult WaitForExit(TimeSpan? timeout = null)
    {
        if (!_process.WaitForExit(timeout ?? TimeSpan.FromSeconds(30)))
            throw new TimeoutException("isolate did not exit");
        _process.WaitForExit();
        _stdout.Append(_process.StandardOutput.ReadToEnd());
        return new RunResult(_process.ExitCode, _stdout.ToString(), _stderr.Result);
    }

    public void Dispose()
    {
        if (!_process.HasExited)
            _process.Kill(entireProcessTree: true);
        _process.Dispose();
    }
}
