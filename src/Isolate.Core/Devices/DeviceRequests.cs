using System.Globalization;

namespace Isolate.Devices;

/// <summary>The one place a run's device requests become edits: CDI names (--device
/// VENDOR/CLASS=NAME) and GPUs (--gpus, or NVIDIA_VISIBLE_DEVICES set by the user). GPUs come
/// from an nvidia.com/gpu CDI spec where the host has one, as podman's --device
/// nvidia.com/gpu=all; otherwise Isolate finds the driver itself (NvidiaGpus).</summary>
public static class DeviceRequests
{
    public const string NvidiaKind = "nvidia.com/gpu";

    /// <param name="userEnv">-e and --env-file entries (K=V, or K: the host's value), in order.</param>
    /// <param name="imageEnv">The image's Env: it may say which driver capabilities it needs,
    /// never which of the host's GPUs it gets.</param>
    public static CdiEdits Resolve(IEnumerable<string> cdiNames, string? gpus, IEnumerable<string> userEnv, IEnumerable<string> imageEnv,
        Func<string, string?> hostVariable, IReadOnlyList<string> specDirs, string driverRoot, Func<string, bool> containerHas)
    {
        var names = cdiNames.ToList();
        var user = userEnv.ToList();
        var request = GpuRequest.From(gpus, Variable(user, "NVIDIA_VISIBLE_DEVICES", hostVariable),
            Variable(user, "NVIDIA_DRIVER_CAPABILITIES", hostVariable) ?? Variable(imageEnv.ToList(), "NVIDIA_DRIVER_CAPABILITIES", _ => null));
        CdiEdits? found = null;
        // the specs are read once, and only when a GPU or a CDI device is asked for
        List<CdiDevices.Spec>? loaded = null;
        List<CdiDevices.Spec> Specs() => loaded ??= CdiDevices.Load(specDirs);
        if (request != null)
        {
            if (CdiDevices.DeviceNames(NvidiaKind, Specs()) is { } specNames)
                names.AddRange(CdiNames(request, specNames));
            else
            {
                var host = NvidiaGpus.Find(driverRoot);
                var chosen = NvidiaGpus.Select(request, host, driverRoot);
                found = NvidiaGpus.Edits(request, chosen, [.. host.Except(chosen)], driverRoot);
            }
        }
        var cdi = CdiDevices.Resolve(names, specDirs, Specs, containerHas);
        if (found is null)
            return cdi;
        foreach (var node in found.Nodes.Where(n => cdi.Nodes.Any(c => c.Path == n.Path)))
            throw new IsolateException($"{request!.Source}: {node.Path} is also given by --device");
        return new CdiEdits([.. cdi.Nodes, .. found.Nodes], [.. cdi.Allows, .. found.Allows], [.. cdi.Env, .. found.Env], [.. cdi.Mounts, .. found.Mounts])
        {
            Links = [.. cdi.Links, .. found.Links],
            LibraryDirs = [.. cdi.LibraryDirs.Union(found.LibraryDirs)],
            Masks = found.Masks,
        };
    }

    /// <summary>A GPU request in an nvidia.com/gpu spec's names: all; an index or a UUID as
    /// nvidia-ctk names them; a count as the first N indexes.</summary>
    private static IEnumerable<string> CdiNames(GpuRequest request, IReadOnlyList<string> specNames)
    {
        if (request.All)
            return [$"{NvidiaKind}=all"];
        if (request.Count is { } count)
        {
            var indexes = specNames.Where(n => n.All(char.IsAsciiDigit)).OrderBy(n => int.Parse(n, CultureInfo.InvariantCulture)).ToList();
            if (count > indexes.Count)
                throw new IsolateException($"{request.Source}: {count} GPUs asked for, and the {NvidiaKind} CDI spec has {indexes.Count}");
            return indexes.Take(count).Select(n => $"{NvidiaKind}={n}");
        }
        if (request.Ids.Count == 0)
            throw new IsolateException($"{request.Source}: the driver without a GPU is not supported with an {NvidiaKind} CDI spec (name a GPU, or all)");
        return request.Ids.Select(id => $"{NvidiaKind}={id}");
    }

    /// <summary>The last value of <paramref name="name"/> in K=V or K entries (K alone: the host's).</summary>
    private static string? Variable(List<string> env, string name, Func<string, string?> hostVariable)
    {
        for (int i = env.Count - 1; i >= 0; i--)
        {
            string entry = env[i];
            if (entry == name)
                return hostVariable(name);
            if (entry.StartsWith(name + "=", StringComparison.Ordinal))
                return entry[(name.Length + 1)..];
        }
        return null;
    }
}
