using CommandLine;
using Isolate.Plan;
using Isolate.Rootfs;
using Isolate.Runtime;
using Isolate.Interop;
using Isolate.Security;
using Isolate.Spec;

namespace Isolate.Cli.Commands;

[Verb("run", HelpText = "Run a command in a new container and exit with its status.")]
public sealed class RunOptions
{
    /// <summary>Every option below, for PosixArguments; ArgumentTests checks it against the attributes.</summary>
    internal static readonly OptionTable Table = new(
        withValue:
        [
            "rootfs", "hostname", "workdir", "env", "network", "volume", "tmpfs", "keep-changes", "memory", "memory-swap",
            "cpus", "cpu-shares", "cpuset-cpus", "pids-limit", "io-weight", "cgroups", "cgroup-parent", "stats",
            "user", "group-add", "cap-add", "cap-drop", "security-opt", "userns", "preserve-fds",
            "env-file", "ulimit", "oom-score-adj", "pid-file", "stop-signal", "stop-timeout", "timeout", "name",
        ],
        flags: ["read-only", "overlay", "no-overlay", "privileged", "debug", "tty", "interactive", "init", "die-with-parent", "detach"],
        shortNames: new Dictionary<char, string> { ['w'] = "workdir", ['e'] = "env", ['v'] = "volume", ['u'] = "user", ['t'] = "tty", ['i'] = "interactive", ['d'] = "detach" });

    [Option("rootfs", MetaValue = "DIR",
        HelpText = "Directory to use as the container's /. Default: the host's own filesystem, read-only, with a private /tmp.")]
    public string? Rootfs { get; set; }

    [Option("hostname", MetaValue = "NAME", HelpText = "Hostname inside the container. Default: a generated 12-digit id.")]
    public string? Hostname { get; set; }

    [Option('w', "workdir", MetaValue = "DIR", HelpText = "Working directory inside the container (created if missing). Default: /.")]
    public string? Workdir { get; set; }

    [Option('e', "env", MetaValue = "KEY=VAL", HelpText = "Set an environment variable; KEY alone copies the host's value. Repeatable.")]
    public IEnumerable<string> Env { get; set; } = [];

    [Option("network", MetaValue = "MODE", Default = "none",
        HelpText = "none: a private network namespace with only lo; host: share the host's network.")]
    public string Network { get; set; } = "none";

    [Option('v', "volume", MetaValue = "SRC:DST[:ro]",
        HelpText = "Bind a host file or directory (absolute or ./path) at DST; ':ro' makes it read-only. DST is created if missing. Repeatable.")]
    public IEnumerable<string> Volumes { get; set; } = [];

    [Option("tmpfs", MetaValue = "DST[:OPTS]",
        HelpText = "Mount a private tmpfs at DST; OPTS: size=64m, mode=1777, uid, gid, nr_inodes, ro, exec, suid, dev (default nosuid,nodev,noexec). Repeatable.")]
    public IEnumerable<string> Tmpfs { get; set; } = [];

    [Option("read-only", HelpText = "Mount the container's root read-only; volumes and tmpfs keep their own mode.")]
    public bool ReadOnly { get; set; }

    [Option("overlay", HelpText = "Copy-on-write root (the default with --rootfs): writes go to a private overlay layer, discarded at exit; the directory on disk stays unchanged.")]
    public bool Overlay { get; set; }

    [Option("no-overlay", HelpText = "Write straight into the --rootfs directory, as runc and bubblewrap do.")]
    public bool NoOverlay { get; set; }

    [Option("keep-changes", MetaValue = "DIR", HelpText = "Copy-on-write, but keep the overlay layer in DIR (DIR/upper, DIR/work); a later run with the same DIR continues from it.")]
    public string? KeepChanges { get; set; }

    [Option("privileged", HelpText = "Turn the confinement off: every capability Isolate holds, no seccomp filter, no no_new_privs, no masked or read-only /proc and /sys paths. Root inside is then root on the host.")]
    public bool Privileged { get; set; }

