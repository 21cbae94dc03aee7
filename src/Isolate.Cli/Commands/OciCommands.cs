using System.Globalization;
using System.Text;
using System.Text.Json;
using CommandLine;
using Isolate.Oci;
using Isolate.Runtime;
using Isolate.Spec;
using Isolate.State;

namespace Isolate.Cli.Commands;

// The OCI runtime interface, with runc's command names, options and output: what podman,
// containerd and CRI-O call. Options may come before or after the container id.

[Verb("spec", HelpText = "OCI: write a default config.json (as runc spec does) into the bundle directory.")]
public sealed class SpecOptions
{
    [Option('b', "bundle", MetaValue = "DIR", HelpText = "The bundle directory (default: the current one).")]
    public string? Bundle { get; set; }

    [Option("rootless", HelpText = "A spec for a non-root user: a user namespace, no network namespace.")]
    public bool Rootless { get; set; }
}

[Verb("create", HelpText = "OCI: create container ID from a bundle, stopped before its command runs (start runs it).")]
public sealed class CreateOptions
{
    [Option('b', "bundle", MetaValue = "DIR", HelpText = "The bundle directory holding config.json (default: the current one).")]
    public string? Bundle { get; set; }

    [Option("pid-file", MetaValue = "FILE", HelpText = "Write the container's PID 1 (host PID) to FILE.")]
    public string? PidFile { get; set; }

    [Option("console-socket", MetaValue = "PATH", HelpText = "With process.terminal: a unix socket to send the terminal's master to.")]
    public string? ConsoleSocket { get; set; }

    [Option("preserve-fds", MetaValue = "N", HelpText = "Pass fds 3 .. 3+N-1 on to the container.")]
    public string? PreserveFds { get; set; }

    [Option("no-pivot", HelpText = "Accepted for runc compatibility; Isolate always uses pivot_root (or, on an initramfs, moves the root).")]
    public bool NoPivot { get; set; }

    [Option("no-new-keyring", HelpText = "Accepted for runc compatibility; Isolate never creates a session keyring.")]
    public bool NoNewKeyring { get; set; }

    [Value(0, MetaName = "ID", Required = true, HelpText = "The container's id.")]
    public string Id { get; set; } = "";
}

[Verb("start", HelpText = "OCI: run the command of a created container.")]
public sealed class StartOptions
{
    [Value(0, MetaName = "ID", Required = true)]
    public string Id { get; set; } = "";
}

[Verb("state", HelpText = "OCI: print a container's state as JSON.")]
public sealed class StateOptions
{
    [Value(0, MetaName = "ID", Required = true)]
    public string Id { get; set; } = "";
}

[Verb("kill", HelpText = "OCI: send a signal (default TERM) to a container's PID 1.")]
public sealed class KillOptions
{
    [Option('a', "all", HelpText = "Send it to every process of the container (its cgroup).")]
    public bool All { get; set; }

    [Value(0, MetaName = "ID", Required = true)]
    public string Id { get; set; } = "";

    [Value(1, MetaName = "SIGNAL", HelpText = "A name (TERM, SIGKILL) or number.")]
    public string? Signal { get; set; }
}

[Verb("delete", HelpText = "OCI: remove a stopped container (its cgroup and state).")]
public sealed class DeleteOptions
{
    [Option('f', "force", HelpText = "Kill it first if it is still running.")]
    public bool Force { get; set; }

    [Value(0, MetaName = "ID", Required = true)]
    public string Id { get; set; } = "";
}

[Verb("list", HelpText = "OCI: list the containers under the state root.")]
public sealed class ListOptions
{
    [Option('q', "quiet", HelpText = "Only the ids.")]
    public bool Quiet { get; set; }

    [Option('f', "format", MetaValue = "FORMAT", HelpText = "table (default) or json.")]
    public string? Format { get; set; }
}

