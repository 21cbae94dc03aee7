using System.Runtime.InteropServices;
using Isolate.Interop;

namespace Isolate.Logs;

/// <summary>In the monitor: its own stdout and stderr become two pipes, which the container
/// inherits, and a thread of the monitor's drains them into the <see cref="LogWriter"/> as fast
/// as they fill (the container never waits on the log). The monitor's own messages (warnings,
/// --stats, why the container could not start) go the same way, as stderr records.</summary>
public sealed unsafe class LogPump
{
    private const int PipeSize = 1 << 20; // room for a burst while the disk is slow

    private readonly LogWriter _writer;
    private readonly FileDescriptor _stdout;
    private readonly FileDescriptor _stderr;
    private readonly FileDescriptor _stopRead;
    private readonly FileDescriptor _stopWrite;
    private readonly Thread _thread;

    private LogPump(LogWriter writer, FileDescriptor stdout, FileDescriptor stderr, (FileDescriptor Read, FileDescriptor Write) stop)
    {
        _writer = writer;
        _stdout = stdout;
        _stderr = stderr;
        (_stopRead, _stopWrite) = stop;
        _thread = new Thread(Drain) { IsBackground = true, Name = "log pump" };
    }

    /// <summary>Makes fds 1 and 2 the pipes' write ends and starts draining them.</summary>
    public static LogPump Start(LogWriter writer)
    {
        var stdout = MakePipe(1);
        var stderr = MakePipe(2);
        var stop = Pipes.Create() ?? throw IsolateException.FromErrno("pipe", null, Marshal.GetLastPInvokeError());
        var pump = new LogPump(writer, stdout, stderr, stop);
        pump._thread.Start();
        return pump;
    }

    private static FileDescriptor MakePipe(int target)
    {
        var (read, write) = Pipes.Create() ?? throw IsolateException.FromErrno("pipe", null, Marshal.GetLastPInvokeError());
        Pipes.Fcntl(write.Number, Pipes.F_SETPIPE_SZ, PipeSize); // best effort: the default 64 KiB works too
        if (Pipes.Dup2(write.Number, target) < 0)
            throw IsolateException.FromErrno("dup2 the log pipe", null, Marshal.GetLastPInvokeError());
        write.Dispose();
        return read;
    }

    /// <summary>Once the container has ended: fds 1 and 2 let go, everything written until then
    /// goes to the log, and the thread ends. A process that still holds a pipe (none should: the
    /// container's PID namespace is gone) gets <paramref name="grace"/>, then is no longer read.</summary>
    public void Finish(TimeSpan grace)
    {
        int devNull = Libc.Open("/dev/null", OpenFlags.O_WRONLY | OpenFlags.O_CLOEXEC, 0);
        if (devNull >= 0)
        {
            Pipes.Dup2(devNull, 1);
            Pipes.Dup2(devNull, 2);
            Libc.Close(devNull);
        }
        if (!_thread.Join(grace))
        {
            byte one = 1;
            Libc.Write(_stopWrite, &one, 1);
            _thread.Join();
        }
    }

    private void Drain()
    {
        var buffer = new byte[64 * 1024];
        var fds = stackalloc Poll.PollFd[3];
        bool outOpen = true, errOpen = true, stopping = false;
        while (outOpen || errOpen)
        {
            fds[0] = new Poll.PollFd { Fd = outOpen ? _stdout.Number : -1, Events = Poll.POLLIN };
            fds[1] = new Poll.PollFd { Fd = errOpen ? _stderr.Number : -1, Events = Poll.POLLIN };
            fds[2] = new Poll.PollFd { Fd = _stopRead.Number, Events = Poll.POLLIN };
            int ready = Poll.Wait(fds, 3, stopping ? 0 : -1);
            if (ready < 0 && Marshal.GetLastPInvokeError() == Errno.EINTR)
                continue;
            if (ready <= 0)
                return; // stopping, and nothing is left to read
            if (fds[2].Revents != 0)
                stopping = true;
            if (fds[0].Revents != 0)
                outOpen = Pass(_stdout, stderr: false, buffer);
            if (fds[1].Revents != 0)
                errOpen = Pass(_stderr, stderr: true, buffer);
        }
    }

    /// <summary>One read into the log; false at the end of the stream.</summary>
    private bool Pass(FileDescriptor pipe, bool stderr, byte[] buffer)
    {
        fixed (byte* start = buffer)
        {
            nint n;
            do
                n = Libc.Read(pipe, start, buffer.Length);
            while (n < 0 && Marshal.GetLastPInvokeError() == Errno.EINTR);
            if (n <= 0)
                return false;
            _writer.Append(stderr, buffer.AsSpan(0, (int)n));
            return true;
        }
    }
}