    [Option("memory", MetaValue = "SIZE", HelpText = "Memory limit (b, k, m, g: 256m). Killed by the kernel above it: exit 137 and a line that says so.")]
    public string? Memory { get; set; }

    [Option("memory-swap", MetaValue = "SIZE", HelpText = "Memory plus swap (-1: unlimited swap). Default: as much swap as memory, as docker does.")]
    public string? MemorySwap { get; set; }

    [Option("cpus", MetaValue = "N", HelpText = "CPU time, in CPUs (1.5: one and a half CPUs' worth per period).")]
    public string? Cpus { get; set; }

    [Option("cpu-shares", MetaValue = "N", HelpText = "Relative CPU weight under contention, 2 to 262144 (default 1024).")]
    public string? CpuShares { get; set; }

    [Option("cpuset-cpus", MetaValue = "LIST", HelpText = "CPUs the container may run on (0-1,3).")]
    public string? CpusetCpus { get; set; }

    [Option("pids-limit", MetaValue = "N", HelpText = "At most N processes and threads (-1: no limit).")]
    public string? PidsLimit { get; set; }

    [Option("io-weight", MetaValue = "N", HelpText = "Relative block I/O weight, 10 to 1000 (docker's --blkio-weight).")]
    public string? IoWeight { get; set; }

    [Option("cgroups", MetaValue = "MODE", HelpText = "enabled (default): a cgroup of its own; disabled: none - no limits, no OOM report, no --stats (podman's --cgroups).")]
    public string? Cgroups { get; set; }

    [Option("cgroup-parent", MetaValue = "PATH", HelpText = "Parent cgroup of the container's own (default: isolate, at the top of each hierarchy).")]
    public string? CgroupParent { get; set; }

    [Option("stats", MetaValue = "FORMAT", HelpText = "On exit, print peak memory, CPU time and peak PIDs on stderr: --stats (a line) or --stats=json.")]
    public string? Stats { get; set; }

    [Option('u', "user", MetaValue = "USER[:GROUP]", HelpText = "Run as this user: UID[:GID] or NAME[:GROUP] from the container's own /etc/passwd and /etc/group.")]
    public string? User { get; set; }

    [Option("group-add", MetaValue = "GROUP", HelpText = "Another supplementary group (name or GID). Repeatable.")]
    public IEnumerable<string> GroupAdd { get; set; } = [];

    [Option("cap-add", MetaValue = "CAP", HelpText = "Add a capability (NET_ADMIN or CAP_NET_ADMIN; ALL for every one). Repeatable.")]
    public IEnumerable<string> CapAdd { get; set; } = [];

    [Option("cap-drop", MetaValue = "CAP", HelpText = "Drop a capability from docker's default set (ALL for every one). Repeatable.")]
    public IEnumerable<string> CapDrop { get; set; } = [];

    [Option("security-opt", MetaValue = "OPT", HelpText = "no-new-privileges=false, seccomp=unconfined or seccomp=PROFILE.json (docker's format). Repeatable.")]
    public IEnumerable<string> SecurityOpt { get; set; } = [];

    [Option("userns", MetaValue = "MODE", HelpText = "A user namespace: ID:HOSTID:COUNT[,...] maps ids (0:100000:65536: root inside is 100000 outside); auto[:USER] takes USER's /etc/subuid range (default user: isolate); host (default for root): none. A non-root caller always gets one, mapping itself to root.")]
    public string? UserNamespace { get; set; }

    [Option("preserve-fds", MetaValue = "N", HelpText = "Pass the caller's fds 3 .. 3+N-1 on to the container (as runc's --preserve-fds).")]
    public string? PreserveFds { get; set; }

    [Option('t', "tty", HelpText = "Give the container a pseudo-terminal (its own /dev/pts/0) as stdio and controlling terminal; the output comes back through it.")]
    public bool Tty { get; set; }

    [Option('i', "interactive", HelpText = "With -t, pass your input to the container's terminal (your terminal is raw meanwhile). Without -t stdin is always passed through.")]
    public bool Interactive { get; set; }

    [Option("init", HelpText = "Run a tiny init as PID 1 that reaps zombies and forwards signals; the command runs as PID 2 (docker's --init).")]
    public bool Init { get; set; }