[Verb("pause", HelpText = "OCI: freeze every process of a running container (cgroup freezer).")]
public sealed class PauseOptions
{
    [Value(0, MetaName = "ID", Required = true)]
    public string Id { get; set; } = "";
}

[Verb("resume", HelpText = "OCI: thaw a paused container.")]
public sealed class ResumeOptions
{
    [Value(0, MetaName = "ID", Required = true)]
    public string Id { get; set; } = "";
}

[Verb("ps", HelpText = "List containers (running; -a: all), as docker ps; with an ID (OCI), the host PIDs of its processes.")]
public sealed class PsOptions
{
    [Option('f', "format", MetaValue = "FORMAT", HelpText = "With an ID: table (default) or json (an array of PIDs, as runc prints).")]
    public string? Format { get; set; }

    [Option('a', "all", HelpText = "Stopped containers too.")]
    public bool All { get; set; }

    [Option('q', "quiet", HelpText = "Only the ids.")]
    public bool Quiet { get; set; }

    [Value(0, MetaName = "ID")]
    public string? Id { get; set; }
}

[Verb("features", HelpText = "OCI: print what this runtime supports, as JSON.")]
public sealed class FeaturesOptions;

[Verb("exec", HelpText = "Run another command in a running container (its namespaces, cgroup, user, capabilities and seccomp filter).")]
public sealed class ExecOptions
{
    internal static readonly OptionTable Table = new(
        withValue: ["process", "cwd", "env", "user", "pid-file", "console-socket", "preserve-fds"],
        flags: ["tty", "interactive", "detach"],
        shortNames: new Dictionary<char, string> { ['t'] = "tty", ['i'] = "interactive", ['d'] = "detach", ['p'] = "process", ['e'] = "env", ['u'] = "user" });

    [Option('t', "tty", HelpText = "A terminal for the command (from the container's devpts); interactive when stdin is one.")]
    public bool Tty { get; set; }

    [Option('i', "interactive", HelpText = "Accepted for docker's habit: stdin is always passed on.")]
    public bool Interactive { get; set; }

    [Option('d', "detach", HelpText = "Start it and return; it is not waited for (with --pid-file, a subreaper collects it).")]
    public bool Detach { get; set; }

    [Option('p', "process", MetaValue = "FILE", HelpText = "An OCI process JSON (args, env, cwd, user, capabilities, terminal) instead of the options.")]
    public string? Process { get; set; }

    [Option("cwd", MetaValue = "DIR", HelpText = "Its working directory (default: the container's).")]
    public string? Cwd { get; set; }

    [Option('e', "env", MetaValue = "KEY=VAL", HelpText = "Set a variable on top of the container's environment. Repeatable.")]
    public IEnumerable<string> Env { get; set; } = [];

    [Option('u', "user", MetaValue = "UID[:GID]", HelpText = "Run as this user (default: the container's).")]
    public string? User { get; set; }

    [Option("pid-file", MetaValue = "FILE", HelpText = "Write the command's host PID to FILE.")]
    public string? PidFile { get; set; }

    [Option("console-socket", MetaValue = "PATH", HelpText = "With -t and -d: a unix socket to send the terminal's master to.")]
    public string? ConsoleSocket { get; set; }

    [Option("preserve-fds", MetaValue = "N", HelpText = "Pass fds 3 .. 3+N-1 on to the command.")]
    public string? PreserveFds { get; set; }

    [Value(0, MetaName = "ID", Required = true, HelpText = "The container.")]
    public string Id { get; set; } = "";

    [Value(1, MetaName = "COMMAND [ARG...]", HelpText = "The command (not with --process).")]
    public IEnumerable<string> Command { get; set; } = [];
}

/// <summary>`isolate run` in its OCI form (chosen in Program: with -b/--bundle, or a lone id
/// beside a config.json).</summary>
[Verb("oci-run", Hidden = true)]
public sealed class OciRunOptions
{
    [Option('b', "bundle", MetaValue = "DIR")]
    public string? Bundle { get; set; }

