namespace Isolate.Devices;

/// <summary>Which NVIDIA GPUs a run asks for, and what of the driver it wants: docker's
/// `--gpus` (all, N, count=N, device=ID[,ID], capabilities=LIST, driver=nvidia), or, without
/// it, NVIDIA_VISIBLE_DEVICES and NVIDIA_DRIVER_CAPABILITIES as the NVIDIA toolkit reads them
/// (all, none, void, a list of indexes or UUIDs).</summary>
/// <param name="Count">The first N GPUs (--gpus N); null: <paramref name="Ids"/> or all.</param>
/// <param name="Ids">Indexes or UUIDs; empty with <paramref name="All"/> false and no count: no GPU (NVIDIA_VISIBLE_DEVICES=none: the driver alone).</param>
public sealed record GpuRequest(bool All, int? Count, IReadOnlyList<string> Ids, IReadOnlyList<string> Capabilities, string Source)
{
    /// <summary>What the driver gives a container unless asked otherwise, as the toolkit's default.</summary>
    public static readonly IReadOnlyList<string> DefaultCapabilities = ["compute", "utility"];

    private static readonly string[] Supported = ["compute", "utility"];
    private static readonly string[] Known = ["compute", "utility", "graphics", "video", "display", "compat32", "ngx"];

    /// <summary>The request of a run: --gpus when given, else the NVIDIA_VISIBLE_DEVICES the user
    /// set (-e, --env-file; an image's own Env is not a request for the host's devices); null:
    /// no GPU asked for.</summary>
    public static GpuRequest? From(string? gpus, string? visibleDevices, string? capabilities)
    {
        // read only with a request: an image's own capabilities stop nothing without one
        if (gpus is null && (visibleDevices is null || visibleDevices.Trim() is "" or "void"))
            return null;
        var caps = capabilities is null ? null : ParseCapabilities(capabilities, "NVIDIA_DRIVER_CAPABILITIES");
        if (gpus != null)
            return ParseFlag(gpus, caps);
        string value = visibleDevices!.Trim(); // set: no --gpus, and not void
        return value switch
        {
            "all" => new GpuRequest(true, null, [], caps ?? DefaultCapabilities, "NVIDIA_VISIBLE_DEVICES=all"),
            "none" => new GpuRequest(false, null, [], caps ?? DefaultCapabilities, "NVIDIA_VISIBLE_DEVICES=none"),
            _ => new GpuRequest(false, null, ParseIds(value.Split(','), $"NVIDIA_VISIBLE_DEVICES={value}"), caps ?? DefaultCapabilities, $"NVIDIA_VISIBLE_DEVICES={value}"),
        };
    }

    private static GpuRequest ParseFlag(string flag, IReadOnlyList<string>? envCapabilities)
    {
        string source = $"--gpus {flag}";
        bool all = false;
        int? count = null;
        var ids = new List<string>();
        IReadOnlyList<string>? caps = null;
        string? last = null;
        foreach (string field in Fields(flag, source))
        {
            int eq = field.IndexOf('=');
            string key = eq < 0 ? "" : field[..eq].Trim(), value = eq < 0 ? field.Trim() : field[(eq + 1)..].Trim();
            switch (key)
            {
                case "" when value == "all":
                    all = true;
                    break;
                case "" when last == "device" && value.Length > 0:
                    ids.AddRange(ParseIds([value], source)); // device=0,1 unquoted: docker's CSV would split it
                    continue;
                case "" when int.TryParse(value, System.Globalization.NumberStyles.None, null, out int n) && n > 0:
                    count = n;
                    break;
                case "count":
                    if (value == "all")
                        all = true;
                    else if (int.TryParse(value, System.Globalization.NumberStyles.None, null, out int c) && c > 0)
                        count = c;
                    else
                        throw new IsolateException($"invalid {source}: count is a number of GPUs above 0, or all");
                    break;
                case "device":
                    ids.AddRange(ParseIds(value.Split(','), source));
                    break;
                case "capabilities":
                    caps = ParseCapabilities(value, source);
                    break;
                case "driver":
                    if (value != "nvidia")
                        throw new IsolateException($"invalid {source}: driver {value} is not supported (nvidia is)");
                    break;
                case "options":
                    throw new IsolateException($"invalid {source}: driver options are not supported");
                default:
                    throw new IsolateException($"invalid {source}: use all, a number, count=N, device=ID[,ID] (an index or a GPU UUID), capabilities=LIST, driver=nvidia");
            }
            last = key;
        }
        if ((all ? 1 : 0) + (count != null ? 1 : 0) + (ids.Count > 0 ? 1 : 0) != 1)
            throw new IsolateException($"invalid {source}: give one of all, a count or device=ID[,ID]");
        return new GpuRequest(all, count, ids, caps ?? envCapabilities ?? DefaultCapabilities, source);
    }

    /// <summary>docker's CSV: fields split at commas outside double quotes, the quotes dropped.</summary>
    private static List<string> Fields(string text, string source)
    {
        var fields = new List<string>();
        var field = new System.Text.StringBuilder();
        bool quoted = false;
        foreach (char c in text)
        {
            if (c == '"')
                quoted = !quoted;
            else if (c == ',' && !quoted)
            {
                fields.Add(field.ToString());
                field.Clear();
            }
            else
                field.Append(c);
        }
        if (quoted)
            throw new IsolateException($"invalid {source}: a quote is not closed");
        fields.Add(field.ToString());
        return fields;
    }

    private static List<string> ParseIds(IEnumerable<string> values, string source)
    {
        var ids = new List<string>();
        foreach (string raw in values)
        {
            string id = raw.Trim();
            if (id.StartsWith("MIG-", StringComparison.Ordinal) || id.Contains(':'))
                throw new IsolateException($"invalid {source}: {id} is a MIG device, which is not supported yet (give whole GPUs)");
            if (id.Length == 0 || !(id.All(char.IsAsciiDigit) || id.StartsWith("GPU-", StringComparison.Ordinal)))
                throw new IsolateException($"invalid {source}: '{id}' is not a GPU index (0, 1) or UUID (GPU-...)");
            if (!ids.Contains(id))
                ids.Add(id);
        }
        return ids;
    }

    private static IReadOnlyList<string> ParseCapabilities(string value, string source)
    {
        var caps = new List<string>();
        foreach (string raw in value.Split(','))
        {
            string cap = raw.Trim();
            if (cap is "" or "gpu") // docker's marker of a GPU request
                continue;
            if (cap == "all")
                return Supported; // every capability Isolate gives: compute and utility
            if (!Known.Contains(cap))
                throw new IsolateException($"invalid {source}: unknown driver capability '{cap}' (compute, utility, all)");
            if (!Supported.Contains(cap))
                throw new IsolateException($"{source}: the {cap} driver capability is not supported yet (compute and utility are): refused rather than ignored");
            if (!caps.Contains(cap))
                caps.Add(cap);
        }
        return caps.Count == 0 ? DefaultCapabilities : caps;
    }
}
