using Isolate.Tests.Support;

namespace Isolate.Tests.Integration;

/// <summary>runc's masked and read-only kernel paths, on by default, off with --privileged.</summary>
public sealed class KernelPathTests(BusyboxRootfs rootfs) : ContainerTest(rootfs)
{
    [ContainerFact]
    public void Proc_keys_and_kcore_give_nothing_useful()
    {
        var result = Sh("wc -c < /proc/keys; wc -c < /proc/timer_list; cat /proc/kcore 2>/dev/null | wc -c; ls -A /sys/firmware | wc -l");
        Assert.Equal(0, result.ExitCode);
        // /proc/kcore is masked with /dev/null where the kernel has it, absent where not: 0 bytes either way
        Assert.Equal(["0", "0", "0", "0"], result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(s => s.Trim()));
        Assert.True(new FileInfo("/proc/keys").Exists); // the host has them: the mask, not the kernel, hides them
    }

    [ContainerFact]
    public void Writing_proc_sysrq_trigger_and_proc_sys_fails()
    {
        // Writes back the current value, so even a failing mask could not change the host.
        var result = Sh("cat /proc/sys/vm/overcommit_memory > /proc/sys/vm/overcommit_memory; echo h > /proc/sysrq-trigger");

        Assert.NotEqual(0, result.ExitCode);
        string[] errors = result.Stderr.Trim().Split('\n');
        Assert.Contains("Read-only file system", errors[0]);
        // sysrq-trigger is read-only where the kernel has it; some kernels do not have it at all
        Assert.Contains("/proc/sysrq-trigger", errors[1]);
        if (File.Exists("/proc/sysrq-trigger"))
            Assert.Contains("Read-only file system", errors[1]);
    }

    [ContainerFact]
    public void Privileged_turns_the_masks_and_read_only_paths_off()
    {
        var normal = RunIn("cat", "/proc/self/mountinfo");
        var privileged = RunIn(["--privileged"], "cat", "/proc/self/mountinfo");

        Assert.Contains(" /proc/keys ", normal.Stdout);
        Assert.Contains(" /proc/sys ro,", normal.Stdout);
        Assert.DoesNotContain(" /proc/keys ", privileged.Stdout);
        Assert.DoesNotContain(" /proc/sys ", privileged.Stdout);
        Assert.DoesNotContain(" /sys/firmware ", privileged.Stdout);
    }
}
