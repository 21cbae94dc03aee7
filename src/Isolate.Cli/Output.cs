using Isolate.Runtime;

namespace Isolate.Cli;

internal static class Output
{
    public static void Out(string text) => HostTerminal.Write(1, text);

    /// <summary>One line on stderr, written in one call.</summary>
    public static void Error(string line) => HostTerminal.Write(2, line + "\n");
}
