using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Isolate.Interop;

namespace Isolate.Logs;

/// <summary>The monitor's side of a detached container's log: each chunk the container wrote
/// becomes CRI records (one per line, P where a line is split or not finished yet), appended to
/// LOG; when LOG would grow past max-size it becomes LOG.1 (LOG.1 becomes LOG.2, ...; the
/// oldest beyond max-file is removed), as docker's json-file rotates. A write that fails (a
/// full disk) drops the records and counts their bytes: the container is never held up by its
/// log; once writing works again, a record on stderr says how much was lost. The log leaves
/// the last <see cref="Reserve"/> of its filesystem free, so that the monitor can still record
/// the exit status when the log shares a full disk with the state (--root).</summary>
public sealed unsafe class LogWriter : IDisposable
{
    private readonly string _path;
    private readonly LogOptions _options;
    private readonly Func<DateTime> _clock;
    private FileDescriptor _file;
    private long _size;
    private bool _cut; // the file ends inside a record (a write failed half way)
    private int _lastErrno;
    private readonly List<byte> _buffer = new(80 * 1024);
    private long _contentBytes; // the container's bytes in _buffer, for the count of what was dropped
    private long _reporting; // what the report in _buffer tells of: owed again if it is not written

    /// <summary>Bytes of the container's output that could not be written.</summary>
    public long Dropped { get; private set; }

    /// <summary>Bytes not yet reported in the log itself.</summary>
    private long _unreported;

    /// <summary>Room the log never takes (a state.json and its rename, many times over).</summary>
    public const ulong Reserve = 128 * 1024;

    /// <summary>write(2), replaceable by a test (a full disk).</summary>
    internal Func<FileDescriptor, ReadOnlyMemory<byte>, (nint Written, int Errno)> WriteFile { get; set; } = DefaultWrite;

    public LogWriter(string path, LogOptions options, Func<DateTime>? clock = null)
    {
        _path = path;
        _options = options;
        _clock = clock ?? (() => DateTime.UtcNow);
        _file = OpenLog(path);
        _size = FileStat.Follow(_file.ProcPath)?.Size is { } size ? (long)size : 0;
    }

    public static string Rotated(string path, int index) => path + "." + index.ToString(CultureInfo.InvariantCulture);

    private static FileDescriptor OpenLog(string path)
    {
        // O_NOFOLLOW: a link planted at the log's name is refused, not written through
        var fd = FileDescriptor.Open(path, OpenFlags.O_WRONLY | OpenFlags.O_CREAT | OpenFlags.O_APPEND | OpenFlags.O_NOFOLLOW, OpenFlags.ModeOwnerReadWrite);
        if (fd.IsInvalid)
            throw IsolateException.FromErrno("open log", path, Marshal.GetLastPInvokeError());
        return fd;
    }

    /// <summary>What the container wrote on one stream, as one read gave it.</summary>
    public void Append(bool stderr, ReadOnlySpan<byte> chunk)
    {
        string time = CriRecord.FormatTime(_clock());
        if (_unreported > 0)
            Report(time);
        while (chunk.Length > 0)
        {
            int newline = chunk[..Math.Min(chunk.Length, CriRecord.MaxContent + 1)].IndexOf((byte)'\n');
            bool full = newline >= 0;
            int length = full ? newline : Math.Min(chunk.Length, CriRecord.MaxContent);
            Record(time, stderr, partial: !full, chunk[..length]);
            chunk = chunk[(full ? length + 1 : length)..];
        }
        Flush();
    }

    private void Report(string time)
    {
        long lost = _unreported;
        _unreported = 0;
        _reporting = lost;
        string text = $"isolate: warning: {lost.ToString(CultureInfo.InvariantCulture)} bytes of the container's output were dropped: write {_path}: {IsolateException.Describe(_lastErrno)}";
        Record(time, stderr: true, partial: false, Encoding.UTF8.GetBytes(text), container: false);
    }

    private void Record(string time, bool stderr, bool partial, ReadOnlySpan<byte> content, bool container = true)
    {
        int length = time.Length + 10 + content.Length;
        if (_options.MaxSize is { } max && _size + _buffer.Count > 0 && _size + _buffer.Count + length > max)
        {
            Flush();
            Rotate();
        }
        CriRecord.Write(_buffer, time, stderr, partial, content);
        if (container)
            _contentBytes += content.Length + (partial ? 0 : 1);
    }

    private void Flush()
    {
        if (_buffer.Count == 0)
            return;
        if (_cut)
            _buffer.Insert(0, (byte)'\n'); // end the cut record: a reader skips it as damaged
        var bytes = CollectionsMarshal.AsSpan(_buffer).ToArray();
        int done = 0;
        while (done < bytes.Length)
        {
            var (written, errno) = WriteFile(_file, bytes.AsMemory(done));
            if (written < 0 && errno == Errno.EINTR)
                continue;
            if (written <= 0)
            {
                _lastErrno = errno;
                Dropped += _contentBytes;
                _unreported += _contentBytes + _reporting;
                _cut = done > 0 || _cut;
                break;
            }
            done += (int)written;
            _size += written;
            if (done == bytes.Length)
                _cut = false;
        }
        _buffer.Clear();
        _contentBytes = 0;
        _reporting = 0;
    }

    private void Rotate()
    {
        int keep = _options.MaxFiles - 1; // rotated files beside LOG
        if (keep == 0)
            Libc.Unlink(_path);
        else
        {
            Libc.Unlink(Rotated(_path, keep));
            for (int i = keep - 1; i >= 1; i--)
                Libc.Rename(Rotated(_path, i), Rotated(_path, i + 1));
            Libc.Rename(_path, Rotated(_path, 1));
        }
        try
        {
            var next = OpenLog(_path);
            _file.Dispose();
            _file = next;
            _size = 0;
            _cut = false;
        }
        catch (IsolateException)
        {
            // could not make a new file (a full disk): go on appending to the old one's inode;
            // its writes fail or succeed as the disk allows
        }
    }

    private static (nint, int) DefaultWrite(FileDescriptor fd, ReadOnlyMemory<byte> bytes)
    {
        if (FileSystemStat.Available(fd) is { } room && room < Reserve + (ulong)bytes.Length)
            return (-1, Errno.ENOSPC);
        fixed (byte* start = bytes.Span)
        {
            nint n = Libc.Write(fd, start, bytes.Length);
            return (n, n < 0 ? Marshal.GetLastPInvokeError() : Errno.ENOSPC);
        }
    }

    public void Dispose() => _file.Dispose();
}
