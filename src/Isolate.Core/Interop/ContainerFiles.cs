namespace Isolate.Interop;

/// <summary>Reads a regular file of the container's, resolved inside its root as the container
/// would resolve it (native/resolve.c): a crafted /etc/passwd -> /host/... stays inside.</summary>
public static class ContainerFiles
{
    /// <returns>The text, or null when there is no such regular file (or it is over 16 MiB:
    /// not a passwd file).</returns>
    public static string? ReadText(string root, string path) => SmallFile.ReadAndClose(new FileDescriptor(Shim.OpenInRoot(root, path)), 16 << 20);
}
