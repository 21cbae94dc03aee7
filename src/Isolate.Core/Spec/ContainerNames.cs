using Isolate.Interop;

namespace Isolate.Spec;

/// <summary>Generated identities and the rules for user-given names.</summary>
public static class ContainerNames
{
    /// <summary>12 hex digits, like docker's short container id. From getrandom(2), not
    /// System.Security.Cryptography: that dlopens OpenSSL, and a dlopen inside a statically
    /// linked glibc binary loads a second libc and corrupts the process.</summary>
    public static unsafe string NewId()
    {
        byte* bytes = stackalloc byte[6];
        if (Libc.GetRandom(bytes, 6, 0) != 6)
            throw IsolateException.FromErrno("getrandom", null, System.Runtime.InteropServices.Marshal.GetLastPInvokeError());
        return Convert.ToHexStringLower(new ReadOnlySpan<byte>(bytes, 6));
    }

    /// <summary>RFC 1123: labels of letters, digits and '-', not starting or ending
    /// with '-', separated by dots; at most 64 bytes (the kernel's limit).</summary>
    public static void ValidateHostname(string hostname)
    {
        if (!IsHostname(hostname))
            throw new IsolateException($"invalid --hostname '{hostname}': use letters, digits, '-' and '.', at most 64 characters");
    }

    public static bool IsHostname(string name) =>
        name.Length is > 0 and <= 64 && name.Split('.').All(label => label.Length > 0 && label[0] != '-' && label[^1] != '-'
            && label.All(c => char.IsAsciiLetterOrDigit(c) || c == '-'));
}
