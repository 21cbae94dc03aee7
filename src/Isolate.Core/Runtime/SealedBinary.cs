using Isolate.Interop;

namespace Isolate.Runtime;

/// <summary>CVE-2019-5736: every process that enters a container is a clone of this one, so
/// its /proc/PID/exe is this binary, and a "#!/proc/self/exe" command makes the kernel run it
/// inside the container. A verb that enters a container therefore first re-execs from a
/// binary nothing can open for writing (native/selfexe.c: a detached read-only bind mount of
/// the binary itself, or a sealed memfd copy without mount rights), as runc and crun do.</summary>
public static class SealedBinary
{
    /// <summary>Returns once this process runs from such a copy; on failure no container is made.</summary>
    public static void Enter()
    {
        int rc = Shim.RunSealed();
        if (rc < 0)
            throw IsolateException.FromErrno("re-exec from a read-only copy of /proc/self/exe", null, -rc)
                .WithHint("Isolate starts containers only from a copy of its binary the container cannot overwrite (CVE-2019-5736)");
    }
}