    [Option("env-file", MetaValue = "FILE", HelpText = "Read KEY=VALUE lines (docker's format) into the environment, before any -e. Repeatable.")]
    public IEnumerable<string> EnvFile { get; set; } = [];

    [Option("ulimit", MetaValue = "NAME=SOFT[:HARD]", HelpText = "A resource limit for the command (nofile=1024:2048, core=0, nproc=512). Repeatable.")]
    public IEnumerable<string> Ulimit { get; set; } = [];

    [Option("oom-score-adj", MetaValue = "N", HelpText = "The command's OOM score adjustment, -1000 to 1000.")]
    public string? OomScoreAdj { get; set; }

    [Option("pid-file", MetaValue = "FILE", HelpText = "Write the host PID of the container's PID 1 to FILE while it runs.")]
    public string? PidFile { get; set; }

    [Option("stop-signal", MetaValue = "SIGNAL", HelpText = "What a stop (SIGTERM to isolate, or --timeout) sends the container first (default TERM).")]
    public string? StopSignal { get; set; }

    [Option("stop-timeout", MetaValue = "DURATION", HelpText = "How long a stop waits before SIGKILL (default 10s).")]
    public string? StopTimeout { get; set; }

    [Option("timeout", MetaValue = "DURATION", HelpText = "Stop the container when it has run this long (30s, 5m, 1h); exit 124.")]
    public string? Timeout { get; set; }

    [Option('d', "detach", HelpText = "Run it in the background: print its id and return. Its output goes to a log (isolate logs); isolate ps, exec, stop, wait and rm act on it.")]
    public bool Detach { get; set; }

    [Option("name", MetaValue = "NAME", HelpText = "With -d: the container's id (default: a generated 12-digit one).")]
    public string? Name { get; set; }

    [Option("die-with-parent", HelpText = "Stop the container (as SIGTERM to isolate would) when the process that started isolate dies. On by default when isolate is the foreground job of a terminal.")]
    public bool DieWithParent { get; set; }

    [Option("debug", HelpText = "Print the namespaces, the mount plan and what the setup noticed on stderr.")]
    public bool Debug { get; set; }

    [Value(0, MetaName = "COMMAND [ARG...]", HelpText = "The command to run, looked up in the container's PATH.")]
    public IEnumerable<string> Command { get; set; } = [];
}

internal static class RunCommand
{
    public static int Execute(RunOptions options) => Execute(options, new GlobalOptions(), null);

    /// <param name="runArguments">The arguments as given (from "run" on): what a detached
    /// container's monitor is started with.</param>
    /// <param name="monitorFor">This process is the monitor of detached container ID.</param>
    public static int Execute(RunOptions options, GlobalOptions globals, string[]? runArguments, string? monitorFor = null)
    {
        var spec = ToSpec(options, Environment.GetEnvironmentVariable);
        var stats = ParseStats(options.Stats);
        Action<string>? debug = options.Debug ? line => Output.Error("isolate: debug: " + line) : null;
        Action<string> warn = line => Output.Error("isolate: warning: " + line);
        if (options.Name != null && !options.Detach)
            throw new IsolateException("--name names a detached container: use it with -d");
        if (options.Detach && monitorFor is null)
        {
            if (options.Tty)
                throw new IsolateException("-d with -t: a detached container has no terminal to show; drop -t (isolate logs shows its output)");
            string id = options.Name ?? spec.Id;
            DetachedContainers.Start(globals.Store, id, spec, runArguments ?? throw new IsolateException("internal error: no arguments for the monitor"));
            Output.Out(id + "\n");
            return 0;
        }
        var result = monitorFor != null
            ? DetachedContainers.RunMonitored(globals.Store, monitorFor, spec, debug, warn)
            : ContainerRunner.Run(spec, debug, warn, readUsage: stats != StatsFormat.None);
        if (result.TimeoutMessage != null)
            Output.Error("isolate: " + result.TimeoutMessage);
        if (result.OutOfMemory)
            Output.Error("isolate: " + result.OutOfMemoryMessage);
        if (stats == StatsFormat.Text)
            Output.Error("isolate: " + result.StatsText());
        else if (stats == StatsFormat.Json)
            Output.Error(result.StatsJson());
        return result.ExitCode;
    }

