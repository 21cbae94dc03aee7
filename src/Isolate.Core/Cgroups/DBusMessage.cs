using System.Buffers.Binary;
using System.Text;

namespace Isolate.Cgroups;

/// <summary>The little of the D-Bus wire format that a call to systemd's manager needs
/// (dbus-specification, "Message Protocol"): a method call built by hand, little-endian,
/// each value aligned to its own size from the start of the message; and of a reply, its
/// type, the serial it answers and, for an error, its name and first string.</summary>
internal sealed class DBusWriter
{
    private readonly List<byte> _bytes = [];

    public int Length => _bytes.Count;

    public byte[] ToArray() => [.. _bytes];

    public void Align(int n)
    {
        while (_bytes.Count % n != 0)
            _bytes.Add(0);
    }

    public void Byte(byte value) => _bytes.Add(value);

    public void UInt32(uint value)
    {
        Align(4);
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, value);
        _bytes.AddRange(b.ToArray());
    }

    public void Boolean(bool value) => UInt32(value ? 1u : 0u);

    public void UInt64(ulong value)
    {
        Align(8);
        Span<byte> b = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(b, value);
        _bytes.AddRange(b.ToArray());
    }

    /// <summary>s and o: length, UTF-8, NUL.</summary>
    public void String(string value)
    {
        byte[] text = Encoding.UTF8.GetBytes(value);
        UInt32((uint)text.Length);
        _bytes.AddRange(text);
        _bytes.Add(0);
    }

    /// <summary>g: one byte of length, the signature, NUL.</summary>
    public void Signature(string value)
    {
        _bytes.Add((byte)value.Length);
        _bytes.AddRange(Encoding.ASCII.GetBytes(value));
        _bytes.Add(0);
    }

    /// <summary>One entry of an a(sv) property list: a struct of the name and its value as a
    /// variant of <paramref name="type"/>.</summary>
    public void Property(string name, string type, Action value)
    {
        Align(8);
        String(name);
        Signature(type);
        value();
    }

    /// <summary>An array: its byte length (patched in after), padding to the element's
    /// alignment (there even when it is empty), then the elements.</summary>
    public void Array(int elementAlignment, Action elements)
    {
        UInt32(0);
        int lengthAt = _bytes.Count - 4;
        Align(elementAlignment);
        int start = _bytes.Count;
        elements();
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, (uint)(_bytes.Count - start));
        for (int i = 0; i < 4; i++)
            _bytes[lengthAt + i] = b[i];
    }

    /// <summary>A method call: the fixed header, the header fields, the body.</summary>
    public static byte[] MethodCall(uint serial, string destination, string path, string iface, string member, string signature, Action<DBusWriter> body)
    {
        var content = new DBusWriter();
        body(content);
        byte[] bodyBytes = content.ToArray(); // its alignment is from its own start: the header ends 8-aligned
        var m = new DBusWriter();
        m.Byte((byte)'l');
        m.Byte(1); // METHOD_CALL
        m.Byte(0);
        m.Byte(1); // protocol version
        m.UInt32((uint)bodyBytes.Length);
        m.UInt32(serial);
        m.Array(8, () =>
        {
            void Field(byte code, string type, Action value)
            {
                m.Align(8);
                m.Byte(code);
                m.Signature(type);
                value();
            }
            Field(1, "o", () => m.String(path));
            Field(2, "s", () => m.String(iface));
            Field(3, "s", () => m.String(member));
            Field(6, "s", () => m.String(destination));
            if (signature.Length > 0)
                Field(8, "g", () => m.Signature(signature));
        });
        m.Align(8);
        m._bytes.AddRange(bodyBytes);
        return m.ToArray();
    }
}

/// <summary>A message read back: its type (2 a return, 3 an error, 4 a signal), the serial it
/// answers, an error's name and message.</summary>
internal sealed record DBusReply(byte Type, uint ReplySerial, string? ErrorName, string? ErrorMessage)
{
    public const byte MethodReturn = 2;
    public const byte Error = 3;

    /// <summary>The whole length of the message that starts the buffer, once its fixed header is there.</summary>
    public static int? TotalLength(ReadOnlySpan<byte> m)
    {
        if (m.Length < 16)
            return null;
        if (m[0] != (byte)'l')
            throw new IsolateException("systemd D-Bus: a big-endian reply, which Isolate does not read");
        int body = (int)BinaryPrimitives.ReadUInt32LittleEndian(m[4..]);
        int fields = (int)BinaryPrimitives.ReadUInt32LittleEndian(m[12..]);
        return Pad(16 + fields, 8) + body;
    }

    public static DBusReply Parse(ReadOnlySpan<byte> m)
    {
        int fieldsEnd = 16 + (int)BinaryPrimitives.ReadUInt32LittleEndian(m[12..]);
        int bodyStart = Pad(fieldsEnd, 8);
        uint replySerial = 0;
        string? errorName = null, signature = null;
        int at = 16;
        while (at < fieldsEnd)
        {
            at = Pad(at, 8);
            byte code = m[at++];
            int sigLength = m[at];
            string type = Encoding.ASCII.GetString(m.Slice(at + 1, sigLength));
            at += 2 + sigLength;
            switch (type)
            {
                case "u":
                    at = Pad(at, 4);
                    if (code == 5)
                        replySerial = BinaryPrimitives.ReadUInt32LittleEndian(m[at..]);
                    at += 4;
                    break;
                case "s" or "o":
                    at = Pad(at, 4);
                    int length = (int)BinaryPrimitives.ReadUInt32LittleEndian(m[at..]);
                    if (code == 4)
                        errorName = Encoding.UTF8.GetString(m.Slice(at + 4, length));
                    at += 4 + length + 1;
                    break;
                case "g":
                    int g = m[at];
                    if (code == 8)
                        signature = Encoding.ASCII.GetString(m.Slice(at + 1, g));
                    at += 2 + g;
                    break;
                default:
                    throw new IsolateException($"systemd D-Bus: a header field of type '{type}', which Isolate does not read");
            }
        }
        string? message = null;
        if (m[1] == Error && signature is { Length: > 0 } && signature[0] == 's')
        {
            int length = (int)BinaryPrimitives.ReadUInt32LittleEndian(m[bodyStart..]);
            message = Encoding.UTF8.GetString(m.Slice(bodyStart + 4, length));
        }
        return new DBusReply(m[1], replySerial, errorName, message);
    }

    private static int Pad(int n, int to) => (n + to - 1) / to * to;
}
