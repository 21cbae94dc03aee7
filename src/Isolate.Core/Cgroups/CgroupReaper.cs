using System.Runtime.InteropServices;
using System.Text;
using Isolate.Interop;

namespace Isolate.Cgroups;

/// <summary>The process that removes a container's cgroup even if Isolate is killed
/// (native/reaper.c). Dispose tells it the group is gone (one byte, then the pipe closes):
/// it exits at once, and Isolate reaps it.</summary>
public sealed unsafe class CgroupReaper : IDisposable
{
    private readonly int _pid;
    private readonly FileDescriptor _write;

    private CgroupReaper(int pid, int writeFd)
    {
        _pid = pid;
        _write = new FileDescriptor(writeFd).OpenUntilExitIfForgotten(); // closed: the reaper removes the group
    }

    /// <param name="sharedParents">Parent levels to try removing last (other containers may use them).</param>
    /// <param name="group">The group's own directories, in order of creation.</param>
    /// <param name="layer">The container's copy-on-write layer (Rootfs/WritableLayer), removed
    /// after the group if Isolate is killed; null: none.</param>
    /// <param name="network">The container's network directory (Network/ContainerNetwork),
    /// released after the group if Isolate is killed; null: none.</param>
    public static CgroupReaper Start(IReadOnlyList<string> sharedParents, IReadOnlyList<string> group, string? layer = null, string? network = null)
    {
        var directories = sharedParents.Concat(group).ToList();
        var blocks = new List<nint>();
        try
        {
            byte** dirs = (byte**)NativeMemory.AllocZeroed((nuint)directories.Count + 1, (nuint)sizeof(nint));
            blocks.Add((nint)dirs);
            for (int i = 0; i < directories.Count; i++)
            {
                byte[] bytes = Encoding.UTF8.GetBytes(directories[i] + "\0");
                byte* copy = (byte*)NativeMemory.Alloc((nuint)bytes.Length);
                blocks.Add((nint)copy);
                bytes.CopyTo(new Span<byte>(copy, bytes.Length));
                dirs[i] = copy;
            }
            int writeFd;
            int pid = Shim.SpawnReaper(dirs, (uint)directories.Count, (uint)sharedParents.Count, layer, network, &writeFd);
            if (pid < 0)
                throw IsolateException.FromErrno("start the cgroup reaper", null, -pid);
            return new CgroupReaper(pid, writeFd);
        }
        finally
        {
            foreach (nint block in blocks)
                NativeMemory.Free((void*)block);
        }
    }

    /// <summary>Isolate removed the group itself: the reaper may go (it exits at once).
    /// <see cref="Dispose"/> reaps it; in between, Isolate may finish other work while the
    /// reaper exits.</summary>
    public void Dismiss()
    {
        if (_write.IsInvalid || _write.IsClosed)
            return;
        byte done = 1;
        Libc.Write(_write, &done, 1);
        _write.Dispose();
    }

    /// <summary>Dismisses the reaper if that is not done yet, and reaps it.</summary>
    public void Dispose()
    {
        if (_reaped)
            return;
        Dismiss();
        _reaped = true;
        int status;
        while (Libc.WaitPid(_pid, &status, 0) < 0 && Marshal.GetLastPInvokeError() == Errno.EINTR)
        {
        }
    }

    private bool _reaped;

    /// <summary>The reaper's pid, for tests and --debug.</summary>
    public int Pid => _pid;
}
