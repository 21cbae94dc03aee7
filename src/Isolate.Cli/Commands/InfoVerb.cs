using System.Text.Json;
using CommandLine;
using Isolate.Devices;

namespace Isolate.Cli.Commands;

[Verb("info", HelpText = "What this host gives containers: cgroups, CDI devices, NVIDIA GPUs and driver files.")]
public sealed class InfoOptions
{
    [Option("format", MetaValue = "FORMAT", HelpText = "text (default) or json.")]
    public string? Format { get; set; }
}

/// <summary>`isolate info`: the host's facts a run depends on, as docker info and nvidia-ctk
/// cdi list show them: the cgroup layout, the CDI specs and their devices (--device
/// VENDOR/CLASS=NAME), the NVIDIA GPUs and driver files --gpus would give.</summary>
internal static class InfoVerb
{
    public static int Execute(InfoOptions options, GlobalOptions globals)
    {
        bool json = options.Format switch
        {
            null or "text" => false,
            "json" => true,
            _ => throw new IsolateException($"invalid --format '{options.Format}': use text or json"),
        };
        var layout = Isolate.Cgroups.CgroupLayout.Detect();
        string cgroups = layout.Version switch
        {
            Isolate.Cgroups.CgroupVersion.V2 => $"v2 ({layout.UnifiedRoot})",
            Isolate.Cgroups.CgroupVersion.V1 => layout.UnifiedRoot != null ? $"v1 (hybrid: v2 at {layout.UnifiedRoot} has no controllers)" : "v1",
            _ => "none mounted",
        };
        var specDirs = globals.CdiSpecDirs.Count > 0 ? globals.CdiSpecDirs : CdiDevices.DefaultSpecDirs;
        string? cdiError = null;
        IReadOnlyList<(string File, string Kind, IReadOnlyList<string> Devices)> specs = [];
        try
        {
            specs = CdiDevices.List(specDirs);
        }
        catch (IsolateException e)
        {
            cdiError = e.Message;
        }
        var gpus = NvidiaGpus.Find(globals.NvidiaDriverRoot);
        var files = NvidiaGpus.DriverFiles(GpuRequest.DefaultCapabilities, globals.NvidiaDriverRoot);
        if (json)
        {
            using var stream = new MemoryStream();
            using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
            {
                w.WriteStartObject();
                w.WriteString("version", Program.Version);
                w.WriteString("cgroups", cgroups);
                w.WriteStartObject("cdi");
                w.WriteStartArray("specDirs");
                foreach (string dir in specDirs)
                    w.WriteStringValue(dir);
                w.WriteEndArray();
                if (cdiError != null)
                    w.WriteString("error", cdiError);
                w.WriteStartArray("devices");
                foreach (var (_, kind, devices) in specs)
                    foreach (string device in devices)
                        w.WriteStringValue($"{kind}={device}");
                w.WriteEndArray();
                w.WriteEndObject();
                w.WriteStartObject("nvidia");
                w.WriteString("driverRoot", globals.NvidiaDriverRoot);
                w.WriteStartArray("gpus");
                foreach (var gpu in gpus)
                {
                    w.WriteStartObject();
                    w.WriteNumber("index", gpu.Index);
                    w.WriteString("device", $"/dev/nvidia{gpu.Minor}");
                    w.WriteString("uuid", gpu.Uuid);
                    w.WriteString("busId", gpu.BusId);
                    w.WriteString("model", gpu.Model);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                w.WriteStartArray("driverFiles");
                foreach (var file in files)
                    w.WriteStringValue(file.Host);
                w.WriteEndArray();
                w.WriteEndObject();
                w.WriteEndObject();
            }
            Output.Out(System.Text.Encoding.UTF8.GetString(stream.ToArray()) + "\n");
            return 0;
        }
        var text = new System.Text.StringBuilder();
        text.Append($"Isolate {Program.Version}\ncgroups: {cgroups}\n");
        text.Append($"CDI specs ({string.Join(", ", specDirs)}):{(specs.Count == 0 && cdiError is null ? " none" : "")}\n");
        if (cdiError != null)
            text.Append($"  error: {cdiError}\n");
        foreach (var (file, kind, devices) in specs)
            text.Append($"  {kind}: {string.Join(", ", devices)} ({file})\n");
        string root = globals.NvidiaDriverRoot == "/" ? "" : $" under {globals.NvidiaDriverRoot}";
        if (specs.Any(s => s.Kind == DeviceRequests.NvidiaKind))
            text.Append($"--gpus: from the {DeviceRequests.NvidiaKind} CDI spec\n");
        text.Append($"NVIDIA GPUs{root}:{(gpus.Count == 0 ? " none" : "")}\n");
        foreach (var gpu in gpus)
            text.Append($"  {gpu.Index}  /dev/nvidia{gpu.Minor}  {gpu.Uuid ?? "-"}  {gpu.Model ?? "-"}{(gpu.BusId is null ? "" : $"  {gpu.BusId}")}\n");
        text.Append($"NVIDIA driver files for --gpus (compute, utility):{(files.Count == 0 ? " none" : "")}\n");
        foreach (var file in files)
            text.Append($"  {file.ContainerPath}{(file.Host != file.ContainerPath ? $" <- {file.Host}" : "")}\n");
        Output.Out(text.ToString());
        return 0;
    }
}