    public static StatsFormat ParseStats(string? value) => value switch
    {
        null => StatsFormat.None,
        "text" => StatsFormat.Text,
        "json" => StatsFormat.Json,
        _ => throw new IsolateException($"invalid --stats '{value}': use --stats for a line or --stats=json"),
    };

    /// <summary>Options to Isolate's model; every user error is found here, before anything is created.</summary>
    public static ContainerSpec ToSpec(RunOptions options, Func<string, string?> hostVariable)
    {
        // Under Native AOT, CommandLineParser leaves an absent sequence option null.
        var args = (options.Command ?? []).ToList();
        if (args.Count == 0)
            throw new IsolateException("run: no command given; usage: isolate run [OPTIONS] [--] COMMAND [ARG...]");

        var network = options.Network switch
        {
            "none" => NetworkMode.None,
            "host" => NetworkMode.Host,
            _ => throw new IsolateException($"invalid --network '{options.Network}': use 'none' or 'host'"),
        };

        string workdir = options.Workdir ?? "/";
        if (!workdir.StartsWith('/'))
            throw new IsolateException($"invalid --workdir '{workdir}': it must be an absolute path inside the container");

        string id = ContainerNames.NewId();
        string hostname = options.Hostname ?? id;
        ContainerNames.ValidateHostname(hostname);

        string? rootfs = options.Rootfs is null ? null : RootfsResolver.Resolve(options.Rootfs);
        var userns = UserNamespaceParser.Parse(options.UserNamespace, HostIdentity.EffectiveUserId, HostIdentity.EffectiveGroupId, ReadHostFile);
        var security = ToSecurity(options, rootfs ?? "/", userns);
        var writes = RootfsWritesFor(options, rootfs);
        string? keepChanges = writes == RootfsWrites.KeepChanges ? KeepChangesDir(options.KeepChanges!, rootfs!) : null;
        var volumes = (options.Volumes ?? []).Select(v => MountSpecParser.ParseVolume(v, p => RootfsResolver.Canonical(p, "volume source"), HostFileKind)).ToList();
        var tmpfs = (options.Tmpfs ?? []).Select(MountSpecParser.ParseTmpfs).ToList();
        RejectDuplicateDestinations(volumes.Select(v => v.Destination).Concat(tmpfs.Select(t => t.Destination)));
        var resources = ToLimits(options);
        string cgroupParent = CgroupParentPath(options.CgroupParent);
        var stats = ParseStats(options.Stats);
        bool cgroups = options.Cgroups switch
        {
            null or "enabled" => true,
            "disabled" => false,
            _ => throw new IsolateException($"invalid --cgroups '{options.Cgroups}': use enabled or disabled"),
        };
        if (!cgroups && (resources.Any || stats != StatsFormat.None))
            throw new IsolateException("--cgroups=disabled leaves no cgroup to set limits on or read --stats from; drop one or the other");
        if (userns is { Rootless: true })
        {
            // A non-root user cannot make cgroups here (root owns every hierarchy); without
            // limits the container simply goes without one, as with --cgroups=disabled.
            if (resources.Any || stats != StatsFormat.None || options.Cgroups == "enabled" || options.CgroupParent != null)
                throw new IsolateException("limits, --stats and --cgroups=enabled need a cgroup, which a non-root user cannot create: run isolate as root, or drop them");
            cgroups = false;
        }

        bool tty = options.Tty;
        if (tty && options.Interactive && !HostTerminal.IsTerminal(0))
            throw new IsolateException("-it: the input device is not a terminal; drop -i to give the container a terminal without your input, or -t to pass stdin through as it is");
        var envFiles = (options.EnvFile ?? []).SelectMany(ReadEnvFile).ToList();
        var rlimits = ProcessOptionParser.ParseUlimits(options.Ulimit ?? []);
        int? oomScoreAdj = options.OomScoreAdj is null ? null : ProcessOptionParser.ParseOomScoreAdj(options.OomScoreAdj);
        int stopSignal = options.StopSignal is null ? 15 : ProcessOptionParser.ParseSignal("--stop-signal", options.StopSignal);
        var stopTimeout = options.StopTimeout is null ? TimeSpan.FromSeconds(10) : ProcessOptionParser.ParseDuration("--stop-timeout", options.StopTimeout, allowZero: true);
        TimeSpan? timeout = options.Timeout is null ? null : ProcessOptionParser.ParseDuration("--timeout", options.Timeout);
        string? pidFile = options.PidFile is null ? null : PidFilePath(options.PidFile);

        // TERM goes in with a terminal: docker sets it for -t; without -t, when Isolate's
        // own stdin and stdout are one
        bool terminal = tty || (HostTerminal.IsTerminal(0) && HostTerminal.IsTerminal(1));
        return new ContainerSpec
        {
            Rootfs = rootfs,
            Hostname = hostname,
            Workdir = workdir,
            Args = args,
            Env = EnvironmentBuilder.Build(hostname, envFiles.Concat(options.Env ?? []), hostVariable, terminal, security.User.Home),
            Network = network,
            Volumes = volumes,
            Tmpfs = tmpfs,
            ReadOnlyRoot = options.ReadOnly,
            RootfsWrites = writes,
            KeepChangesDir = keepChanges,
            Privileged = options.Privileged,
            Resources = resources,
            CgroupParent = cgroupParent,
            Cgroups = cgroups,
            Security = security,
            UserNamespace = userns,
            Rlimits = rlimits,
            OomScoreAdj = oomScoreAdj,
            Init = options.Init,
            Tty = tty,
            Interactive = options.Interactive,
            StopSignal = stopSignal,
            StopTimeout = stopTimeout,
            Timeout = timeout,
            PidFile = pidFile,
            DieWithParent = options.DieWithParent,
            Id = id,
        };
    }

