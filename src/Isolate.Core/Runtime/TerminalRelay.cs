using Isolate.Interop;

namespace Isolate.Runtime;

/// <summary>-t on the caller's side: the pty master relayed to Isolate's stdout by
/// native/relay.c on a thread of its own, and with -i stdin to it on another (so a container
/// that reads no input never holds up its output), the caller's terminal raw while it runs
/// and restored exactly afterwards, the window size following SIGWINCH.</summary>
internal sealed unsafe class TerminalRelay
{
    private const int SavedSize = 256; // struct termios is 60 bytes on x86_64
    private readonly int _master;
    private readonly Thread _thread;
    private readonly byte[]? _saved;
    private readonly bool _interactive;

    private TerminalRelay(int master, bool interactive)
    {
        _master = master;
        _interactive = interactive;
        if (interactive && HostTerminal.IsTerminal(0))
        {
            var saved = new byte[SavedSize];
            fixed (byte* p = saved)
            {
                if (Shim.TtyRaw(0, p, SavedSize) == 0)
                    _saved = saved;
            }
        }
        int sizeFd = HostTerminal.IsTerminal(1) ? 1 : HostTerminal.IsTerminal(0) ? 0 : -1;
        _thread = new Thread(() => Shim.TtyRelay(master, 1, sizeFd)) { IsBackground = true, Name = "isolate tty output" };
        _thread.Start();
        if (interactive)
        {
            // never joined: it may sit in read(stdin) when the container ends, and the
            // master stays open (not reused) until Isolate exits
            new Thread(() => Shim.TtyInput(master, 0)) { IsBackground = true, Name = "isolate tty input" }.Start();
        }
    }

    public static TerminalRelay Start(int master, bool interactive) => new(master, interactive);

    /// <summary>After the container ended: the rest of its output, however slowly the caller
    /// reads it, then the caller's terminal as it was. The relay ends by itself once no process
    /// holds the pty any more (the container's processes all die with its PID 1).</summary>
    public void Finish()
    {
        _thread.Join();
        if (_saved != null)
        {
            fixed (byte* p = _saved)
                Shim.TtyRestore(0, p);
        }
        if (!_interactive)
            Libc.Close(_master);
    }
}
