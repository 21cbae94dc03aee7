using System.Runtime.InteropServices;
using System.Runtime.InteropServices.Marshalling;
using System.Text;

namespace Isolate.Interop;

/// <summary>Linux passes arguments, environment values and file names as bytes; only NUL is
/// special. Isolate carries them in .NET strings without loss: valid UTF-8 decodes as usual,
/// and each byte of an invalid sequence becomes one lone low surrogate, U+DC80 + the byte
/// (Python's "surrogateescape"). UTF-8 can never encode a surrogate, so no valid input makes
/// one, and encoding gives back exactly the bytes that came in. Every string that crosses to
/// the kernel or the shim is encoded here; messages show such bytes as \xNN.</summary>
public static class ByteStrings
{
    private const char EscapeBase = '\uDC80';

    /// <summary>Bytes as the kernel gave them, to a string that encodes back to the same bytes.</summary>
    public static string Decode(ReadOnlySpan<byte> bytes)
    {
        if (System.Text.Unicode.Utf8.IsValid(bytes))
            return Encoding.UTF8.GetString(bytes);
        var text = new StringBuilder(bytes.Length);
        while (!bytes.IsEmpty)
        {
            var status = System.Text.Rune.DecodeFromUtf8(bytes, out var rune, out int used);
            if (status == System.Buffers.OperationStatus.Done)
            {
                text.Append(rune.ToString());
                bytes = bytes[used..];
            }
            else
            {
                text.Append((char)(EscapeBase + bytes[0] - 0x80)); // invalid: the first byte alone
                bytes = bytes[1..];
            }
        }
        return text.ToString();
    }

    /// <summary>Whether <paramref name="value"/> carries bytes that are not UTF-8.</summary>
    public static bool HasRawBytes(string value)
    {
        foreach (char c in value)
        {
            if (c is >= '\uDC80' and <= '\uDCFF')
                return true;
        }
        return false;
    }

    /// <summary>The bytes a string stands for (without a terminating NUL).</summary>
    public static byte[] Encode(string value)
    {
        if (!HasRawBytes(value))
            return Encoding.UTF8.GetBytes(value);
        var bytes = new List<byte>(value.Length + 8);
        Span<byte> one = stackalloc byte[4];
        for (int i = 0; i < value.Length; i++)
        {
            char c = value[i];
            if (c is >= '\uDC80' and <= '\uDCFF')
            {
                bytes.Add((byte)(c - EscapeBase + 0x80));
                continue;
            }
            int length = char.IsHighSurrogate(c) && i + 1 < value.Length && char.IsLowSurrogate(value[i + 1])
                ? Encoding.UTF8.GetBytes(value.AsSpan(i++, 2), one)
                : Encoding.UTF8.GetBytes(value.AsSpan(i, 1), one);
            for (int k = 0; k < length; k++)
                bytes.Add(one[k]);
        }
        return [.. bytes];
    }

    /// <summary>For a message: the text, with bytes that are not UTF-8 written \xNN.</summary>
    public static string Escape(string value)
    {
        if (!HasRawBytes(value))
            return value;
        var text = new StringBuilder(value.Length + 8);
        foreach (char c in value)
        {
            if (c is >= '\uDC80' and <= '\uDCFF')
                text.Append("\\x").Append(((int)(c - EscapeBase + 0x80)).ToString("x2", System.Globalization.CultureInfo.InvariantCulture));
            else
                text.Append(c);
        }
        return text.ToString();
    }

    /// <summary>A NUL-terminated copy in native memory (free with NativeMemory.Free).</summary>
    public static unsafe byte* ToNative(string value)
    {
        byte[] bytes = Encode(value);
        byte* native = (byte*)NativeMemory.Alloc((nuint)bytes.Length + 1);
        bytes.CopyTo(new Span<byte>(native, bytes.Length));
        native[bytes.Length] = 0;
        return native;
    }

    /// <summary>A NUL-terminated C string from native memory.</summary>
    public static unsafe string FromNative(byte* value) =>
        Decode(MemoryMarshal.CreateReadOnlySpanFromNullTerminated(value));
}

/// <summary>How every string argument of Isolate's P/Invokes reaches C: its bytes, exactly
/// (<see cref="ByteStrings"/>), where StringMarshalling.Utf8 would replace raw bytes with U+FFFD.</summary>
[CustomMarshaller(typeof(string), MarshalMode.ManagedToUnmanagedIn, typeof(ByteStringMarshaller))]
internal static unsafe class ByteStringMarshaller
{
    public static byte* ConvertToUnmanaged(string? managed) => managed is null ? null : ByteStrings.ToNative(managed);

    public static void Free(byte* unmanaged) => NativeMemory.Free(unmanaged);
}
