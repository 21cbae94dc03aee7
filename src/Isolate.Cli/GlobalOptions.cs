using System.Text.Json;
using Isolate.State;

namespace Isolate.Cli;

/// <summary>Options given before the command, as runc takes them.</summary>
public sealed class GlobalOptions
{
    public string? Root { get; set; }

    /// <summary>--storage DIR: the image store (default: Images.ImageStore.DefaultRoot).</summary>
    public string? Storage { get; set; }

    /// <summary>--cdi-spec-dir DIR (repeatable): where CDI specs are read (default /etc/cdi, /var/run/cdi).</summary>
    public List<string> CdiSpecDirs { get; } = [];

    /// <summary>--nvidia-driver-root DIR: where --gpus finds the NVIDIA driver without a CDI spec
    /// (its /dev, /proc/driver/nvidia, ld.so cache and libraries; nvidia-ctk's --driver-root).</summary>
    public string NvidiaDriverRoot { get; set; } = "/";
    public string? Log { get; set; }
    public string LogFormat { get; set; } = "text";
    public bool Debug { get; set; }

    /// <summary>--systemd-cgroup: the OCI face's cgroup is a transient scope systemd makes.</summary>
    public bool SystemdCgroup { get; set; }

    /// <summary>The state store; with the default root, logs go to the default log root (on disk).</summary>
    public StateStore Store => Root is null ? new(StateStore.DefaultRoot(), StateStore.DefaultLogRoot()) : new(Root);

    /// <summary>--debug: lines on stderr; null: quiet.</summary>
    public Action<string>? DebugSink => Debug ? line => Output.Error("isolate: debug: " + line) : null;

    public void Warn(string line) => Output.Error("isolate: warning: " + line);

    /// <summary>Takes the global options off the front of args.</summary>
    public static GlobalOptions Extract(ref string[] arguments)
    {
        string[] args = arguments;
        var globals = new GlobalOptions();
        int i = 0;
        while (i < args.Length && args[i].StartsWith("--", StringComparison.Ordinal) && args[i] != "--")
        {
            string arg = args[i];
            string name = arg.Split('=', 2)[0];
            bool inline = arg.Contains('=');
            string? Value()
            {
                if (inline)
                    return arg[(name.Length + 1)..];
                if (i + 1 >= args.Length)
                    throw new IsolateException($"option '{name}' needs a value");
                return args[++i];
            }
            switch (name)
            {
                case "--root":
                    globals.Root = Value();
                    // the state store works through .NET's file API, which cannot name such a path
                    if (Isolate.Interop.ByteStrings.HasRawBytes(globals.Root!))
                        throw new IsolateException($"--root {globals.Root}: a state root whose name is not UTF-8 is not supported; choose another directory");
                    break;
                case "--cdi-spec-dir":
                    globals.CdiSpecDirs.Add(Value() ?? "");
                    break;
                case "--nvidia-driver-root":
                    string driverRoot = Value() ?? "";
                    globals.NvidiaDriverRoot = driverRoot.StartsWith('/') && Directory.Exists(driverRoot) ? Path.GetFullPath(driverRoot)
                        : throw new IsolateException($"--nvidia-driver-root {driverRoot}: give an existing directory, by its absolute path");
                    break;
                case "--storage":
                    globals.Storage = Value();
                    if (string.IsNullOrEmpty(globals.Storage))
                        throw new IsolateException("--storage: give the image store's directory");
                    break;
                case "--log":
                    globals.Log = CheckLogPath(Value()!);
                    break;
                case "--log-format":
                    string format = Value()!;
                    globals.LogFormat = format is "json" or "text" ? format
                        : throw new IsolateException($"invalid --log-format '{format}': use text or json");
                    break;
                case "--debug":
                    globals.Debug = true;
                    break;
                case "--systemd-cgroup":
                    // containerd gives it to every runc command; create and run act on it
                    globals.SystemdCgroup = true;
                    break;
                case "--rootless":
                case "--criu":
                    Value(); // accepted as runc takes them; rootless is detected from the uid
                    break;
                default:
                    arguments = args[i..];
                    return globals;
            }
            i++;
        }
        arguments = args[i..];
        return globals;
    }

    /// <summary>--log FILE: a path Isolate can append to (its directory exists). runc's
    /// `--log` takes no scheme (such as `journald:` or `file:`): a name with one is refused,
    /// not taken for a relative file called that.</summary>
    private static string CheckLogPath(string path)
    {
        if (path.Length == 0)
            throw new IsolateException("--log: give a file to append errors to");
        int colon = path.IndexOf(':');
        if (colon > 0 && path.IndexOf('/') is int slash && (slash < 0 || colon < slash))
            throw new IsolateException($"--log {path}: '{path[..colon]}:' is not a log destination Isolate knows; give a file path");
        string? directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (directory != null && !Directory.Exists(directory))
            throw new IsolateException($"--log {path}: directory {directory} does not exist");
        return path;
    }

    /// <summary>runc's --log: errors also go to FILE, as text or one JSON object a line.</summary>
    public void LogError(string message)
    {
        message = Isolate.Interop.ByteStrings.Escape(message);
        if (Log is null)
            return;
        string time = ContainerState.Timestamp();
        string line = LogFormat == "json"
            ? $"{{\"level\":\"error\",\"msg\":{JsonSerializer.Serialize(message, OciCliJson.Default.String)},\"time\":\"{time}\"}}\n"
            : $"time=\"{time}\" level=error msg={JsonSerializer.Serialize(message, OciCliJson.Default.String)}\n";
        try
        {
            File.AppendAllText(Log, line);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }
}

[System.Text.Json.Serialization.JsonSerializable(typeof(string))]
internal sealed partial class OciCliJson : System.Text.Json.Serialization.JsonSerializerContext;