    private static IReadOnlyList<string> ReadEnvFile(string path)
    {
        try
        {
            return ProcessOptionParser.ParseEnvFile(File.ReadAllText(path), path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IsolateException($"--env-file {path}: {e.Message}");
        }
    }

    /// <summary>An absolute path, in a directory that exists.</summary>
    private static string PidFilePath(string value)
    {
        if (value.Length == 0)
            throw new IsolateException("invalid --pid-file '': give a file path");
        string full = Path.GetFullPath(value);
        if (Directory.Exists(full))
            throw new IsolateException($"--pid-file {value}: it is a directory; give a file path");
        if (!Directory.Exists(Path.GetDirectoryName(full)))
            throw new IsolateException($"--pid-file {value}: the directory {Path.GetDirectoryName(full)} does not exist");
        return full;
    }

    private static ProcessSecurity ToSecurity(RunOptions options, string root, UserNamespaceSpec? userns)
    {
        bool noNewPrivileges = !options.Privileged;
        string? seccomp = options.Privileged ? "unconfined" : null;
        foreach (string opt in options.SecurityOpt ?? [])
        {
            string[] kv = opt.Split(['=', ':'], 2);
            switch (kv[0])
            {
                case "no-new-privileges":
                    noNewPrivileges = kv.Length == 1 || kv[1] switch
                    {
                        "true" => true,
                        "false" => false,
                        _ => throw new IsolateException($"invalid --security-opt '{opt}': use no-new-privileges=true or =false"),
                    };
                    break;
                case "seccomp" when kv.Length == 2 && kv[1].Length > 0:
                    seccomp = kv[1];
                    break;
                default:
                    throw new IsolateException($"invalid --security-opt '{opt}': use no-new-privileges=true|false, seccomp=unconfined or seccomp=PROFILE.json");
            }
        }

        int lastCap = Capabilities.LastCap();
        // In a new user namespace the container holds every capability of that namespace,
        // whatever Isolate holds on the host.
        ulong held = userns is null ? Capabilities.Held() : ulong.MaxValue;
        ulong caps = Capabilities.Resolve(options.CapAdd ?? [], options.CapDrop ?? [], options.Privileged, lastCap, held);
        var user = options.User is null && !(options.GroupAdd ?? []).Any()
            ? ProcessUser.Root with { Home = RootHome(root) }
            : UserResolver.Resolve(options.User, options.GroupAdd ?? [], ContainerFiles.ReadText(root, "/etc/passwd"), ContainerFiles.ReadText(root, "/etc/group"));
        if (userns != null)
            user = CheckMapped(user, userns, options);
        uint preserveFds = 0;
        if (options.PreserveFds != null && !uint.TryParse(options.PreserveFds, System.Globalization.NumberStyles.None, null, out preserveFds))
            throw new IsolateException($"invalid --preserve-fds '{options.PreserveFds}': give a number of file descriptors after stderr (1 passes fd 3)");
        var profile = seccomp switch
        {
            null => DefaultSeccompProfile.Build(caps, Environment.OSVersion.Version),
            "unconfined" => null,
            string path => DockerSeccompProfile.Parse(ReadProfile(path), caps, path),
        };
        return new ProcessSecurity
        {
            Capabilities = caps,
            NoNewPrivileges = noNewPrivileges,
            Seccomp = profile is null ? [] : SeccompCompiler.Compile(profile),
            User = user,
            PreserveFds = preserveFds,
            LastCap = lastCap,
            KeepGroups = userns is { Rootless: true },
        };
    }

    /// <summary>The user and its groups must exist in the user namespace: the kernel refuses
    /// ids that have no mapping. A rootless namespace maps only root, and cannot set groups.</summary>
    private static ProcessUser CheckMapped(ProcessUser user, UserNamespaceSpec userns, RunOptions options)
    {
        string where = userns.Rootless
            ? "run by a non-root user, only root (0) exists inside"
            : $"--userns maps {userns.Describe()}";
        if (!userns.MapsUid(user.Uid))
            throw new IsolateException($"--user: uid {user.Uid} has no id in the container's user namespace ({where})");
        if (!userns.MapsGid(user.Gid))
            throw new IsolateException($"--user: gid {user.Gid} has no id in the container's user namespace ({where})");
        if (userns.Rootless)
        {
            if ((options.GroupAdd ?? []).Any())
                throw new IsolateException("--group-add needs root: a non-root user's user namespace cannot set supplementary groups");
            return user with { Groups = [] }; // setgroups is denied there; groups from /etc/group are left out
        }
        var unmapped = user.Groups.Where(g => !userns.MapsGid(g)).ToList();
        if (unmapped.Count > 0)
            throw new IsolateException($"--user: group {unmapped[0]} has no id in the container's user namespace ({where})");
        return user;
    }

    private static string? ReadHostFile(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static string ReadProfile(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IsolateException($"seccomp profile {path}: {e.Message}");
        }
    }

    /// <summary>root's home from the container's /etc/passwd (/root when it has no entry).</summary>
    private static string RootHome(string root) =>
        (ContainerFiles.ReadText(root, "/etc/passwd") ?? "").Split('\n').Select(l => l.Split(':'))
            .FirstOrDefault(f => f.Length >= 6 && f[2] == "0" && f[5].Length > 0)?[5] ?? "/root";

    private static ResourceLimits ToLimits(RunOptions options)
    {
        long? memory = options.Memory is null ? null : ResourceParser.ParseSize("--memory", options.Memory);
        return new ResourceLimits
        {
            MemoryBytes = memory,
            MemorySwapBytes = options.MemorySwap is null ? null : ResourceParser.ParseMemorySwap(options.MemorySwap, memory),
            // the machine's CPUs, not this process's affinity (which taskset may have narrowed)
            CpuQuotaMicros = options.Cpus is null ? null : ResourceParser.ParseCpus(options.Cpus, Math.Max(1, OnlineCpus().Count)),
            CpuShares = options.CpuShares is null ? null : ResourceParser.ParseCpuShares(options.CpuShares),
            CpusetCpus = options.CpusetCpus is null ? null : ResourceParser.ParseCpuset(options.CpusetCpus, OnlineCpus()),
            PidsLimit = options.PidsLimit is null ? null : ResourceParser.ParsePidsLimit(options.PidsLimit),
            IoWeight = options.IoWeight is null ? null : ResourceParser.ParseIoWeight(options.IoWeight),
        };
    }

    private static IReadOnlySet<int> OnlineCpus() =>
        ResourceParser.ParseCpuList(File.ReadAllText("/sys/devices/system/cpu/online")) ?? new SortedSet<int>();

    /// <summary>A path below each hierarchy's root: "isolate", "/batch/jobs"; never "..".</summary>
    public static string CgroupParentPath(string? value)
    {
        string path = (value ?? "isolate").Trim('/');
        var parts = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length == 0 || parts.Any(p => p is "." or ".." || p.Contains('\0')))
            throw new IsolateException($"invalid --cgroup-parent '{value}': give a cgroup path such as isolate or batch/jobs, without '..'");
        return string.Join('/', parts);
    }

