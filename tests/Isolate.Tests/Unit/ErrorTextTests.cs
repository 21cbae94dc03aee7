using System.Text.Json;

namespace Isolate.Tests.Unit;

/// <summary>.NET exceptions as Isolate's words. The messages here are written as the Native
/// AOT binary sees them (UseSystemResourceKeys: the resource key, then its arguments), which
/// must never reach the user.</summary>
public sealed class ErrorTextTests
{
    [Fact]
    public void Io_exceptions_become_errnos_meaning()
    {
        Assert.Equal("No such file or directory", ErrorText.Of(new FileNotFoundException("IO_FileNotFound_FileName, /x", "/x")));
        Assert.Equal("Permission denied", ErrorText.Of(new UnauthorizedAccessException("UnauthorizedAccess_IODenied_Path, /x")));
        Assert.Equal("Read-only file system", ErrorText.Of(new IOException("IO_Something, /x", 30))); // EROFS
    }

    [Fact]
    public void An_unexpected_exception_is_an_internal_error_by_type_never_by_message()
    {
        Assert.Equal("internal error: OverflowException; this is a bug in isolate: please report it with the command line",
            ErrorText.Internal(new OverflowException("Overflow_Int32")));
        Assert.Equal("internal error: FileNotFoundException (/x: No such file or directory); this is a bug in isolate: please report it with the command line",
            ErrorText.Internal(new FileNotFoundException("IO_FileNotFound_FileName, /x", "/x")));
        Assert.Equal("internal error: InvalidOperationException; this is a bug in isolate: please report it with the command line",
            ErrorText.Of(new InvalidOperationException("InvalidOperation_EnumFailedVersion")));
    }

    [Theory]
    [InlineData("ExpectedStartOfPropertyNotFound, b Path: $ | LineNumber: 0 | BytePositionInLine: 23.", "$", 0, 23,
        "line 1, byte 24: not valid JSON: expected a property name in double quotes")]
    [InlineData("ExpectedSeparatorAfterPropertyNameNotFound, 1", null, 2, 9,
        "line 3, byte 10: not valid JSON: expected ':' after a property name")]
    [InlineData("DeserializeUnableToConvertValue, System.String Path: $.hostname | LineNumber: 0 | BytePositionInLine: 14.", "$.hostname", 0, 14,
        "line 1: hostname: expected a string")]
    [InlineData("TrailingCommaNotAllowedBeforeArrayEnd", "$.process.args[1]", 3, 18,
        "line 4: process.args[1]: a trailing comma, which JSON does not allow")]
    [InlineData("ExpectedJsonTokens", "$", 0, 0, "line 1: the file is empty; it must hold a JSON object")]
    [InlineData("SomeKeyNotKnownHere, x", "$", 4, 1, "line 5, byte 2: not valid JSON")]
    public void Json_errors_say_where_without_the_resource_key(string message, string? path, long line, long byteInLine, string expected) =>
        Assert.Equal(expected, ErrorText.Json(new JsonException(message, path, line, byteInLine)));
}
