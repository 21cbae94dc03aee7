using Isolate.Interop;

namespace Isolate.Logs;

/// <summary>What `logs` asks for: follow, the last N lines, records since a time, timestamps.</summary>
public sealed record LogQuery(bool Follow = false, int? Tail = null, DateTime? Since = null, bool Timestamps = false);

/// <summary>`logs`' side of a detached container's log: the rotated files (oldest first) and
/// then LOG, as records; with follow, LOG as it grows and as it is rotated, until the monitor
/// ends (inotify and a pidfd wake it: no sleeping poll).</summary>
public static unsafe class LogReader
{
    /// <summary>Every file of the log, oldest first.</summary>
    public static List<string> Files(string path)
    {
        var rotated = new List<string>();
        for (int i = 1; File.Exists(LogWriter.Rotated(path, i)); i++)
            rotated.Add(LogWriter.Rotated(path, i));
        rotated.Reverse();
        if (File.Exists(path))
            rotated.Add(path);
        return rotated;
    }

    /// <summary>The records of every file, oldest first (the current file last).</summary>
    public static IEnumerable<CriRecord> ReadAll(string path)
    {
        foreach (string file in Files(path))
        {
            using var cursor = Cursor.TryOpen(file);
            if (cursor is null)
                continue; // rotated away meanwhile
            foreach (var record in cursor.ReadAvailable())
                yield return record;
        }
    }

    /// <summary>The records a query keeps of <paramref name="records"/>: since a time, then the last N lines.</summary>
    public static IEnumerable<CriRecord> Select(IEnumerable<CriRecord> records, LogQuery query)
    {
        if (query.Since is { } since)
            records = records.Where(r => r.Time >= since);
        if (query.Tail is not { } tail)
            return records;
        // a line is its records up to an F, per stream; lines are numbered by their first record
        var numbered = new List<(CriRecord Record, int Line)>();
        int next = 0;
        int?[] open = [null, null];
        foreach (var record in records)
        {
            int stream = record.Stderr ? 1 : 0;
            int line = open[stream] ??= next++;
            numbered.Add((record, line));
            if (!record.Partial)
                open[stream] = null;
        }
        int first = next - tail;
        return numbered.Where(n => n.Line >= first).Select(n => n.Record);
    }

    /// <summary>Prints the log as <paramref name="query"/> asks; with follow, until
    /// <paramref name="ended"/> says its writer is gone (and then all it wrote is printed).
    /// <paramref name="writer"/>: a pidfd of the writer (-1: none), to wake up when it ends.</summary>
    public static void Print(string path, LogQuery query, LogOutput output, int writer, Func<bool> ended)
    {
        var records = Files(path).Where(f => f != path).SelectMany(ReadWhole).ToList();
        var current = Cursor.TryOpen(path); // LOG stays open, to follow it
        try
        {
            if (current != null)
                records.AddRange(current.ReadAvailable());
            Emit(records, query, output);
            if (!query.Follow)
                return;
            var follow = query with { Tail = null };
            using var inotify = new FileDescriptor(Inotify.Init(Inotify.IN_NONBLOCK | Inotify.IN_CLOEXEC));
            if (!inotify.IsInvalid)
                Inotify.AddWatch(inotify.Number, Path.GetDirectoryName(path)!, Inotify.IN_MODIFY | Inotify.IN_CREATE | Inotify.IN_MOVED_FROM | Inotify.IN_MOVED_TO | Inotify.IN_DELETE);
            while (output.Open)
            {
                bool done = ended();
                current ??= Cursor.TryOpen(path);
                if (current != null)
                {
                    Emit(current.ReadAvailable(), follow, output);
                    if (FileStat.Follow(path)?.Inode is { } inode && inode != current.Inode)
                    {
                        // rotated: the monitor writes only to LOG, so the old file is complete;
                        // what was rotated after it (if it was rotated more than once) comes next
                        Emit(current.ReadAvailable(), follow, output);
                        int index = IndexOf(path, current.Inode);
                        current.Dispose();
                        current = null;
                        for (int i = index - 1; i >= 1; i--)
                            Emit(ReadWhole(LogWriter.Rotated(path, i)), follow, output);
                        continue;
                    }
                }
                if (done)
                    break;
                output.Flush();
                Sleep(inotify, writer);
            }
        }
        finally
        {
            output.Flush();
            current?.Dispose();
        }
    }

    /// <summary>Which rotated file holds <paramref name="inode"/> (0: none does any more).</summary>
    private static int IndexOf(string path, ulong inode)
    {
        for (int i = 1; FileStat.Follow(LogWriter.Rotated(path, i)) is { } stat; i++)
        {
            if (stat.Inode == inode)
                return i;
        }
        return 0;
    }

