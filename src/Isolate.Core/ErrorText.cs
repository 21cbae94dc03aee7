using System.Text.Json;
using System.Text.RegularExpressions;
using Isolate.Interop;

namespace Isolate;

/// <summary>A .NET exception as Isolate's own words. The binary is built with
/// UseSystemResourceKeys, so an exception's Message is a resource key
/// (IO_FileNotFound_FileName, ExpectedStartOfPropertyNotFound), never a sentence: no Message
/// of an exception Isolate did not make reaches the user; these say what happened instead.</summary>
public static partial class ErrorText
{
    /// <summary>The errno behind a .NET I/O exception, or 0 when it carries none. On Unix,
    /// System.IO makes FileNotFound/DirectoryNotFound of ENOENT, UnauthorizedAccess of EACCES,
    /// EPERM and EBADF (and of opening a directory as a file), and otherwise an IOException whose
    /// HResult is the errno itself.</summary>
    public static int ErrnoOf(Exception e) => e switch
    {
        FileNotFoundException or DirectoryNotFoundException => Errno.ENOENT,
        UnauthorizedAccessException => Errno.EACCES,
        PathTooLongException => 36, // ENAMETOOLONG
        IOException { HResult: > 0 and < 4096 } io => io.HResult,
        System.ComponentModel.Win32Exception { NativeErrorCode: > 0 } w => w.NativeErrorCode,
        _ => 0,
    };

    /// <summary>What an I/O exception means ("No such file or directory"); for any other
    /// exception, "internal error: {type}".</summary>
    public static string Of(Exception e) => ErrnoOf(e) is > 0 and int errno
        ? IsolateException.Describe(errno)
        : Internal(e);

    /// <summary>The last resort for an exception nothing expected: its type, never its message
    /// (a resource key); with what errno it carries, and the path a FileNotFoundException names.</summary>
    public static string Internal(Exception e)
    {
        string detail = ErrnoOf(e) is > 0 and int errno ? IsolateException.Describe(errno) : "";
        if (e is FileNotFoundException { FileName: { Length: > 0 } file })
            detail = $"{file}: {detail}";
        return $"internal error: {e.GetType().Name}{(detail.Length > 0 ? $" ({detail})" : "")}; "
            + "this is a bug in isolate: please report it with the command line";
    }

    /// <summary>Where a JSON document went wrong and how: "line L: PATH: reason" for a value of the
    /// wrong type, "line L, byte B: not valid JSON: reason" for text that is not JSON. Made from
    /// the exception's line, byte and path; its Message is only matched against, never shown.</summary>
    public static string Json(JsonException e)
    {
        string message = e.Message;
        long line = (e.LineNumber ?? 0) + 1;
        string where = e.Path is null or "$" ? "" : e.Path.StartsWith("$.", StringComparison.Ordinal) ? e.Path[2..] + ": " : e.Path + ": ";
        var conversion = ConversionPattern().Match(message);
        if (conversion.Success)
            return $"line {line}: {where}expected {JsonKind(conversion.Groups[1].Value)}";
        if (Has(message, "TrailingComma", "trailing comma"))
            return $"line {line}: {where}a trailing comma, which JSON does not allow";
        if (Has(message, "ExpectedJsonTokens", "does not contain any JSON tokens"))
            return $"line {line}: the file is empty; it must hold a JSON object";
        string position = e.BytePositionInLine is { } b && where.Length == 0 ? $", byte {b + 1}" : "";
        return $"line {line}{position}: {where}not valid JSON{SyntaxReason(message)}";
    }

    private static bool Has(string message, string key, string english) =>
        message.Contains(key, StringComparison.Ordinal) || message.Contains(english, StringComparison.OrdinalIgnoreCase);

    /// <summary>System.Text.Json's reader errors by their resource key (the English message,
    /// under the JIT in tests, gets the plain "not valid JSON").</summary>
    private static string SyntaxReason(string message)
    {
        string key = message.Split([',', ' '], 2)[0];
        string? reason = key switch
        {
            "ExpectedStartOfPropertyNotFound" or "ExpectedStartOfPropertyOrValueNotFound" => "expected a property name in double quotes",
            "ExpectedSeparatorAfterPropertyNameNotFound" => "expected ':' after a property name",
            "ExpectedValueAfterPropertyNameNotFound" or "ExpectedStartOfValueNotFound" => "expected a value",
            "ExpectedEndAfterSingleJson" => "text after the end of the document",
            "EndOfStringNotFound" => "a string that is not closed",
            "ZeroDepthAtEnd" or "RequiredDigitNotFoundEndOfData" => "the document ends too early",
            "MismatchedObjectArray" => "a closing bracket that does not match its opening one",
            "ExpectedEndOfDigitNotFound" or "ExpectedNextDigitEValueNotFound" or "RequiredDigitNotFoundAfterDecimal"
                or "RequiredDigitNotFoundAfterSign" or "InvalidLeadingZeroInNumber" => "not a valid number",
            "ExpectedFalse" or "ExpectedTrue" or "ExpectedNull" => "a word that is not true, false or null",
            "InvalidCharacterWithinString" or "InvalidCharacterAfterEscapeWithinString" or "InvalidHexCharacterWithinString"
                or "FoundInvalidCharacter" => "a character that JSON does not allow there",
            "ArrayDepthTooLarge" or "ObjectDepthTooLarge" => "nested too deeply",
            _ => null,
        };
        return reason is null ? "" : ": " + reason;
    }

    private static string JsonKind(string type)
    {
        if (type.StartsWith("System.Nullable`1[", StringComparison.Ordinal))
            type = type["System.Nullable`1[".Length..].TrimEnd(']');
        return type switch
        {
            "System.String" => "a string",
            "System.Boolean" => "true or false",
            "System.Int32" or "System.Int64" => "an integer",
            "System.UInt16" or "System.UInt32" or "System.UInt64" => "a non-negative integer",
            _ when type.StartsWith("System.Collections.Generic.List", StringComparison.Ordinal) => "an array",
            _ => "an object",
        };
    }

    // the English message (JIT) and the resource key with its argument (Native AOT)
    [GeneratedRegex(@"(?:could not be converted to |^DeserializeUnableToConvertValue, )(\S+?)\.?(?: Path: |$)")]
    private static partial Regex ConversionPattern();
}
