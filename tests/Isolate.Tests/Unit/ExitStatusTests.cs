using Isolate.Runtime;

namespace Isolate.Tests.Unit;

/// <summary>waitpid status to exit code: the command's own, or 128+N for signal N.</summary>
public sealed class ExitStatusTests
{
    private static int Exited(int code) => code << 8;

    [Theory]
    [InlineData(0)]
    [InlineData(7)]
    [InlineData(125)]
    [InlineData(255)]
    public void A_normal_exit_is_the_commands_code(int code) => Assert.Equal(code, ExitStatus.FromWaitStatus(Exited(code)));

    [Theory]
    [InlineData(9, 137)]
    [InlineData(15, 143)]
    [InlineData(2, 130)]
    [InlineData(11, 139)]
    public void Death_by_signal_is_128_plus_n(int signal, int expected) => Assert.Equal(expected, ExitStatus.FromWaitStatus(signal));

    [Fact]
    public void A_core_dump_flag_does_not_change_the_code() => Assert.Equal(139, ExitStatus.FromWaitStatus(11 | 0x80));

    [Fact]
    public void A_sigkill_that_stood_in_for_a_forwarded_signal_reports_that_signal()
    {
        Assert.Equal(143, ExitStatus.FromWaitStatus(9, stoppedBySignal: 15));
        Assert.Equal(129, ExitStatus.FromWaitStatus(9, stoppedBySignal: 1));
        // the command exited on its own before the SIGKILL landed: its own code stands
        Assert.Equal(3, ExitStatus.FromWaitStatus(Exited(3), stoppedBySignal: 15));
    }
}
