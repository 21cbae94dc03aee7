using System.Runtime.InteropServices;
using System.Text;
using Isolate.Interop;

namespace Isolate.Logs;

/// <summary>`logs`' output: stdout records to one fd, stderr records to the other, byte for
/// byte, through write(2); with timestamps, each line starts with its record's time. Buffered
/// per stream and flushed whenever the stream changes, so that 2>&1 keeps the log's order.</summary>
public sealed unsafe class LogOutput(int stdoutFd, int stderrFd, bool timestamps)
{
    private readonly List<byte> _buffer = new(64 * 1024);
    private bool _bufferStderr;
    private readonly bool[] _atLineStart = [true, true];

    /// <summary>False once a reader went away (EPIPE): nothing more is worth printing.</summary>
    public bool Open { get; private set; } = true;

    public void Print(CriRecord record)
    {
        if (record.Stderr != _bufferStderr || _buffer.Count >= 64 * 1024)
            Flush();
        _bufferStderr = record.Stderr;
        int stream = record.Stderr ? 1 : 0;
        if (timestamps && _atLineStart[stream])
        {
            _buffer.AddRange(Encoding.ASCII.GetBytes(record.TimeText));
            _buffer.Add((byte)' ');
        }
        _buffer.AddRange(record.Content.Span);
        if (!record.Partial)
            _buffer.Add((byte)'\n');
        _atLineStart[stream] = !record.Partial;
    }

    /// <summary>Bytes as they are (a log from before the CRI format: the container's stdout and stderr together).</summary>
    public void PrintRaw(ReadOnlySpan<byte> bytes)
    {
        if (_bufferStderr)
            Flush();
        _buffer.AddRange(bytes);
    }

    public void Flush()
    {
        var bytes = CollectionsMarshal.AsSpan(_buffer);
        int fd = _bufferStderr ? stderrFd : stdoutFd;
        fixed (byte* start = bytes)
        {
            int done = 0;
            while (Open && done < bytes.Length)
            {
                nint n = Libc.Write(fd, start + done, bytes.Length - done);
                if (n < 0 && Marshal.GetLastPInvokeError() == Errno.EINTR)
                    continue;
                if (n <= 0)
                    Open = false;
                else
                    done += (int)n;
            }
        }
        _buffer.Clear();
    }
}
