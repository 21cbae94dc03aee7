using System.Diagnostics;
using Isolate.Tests.Support;

namespace Isolate.Tests.Integration;

/// <summary>-t and -i driven through a real terminal: the test holds a pty master (its
/// keyboard and screen) and starts isolate as the session leader on the slave, the way a
/// login shell starts a foreground command.</summary>
public sealed class TerminalTests(BusyboxRootfs rootfs) : ContainerTest(rootfs)
{
    private const int SIGTERM = 15;

    /// <summary>isolate on the terminal as its controlling terminal, stdin, stdout and stderr.</summary>
    private Process StartOn(PseudoTerminal terminal, params string[] isolateArgs)
    {
        var info = new ProcessStartInfo("/bin/sh") { UseShellExecute = false };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add("exec setsid -w -c \"$@\" <\"$PTS\" >\"$PTS\" 2>&1");
        info.ArgumentList.Add("sh");
        info.ArgumentList.Add("/usr/bin/env");
        info.ArgumentList.Add("--default-signal=HUP,INT,QUIT,USR1,USR2,TERM");
        info.ArgumentList.Add(IsolateBinary.Path);
        foreach (string arg in isolateArgs)
            info.ArgumentList.Add(arg);
        info.Environment["PTS"] = terminal.SlavePath;
        return Process.Start(info)!;
    }

    private static int ExitCodeOf(Process process, PseudoTerminal terminal)
    {
        Assert.True(process.WaitForExit(TimeSpan.FromSeconds(30)), $"isolate did not exit; the terminal shows:\n{terminal.Output}");
        return process.ExitCode;
    }

