using System.Globalization;
using System.Text;

namespace Isolate.Logs;

/// <summary>One line of the CRI log format, as Kubernetes' kubelet reads it:
/// `2026-12-05T07:00:00.123456789Z stdout F bytes\n`. F: the bytes were followed by a newline
/// (which the record does not hold); P: they were not (a line split, or output that ended
/// without one). The bytes are the container's own, never re-encoded: they hold no newline,
/// and anything else goes through as it is.</summary>
public readonly record struct CriRecord(DateTime Time, bool Stderr, bool Partial, ReadOnlyMemory<byte> Content)
{
    /// <summary>A record holds at most this much (containerd's default line size): longer lines
    /// become P records.</summary>
    public const int MaxContent = 16 * 1024;

    private const int TimeLength = 30; // yyyy-MM-ddTHH:mm:ss.fffffffffZ

    /// <summary>RFC 3339 with nanoseconds, UTC, fixed width (sorts as text).</summary>
    public static string FormatTime(DateTime utc) =>
        utc.ToString("yyyy-MM-ddTHH:mm:ss.fffffff", CultureInfo.InvariantCulture) + "00Z";

    /// <summary>The record's header and bytes, newline-terminated, onto <paramref name="output"/>.</summary>
    public static void Write(List<byte> output, string time, bool stderr, bool partial, ReadOnlySpan<byte> content)
    {
        output.AddRange(Encoding.ASCII.GetBytes(time));
        output.AddRange(stderr ? " stderr "u8 : " stdout "u8);
        output.Add(partial ? (byte)'P' : (byte)'F');
        output.Add((byte)' ');
        output.AddRange(content);
        output.Add((byte)'\n');
    }

    /// <summary>One line of a log, without its newline; null when it is not a record (a line
    /// cut short by a full disk).</summary>
    public static CriRecord? Parse(ReadOnlyMemory<byte> line)
    {
        var span = line.Span;
        if (span.Length < TimeLength + 10 || span[TimeLength] != ' ')
            return null;
        if (!DateTime.TryParseExact(Encoding.ASCII.GetString(span[..TimeLength]), "yyyy-MM-ddTHH:mm:ss.fffffff'00Z'",
                CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var time))
            return null;
        var rest = span[(TimeLength + 1)..];
        bool stderr;
        if (rest.StartsWith("stdout "u8))
            stderr = false;
        else if (rest.StartsWith("stderr "u8))
            stderr = true;
        else
            return null;
        rest = rest[7..];
        int space = rest.IndexOf((byte)' ');
        if (space < 1 || rest[0] is not ((byte)'F' or (byte)'P'))
            return null;
        int start = TimeLength + 1 + 7 + space + 1;
        return new CriRecord(time, stderr, rest[0] == (byte)'P', line[start..]);
    }

    /// <summary>The time as it was written.</summary>
    public string TimeText => FormatTime(Time);
}
