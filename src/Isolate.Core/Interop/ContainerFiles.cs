namespace Isolate.Interop;

/// <summary>Reads a regular file of the container's, resolved inside its root as the container
/// would resolve it (native/resolve.c): a crafted /etc/passwd -> /host/... stays inside.</summary>
public static class ContainerFiles
{
    /// <returns>The text, or null when there is no such regular file (or it is over 16 MiB:
    /// not a passwd file).</returns>
    public static string? ReadText(string root, string path) => SmallFile.ReadAndClose(new FileDescriptor(Shim.OpenInRoot(root, path)), 16 << 20);

    /// <summary><see cref="ReadText(string, string)"/> through an image's layers: the file of
    /// the topmost layer that has anything at <paramref name="path"/> (a whiteout there reads
    /// as no file).</summary>
    public static string? ReadText(string root, IReadOnlyList<string> lowers, string path) =>
        ReadBytes(root, lowers, path) is { } bytes ? System.Text.Encoding.UTF8.GetString(bytes) : null;

    /// <summary>The bytes of the file at <paramref name="path"/> through the layers, as <see cref="ReadText(string, IReadOnlyList{string}, string)"/>.</summary>
    public static byte[]? ReadBytes(string root, IReadOnlyList<string> lowers, string path)
    {
        foreach (string layer in lowers.Prepend(root))
        {
            int fd = Shim.OpenInRoot(layer, path);
            if (fd >= 0)
                return SmallFile.ReadBytesAndClose(new FileDescriptor(fd), 16 << 20);
            if (fd != -Errno.ENOENT || lowers.Count == 0)
                return null;
        }
        return null;
    }
}
