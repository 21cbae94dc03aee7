using System.Text;
using Isolate.Interop;

namespace Isolate.Images;

public enum TarEntryType
{
    File,
    Directory,
    Symlink,
    HardLink,
    CharDevice,
    BlockDevice,
    Fifo,
}

/// <summary>One member of a layer: its name and link target exactly as the archive's bytes
/// (Interop/ByteStrings), and the PAX xattrs as raw values.</summary>
public sealed class TarEntry
{
    public required string Name { get; init; }
    public required TarEntryType Type { get; init; }
    public string LinkName { get; init; } = "";
    public uint Mode { get; init; }
    public uint Uid { get; init; }
    public uint Gid { get; init; }
    public long Size { get; init; }
    public long ModifiedSeconds { get; init; }
    public long ModifiedNanoseconds { get; init; }
    public uint DeviceMajor { get; init; }
    public uint DeviceMinor { get; init; }
    public IReadOnlyList<(string Name, byte[] Value)> Xattrs { get; init; } = [];
}

/// <summary>A streaming reader of the tar formats image layers come in: ustar, POSIX PAX
/// (path, linkpath, size, uid, gid, mtime, SCHILY.xattr.*) and GNU long names. Written here,
/// rather than System.Formats.Tar, because that one decodes names and xattr values as text:
/// a name that is not UTF-8, or a binary xattr (security.capability), would not come out as
/// it went in.</summary>
public sealed class TarReader(Stream stream)
{
    private readonly byte[] _header = new byte[512];
    private long _remaining;   // bytes of the current entry's data not read yet
    private long _padding;     // to the next 512-byte block

    /// <summary>The next entry, or null at the end of the archive.</summary>
    public TarEntry? Next()
    {
        Skip(_remaining + _padding);
        _remaining = _padding = 0;
        Dictionary<string, byte[]>? pax = null;
        byte[]? longName = null, longLink = null;
        while (true)
        {
            if (!ReadBlock(_header))
                return null;
            if (_header.All(b => b == 0))
            {
                return null; // the end-of-archive block
            }
            VerifyChecksum();
            char flag = (char)_header[156];
            long size = Number(124, 12, "size");
            switch (flag)
            {
                case 'x':
                    pax ??= [];
                    foreach (var (key, value) in ParsePax(ReadData(size)))
                        pax[key] = value;
                    continue;
                case 'g':
                    ReadData(size); // global headers: defaults nobody relies on in a layer
                    continue;
                case 'L':
                    longName = TrimNul(ReadData(size));
                    continue;
                case 'K':
                    longLink = TrimNul(ReadData(size));
                    continue;
            }
            var type = flag switch
            {
                '0' or '\0' or '7' => TarEntryType.File,
                '5' => TarEntryType.Directory,
                '2' => TarEntryType.Symlink,
                '1' => TarEntryType.HardLink,
                '3' => TarEntryType.CharDevice,
                '4' => TarEntryType.BlockDevice,
                '6' => TarEntryType.Fifo,
                _ => throw new IsolateException($"layer: a tar entry of type '{Printable(flag)}' is not supported (GNU sparse or multi-volume archives are not image layers)"),
            };
            byte[] name = longName ?? JoinUstarName();
            byte[] link = longLink ?? Field(157, 100);
            var xattrs = new List<(string, byte[])>();
            if (pax != null)
            {
                if (pax.TryGetValue("path", out var p)) name = p;
                if (pax.TryGetValue("linkpath", out var l)) link = l;
                if (pax.TryGetValue("size", out var s)) size = PaxNumber(s, "size");
                foreach (var (key, value) in pax)
                    if (key.StartsWith("SCHILY.xattr.", StringComparison.Ordinal))
                        xattrs.Add((key["SCHILY.xattr.".Length..], value));
            }
            long mtime = Number(136, 12, "mtime"), mtimeNs = 0;
            if (pax != null && pax.TryGetValue("mtime", out var m))
                (mtime, mtimeNs) = PaxTime(m);
            // only a file carries data: a hard link's or a directory's size field is ignored
            long dataSize = type == TarEntryType.File ? size : 0;
            _remaining = dataSize;
            _padding = (512 - dataSize % 512) % 512;
            return new TarEntry
            {
                Name = ByteStrings.Decode(name),
                Type = type,
                LinkName = ByteStrings.Decode(link),
                Mode = (uint)(Number(100, 8, "mode") & 0xFFF),
                Uid = (uint)(pax != null && pax.TryGetValue("uid", out var u) ? PaxNumber(u, "uid") : Number(108, 8, "uid")),
                Gid = (uint)(pax != null && pax.TryGetValue("gid", out var g) ? PaxNumber(g, "gid") : Number(116, 8, "gid")),
                Size = dataSize,
                ModifiedSeconds = mtime,
                ModifiedNanoseconds = mtimeNs,
                DeviceMajor = (uint)Number(329, 8, "devmajor"),
                DeviceMinor = (uint)Number(337, 8, "devminor"),
                Xattrs = xattrs,
            };
        }
    }

