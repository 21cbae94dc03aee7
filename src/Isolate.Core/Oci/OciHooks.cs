using Isolate.Interop;

namespace Isolate.Oci;

/// <summary>One OCI hook: an executable (absolute host path) with its full argv (argv[0]
/// included; [Path] when config.json gives no args), its environment (null when config.json
/// gives none: a host hook then inherits the runtime's, as runc's do), and a timeout in
/// seconds (null: none).</summary>
public sealed record OciHook(string Path, IReadOnlyList<string> Args, IReadOnlyList<string>? Env, int? Timeout);

/// <summary>config.json's hooks, per lifecycle phase, in the file's order.</summary>
public sealed record OciHooks
{
    /// <summary>Deprecated by the spec, run (as runc does) with createRuntime.</summary>
    public IReadOnlyList<OciHook> Prestart { get; init; } = [];
    public IReadOnlyList<OciHook> CreateRuntime { get; init; } = [];
    public IReadOnlyList<OciHook> CreateContainer { get; init; } = [];
    public IReadOnlyList<OciHook> StartContainer { get; init; } = [];
    public IReadOnlyList<OciHook> Poststart { get; init; } = [];
    public IReadOnlyList<OciHook> Poststop { get; init; } = [];

    public bool Any => Prestart.Count + CreateRuntime.Count + CreateContainer.Count + StartContainer.Count + Poststart.Count + Poststop.Count > 0;
}

/// <summary>A createContainer hook's program is a host file that runs inside the container,
/// after its root changed: whatever the kernel opens by path to run it (an ELF loader, a
/// "#!" interpreter, a binfmt_misc handler) would be the container's, and the image's ld.so
/// would run with the host's program in hand. Only a statically linked program runs there as
/// the host's alone; it runs from a sealed copy (<see cref="SealedCopy"/>), so that its
/// /proc/PID/exe, reopened from the container, is not the host's file.</summary>
public static class OciHookProgram
{
    /// <summary>Why the program <paramref name="fd"/> holds (opened in Isolate's own mount
    /// namespace) cannot run inside the container, as "PATH is ...; what to do"; null when it can.</summary>
    public static string? Refusal(string path, int fd)
    {
        int kind = Shim.ProgramKind(fd);
        if (kind < 0)
            return $"read {path}: {IsolateException.Describe(-kind)}; give a statically linked program";
        return (ShimProgramKind)kind switch
        {
            ShimProgramKind.Static => null,
            ShimProgramKind.Dynamic => $"{path} is dynamically linked (its loader would be the container's); give a statically linked program",
            ShimProgramKind.Script => $"{path} is a #! script (its interpreter would be the container's); give a statically linked program",
            _ => $"{path} is not an ELF program of this machine (its interpreter would be looked up in the container); give a statically linked program",
        };
    }

    /// <summary>A memfd sealed against writing with what <paramref name="fd"/> holds, to execute
    /// instead of the host's file (native/selfexe.c), or a negative errno.</summary>
    public static int SealedCopy(int fd) => Shim.SealedCopy(fd);
}

public static partial class OciBundleLoader
{
    private sealed partial class Mapper
    {
        // ---- hooks ----

        private static OciHooks Hooks(OciHooksConfig? hooks, Isolate.Devices.CdiHooks nvidia) => hooks is null ? new OciHooks() : new OciHooks
        {
            Prestart = HookList("hooks.prestart", hooks.Prestart),
            CreateRuntime = HookList("hooks.createRuntime", hooks.CreateRuntime),
            CreateContainer = HookList("hooks.createContainer", NvidiaHooksDone(hooks.CreateContainer, nvidia), hostProgramInContainer: true),
            StartContainer = HookList("hooks.startContainer", hooks.StartContainer),
            Poststart = HookList("hooks.poststart", hooks.Poststart),
            Poststop = HookList("hooks.poststop", hooks.Poststop),
        };

        /// <summary>createContainer's hooks without NVIDIA's, whose work Isolate does itself (the
        /// hooks podman and containerd copy from an NVIDIA CDI spec: Devices/CdiHooks): they run
        /// nowhere, so their program need not be static, nor installed.</summary>
        private static List<OciHookConfig>? NvidiaHooksDone(List<OciHookConfig>? hooks, Isolate.Devices.CdiHooks nvidia)
        {
            if (hooks is null)
                return null;
            var rest = new List<OciHookConfig>();
            for (int i = 0; i < hooks.Count; i++)
            {
                var hook = hooks[i];
                var args = hook.Args is { Count: > 0 } a ? a : [hook.Path ?? ""];
                if (hook.Path is { Length: > 0 } path && Isolate.Devices.CdiHooks.NvidiaSubcommand(path, args) > 0)
                    nvidia.AddNvidia(path, args, $"config.json: hooks.createContainer[{i}] ({path} {string.Join(' ', args.Skip(1))})");
                else
                    rest.Add(hook);
            }
            return rest;
        }

        private static IReadOnlyList<OciHook> HookList(string where, List<OciHookConfig>? hooks, bool hostProgramInContainer = false)
        {
            var result = new List<OciHook>();
            for (int i = 0; i < (hooks?.Count ?? 0); i++)
            {
                var hook = hooks![i];
                string path = hook.Path is { Length: > 0 } p ? p : throw Error($"{where}[{i}].path", "is required");
                if (!path.StartsWith('/'))
                    throw Error($"{where}[{i}].path", $"'{path}' must be an absolute host path");
                if (hook.Timeout is <= 0)
                    throw Error($"{where}[{i}].timeout", $"{hook.Timeout} is not a number of seconds above 0");
                if (hostProgramInContainer)
                    RefuseForContainer($"{where}[{i}].path", path);
                result.Add(new OciHook(path, hook.Args is { Count: > 0 } args ? args : [path], hook.Env, hook.Timeout));
            }
            return result;
        }

        /// <summary>A host program that runs inside the container must be static (read here,
        /// before anything is made; the runner checks its sealed copy again). One it cannot
        /// open is left to the runner, which reports it as it runs.</summary>
        private static void RefuseForContainer(string where, string path)
        {
            int fd = Libc.Open(path, OpenFlags.O_RDONLY | OpenFlags.O_NONBLOCK | OpenFlags.O_CLOEXEC, 0);
            if (fd < 0)
                return;
            try
            {
                if (OciHookProgram.Refusal(path, fd) is { } problem)
                    throw Error(where, problem);
            }
            finally
            {
                Libc.Close(fd);
            }
        }
    }
}
