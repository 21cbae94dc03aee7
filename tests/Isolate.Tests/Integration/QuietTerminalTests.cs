using System.Diagnostics;
using Isolate.Tests.Support;

namespace Isolate.Tests.Integration;

/// <summary>On a terminal Isolate writes its output and its error lines, nothing else: no
/// System.Console initialisation (which sends the keypad-transmit sequence ESC[?1h ESC= and
/// never resets it). Each command runs under script(1), so stdin, stdout and stderr are a
/// pseudo-terminal, and the whole transcript is checked for an ESC byte.</summary>
public sealed class QuietTerminalTests(BusyboxRootfs rootfs) : ContainerTest(rootfs)
{
    [ContainerFact(Needs = "/usr/bin/script")]
    public void Commands_on_a_terminal_write_no_escape_sequence()
    {
        string isolate = IsolateBinary.Path;
        var commands = new (string Command, string Shows)[]
        {
            ($"{isolate} --version", "isolate version"),
            ($"{isolate} --help", "Exit status:"),
            ($"{isolate} run --help", "--rootfs=DIR"),
            ($"{isolate} help run", "--rootfs=DIR"),
            ($"{isolate} run --rootfs {Rootfs.Path} --cgroup-parent {CgroupParent} -- echo ran", "ran"),
            ($"{isolate} ps", "CONTAINER"),
            ($"{isolate} run --no-such-option", "isolate: unknown option '--no-such-option'"),
            ($"{isolate} run --rootfs /no/such/dir -- true", "isolate: "),
            // stdout a pipe, stdin still the terminal: .NET's Console would write the sequence to stdin's terminal
            ($"{isolate} --help | cat", "Exit status:"),
        };
        foreach (var (command, shows) in commands)
        {
            string transcript = UnderScript(command);
            Assert.Contains(shows, transcript);
            Assert.False(transcript.Contains('\x1b'), $"{command} wrote an escape sequence: {transcript.Replace("\x1b", "\\e")}");
        }
    }

    private static string UnderScript(string command)
    {
        var info = new ProcessStartInfo("/usr/bin/script") { RedirectStandardOutput = true, RedirectStandardInput = true, UseShellExecute = false };
        foreach (string arg in new[] { "-qec", command, "/dev/null" })
            info.ArgumentList.Add(arg);
        using var process = Process.Start(info)!;
        process.StandardInput.Close();
        string output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return output;
    }
}
