using System.Runtime.InteropServices;
using Isolate.Interop;
using Isolate.Runtime;
using Isolate.Spec;
using Isolate.State;

namespace Isolate.Containers;

/// <summary>OCI start: the startContainer hooks, then one byte into the exec FIFO, on which
/// the created container's PID 1 waits; then the poststart hooks.</summary>
public static unsafe class ContainerStart
{
    /// <summary>A failing poststart hook is an error, as runc makes it: the container is
    /// killed and deleted (its poststop hooks run), and start fails.</summary>
    public static void Run(StateStore store, string id, Action<string> warn)
    {
        var state = Release(store, id);
        try
        {
            HookRunner.OnHost("poststart", state.Poststart, ContainerViews.StateJson(state, ContainerStatus.Running), fatal: true);
        }
        catch (IsolateException)
        {
            ContainerDelete.Run(store, id, force: true, warn);
            throw;
        }
    }

    /// <summary>The startContainer hooks and the go byte, under the container's lock.</summary>
    private static ContainerState Release(StateStore store, string id)
    {
        using var held = store.Open(id);
        var state = store.Read(held);
        var status = StateStore.Status(held, state);
        if (status != ContainerStatus.Created)
            throw new IsolateException($"cannot start container {id}: it is {status.Oci()}, not created");
        try
        {
            if (state.StartContainer.Count > 0)
            {
                // the hooks run in a clone of this process inside the container: from the
                // read-only binary (CVE-2019-5736); re-execs into this same verb, which nothing
                // has changed yet. A start without such hooks only writes the go byte.
                Runtime.SealedBinary.Enter();
                HookRunner.InContainer("startContainer", state.StartContainer, state, programInContainer: true,
                    StateStore.ReadSpec(held.Directory, id).Process.Security);
            }
        }
        catch (IsolateException)
        {
            ContainerHandle.SendSignal(state, Signal.SIGKILL); // the spec: a failing startContainer hook stops the container
            throw;
        }
        Go(held.Directory, id, () => StateStore.ReadSpec(held.Directory, id).Process);
        return state;
    }

    /// <summary>The go byte into the exec FIFO in <paramref name="directory"/>, on which the
    /// created container's PID 1 waits, then its report on the status FIFO: a failure after
    /// the go (seccomp, exec) is thrown in the words of <paramref name="process"/>'s plan.
    /// `start` and a foreground run holding its container for hooks both go through here.</summary>
    internal static void Go(string directory, string id, Func<ProcessSpec> process)
    {
        string fifo = Path.Combine(directory, StateStore.FifoFile);
        string statusFifo = Path.Combine(directory, StateStore.ExecStatusFile);
        // opened before the go byte: its buffer would be dropped if the child wrote its
        // report and exited while no reader held the FIFO
        int report = Libc.Open(statusFifo, OpenFlags.O_RDONLY | OpenFlags.O_NONBLOCK | OpenFlags.O_CLOEXEC, 0);
        try
        {
            int fd = ContainerHandle.OpenFifoWriter(fifo, out bool gone);
            if (fd < 0)
                throw gone
                    ? new IsolateException($"cannot start container {id}: its process is gone")
                    : IsolateException.FromErrno($"open {fifo}", null, Marshal.GetLastPInvokeError());
            byte go = 1;
            nint written = Libc.Write(fd, &go, 1);
            int errno = Marshal.GetLastPInvokeError();
            Libc.Close(fd);
            if (written != 1)
                throw IsolateException.FromErrno($"start container {id}", null, errno);
            File.Delete(fifo); // from now on it is running
            if (report >= 0 && ReadFailure(report) is { } failure)
            {
                File.Delete(statusFifo);
                throw StepFailure.Describe(failure, Plan.SpawnPlan.ForExec(process(), [], false, false, default));
            }
            File.Delete(statusFifo);
        }
        finally
        {
            if (report >= 0)
                Libc.Close(report);
        }
    }

    /// <summary>What the child wrote to its status FIFO after the go byte: a FAILED message,
    /// or null at end-of-file (its close-on-exec end closed: the command was exec'd, or the
    /// process was killed, which its exit status tells).</summary>
    private static ShimMessage? ReadFailure(int fd)
    {
        const int F_SETFL = 4;
        Pipes.Fcntl(fd, F_SETFL, 0); // blocking: read returns at the report or when the last writer closes
        ShimMessage message;
        nint n;
        do
            n = Libc.Read(fd, (byte*)&message, sizeof(ShimMessage));
        while (n < 0 && Marshal.GetLastPInvokeError() == Errno.EINTR);
        return n == sizeof(ShimMessage) && (ShimMessageType)message.Type == ShimMessageType.Failed ? message : null;
    }
}
