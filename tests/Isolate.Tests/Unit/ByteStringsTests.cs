using Isolate.Interop;

namespace Isolate.Tests.Unit;

/// <summary>Arguments, environment values and paths are bytes: every byte sequence survives the
/// trip through a .NET string, and messages show the bytes that are not UTF-8 as \xNN.</summary>
public sealed class ByteStringsTests
{
    [Fact]
    public void Every_byte_value_and_random_sequences_come_back_exactly()
    {
        byte[] all = [.. Enumerable.Range(1, 255).Select(b => (byte)b)];
        Assert.Equal(all, ByteStrings.Encode(ByteStrings.Decode(all)));
        var random = new Random(19);
        for (int round = 0; round < 2000; round++)
        {
            var bytes = new byte[random.Next(0, 24)];
            random.NextBytes(bytes);
            Assert.Equal(bytes, ByteStrings.Encode(ByteStrings.Decode(bytes)));
        }
    }

    [Fact]
    public void Valid_utf8_is_ordinary_text_and_invalid_bytes_are_escaped_in_messages()
    {
        Assert.Equal("né €𝄞", ByteStrings.Decode("né €𝄞"u8));
        Assert.False(ByteStrings.HasRawBytes("né €𝄞"));
        string raw = ByteStrings.Decode([0x61, 0xff, 0xfe, 0x62]);
        Assert.True(ByteStrings.HasRawBytes(raw));
        Assert.Equal("a\\xff\\xfeb", ByteStrings.Escape(raw));
        // a surrogate's UTF-8 form is not UTF-8: its three bytes stay three escaped bytes
        Assert.Equal(new byte[] { 0xed, 0xb3, 0xbf }, ByteStrings.Encode(ByteStrings.Decode([0xed, 0xb3, 0xbf])));
    }
}
