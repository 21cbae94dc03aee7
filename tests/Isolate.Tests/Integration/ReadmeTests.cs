using System.Diagnostics;
using System.Text;
using Isolate.Tests.Support;
using Xunit.Abstractions;

namespace Isolate.Tests.Integration;

/// <summary>The README runs: every example in it (see <see cref="ReadmeExamples"/>), in the
/// order a reader meets them, in a directory of its own where the quick start's recipe builds
/// ./rootfs, with `isolate` on PATH (this build, with a state root of the test's own) and
/// `sudo` as a no-op, since the tests run as root.</summary>
public sealed class ReadmeTests(BusyboxRootfs rootfs, ITestOutputHelper output) : ContainerTest(rootfs)
{
    private static string Readme => File.ReadAllText(Path.Combine(IsolateBinary.RepoRoot, "README.md"));

    [ContainerFact]
    public void Every_example_in_the_README_runs_and_shows_what_it_says()
    {
        var examples = ReadmeExamples.Parse(Readme);
        string home = Directory.CreateTempSubdirectory("isolate-readme-").FullName;
        File.SetUnixFileMode(home, (UnixFileMode)0x1ED); // 0755, as a working directory is (a user namespace's root must reach it)
        string state = Path.Combine(home, ".state");
        var failures = new List<string>();
        int ran = 0;
        try
        {
            string bin = Path.Combine(home, ".bin");
            Directory.CreateDirectory(bin);
            // the images examples use a store of the test's own
            Script(Path.Combine(bin, "isolate"), $"exec '{IsolateBinary.Path}' --root '{state}' --storage '{Path.Combine(home, ".images")}' \"$@\"");
            Script(Path.Combine(bin, "sudo"), "exec \"$@\"");
            foreach (var example in examples)
            {
                if (example.NotRunBecause != null)
                {
                    output.WriteLine($"README.md:{example.Line}: not run: {example.NotRunBecause}");
                    continue;
                }
                ran++;
                var outputs = RunSteps(home, bin, example);
                for (int i = 0; i < example.Steps.Count; i++)
                {
                    var (command, expected) = example.Steps[i];
                    string actual = i < outputs.Count ? outputs[i].Output : "(did not run)";
                    int status = i < outputs.Count ? outputs[i].Status : -1;
                    if (expected is null ? status != 0 : !ReadmeExamples.Matches(expected, actual))
                        failures.Add($"README.md:{example.Line} ({example.Kind}): {command}\n--- shown\n{expected ?? "(exit 0)"}\n--- got (exit {status})\n{actual}");
                }
            }
        }
        finally
        {
            foreach (string dir in Directory.Exists(state) ? Directory.GetDirectories(state) : [])
                IsolateBinary.Run("--root", state, "rm", "-f", Path.GetFileName(dir));
            // the --cgroup-parent example's parent: Isolate leaves a given parent in place
            foreach (string hierarchy in Directory.Exists("/sys/fs/cgroup") ? Directory.GetDirectories("/sys/fs/cgroup").Append("/sys/fs/cgroup") : [])
            {
                string batch = Path.Combine(hierarchy, "batch");
                if (Directory.Exists(batch) && Directory.GetDirectories(batch).Length == 0)
                    Directory.Delete(batch);
            }
            // the images example's registry, where the example did not get to its own pkill
            using (var pkill = Process.Start("pkill", ["-f", "docker-registry serve registry.yml"]))
                pkill.WaitForExit();
            Directory.Delete(home, recursive: true);
        }
        Assert.True(failures.Count == 0, $"{failures.Count} README examples do not do what they show:\n\n" + string.Join("\n\n", failures));
        Assert.True(ran >= 40, $"only {ran} README examples ran: the parser lost some");
    }

    private static void Script(string path, string body)
    {
        File.WriteAllText(path, "#!/bin/sh\n" + body + "\n");
        File.SetUnixFileMode(path, (UnixFileMode)0x1ED);
    }

    /// <summary>The steps of one example in one bash, in <paramref name="home"/>: each step's
    /// output (stdout and stderr together, as a terminal shows them) and exit status. A
    /// step's status is its own; `echo $?` in the next step sees it, as in a shell.</summary>
    private static List<(string Output, int Status)> RunSteps(string home, string bin, ReadmeExample example)
    {
        var script = new StringBuilder("exec 2>&1 </dev/null\n__s=0\n");
        for (int i = 0; i < example.Steps.Count; i++)
        {
            script.Append($"printf '\\036%d\\n' {i}\n(exit $__s)\n");
            if (example.Kind == "table")
            {
                // one line a user types at a terminal (-it needs one): script(1) gives it one
                string file = Path.Combine(home, $".step-{example.Line}");
                File.WriteAllText(file, example.Steps[i].Command + "\n");
                script.Append($"printf 'exit\\n' | script -qec 'bash {file}' /dev/null\n"); // an interactive shell gets `exit`
            }
            else
            {
                script.Append(example.Steps[i].Command).Append('\n');
            }
            script.Append("__s=$?\nprintf '\\037%d\\n' $__s\n");
        }
        var info = new ProcessStartInfo("/bin/bash")
        {
            WorkingDirectory = home,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add(script.ToString());
        info.Environment["PATH"] = bin + ":" + Environment.GetEnvironmentVariable("PATH");
        info.Environment["HOME"] = home;
        using var process = Process.Start(info)!;
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromSeconds(90)))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
        }
        var results = new List<(string, int)>();
        foreach (string part in stdout.Result.Split('\x1e', StringSplitOptions.RemoveEmptyEntries))
        {
            int newline = part.IndexOf('\n');
            string body = newline < 0 ? "" : part[(newline + 1)..];
            int end = body.LastIndexOf('\x1f');
            int status = end >= 0 && int.TryParse(body[(end + 1)..].Trim(), out int s) ? s : -1;
            results.Add((end >= 0 ? body[..end] : body, status));
        }
        return results;
    }
}
