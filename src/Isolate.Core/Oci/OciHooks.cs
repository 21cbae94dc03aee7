
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

public static partial class OciBundleLoader
{
    private sealed partial class Mapper
    {
        // ---- hooks ----

        private static OciHooks Hooks(OciHooksConfig? hooks) => hooks is null ? new OciHooks() : new OciHooks
        {
            Prestart = HookList("hooks.prestart", hooks.Prestart),
            CreateRuntime = HookList("hooks.createRuntime", hooks.CreateRuntime),
            CreateContainer = HookList("hooks.createContainer", hooks.CreateContainer),
            StartContainer = HookList("hooks.startContainer", hooks.StartContainer),
            Poststart = HookList("hooks.poststart", hooks.Poststart),
            Poststop = HookList("hooks.poststop", hooks.Poststop),
        };

        private static IReadOnlyList<OciHook> HookList(string where, List<OciHookConfig>? hooks)
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
                result.Add(new OciHook(path, hook.Args is { Count: > 0 } args ? args : [path], hook.Env, hook.Timeout));
            }
            return result;
        }
    }
}
