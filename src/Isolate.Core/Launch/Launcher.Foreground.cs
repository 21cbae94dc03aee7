using Isolate.Cgroups;
using Isolate.Interop;
using Isolate.Runtime;
using Isolate.Spec;

namespace Isolate.Launch;

public static partial class Launcher
{
    /// <summary>coreutils timeout's convention: 124 when the time ran out, however it ended.</summary>
    public const int TimedOutExitCode = 124;

    /// <summary>Runs a new container in the foreground: its cgroup (with the reaper that removes
    /// it if Isolate is killed), spawn, gate, start, signal forwarding, the terminal, the wait;
    /// returns the exit code Isolate should exit with.</summary>
    /// <param name="debug">Receives --debug lines (the plan, notes from the shim); null: quiet.</param>
    /// <param name="warn">Receives warnings (a limit this kernel cannot apply); null: quiet.</param>
    /// <param name="readUsage">Read the cgroup's counters even when the container did not die of
    /// SIGKILL (--stats); otherwise they are read only to tell an OOM kill from another.</param>
    /// <param name="spawned">Told the container's PID once it is placed (OCI run records its state).</param>
    /// <param name="started">Told it once the command has been exec'd (run -d's monitor records it).</param>
    /// <param name="hold">Hold the set-up container on an exec FIFO, as create does, until
    /// <see cref="LaunchHold.Release"/> (OCI run's in-container hooks) has let it go.</param>
    public static ContainerResult Run(ContainerSpec spec, Action<string>? debug = null, Action<string>? warn = null, bool readUsage = false,
        Action<int>? spawned = null, Action<int>? started = null, LaunchHold? hold = null)
    {
        warn ??= _ => { };
        CgroupReaper? reaper = null;
        try
        {
            // disposed at the end of this block, the layer last: it goes once the container and
            // its cgroup are gone
            using var layer = Rootfs.WritableLayer.For(spec, warn);
            // an image's layers, held (shared) while it runs: rmi and prune leave them be
            using var imageLayers = spec.Image != null ? Images.ImageStore.HoldLayers([spec.Rootfs!, .. spec.LowerLayers]) : null;
            if (layer != null)
                spec = spec with { LayerDir = layer.Directory };
            Timing.Mark("layer");
            // its network next: released after the cgroup (nothing of the container holds it
            // then), and by the reaper if Isolate is killed
            using var network = Network.ContainerNetwork.Claim(spec, warn);
            if (network != null)
            {
                spec = network.Apply(spec);
                debug?.Invoke($"network: {network.Describe()}" + string.Concat(network.Ports.Select(p => $"; {p}")));
                Timing.Mark("network");
            }
            using var scope = CgroupScope.ForForeground(spec, warn, readUsage, network?.ReaperDirectory);
            reaper = scope.Reaper;
            Timing.Mark("cgroup");
            if (scope.Cgroup is { } cgroup)
                debug?.Invoke($"cgroup: {string.Join(", ", cgroup.Directories)}; reaper pid {scope.ReaperPid}");
            var (exitCode, timedOut) = RunContainer(spec, scope.Cgroup, network, debug, warn, spawned, started, hold);
            bool killed = exitCode == ExitCodes.SignalBase + ExitStatus.SIGKILL;
            var usage = scope.Cgroup != null && (readUsage || killed) ? scope.Cgroup.ReadUsage() : null;
            return timedOut
                ? new ContainerResult(TimedOutExitCode, usage)
                {
                    TimeoutMessage = $"container stopped: it ran longer than --timeout {spec.Timeout!.Value.TotalSeconds:0.###}s"
                        + (killed ? " (killed)" : ""),
                }
                : new ContainerResult(exitCode, usage);
        }
        finally
        {
            // reaped last: dismissed with the group, it exits while the layer is removed
            reaper?.Dispose();
        }
    }

    private static (int ExitCode, bool TimedOut) RunContainer(ContainerSpec spec, ContainerCgroup? cgroup, Network.IContainerNetwork? network,
        Action<string>? debug, Action<string> warn,
        Action<int>? spawned, Action<int>? started, LaunchHold? hold)
    {
        var plan = ContainerPlan(spec, cgroup, spec.Process.Tty ? HostTerminal.Size() : default) with
        {
            ExecFifo = hold?.Fifo,
            ExecStatus = hold?.Status,
            HeldByParent = hold != null,
        };
        Timing.Mark("plan");
        SignalForwarder.Install(spec.StopSignal, spec.StopTimeout);
        if (spec.DieWithParent || Shim.ForegroundTerminal() == 1)
            SignalForwarder.DieWithParent();
        bool pidFileWritten = false;
        var child = Launch(LaunchKind.Foreground, plan, pid =>
        {
            int tree = PlaceAtGate(pid, spec, cgroup, warn, debug);
            try
            {
                network?.Attach(pid);
                if (spec.PidFile != null)
                    pidFileWritten = PidFile.Write(spec.PidFile, pid);
                spawned?.Invoke(pid);
            }
            catch
            {
                if (tree >= 0)
                    Libc.Close(tree);
                throw;
            }
            return tree;
        }, spec.UserNamespace, debug, spawned: c => SignalForwarder.Attach(c.Pid, c.Pidfd), abandon: SignalForwarder.Detach);
        TerminalRelay? relay = null;
        try
        {
            if (child.TtyFd >= 0)
                relay = TerminalRelay.Start(child.TtyFd, spec.Process.Interactive);
            if (child.Created)
                Release(hold!, child.Pid);
            SignalForwarder.ExecDone();
            started?.Invoke(child.Pid);
            var (status, timedOut) = ProcessWait.ForExit(child.Pid, child.Pidfd, spec.Timeout);
            Timing.Mark("wait");
            return (ExitStatus.FromWaitStatus(status, SignalForwarder.StoppedBySignal), timedOut);
        }
        finally
        {
            relay?.Finish();
            if (pidFileWritten)
                PidFile.Remove(spec.PidFile!, child.Pid);
        }
    }

    /// <summary>A held container let go; when that fails it is killed and reaped first.</summary>
    private static void Release(LaunchHold hold, int pid)
    {
        try
        {
            hold.Release(pid);
        }
        catch
        {
            Libc.Kill(pid, Signal.SIGKILL);
            SignalForwarder.Detach();
            ProcessWait.Quietly(pid);
            throw;
        }
    }

    /// <summary>exec in the foreground: signals to Isolate are forwarded to the command, a
    /// terminal is relayed, and the command's status is returned.</summary>
    public static int WaitForExec(int pid, int pidfd, int ttyFd, bool interactive)
    {
        SignalForwarder.Install(Signal.SIGTERM, TimeSpan.FromSeconds(10));
        SignalForwarder.Attach(pid, pidfd);
        SignalForwarder.ExecDone();
        TerminalRelay? relay = ttyFd >= 0 ? TerminalRelay.Start(ttyFd, interactive) : null;
        try
        {
            var (status, _) = ProcessWait.ForExit(pid, pidfd, null);
            return ExitStatus.FromWaitStatus(status, SignalForwarder.StoppedBySignal);
        }
        finally
        {
            relay?.Finish();
            if (pidfd >= 0)
                Libc.Close(pidfd);
        }
    }
}

/// <summary>A foreground container held, set up, on <paramref name="Fifo"/> (reporting on
/// <paramref name="Status"/>) until <paramref name="Release"/>, told its PID, lets it go.</summary>
public sealed record LaunchHold(string Fifo, string Status, Action<int> Release);