    [Option('d', "detach")]
    public bool Detach { get; set; }

    [Option("pid-file", MetaValue = "FILE")]
    public string? PidFile { get; set; }

    [Option("console-socket", MetaValue = "PATH")]
    public string? ConsoleSocket { get; set; }

    [Option("preserve-fds", MetaValue = "N")]
    public string? PreserveFds { get; set; }

    [Option("no-pivot")]
    public bool NoPivot { get; set; }

    [Option("no-new-keyring")]
    public bool NoNewKeyring { get; set; }

    [Value(0, MetaName = "ID", Required = true)]
    public string Id { get; set; } = "";
}

/// <summary>Options given before the command, as runc takes them.</summary>
public sealed class GlobalOptions
{
    public string? Root { get; set; }
    public string? Log { get; set; }
    public string LogFormat { get; set; } = "text";
    public bool Debug { get; set; }

    public StateStore Store => new(Root ?? StateStore.DefaultRoot());

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
                    break;
                case "--log":
                    globals.Log = Value();
                    break;
                case "--log-format":
                    globals.LogFormat = Value() is "json" ? "json" : "text";
                    break;
                case "--debug":
                    globals.Debug = true;
                    break;
                case "--systemd-cgroup":
                    throw new IsolateException("--systemd-cgroup: Isolate manages cgroups through cgroupfs only; use the cgroupfs manager (podman --cgroup-manager cgroupfs)");
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

