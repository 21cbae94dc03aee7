using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using Isolate.Interop;
using Isolate.Launch;
using Isolate.Spec;
using Isolate.State;

namespace Isolate.Containers;

/// <summary>The one runner of OCI hooks, each with the container's state on stdin. Those of
/// Isolate's own namespaces (prestart, createRuntime, poststart, poststop) are host programs;
/// createContainer and startContainer run inside the container, launched as exec is.</summary>
public static unsafe class HookRunner
{
    /// <summary>In order; a failing one aborts (<paramref name="fatal"/>: prestart, createRuntime)
    /// or is reported through <paramref name="warn"/>.</summary>
    public static void OnHost(string phase, IEnumerable<HookState> hooks, string stateJson, bool fatal, Action<string>? warn = null)
    {
        int index = 0;
        foreach (var hook in hooks)
        {
            string? problem = RunOnHost(hook, stateJson);
            if (problem != null)
            {
                string message = $"{phase} hook {index} ({hook.Path}): {problem}";
                if (fatal)
                    throw new IsolateException(message);
                (warn ?? (_ => { }))(message);
            }
            index++;
        }
    }

    private static string? RunOnHost(HookState hook, string stateJson)
    {
        var info = new ProcessStartInfo(hook.Path)
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
        };
        foreach (string arg in hook.Args.Skip(1)) // args[0] is the program's own name
            info.ArgumentList.Add(arg);
        // as runc (Go's exec.Cmd with a nil Env): no env in config.json, Isolate's own
        if (hook.Env != null)
        {
            info.Environment.Clear();
            foreach (string entry in hook.Env)
            {
                int eq = entry.IndexOf('=');
                if (eq > 0)
                    info.Environment[entry[..eq]] = entry[(eq + 1)..];
            }
        }
        Process process;
        try
        {
            process = Process.Start(info)!;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return IsolateException.Describe(e.NativeErrorCode);
        }
        using (process)
        {
            try
            {
                process.StandardInput.Write(stateJson);
                process.StandardInput.Close();
            }
            catch (IOException)
            {
                // a hook that does not read its stdin
            }
            var timeout = hook.Timeout is > 0 ? TimeSpan.FromSeconds(hook.Timeout.Value) : Timeout.InfiniteTimeSpan;
            if (!process.WaitForExit(timeout))
            {
                process.Kill(entireProcessTree: true);
                return $"timed out after {hook.Timeout} s";
            }
            return process.ExitCode == 0 ? null : $"exited with {process.ExitCode}";
        }
    }

    /// <summary>createContainer and startContainer hooks: executed in the container's
    /// namespaces and cgroup, as its root with the container's own confinement (bounding
    /// set, seccomp filter, no_new_privs) - they run among the image's files, whose libraries
    /// a host program would load - and the state on stdin. createContainer's program is
    /// found in Isolate's namespace (the spec's rule), must be static (config.json's loader
    /// refused any other: OciHookProgram) and runs from a sealed copy, so the container
    /// cannot write the host's file through its /proc/PID/exe; startContainer's is the
    /// container's own, resolved in its root, links and all. A failing one is an error; the caller stops
    /// the container.</summary>
    public static void InContainer(string phase, IReadOnlyList<HookState> hooks, ContainerState state, bool programInContainer,
        Security.ProcessSecurity confinement)
    {
        if (hooks.Count == 0)
            return;
        var namespaces = ContainerHandle.NamespacesOf(state.Pid);
        var cgroup = ContainerHandle.OpenCgroup(state);
        string stateJson = ContainerViews.StateJson(state, ContainerStatus.Created);
        for (int index = 0; index < hooks.Count; index++)
        {
            var hook = hooks[index];
            int program = programInContainer
                ? Shim.OpenInRoot($"/proc/{state.Pid.ToString(CultureInfo.InvariantCulture)}/root", hook.Path)
                : HostProgram(phase, index, hook.Path);
            if (program < 0)
                throw new IsolateException($"{phase} hook {index} ({hook.Path}): {IsolateException.Describe(-program)}");
            try
            {
                var process = new ProcessSpec
                {
                    Args = hook.Args.Count > 0 ? hook.Args : [hook.Path],
                    Env = hook.Env ?? [], // inside the container, not the host's environment
                    Workdir = "/",
                    Security = confinement with { User = Security.ProcessUser.Root, OciSets = null, PreserveFds = 0 },
                };
                string? problem = WithStdin(stateJson, () =>
                {
                    var (pid, pidfd, ttyFd) = Launcher.ExecInto(process, namespaces, cgroup, detach: false, default, null, program);
                    if (pidfd >= 0)
                        Libc.Close(pidfd);
                    if (ttyFd >= 0)
                        Libc.Close(ttyFd);
                    return ProcessWait.ForSuccess(pid, hook.Timeout);
                });
                if (problem != null)
                    throw new IsolateException($"{phase} hook {index} ({hook.Path}): {problem}");
            }
            finally
            {
                Libc.Close(program);
            }
        }
    }

    /// <summary>A host program to run inside the container: a sealed copy of it (what runs
    /// there, checked again: the host's file may have changed since config.json was read), or
    /// a negative errno.</summary>
    private static int HostProgram(string phase, int index, string path)
    {
        int file = Libc.Open(path, OpenFlags.O_RDONLY | OpenFlags.O_NONBLOCK | OpenFlags.O_CLOEXEC, 0);
        if (file < 0)
            return -Marshal.GetLastPInvokeError();
        int copy = Oci.OciHookProgram.SealedCopy(file);
        Libc.Close(file);
        if (copy < 0)
            return copy;
        if (Oci.OciHookProgram.Refusal(path, copy) is { } problem)
        {
            Libc.Close(copy);
            throw new IsolateException($"config.json: hooks.{phase}[{index}].path: {problem}");
        }
        return copy;
    }

    /// <summary>Runs <paramref name="action"/> with Isolate's own stdin a pipe holding
    /// <paramref name="input"/>: what a process it starts gets as its stdin.</summary>
    private static T WithStdin<T>(string input, Func<T> action)
    {
        int* fds = stackalloc int[2];
        if (Pipes.Pipe2(fds, OpenFlags.O_CLOEXEC) < 0)
            throw IsolateException.FromErrno("create a pipe", null, Marshal.GetLastPInvokeError());
        byte[] bytes = System.Text.Encoding.UTF8.GetBytes(input);
        fixed (byte* p = bytes)
            Libc.Write(fds[1], p, bytes.Length); // the state is far below a pipe's 64 KiB
        Libc.Close(fds[1]);
        int saved = Pipes.Dup(0);
        Pipes.Dup2(fds[0], 0);
        Libc.Close(fds[0]);
        try
        {
            return action();
        }
        finally
        {
            Pipes.Dup2(saved, 0);
            Libc.Close(saved);
        }
    }
}
