using Isolate.Interop;
using Isolate.State;

namespace Isolate.Containers;

/// <summary>OCI start: the startContainer hooks, then one byte into the exec FIFO, on which
/// the created container's PID 1 waits; then the poststart hooks.</summary>
public static unsafe class ContainerStart
{
    public static void Run(StateStore store, string id)
    {
        using var held = store.Open(id);
        var state = store.Read(held);
        var status = StateStore.Status(held, state);
        if (status != ContainerStatus.Created)
            throw new IsolateException($"cannot start container {id}: it is {status.Oci()}, not created");
        try
        {
            if (state.StartContainer.Count > 0)
                HookRunner.InContainer("startContainer", state.StartContainer, state, programInContainer: true,
                    StateStore.ReadSpec(held.Directory, id).Process.Security);
        }
        catch (IsolateException)
        {
            ContainerHandle.SendSignal(state, Signal.SIGKILL); // the spec: a failing startContainer hook stops the container
            throw;
        }
        string fifo = Path.Combine(held.Directory, StateStore.FifoFile);
        int fd = ContainerHandle.OpenFifoWriter(fifo, out bool gone);
        if (fd < 0)
            throw gone
                ? new IsolateException($"cannot start container {id}: its process is gone")
                : IsolateException.FromErrno($"open {fifo}", null, System.Runtime.InteropServices.Marshal.GetLastPInvokeError());
        byte go = 1;
        nint written = Libc.Write(fd, &go, 1);
        int errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
        Libc.Close(fd);
        if (written != 1)
            throw IsolateException.FromErrno($"start container {id}", null, errno);
        File.Delete(fifo); // from now on it is running
        HookRunner.OnHost("poststart", state.Poststart, ContainerViews.StateJson(state, ContainerStatus.Running), fatal: false);
    }
}
