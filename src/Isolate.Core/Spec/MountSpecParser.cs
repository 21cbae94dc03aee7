using System.Text.RegularExpressions;

namespace Isolate.Spec;

/// <summary>docker's -v and --tmpfs syntax, parsed and checked before anything is created.</summary>
public static partial class MountSpecParser
{
    /// <summary>SRC:DST[:ro|rw]. SRC is an absolute host path (or ./relative, from the current
    /// directory) that must exist; DST an absolute path inside the container.</summary>
    public static VolumeSpec ParseVolume(string value, Func<string, string> canonicalize, Func<string, bool?> isFile)
    {
        string[] parts = value.Split(':');
        if (parts.Length is < 2 or > 3 || parts[0].Length == 0 || parts[1].Length == 0)
            throw new IsolateException($"invalid --volume '{value}': use SRC:DST or SRC:DST:ro");

        bool readOnly = false;
        if (parts.Length == 3)
        {
            foreach (string option in parts[2].Split(','))
            {
                readOnly = option switch
                {
                    "ro" or "readonly" => true,
                    "rw" => false,
                    _ => throw new IsolateException($"invalid --volume '{value}': unknown option '{option}'; use ro or rw"),
                };
            }
        }

        string source = parts[0];
        if (!source.StartsWith('/') && !source.StartsWith('.'))
            throw new IsolateException($"invalid --volume '{value}': the source must be a host path (absolute, or starting with ./); named volumes are not supported");
        string destination = ContainerPath(parts[1], "--volume", value);

        string canonical = canonicalize(source);
        bool file = isFile(canonical) ?? throw new IsolateException($"volume source {source}: No such file or directory");
        return new VolumeSpec(canonical, destination, readOnly, file);
    }

    /// <summary>DST[:size=64m,mode=1777,uid=N,gid=N,nr_inodes=N,ro,rw,exec,noexec,suid,nosuid,dev,nodev].
    /// Defaults as docker's: nosuid, nodev, noexec.</summary>
    public static TmpfsSpec ParseTmpfs(string value)
    {
        int colon = value.IndexOf(':');
        string destination = ContainerPath(colon < 0 ? value : value[..colon], "--tmpfs", value);
        bool readOnly = false, noExec = true, noSuid = true, noDev = true;
        var data = new List<string>();
        if (colon >= 0)
        {
            foreach (string option in value[(colon + 1)..].Split(',', StringSplitOptions.RemoveEmptyEntries))
            {
                int eq = option.IndexOf('=');
                string key = eq < 0 ? option : option[..eq];
                string arg = eq < 0 ? "" : option[(eq + 1)..];
                switch (key)
                {
                    case "ro": readOnly = true; break;
                    case "rw": readOnly = false; break;
                    case "exec": noExec = false; break;
                    case "noexec": noExec = true; break;
                    case "suid": noSuid = false; break;
                    case "nosuid": noSuid = true; break;
                    case "dev": noDev = false; break;
                    case "nodev": noDev = true; break;
                    case "size" when SizePattern().IsMatch(arg):
                        if (!arg.EndsWith('%'))
                            ResourceParser.AtLeast($"--tmpfs {value}", arg, TmpfsBytes(arg), ResourceParser.MinimumTmpfsBytes);
                        data.Add($"{key}={arg}");
                        break;
                    case "mode" when ModePattern().IsMatch(arg):
                    case "uid" or "gid" when Security.Ids.TryParse(arg, out _):
                    case "nr_inodes" when NumberPattern().IsMatch(arg):
                        data.Add($"{key}={arg}");
                        break;
                    case "size" or "mode" or "uid" or "gid" or "nr_inodes":
                        throw new IsolateException($"invalid --tmpfs '{value}': bad value for {key}: '{arg}'" + key switch
                        {
                            "size" => "; use a number with k, m or g, or a percentage (64m, 50%)",
                            "mode" => "; use octal digits (1777)",
                            "uid" or "gid" when NumberPattern().IsMatch(arg) => "; use a number below 4294967295 ((uid_t)-1 means 'unchanged')",
                            _ => "; use a number",
                        });
                    default:
                        throw new IsolateException($"invalid --tmpfs '{value}': unknown option '{key}'");
                }
            }
        }
        return new TmpfsSpec(destination, string.Join(',', data), readOnly, noExec, noSuid, noDev);
    }

    /// <summary>An absolute container path, lexically normalized ("/a/../b/" is "/b");
    /// ".." never climbs above "/", as inside the container.</summary>
    public static string ContainerPath(string path, string option, string value)
    {
        if (!path.StartsWith('/'))
            throw new IsolateException($"invalid {option} '{value}': the destination '{path}' must be an absolute path inside the container");
        return Normalize(path) ?? throw new IsolateException($"invalid {option} '{value}': the destination cannot be the container's /");
    }

    /// <summary>An absolute path with ".", ".." and repeated slashes resolved lexically (".."
    /// stops at "/"); null when that leaves "/" itself.</summary>
    public static string? Normalize(string path)
    {
        var parts = new List<string>();
        foreach (string part in path.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            if (part == "..")
            {
                if (parts.Count > 0)
                    parts.RemoveAt(parts.Count - 1);
            }
            else if (part != ".")
            {
                parts.Add(part);
            }
        }
        return parts.Count == 0 ? null : "/" + string.Join('/', parts);
    }

    /// <summary>tmpfs's size= in bytes (k, m, g as the kernel reads them); long.MaxValue when it
    /// overflows, which the kernel refuses itself.</summary>
    private static long TmpfsBytes(string size)
    {
        int shift = char.ToLowerInvariant(size[^1]) switch { 'k' => 10, 'm' => 20, 'g' => 30, _ => 0 };
        string digits = shift == 0 ? size : size[..^1];
        return long.TryParse(digits, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long n)
            && n <= long.MaxValue >> shift ? n << shift : long.MaxValue;
    }

    [GeneratedRegex(@"^([0-9]+[kKmMgG]?|[0-9]{1,3}%)$")]
    private static partial Regex SizePattern();

    [GeneratedRegex(@"^[0-7]{3,4}$")]
    private static partial Regex ModePattern();

    [GeneratedRegex(@"^[0-9]+$")]
    private static partial Regex NumberPattern();
}
