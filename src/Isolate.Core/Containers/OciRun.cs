using Isolate.Interop;
using Isolate.Launch;
using Isolate.Runtime;
using Isolate.State;

namespace Isolate.Containers;

/// <summary>OCI `run`: with -d, create then start; otherwise create, start and wait in one
/// process, which stays the container's parent: signals are forwarded, the exit status is the
/// container's, and the state directory exists (state, list, kill, exec work on it) while it runs.</summary>
public static class OciRun
{
    /// <param name="keep">Foreground: the stopped container stays (runc's --keep) for `state`
    /// and `delete`, which runs its poststop hooks. Detached containers always stay.</param>
    public static int Run(StateStore store, string id, OciCreateOptions options, bool detach, Action<string>? debug, Action<string> warn,
        bool keep = false)
    {
        if (detach)
        {
            OciCreate.Run(store, id, options, debug, warn);
            try
            {
                ContainerStart.Run(store, id, warn);
            }
            catch (IsolateException)
            {
                ContainerDelete.Run(store, id, force: true, warn);
                throw;
            }
            return 0;
        }
        return Foreground(store, id, options, debug, warn, keep);
    }

    private static int Foreground(StateStore store, string id, OciCreateOptions options, Action<string>? debug, Action<string> warn, bool keep)
    {
        var bundle = OciCreate.Load(id, options);
        var spec = bundle.Spec with
        {
            Process = bundle.Spec.Process with { Interactive = bundle.Terminal && HostTerminal.IsTerminal(0) },
            PidFile = options.PidFile is null ? null : Path.GetFullPath(options.PidFile),
        };
        // The directory is locked only while it is written: `state`, `list` and `kill` work
        // on the container while it runs.
        var state = OciCreate.NewState(id, bundle, spec.Cgroups) with
        {
            Poststop = keep ? bundle.Hooks.Poststop.Select(OciCreate.ToState).ToList() : [],
        };
        LaunchHold? hold = null;
        using (var created = store.CreateNew(id))
        {
            store.Write(created, state);
            StateStore.WriteSpec(created, spec);
            // in-container hooks run as create and start run them: the container set up and
            // held on its exec FIFO (status `created` meanwhile), then let go
            if (bundle.Hooks.CreateContainer.Count > 0 || bundle.Hooks.StartContainer.Count > 0)
            {
                var (fifo, status) = OciCreate.MakeFifos(created.Directory);
                hold = new LaunchHold(fifo, status, pid =>
                {
                    HookRunner.InContainer("createContainer", bundle.Hooks.CreateContainer.Select(OciCreate.ToState).ToList(), state,
                        programInContainer: false, spec.Process.Security);
                    HookRunner.InContainer("startContainer", bundle.Hooks.StartContainer.Select(OciCreate.ToState).ToList(), state,
                        programInContainer: true, spec.Process.Security);
                    ContainerStart.Go(store.DirectoryOf(id), id, () => spec.Process);
                });
            }
        }
        string? poststartFailure = null;
        bool kept = false;
        try
        {
            var result = Launcher.Run(spec, debug, warn, spawned: pid =>
            {
                state = state with { Pid = pid, PidStartTime = ProcessInfo.StartTime(pid) };
                using (var held = store.Open(id))
                    store.Write(held, state);
                if (bundle.Hooks.Prestart.Count + bundle.Hooks.CreateRuntime.Count > 0) // the state a hook reads, only for one
                {
                    string stateJson = ContainerViews.StateJson(state, ContainerStatus.Created);
                    HookRunner.OnHost("prestart", bundle.Hooks.Prestart.Select(OciCreate.ToState), stateJson, fatal: true);
                    HookRunner.OnHost("createRuntime", bundle.Hooks.CreateRuntime.Select(OciCreate.ToState), stateJson, fatal: true);
                }
            }, started: pid =>
            {
                // as start: a failing poststart hook stops the container and fails the run
                try
                {
                    if (bundle.Hooks.Poststart.Count > 0)
                        HookRunner.OnHost("poststart", bundle.Hooks.Poststart.Select(OciCreate.ToState), ContainerViews.StateJson(state, ContainerStatus.Running), fatal: true);
                }
                catch (IsolateException e)
                {
                    poststartFailure = e.Message;
                    Libc.Kill(pid, Signal.SIGKILL);
                }
            }, hold: hold);
            if (result.OutOfMemory && poststartFailure is null)
                warn(result.OutOfMemoryMessage);
            if ((!keep || poststartFailure != null) && bundle.Hooks.Poststop.Count > 0)
                HookRunner.OnHost("poststop", bundle.Hooks.Poststop.Select(OciCreate.ToState), ContainerViews.StateJson(state, ContainerStatus.Stopped), fatal: false, warn);
            if (poststartFailure != null)
                throw new IsolateException(poststartFailure);
            kept = keep;
            return result.ExitCode;
        }
        finally
        {
            if (!kept)
                Remove(store, id);
        }
    }

    private static void Remove(StateStore store, string id)
    {
        try
        {
            using var held = store.Open(id);
            StateStore.Remove(held);
        }
        catch (IsolateException)
        {
            // deleted meanwhile (delete --force)
        }
    }
}