    /// <summary>runc's --log: errors also go to FILE, as text or one JSON object a line.</summary>
    public void LogError(string message)
    {
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

public static class OciCommands
{
    public static int Spec(SpecOptions options)
    {
        string dir = Path.GetFullPath(options.Bundle ?? ".");
        string path = Path.Combine(dir, "config.json");
        if (File.Exists(path))
            throw new IsolateException($"{path} exists already: remove it first");
        if (!Directory.Exists(dir))
            throw new IsolateException($"bundle {dir}: no such directory");
        File.WriteAllText(path, OciDefaultSpec.Json(options.Rootless));
        return 0;
    }

    public static int Create(CreateOptions options, GlobalOptions globals)
    {
        OciRuntime.Create(globals.Store, options.Id, new OciRuntime.CreateOptions
        {
            Bundle = Path.GetFullPath(options.Bundle ?? "."),
            PidFile = options.PidFile,
            ConsoleSocket = options.ConsoleSocket,
            PreserveFds = ParsePreserveFds(options.PreserveFds),
        }, Debug(globals), Warn);
        return 0;
    }

    public static int Start(StartOptions options, GlobalOptions globals)
    {
        OciRuntime.Start(globals.Store, options.Id);
        return 0;
    }

    public static int State(StateOptions options, GlobalOptions globals)
    {
        Output.Out(OciRuntime.State(globals.Store, options.Id) + "\n");
        return 0;
    }

    public static int Kill(KillOptions options, GlobalOptions globals)
    {
        int signal = options.Signal is null ? 15 : ProcessOptionParser.ParseSignal("kill", options.Signal);
        OciRuntime.Kill(globals.Store, options.Id, signal, options.All);
        return 0;
    }

    public static int Delete(DeleteOptions options, GlobalOptions globals)
    {
        OciRuntime.Delete(globals.Store, options.Id, options.Force, Warn);
        return 0;
    }

    public static int List(ListOptions options, GlobalOptions globals)
    {
        var views = OciRuntime.List(globals.Store);
        if (options.Quiet)
        {
            Output.Out(string.Concat(views.Select(v => v.Id + "\n")));
            return 0;
        }
        switch (options.Format ?? "table")
        {
            case "json":
                Output.Out(OciRuntime.ListJson(views) + "\n");
                return 0;
            case "table":
                var table = new StringBuilder();
                table.Append(CultureInfo.InvariantCulture, $"{"ID",-20} {"PID",-8} {"STATUS",-10} {"BUNDLE",-40} {"CREATED",-30} OWNER\n");
                foreach (var v in views)
                    table.Append(CultureInfo.InvariantCulture, $"{v.Id,-20} {v.Pid,-8} {v.Status,-10} {v.Bundle,-40} {v.Created,-30} {v.Owner}\n");
                Output.Out(table.ToString());
                return 0;
            default:
                throw new IsolateException($"invalid --format '{options.Format}': use table or json");
        }
    }

    public static int Pause(string id, bool pause, GlobalOptions globals)
    {
        OciRuntime.Pause(globals.Store, id, pause);
        return 0;
    }

    public static int Ps(PsOptions options, GlobalOptions globals)
    {
        if (options.Id is null)
            return DockerCommands.List(options, globals);
        var pids = OciRuntime.Processes(globals.Store, options.Id);
        switch (options.Format ?? "table")
        {
            case "json":
                Output.Out("[" + string.Join(",", pids.Select(p => p.ToString(CultureInfo.InvariantCulture))) + "]\n");
                return 0;
            case "table":
                var table = new StringBuilder("PID   COMMAND\n");
                foreach (int pid in pids)
                {
                    string comm = (File.Exists($"/proc/{pid}/comm") ? File.ReadAllText($"/proc/{pid}/comm") : "").Trim();
                    table.Append(CultureInfo.InvariantCulture, $"{pid,-5} {comm}\n");
                }
                Output.Out(table.ToString());
                return 0;
            default:
                throw new IsolateException($"invalid --format '{options.Format}': use table or json");
        }
    }

    public static int Features(FeaturesOptions _)
    {
        Output.Out(OciFeatures.Json(Program.Version) + "\n");
        return 0;
    }

    public static int Run(OciRunOptions options, GlobalOptions globals)
    {
        var store = globals.Store;
        var create = new OciRuntime.CreateOptions
        {
            Bundle = Path.GetFullPath(options.Bundle ?? "."),
            PidFile = options.PidFile,
            ConsoleSocket = options.ConsoleSocket,
            PreserveFds = ParsePreserveFds(options.PreserveFds),
        };
        if (options.Detach)
        {
            OciRuntime.Create(store, options.Id, create, Debug(globals), Warn);
            try
            {
                OciRuntime.Start(store, options.Id);
            }
            catch (IsolateException)
            {
                OciRuntime.Delete(store, options.Id, force: true, Warn);
                throw;
            }
            return 0;
        }
        return OciRuntime.RunForeground(store, options.Id, create, Debug(globals), Warn);
    }

    public static int Exec(ExecOptions options, GlobalOptions globals)
    {
        var command = (options.Command ?? []).ToList();
        if (options.Process is null && command.Count == 0)
            throw new IsolateException("exec: no command given; usage: isolate exec [OPTIONS] ID COMMAND [ARG...] (or --process FILE)");
        if (options.Process != null && command.Count > 0)
            throw new IsolateException("exec: give either --process FILE or a command, not both");
        return OciRuntime.Exec(globals.Store, options.Id, new OciRuntime.ExecOptions
        {
            ProcessFile = options.Process,
            Args = command,
            Tty = options.Tty,
            Detach = options.Detach,
            Cwd = options.Cwd,
            Env = (options.Env ?? []).ToList(),
            User = options.User,
            PidFile = options.PidFile,
            ConsoleSocket = options.ConsoleSocket,
            PreserveFds = ParsePreserveFds(options.PreserveFds),
        }, Debug(globals));
    }

    private static uint ParsePreserveFds(string? value) =>
        value is null ? 0
        : uint.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out uint n) && n <= 1024 ? n
        : throw new IsolateException($"invalid --preserve-fds '{value}': give a number of fds, 0 to 1024");

    private static Action<string>? Debug(GlobalOptions globals) => globals.Debug ? line => Output.Error("isolate: debug: " + line) : null;

    private static void Warn(string line) => Output.Error("isolate: warning: " + line);
}