    /// <summary>Copy-on-write is the default for a --rootfs: the directory on disk stays as it
    /// was, as a docker image does - also under --read-only, where the layer still takes the
    /// mount points Isolate creates.</summary>
    private static RootfsWrites RootfsWritesFor(RunOptions options, string? rootfs)
    {
        if (rootfs is null)
        {
            if (options.Overlay || options.NoOverlay || options.KeepChanges != null)
                throw new IsolateException("--overlay, --no-overlay and --keep-changes need --rootfs: the host's own root is read-only already");
            return RootfsWrites.Direct;
        }
        if (options.NoOverlay && (options.Overlay || options.KeepChanges != null))
            throw new IsolateException("--no-overlay contradicts --overlay and --keep-changes: choose one");
        if (options.KeepChanges != null)
            return RootfsWrites.KeepChanges;
        if (options.NoOverlay)
            return RootfsWrites.Direct;
        return RootfsWrites.CopyOnWrite;
    }

    /// <summary>DIR holds the kept layer: DIR/upper (which becomes the container's writes,
    /// setuid binaries included) and DIR/work. DIR must be root's alone (0700): anyone who can
    /// reach DIR/upper can run what the container left there, and a DIR/upper swapped for a
    /// symlink would send the next run's writes elsewhere on the host.</summary>
    private static string KeepChangesDir(string dir, string rootfs)
    {
        if (dir.Length == 0)
            throw new IsolateException("invalid --keep-changes '': give a directory");
        try
        {
            if (!Path.Exists(dir))
                Directory.CreateDirectory(dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IsolateException($"--keep-changes {dir}: {e.Message}");
        }
        string canonical = RootfsResolver.Canonical(dir, "--keep-changes");
        if (Rootfs.HostScratch.Covers(rootfs, canonical) || Rootfs.HostScratch.Covers(canonical, rootfs))
            throw new IsolateException($"--keep-changes {dir}: the layer directory and the rootfs {rootfs} must not contain each other");
        var info = new DirectoryInfo(canonical);
        if ((info.UnixFileMode & (UnixFileMode)0x3F /* group and other bits */) != 0)
            throw new IsolateException($"--keep-changes {dir}: it is open to other users (mode {Convert.ToString((int)info.UnixFileMode & 0xFFF, 8)}); make it root's alone: chmod 700 {dir}");
        foreach (string layer in new[] { "upper", "work" })
        {
            var sub = new DirectoryInfo(Path.Combine(canonical, layer));
            if (!sub.Exists && sub.LinkTarget is null && !File.Exists(sub.FullName))
                sub.Create();
            if (sub.LinkTarget is not null || !sub.Exists)
                throw new IsolateException($"--keep-changes {dir}: {layer} is not a plain directory; remove it or choose another DIR");
        }
        return canonical;
    }

    private static bool? HostFileKind(string path) =>
        Directory.Exists(path) ? false : File.Exists(path) ? true : null;

    private static void RejectDuplicateDestinations(IEnumerable<string> destinations)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (string destination in destinations)
        {
            if (!seen.Add(destination))
                throw new IsolateException($"duplicate mount point {destination}: give each --volume and --tmpfs its own destination");
        }
    }
}