    private static void WaitForSleepInside()
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!HostProcesses.OfThisTestInOtherPidNamespaces().Any(p => HostProcesses.Comm(p) == "sleep"))
        {
            Assert.True(DateTime.UtcNow < deadline, "the sleep never started inside");
            Thread.Sleep(20);
        }
    }

    [ContainerFact]
    public void An_interactive_shell_feels_like_a_real_terminal()
    {
        using var terminal = new PseudoTerminal(31, 97);
        byte[] before = terminal.Settings();
        using var isolate = StartOn(terminal, "run", "-it", "--rootfs", Rootfs.Path, "--", "sh");

        // its own terminal, in its own devpts, of the caller's size
        terminal.Type("tty; stty size\r");
        int at = terminal.WaitFor("/dev/pts/0");
        at = terminal.WaitFor("31 97", at);

        // the caller's terminal is raw while the container runs: no echo, no line editing,
        // no signals from the keys (Ctrl-C is a byte for the container)
        uint flags = PseudoTerminal.LocalFlags(terminal.Settings());
        Assert.Equal(0u, flags & (PseudoTerminal.ICANON | PseudoTerminal.ECHO | PseudoTerminal.ISIG));

        // a resize of the outer window reaches the container's terminal
        terminal.Resize(40, 120);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (true)
        {
            terminal.Type("stty size\r");
            try
            {
                at = terminal.WaitFor("40 120", at, TimeSpan.FromMilliseconds(300));
                break;
            }
            catch (TimeoutException) when (DateTime.UtcNow < deadline)
            {
            }
        }

        // Ctrl-C interrupts the foreground job inside; the shell (and isolate) survive
        terminal.Type("sleep 100\r");
        WaitForSleepInside();
        terminal.Type("\u0003");
        terminal.Type("echo status $?\r");
        at = terminal.WaitFor("status 130", at);
        terminal.Type("echo al''ive\r");
        terminal.WaitFor("alive", at);

        terminal.Type("exit 3\r");
        Assert.Equal(3, ExitCodeOf(isolate, terminal));
        Assert.Equal(before, terminal.Settings()); // restored exactly
    }

    [ContainerFact]
    public void The_terminal_is_restored_when_isolate_is_stopped_with_SIGTERM()
    {
        using var terminal = new PseudoTerminal(24, 80);
        byte[] before = terminal.Settings();
        // an interactive shell ignores SIGTERM: the stop ends in SIGKILL after the grace period
        using var isolate = StartOn(terminal, "run", "-it", "--stop-timeout", "1s", "--rootfs", Rootfs.Path, "--", "sh");
        terminal.Type("echo rea''dy\r");
        terminal.WaitFor("ready");
        Assert.NotEqual(before, terminal.Settings()); // raw meanwhile

        Assert.Equal(0, kill(isolate.Id, SIGTERM));

        Assert.Equal(137, ExitCodeOf(isolate, terminal));
        Assert.Equal(before, terminal.Settings());
    }

    private static char SleepState()
    {
        int sleep = HostProcesses.OfThisTestInOtherPidNamespaces().Single(p => HostProcesses.Comm(p) == "sleep");
        string stat = File.ReadAllText($"/proc/{sleep}/stat");
        return stat[stat.LastIndexOf(')') + 2];
    }

    [ContainerFact]
    public void Job_control_works_inside()
    {
        using var terminal = new PseudoTerminal(24, 80);
        using var isolate = StartOn(terminal, "run", "-it", "--rootfs", Rootfs.Path, "--", "sh");
        // Ctrl-Z stops the foreground job, the shell gets the terminal back, fg resumes the
        // job in the foreground, and Ctrl-C then reaches it
        terminal.Type("sleep 100\r");
        WaitForSleepInside();
        terminal.Type("\u001a");
        int at = terminal.WaitFor("Stopped");
        Assert.Equal('T', SleepState());
        terminal.Type("jobs\r");
        at = terminal.WaitFor("Stopped", at); // the shell holds it as a stopped job
        terminal.Type("fg\r");
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (SleepState() != 'S')
        {
            Assert.True(DateTime.UtcNow < deadline, "fg did not resume the job");
            Thread.Sleep(20);
        }
        terminal.Type("\u0003");
        terminal.Type("echo status $?\r");
        terminal.WaitFor("status 130", at);
        terminal.Type("exit\r");
        Assert.Equal(0, ExitCodeOf(isolate, terminal));
    }

    [ContainerFact]
    public void With_init_the_shell_is_pid_2_and_owns_the_terminal()
    {
        using var terminal = new PseudoTerminal(24, 80);
        using var isolate = StartOn(terminal, "run", "-it", "--init", "--rootfs", Rootfs.Path, "--", "sh");
        terminal.Type("echo pid $$\r");
        int at = terminal.WaitFor("pid 2");
        terminal.Type("sleep 100\r");
        WaitForSleepInside();
        terminal.Type("\u0003");
        terminal.Type("echo status $?\r");
        terminal.WaitFor("status 130", at);
        terminal.Type("exit 3\r");
        Assert.Equal(3, ExitCodeOf(isolate, terminal));
    }

    [ContainerFact]
    public void Ctrl_C_reaches_a_pid_1_that_handles_it_through_the_container_terminal()
    {
        // with -it, Ctrl-C is not a signal to isolate: it is a byte the container's own
        // terminal turns into SIGINT for the container's foreground process group
        using var terminal = new PseudoTerminal(24, 80);
        using var isolate = StartOn(terminal, "run", "-it", "--rootfs", Rootfs.Path, "--",
            "sh", "-c", "trap 'echo caught''-int; exit 9' INT; echo rea''dy; while :; do sleep 0.05; done");
        terminal.WaitFor("ready");
        terminal.Type("\u0003");
        terminal.WaitFor("caught-int");
        Assert.Equal(9, ExitCodeOf(isolate, terminal));
    }

    [ContainerFact]
    public void Input_the_container_never_reads_does_not_hold_up_its_output()
    {
        // a paste the command ignores fills the container terminal's input queue; the
        // output must still flow
        using var terminal = new PseudoTerminal(24, 80);
        using var isolate = StartOn(terminal, "run", "-it", "--rootfs", Rootfs.Path, "--",
            "sh", "-c", "sleep 1; head -c 300000 /dev/zero | tr '\\0' x; echo; echo fin''ished");
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while ((PseudoTerminal.LocalFlags(terminal.Settings()) & PseudoTerminal.ICANON) != 0 && DateTime.UtcNow < deadline)
            Thread.Sleep(10); // isolate has made the terminal raw: it relays input from now on
        int typed = 0;
        var typing = DateTime.UtcNow + TimeSpan.FromSeconds(2);
        while (typed < 256 * 1024 && DateTime.UtcNow < typing)
        {
            typed += terminal.TypeWithoutWaiting(256 * 1024 - typed);
            Thread.Sleep(5);
        }
        Assert.True(typed > 70 * 1024, $"only {typed} bytes typed: the test would not fill the queue");

        terminal.WaitFor("finished", timeout: TimeSpan.FromSeconds(30));
        Assert.Equal(0, ExitCodeOf(isolate, terminal));
    }

    [ContainerFact]
    public void With_init_Ctrl_Z_does_not_leave_a_command_stopped_for_good()
    {
        // no shell inside to `fg` it: init resumes it
        using var terminal = new PseudoTerminal(24, 80);
        using var isolate = StartOn(terminal, "run", "-it", "--init", "--rootfs", Rootfs.Path, "--", "cat");
        terminal.Type("one\r");
        int at = terminal.WaitFor("one\r\none\r\n"); // the terminal's echo, then cat's copy
        terminal.Type("\u001a");
        Thread.Sleep(300);
        terminal.Type("two\r");
        terminal.WaitFor("two\r\ntwo\r\n", at);
        terminal.Type("\u0004"); // Ctrl-D: end of input
        Assert.Equal(0, ExitCodeOf(isolate, terminal));
    }

    [ContainerFact]
    public void A_reader_that_goes_away_ends_the_container_with_SIGPIPE()
    {
        // `isolate run -t yes | head -1` ends as `yes | head -1` does
        var result = IsolateBinary.RunFromShell(
            $"bash -c 'set -o pipefail; \"$ISOLATE\" run -t --rootfs {Rootfs.Path} -- yes | head -1; echo \"status $?\"'",
            timeout: TimeSpan.FromSeconds(30));

        Assert.Equal("y\r\nstatus 141\n", result.Stdout);
    }

    [ContainerFact]
    public void Tty_without_a_terminal_gives_the_container_one_and_returns_its_output()
    {
        // docker run -t with a pipe: a terminal inside, its output comes back through the pipe
        var result = RunIn(["-t"], "sh", "-c", "tty; test -t 0 && echo stdin-is-a-tty; exit 4");

        Assert.Equal(4, result.ExitCode);
        Assert.Equal("/dev/pts/0\r\nstdin-is-a-tty\r\n", result.Stdout);
    }

    [ContainerFact]
    public void Tty_sets_TERM_and_the_terminal_belongs_to_the_user()
    {
        var result = RunIn(["-t", "-u", "1000:1000"], "sh", "-c", "echo $TERM; stat -c '%u:%g %a' $(tty)");

        Assert.Equal(0, result.ExitCode);
        Assert.Equal("xterm\r\n1000:5 620\r\n", result.Stdout);
    }

    [ContainerFact]
    public void Interactive_with_tty_and_no_terminal_is_an_error()
    {
        var result = IsolateBinary.Run(["run", "-it", "--rootfs", Rootfs.Path, "--", "true"], stdin: "");

        Assert.Equal(125, result.ExitCode);
        Assert.Contains("the input device is not a terminal", result.Stderr);
        Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [System.Runtime.InteropServices.DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int signal);
}