    /// <summary>Until the log changes or the writer ends (a second at most, in case an event was missed).</summary>
    private static void Sleep(FileDescriptor inotify, int writer)
    {
        var fds = stackalloc Poll.PollFd[2];
        fds[0] = new Poll.PollFd { Fd = inotify.IsInvalid ? -1 : inotify.Number, Events = Poll.POLLIN };
        fds[1] = new Poll.PollFd { Fd = writer, Events = Poll.POLLIN };
        if (Poll.Wait(fds, 2, inotify.IsInvalid ? 100 : 1000) > 0 && fds[0].Revents != 0)
        {
            var events = stackalloc byte[4096];
            while (Libc.Read(inotify, events, 4096) > 0)
            {
            }
        }
    }

    private static List<CriRecord> ReadWhole(string file)
    {
        using var cursor = Cursor.TryOpen(file);
        return cursor is null ? [] : cursor.ReadAvailable();
    }

    private static void Emit(IEnumerable<CriRecord> records, LogQuery query, LogOutput output)
    {
        foreach (var record in Select(records, query))
        {
            if (!output.Open)
                return;
            output.Print(record);
        }
    }

    /// <summary>One open log file, read as it grows: complete records only (a record the
    /// monitor is writing this instant waits for its newline).</summary>
    public sealed class Cursor : IDisposable
    {
        private readonly FileStream _stream;
        private byte[] _pending = [];

        private Cursor(FileStream stream) => _stream = stream;

        public static Cursor? TryOpen(string path)
        {
            try
            {
                return new Cursor(new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1));
            }
            catch (FileNotFoundException)
            {
                return null;
            }
        }

        /// <summary>The inode it reads (LOG's until a rotation renames it).</summary>
        public ulong Inode => FileStat.Follow("/proc/self/fd/" + _stream.SafeFileHandle.DangerousGetHandle().ToString(System.Globalization.CultureInfo.InvariantCulture))?.Inode ?? 0;

        public List<CriRecord> ReadAvailable()
        {
            var records = new List<CriRecord>();
            var chunk = new byte[256 * 1024];
            int n;
            while ((n = _stream.Read(chunk)) > 0)
            {
                byte[] data = [.. _pending, .. chunk.AsSpan(0, n)];
                int start = 0;
                for (int newline; (newline = Array.IndexOf(data, (byte)'\n', start)) >= 0; start = newline + 1)
                {
                    if (CriRecord.Parse(data.AsMemory(start, newline - start)) is { } record)
                        records.Add(record);
                }
                _pending = data[start..];
            }
            return records;
        }

        public void Dispose() => _stream.Dispose();
    }
}

/// <summary>`logs`' arguments as docker takes them.</summary>
public static class LogArguments
{
    /// <summary>--tail: a number of lines, or "all".</summary>
    public static int? ParseTail(string value) =>
        value == "all" ? null
        : int.TryParse(value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int n) ? n
        : throw new IsolateException($"invalid --tail '{value}': give a number of lines or all");

    /// <summary>--since: an RFC 3339 time (2026-12-05T07:00:00Z, 2026-12-05T08:00:00+01:00,
    /// 2026-12-05), a Unix time in seconds (1796454000.5), or a duration before now (10m, 1h30m, 45s).</summary>
    public static DateTime ParseSince(string value, DateTime now)
    {
        var styles = System.Globalization.DateTimeStyles.AdjustToUniversal | System.Globalization.DateTimeStyles.AssumeUniversal;
        var culture = System.Globalization.CultureInfo.InvariantCulture;
        // `logs -t` prints nanoseconds; DateTime holds 100 ns: the digits past the seventh go
        string rfc3339 = System.Text.RegularExpressions.Regex.Replace(value, @"(\.\d{7})\d+", "$1");
        if (value.Contains('-') && DateTime.TryParse(rfc3339, culture, styles, out var time))
            return time;
        if (decimal.TryParse(value, System.Globalization.NumberStyles.AllowDecimalPoint, culture, out decimal seconds))
            return DateTime.UnixEpoch.AddTicks((long)(seconds * TimeSpan.TicksPerSecond));
        var match = System.Text.RegularExpressions.Regex.Match(value, @"^(?:(\d+(?:\.\d+)?)(ms|s|m|h))+$");
        if (match.Success)
        {
            var before = TimeSpan.Zero;
            for (int i = 0; i < match.Groups[1].Captures.Count; i++)
            {
                double amount = double.Parse(match.Groups[1].Captures[i].Value, culture);
                before += match.Groups[2].Captures[i].Value switch
                {
                    "ms" => TimeSpan.FromMilliseconds(amount),
                    "s" => TimeSpan.FromSeconds(amount),
                    "m" => TimeSpan.FromMinutes(amount),
                    _ => TimeSpan.FromHours(amount),
                };
            }
            return now - before;
        }
        throw new IsolateException($"invalid --since '{value}': give an RFC 3339 time (2026-12-05T07:00:00Z), a Unix time or a duration (10m, 1h30m)");
    }
}
