using System.Globalization;
using System.Text.RegularExpressions;
using Isolate.Tests.Support;

namespace Isolate.Tests.Integration;

/// <summary>ISOLATE_TIMING=1 (issue 15's breakdown, read by bench/run.sh): one line on stderr
/// at exit with each phase of a start in milliseconds, adding up to the total; without it,
/// nothing is said.</summary>
public sealed class TimingTests(BusyboxRootfs rootfs) : ContainerTest(rootfs)
{
    private static readonly string[] RunPhases = ["runtime", "parse", "spec", "layer", "cgroup", "plan", "clone", "gate", "exec", "wait", "teardown"];

    private RunResult Run(bool timing)
    {
        var info = IsolateBinary.StartInfo(["run", "--rootfs", Rootfs.Path, "--cgroup-parent", CgroupParent, "--", "sh", "-c", "echo out; echo err >&2"]);
        if (timing)
            info.Environment["ISOLATE_TIMING"] = "1";
        else
            info.Environment.Remove("ISOLATE_TIMING");
        return IsolateBinary.RunToEnd(info);
    }

    [ContainerFact]
    public void Timing_gives_every_phase_of_a_run_once_and_they_add_up_to_the_total()
    {
        var result = Run(timing: true);
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal("out\n", result.Stdout); // the container's own output is untouched
        var lines = result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("err", lines[0]);
        var match = Regex.Match(Assert.Single(lines[1..]), @"^isolate: timing:((?: [a-z]+ \d+\.\d\d)+) total (\d+\.\d\d) \(ms\); allocated \d+ KiB$");
        Assert.True(match.Success, result.Stderr);
        var phases = match.Groups[1].Value.Trim().Split(' ').Chunk(2).Select(p => (Name: p[0], Ms: double.Parse(p[1], CultureInfo.InvariantCulture))).ToList();
        Assert.Equal(RunPhases, phases.Select(p => p.Name));
        double total = double.Parse(match.Groups[2].Value, CultureInfo.InvariantCulture);
        Assert.InRange(phases.Sum(p => p.Ms), total - 0.1, total + 0.1); // each rounded to 0.01
        Assert.True(phases.Single(p => p.Name == "runtime").Ms > 0, "the runtime's start is measured from the binary's first C code");
    }

    [ContainerFact]
    public void Without_it_nothing_is_said()
    {
        var result = Run(timing: false);
        Assert.Equal((0, "out\n", "err\n"), (result.ExitCode, result.Stdout, result.Stderr));
    }
}
