using System.Buffers.Binary;
using System.Text;

namespace Isolate.Devices;

/// <summary>What the dynamic loader knows of a shared library, read from the files
/// themselves: the entries of an ld.so cache (glibc's "glibc-ld.so.cache1.1" format) and an
/// ELF file's DT_SONAME. Both are read, never written, and anything unexpected reads as
/// nothing (a foreign cache, a 32-bit library): the caller then finds the files by name.</summary>
public static class SharedLibraries
{
    /// <summary>An entry of the cache: the name ld.so looks up (the soname) and the file.</summary>
    public sealed record CacheEntry(string Name, string Path, int Flags, uint OsVersion = 0, ulong Hwcap = 0)
    {
        /// <summary>An entry of a glibc-hwcaps subdirectory: its hwcap indexes the cache's
        /// extension section, which a rewritten cache does not carry.</summary>
        public bool UsesExtension => (Hwcap & (1UL << 62)) != 0;

        /// <summary>A 64-bit x86 library (libc6,x86-64): FLAG_ELF_LIBC6 | FLAG_X8664_LIB64.</summary>
        public bool IsX8664 => (Flags & 0xFFFF) == 0x0303;
    }

    private const string NewMagic = "glibc-ld.so.cache1.1";
    private const string OldMagic = "ld.so-1.7.0";

    /// <summary>The cache's entries in its order (newest glibc format; the old one before it is
    /// skipped); empty when the file is missing or not such a cache.</summary>
    public static IReadOnlyList<CacheEntry> ReadCache(string path) =>
        Interop.SmallFile.ReadAllBytes(path) is { } data ? ReadCache(data) : [];

    /// <summary>The entries of a cache's bytes, as <see cref="ReadCache(string)"/>.</summary>
    public static IReadOnlyList<CacheEntry> ReadCache(byte[] data)
    {
        int start = 0;
        if (HasMagic(data, 0, OldMagic))
        {
            // the old format's 16-byte header and 12-byte entries, then the new one, 8-aligned
            if (data.Length < 16)
                return [];
            long old = BinaryPrimitives.ReadUInt32LittleEndian(data.AsSpan(12));
            start = (int)Math.Min(int.MaxValue, (16 + old * 12 + 7) & ~7L);
        }
        if (!HasMagic(data, start, NewMagic) || data.Length < start + 48)
            return [];
        uint count = BinaryPrimitives.ReadUInt32LittleEndian(data.AsSpan(start + 20));
        var entries = new List<CacheEntry>();
        for (long i = 0; i < count; i++)
        {
            long at = start + 48 + i * 24;
            if (at + 24 > data.Length)
                return [];
            int flags = BinaryPrimitives.ReadInt32LittleEndian(data.AsSpan((int)at));
            uint key = BinaryPrimitives.ReadUInt32LittleEndian(data.AsSpan((int)at + 4));
            uint value = BinaryPrimitives.ReadUInt32LittleEndian(data.AsSpan((int)at + 8));
            uint osVersion = BinaryPrimitives.ReadUInt32LittleEndian(data.AsSpan((int)at + 12));
            ulong hwcap = BinaryPrimitives.ReadUInt64LittleEndian(data.AsSpan((int)at + 16));
            if (String(data, start + key) is not { } name || String(data, start + value) is not { } file)
                return [];
            entries.Add(new CacheEntry(name, file, flags, osVersion, hwcap));
        }
        return entries;
    }

    /// <summary>A cache in glibc's current format (what ldconfig writes, and ld.so reads with a
    /// binary search) holding <paramref name="entries"/>: sorted as ldconfig sorts them, the
    /// names compared with their digit runs as numbers, greatest first. Entries of
    /// glibc-hwcaps subdirectories are left out (the loader then takes the baseline library).</summary>
    public static byte[] WriteCache(IEnumerable<CacheEntry> entries)
    {
        var kept = entries.Where(e => !e.UsesExtension).ToList();
        kept.Sort((a, b) => Compare(b.Name, a.Name)); // List.Sort is not stable: equal names may come in any order, which ld.so allows
        // one buffer: header, entries, then each entry's name and path, NUL-terminated
        int tableStart = 48 + kept.Count * 24;
        int size = tableStart + kept.Sum(e => Encoding.UTF8.GetByteCount(e.Name) + Encoding.UTF8.GetByteCount(e.Path) + 2);
        byte[] cache = new byte[size];
        Encoding.ASCII.GetBytes(NewMagic).CopyTo(cache, 0);
        BinaryPrimitives.WriteUInt32LittleEndian(cache.AsSpan(20), (uint)kept.Count);
        BinaryPrimitives.WriteUInt32LittleEndian(cache.AsSpan(24), (uint)(size - tableStart));
        cache[28] = 2; // little-endian, as cache_file_new's flags say it
        int at = tableStart;
        uint Put(string text)
        {
            uint offset = (uint)at;
            at += Encoding.UTF8.GetBytes(text, cache.AsSpan(at)) + 1; // the NUL is the buffer's own zero
            return offset;
        }
        for (int i = 0; i < kept.Count; i++)
        {
            var span = cache.AsSpan(48 + i * 24, 24);
            BinaryPrimitives.WriteInt32LittleEndian(span, kept[i].Flags);
            BinaryPrimitives.WriteUInt32LittleEndian(span[4..], Put(kept[i].Name));
            BinaryPrimitives.WriteUInt32LittleEndian(span[8..], Put(kept[i].Path));
            BinaryPrimitives.WriteUInt32LittleEndian(span[12..], kept[i].OsVersion);
            BinaryPrimitives.WriteUInt64LittleEndian(span[16..], kept[i].Hwcap);
        }
        return cache;
    }