    /// <summary>Reads the current entry's data.</summary>
    public int Read(Span<byte> buffer)
    {
        if (_remaining == 0)
            return 0;
        int want = (int)Math.Min(buffer.Length, _remaining);
        int got = stream.Read(buffer[..want]);
        if (got == 0)
            throw new IsolateException("layer: the archive ends in the middle of an entry");
        _remaining -= got;
        return got;
    }

    private bool ReadBlock(byte[] block)
    {
        int total = 0;
        while (total < block.Length)
        {
            int got = stream.Read(block, total, block.Length - total);
            if (got == 0)
            {
                if (total == 0)
                    return false; // no end blocks: some writers stop here
                throw new IsolateException("layer: the archive ends in the middle of a header");
            }
            total += got;
        }
        return true;
    }

    private byte[] ReadData(long size)
    {
        if (size < 0 || size > 16 << 20)
            throw new IsolateException($"layer: an extended header of {size} bytes is refused (at most 16 MiB)");
        var data = new byte[size];
        int total = 0;
        while (total < size)
        {
            int got = stream.Read(data, total, (int)size - total);
            if (got == 0)
                throw new IsolateException("layer: the archive ends in the middle of an extended header");
            total += got;
        }
        Skip((512 - size % 512) % 512);
        return data;
    }

    private void Skip(long count)
    {
        if (count <= 0)
            return;
        Span<byte> scratch = stackalloc byte[8192];
        while (count > 0)
        {
            int got = stream.Read(scratch[..(int)Math.Min(scratch.Length, count)]);
            if (got == 0)
                throw new IsolateException("layer: the archive ends in the middle of an entry");
            count -= got;
        }
    }

    private void VerifyChecksum()
    {
        long stored = Number(148, 8, "checksum");
        long sum = 0;
        for (int i = 0; i < 512; i++)
            sum += i is >= 148 and < 156 ? (byte)' ' : _header[i];
        if (sum != stored)
            throw new IsolateException("layer: a tar header's checksum does not match (the archive is corrupt or not a tar)");
    }

    private byte[] Field(int offset, int length) => TrimNul(_header.AsSpan(offset, length).ToArray());

    private byte[] JoinUstarName()
    {
        byte[] name = Field(0, 100);
        bool ustar = _header.AsSpan(257, 5).SequenceEqual("ustar"u8);
        byte[] prefix = ustar ? Field(345, 155) : [];
        return prefix.Length == 0 ? name : [.. prefix, (byte)'/', .. name];
    }

    private static byte[] TrimNul(byte[] bytes)
    {
        int end = Array.IndexOf(bytes, (byte)0);
        return end < 0 ? bytes : bytes[..end];
    }

    /// <summary>An octal field, or base-256 (the high bit of the first byte) for large values.</summary>
    private long Number(int offset, int length, string what)
    {
        var field = _header.AsSpan(offset, length);
        if ((field[0] & 0x80) != 0)
        {
            long big = field[0] & 0x7F;
            for (int i = 1; i < field.Length; i++)
                big = checked((big << 8) | field[i]);
            return big;
        }
        long value = 0;
        bool digits = false;
        foreach (byte b in field)
        {
            if (b == 0 || (b == ' ' && digits))
                break;
            if (b == ' ')
                continue;
            if (b is < (byte)'0' or > (byte)'7')
                throw new IsolateException($"layer: a tar header's {what} field is not a number");
            value = checked(value * 8 + (b - '0'));
            digits = true;
        }
        return value;
    }

    private static IEnumerable<(string, byte[])> ParsePax(byte[] data)
    {
        int at = 0;
        while (at < data.Length)
        {
            int space = Array.IndexOf(data, (byte)' ', at);
            if (space < 0 || !int.TryParse(Encoding.ASCII.GetString(data, at, space - at), out int length) || length <= 0 || at + length > data.Length)
                throw new IsolateException("layer: a PAX extended header is malformed");
            int equals = Array.IndexOf(data, (byte)'=', space, length - (space - at));
            if (equals < 0 || data[at + length - 1] != '\n')
                throw new IsolateException("layer: a PAX extended header record is malformed");
            string key = Encoding.UTF8.GetString(data, space + 1, equals - space - 1);
            yield return (key, data[(equals + 1)..(at + length - 1)]);
            at += length;
        }
    }

    private static long PaxNumber(byte[] value, string what) =>
        long.TryParse(Encoding.ASCII.GetString(value), out long n) && n >= 0 ? n
            : throw new IsolateException($"layer: a PAX {what} is not a number");

    private static (long, long) PaxTime(byte[] value)
    {
        string text = Encoding.ASCII.GetString(value);
        int dot = text.IndexOf('.');
        if (!long.TryParse(dot < 0 ? text : text[..dot], out long seconds))
            throw new IsolateException("layer: a PAX mtime is not a number");
        long nanos = 0;
        if (dot >= 0)
        {
            string fraction = (text[(dot + 1)..] + "000000000")[..9];
            long.TryParse(fraction, out nanos);
        }
        return (seconds, nanos);
    }

    private static string Printable(char c) => c is >= ' ' and < '\x7f' ? c.ToString() : $"\\x{(int)c:x2}";
}