    /// <summary>The order of names in the cache: runs of digits compare as numbers, and a digit
    /// sorts after any other character (libfoo.so.10 after libfoo.so.9).</summary>
    public static int Compare(string a, string b)
    {
        int i = 0, j = 0;
        while (i < a.Length)
        {
            if (j >= b.Length)
                return 1;
            if (char.IsAsciiDigit(a[i]))
            {
                if (!char.IsAsciiDigit(b[j]))
                    return 1;
                long x = 0, y = 0;
                while (i < a.Length && char.IsAsciiDigit(a[i]))
                    x = x * 10 + (a[i++] - '0');
                while (j < b.Length && char.IsAsciiDigit(b[j]))
                    y = y * 10 + (b[j++] - '0');
                if (x != y)
                    return x < y ? -1 : 1;
            }
            else if (char.IsAsciiDigit(b[j]))
                return -1;
            else if (a[i] != b[j])
                return a[i] < b[j] ? -1 : 1;
            else
            {
                i++;
                j++;
            }
        }
        return j < b.Length ? -1 : 0;
    }

    private static bool HasMagic(byte[] data, int at, string magic) =>
        data.Length >= at + magic.Length && Encoding.ASCII.GetString(data, at, magic.Length) == magic;

    private static string? String(byte[] data, long at)
    {
        if (at < 0 || at >= data.Length)
            return null;
        int end = Array.IndexOf(data, (byte)0, (int)at);
        return end < 0 ? null : Encoding.UTF8.GetString(data, (int)at, end - (int)at);
    }

    /// <summary>A 64-bit little-endian ELF file's DT_SONAME, or null (no soname, not such a
    /// file, unreadable).</summary>
    public static unsafe string? Soname(string path)
    {
        using var file = Interop.FileDescriptor.Open(path, Interop.OpenFlags.O_RDONLY | Interop.OpenFlags.O_CLOEXEC | Interop.OpenFlags.O_NONBLOCK);
        if (file.IsInvalid)
            return null;
        byte[]? Read(long offset, int count)
        {
            if (offset < 0 || count < 0 || count > 1 << 20)
                return null;
            byte[] buffer = new byte[count];
            int total = 0;
            fixed (byte* p = buffer)
            {
                while (total < count)
                {
                    nint n = Interop.Libc.PRead(file, p + total, count - total, offset + total);
                    if (n <= 0)
                        break;
                    total += (int)n;
                }
            }
            return total == count ? buffer : null;
        }
        if (Read(0, 64) is not { } header || header[0] != 0x7F || header[1] != (byte)'E' || header[2] != (byte)'L' || header[3] != (byte)'F'
            || header[4] != 2 /* ELFCLASS64 */ || header[5] != 1 /* little-endian */)
            return null;
        long phoff = (long)BinaryPrimitives.ReadUInt64LittleEndian(header.AsSpan(0x20));
        int phentsize = BinaryPrimitives.ReadUInt16LittleEndian(header.AsSpan(0x36));
        int phnum = BinaryPrimitives.ReadUInt16LittleEndian(header.AsSpan(0x38));
        if (phentsize < 56 || phnum == 0 || Read(phoff, phentsize * phnum) is not { } table)
            return null;
        var loads = new List<(ulong Vaddr, ulong Offset, ulong Size)>();
        (ulong Offset, ulong Size)? dynamic = null;
        for (int i = 0; i < phnum; i++)
        {
            var entry = table.AsSpan(i * phentsize, 56);
            uint type = BinaryPrimitives.ReadUInt32LittleEndian(entry);
            ulong offset = BinaryPrimitives.ReadUInt64LittleEndian(entry[8..]);
            ulong vaddr = BinaryPrimitives.ReadUInt64LittleEndian(entry[16..]);
            ulong size = BinaryPrimitives.ReadUInt64LittleEndian(entry[32..]);
            if (type == 1) // PT_LOAD
                loads.Add((vaddr, offset, size));
            else if (type == 2) // PT_DYNAMIC
                dynamic = (offset, size);
        }
        if (dynamic is not { } dyn || dyn.Size > 1 << 20 || Read((long)dyn.Offset, (int)dyn.Size) is not { } entries)
            return null;
        ulong? strtab = null, soname = null;
        for (int at = 0; at + 16 <= entries.Length; at += 16)
        {
            long tag = BinaryPrimitives.ReadInt64LittleEndian(entries.AsSpan(at));
            ulong value = BinaryPrimitives.ReadUInt64LittleEndian(entries.AsSpan(at + 8));
            if (tag == 0) // DT_NULL
                break;
            if (tag == 5) // DT_STRTAB
                strtab = value;
            else if (tag == 14) // DT_SONAME
                soname = value;
        }
        if (strtab is not { } strings || soname is not { } name)
            return null;
        foreach (var (vaddr, offset, size) in loads)
        {
            if (strings >= vaddr && strings < vaddr + size)
            {
                // a soname is short: read up to 256 bytes, less where the file ends
                long at = (long)(strings - vaddr + offset + name);
                for (int count = 256; count >= 1; count /= 4)
                {
                    if (Read(at, count) is { } text)
                    {
                        int end = Array.IndexOf(text, (byte)0);
                        return end <= 0 ? null : Encoding.UTF8.GetString(text, 0, end);
                    }
                }
                return null;
            }
        }
        return null;
    }
}
