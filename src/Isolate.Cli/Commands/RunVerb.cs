using CommandLine;
using Isolate.Containers;
using Isolate.Docker;
using Isolate.Launch;
using Isolate.Logs;
using Isolate.Interop;
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
            "cpus", "cpu-shares", "cpuset-cpus", "pids-limit", "blkio-weight", "io-weight", "cgroups", "cgroup-parent", "stats",
            "user", "group-add", "cap-add", "cap-drop", "security-opt", "userns", "preserve-fds",
            "env-file", "ulimit", "oom-score-adj", "pid-file", "stop-signal", "stop-timeout", "timeout", "name", "log-driver", "log-opt",
            "memory-reservation", "cpu-quota", "cpu-period", "cpuset-mems", "kernel-memory", "device", "device-cgroup-rule", "gpus",
            "storage-opt", "publish", "dns", "dns-search", "add-host", "subnet", "pull", "entrypoint", "tls-verify", "ca-file",
        ],
        flags: ["read-only", "overlay", "no-overlay", "privileged", "debug", "tty", "interactive", "init", "die-with-parent", "detach", "rm"],
        shortNames: new Dictionary<char, string> { ['w'] = "workdir", ['e'] = "env", ['v'] = "volume", ['u'] = "user", ['t'] = "tty", ['i'] = "interactive", ['d'] = "detach", ['m'] = "memory", ['p'] = "publish" });

    [Option("rootfs", MetaValue = "DIR",
        HelpText = "Directory to use as the container's /. Default: the host's own filesystem, read-only, with a private /tmp.")]
    public string? Rootfs { get; set; }

    [Option("pull", MetaValue = "POLICY", HelpText = "With an IMAGE: missing (default) pulls it when the store lacks it, always pulls it, never refuses to run one the store lacks.")]
    public string? Pull { get; set; }

    [Option("entrypoint", MetaValue = "CMD", HelpText = "With an IMAGE: run CMD instead of its Entrypoint, and drop its Cmd (\"\": no entrypoint).")]
    public string? Entrypoint { get; set; }

    [Option("tls-verify", MetaValue = "BOOL", HelpText = "With an IMAGE pulled: false skips the registry's certificate check, and allows plain HTTP (default true).")]
    public string? TlsVerify { get; set; }

    [Option("ca-file", MetaValue = "FILE", HelpText = "With an IMAGE pulled: trust the registry's certificate if this PEM CA signed it.")]
    public string? CaFile { get; set; }

    [Option("hostname", MetaValue = "NAME", HelpText = "Hostname inside the container. Default: a generated 12-digit id.")]
    public string? Hostname { get; set; }

    [Option('w', "workdir", MetaValue = "DIR", HelpText = "Working directory inside the container (created if missing). Default: /.")]
    public string? Workdir { get; set; }

    [Option('e', "env", MetaValue = "KEY=VAL", HelpText = "Set an environment variable; KEY alone copies the host's value. Repeatable.")]
    public IEnumerable<string> Env { get; set; } = [];

    [Option("network", MetaValue = "MODE", Default = "none",
        HelpText = "none: a private network namespace with only lo; host: share the host's network; bridge: an address on Isolate's bridge (isolate0), NAT to the outside; container:NAME: NAME's network; ns:PATH: the network namespace at PATH. -p implies bridge.")]
    public string Network { get; set; } = "none";

    [Option('p', "publish", MetaValue = "[IP:]HOST:CONTAINER[/udp]",
        HelpText = "Publish a container port on the host (--network bridge): traffic to HOST (on IP, default every host address, 127.0.0.1 included) reaches CONTAINER. CONTAINER alone: Isolate picks the host port (isolate port NAME shows it). Repeatable.")]
    public IEnumerable<string> Publish { get; set; } = [];

    [Option("dns", MetaValue = "IP", HelpText = "A name server for the container's /etc/resolv.conf (--network bridge). Default: the host's. Repeatable.")]
    public IEnumerable<string> Dns { get; set; } = [];

    [Option("dns-search", MetaValue = "DOMAIN", HelpText = "A search domain for the container's /etc/resolv.conf (--network bridge). Default: the host's. Repeatable.")]
    public IEnumerable<string> DnsSearch { get; set; } = [];

    [Option("add-host", MetaValue = "NAME:IP", HelpText = "A line in the container's /etc/hosts (--network bridge). Repeatable.")]
    public IEnumerable<string> AddHost { get; set; } = [];

    [Option("subnet", MetaValue = "CIDR", HelpText = "The subnet of the bridge isolate0, when this run makes it (default: the first of 10.99.0.0/16, 10.98.0.0/16, ... no host route overlaps).")]
    public string? Subnet { get; set; }

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

    [Option("storage-opt", MetaValue = "size=SIZE", HelpText = "With a copy-on-write --rootfs: its writable layer on a tmpfs of SIZE (b, k, m, g), counted in the container's memory, instead of on disk (/var/lib/isolate/layers, removed when the container ends); a write beyond it fails with ENOSPC.")]
    public IEnumerable<string> StorageOpt { get; set; } = [];

    [Option("privileged", HelpText = "Turn the confinement off: every capability Isolate holds, no seccomp filter, no no_new_privs, no masked or read-only /proc and /sys paths. Root inside is then root on the host.")]
    public bool Privileged { get; set; }

    [Option('m', "memory", MetaValue = "SIZE", HelpText = "Memory limit (b, k, m, g: 256m). Killed by the kernel above it: exit 137 and a line that says so.")]
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

    [Option("blkio-weight", MetaValue = "N", HelpText = "Relative block I/O weight under contention, 10 to 1000.")]
    public string? BlkioWeight { get; set; }

    [Option("io-weight", MetaValue = "N", HelpText = "The same as --blkio-weight.")]
    public string? IoWeight { get; set; }

    [Option("memory-reservation", MetaValue = "SIZE", HelpText = "Soft memory limit: under memory pressure the kernel reclaims the container down to it (-1: none).")]
    public string? MemoryReservation { get; set; }

    [Option("cpu-quota", MetaValue = "N", HelpText = "CPU time in microseconds per period (--cpus in other units; -1: no limit).")]
    public string? CpuQuota { get; set; }

    [Option("cpu-period", MetaValue = "N", HelpText = "The period --cpus and --cpu-quota count in, 1000 to 1000000 microseconds (default 100000).")]
    public string? CpuPeriod { get; set; }

    [Option("cpuset-mems", MetaValue = "LIST", HelpText = "Memory nodes the container may use (0-1).")]
    public string? CpusetMems { get; set; }

    [Option("kernel-memory", MetaValue = "SIZE", HelpText = "Refused: the kernel no longer limits kernel memory apart (--memory counts it).")]
    public string? KernelMemory { get; set; }

    [Option("device-cgroup-rule", MetaValue = "RULE", HelpText = "Let the container use devices the device cgroup would refuse: 'TYPE MAJOR:MINOR PERMS' (c, b or a; a number or *; letters of rwm), as docker's, e.g. 'c 4:* rw'. Makes no node. Repeatable.")]
    public IEnumerable<string> DeviceCgroupRule { get; set; } = [];

    [Option("device", MetaValue = "HOST[:CONTAINER[:PERMS]]", HelpText = "Give the container a host device node (/dev/fuse); PERMS, letters of rwm, limits its use through the device cgroup. Repeatable.")]
    public IEnumerable<string> Device { get; set; } = [];

    [Option("gpus", MetaValue = "GPUS", HelpText = "NVIDIA GPUs, with no toolkit installed: all, a count (2), or device=ID[,ID] (an index or GPU-UUID); ',capabilities=compute,utility' as docker's. From an nvidia.com/gpu CDI spec where there is one, else found on the host.")]
    public string? Gpus { get; set; }

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

    [Option("rm", HelpText = "Remove the container when it ends. Without -d that is always so (accepted for docker's habit); with -d its state and log go once it has ended, so ps -a no longer lists it; a wait begun while it ran still prints its exit status.")]
    public bool Remove { get; set; }

    [Option("name", MetaValue = "NAME", HelpText = "The container's id (default: a generated 12-digit one); in the foreground too, so ps, exec, stop and kill reach a service started by an init script or a systemd unit.")]
    public string? Name { get; set; }

    [Option("log-driver", MetaValue = "DRIVER", HelpText = "With -d: how its output is kept; the one driver is k8s-file (the CRI log format, as podman names it), the default.")]
    public string? LogDriver { get; set; }

    [Option("log-opt", MetaValue = "KEY=VALUE", HelpText = "With -d: max-size=SIZE (default 10m; -1: no limit) rotates the log at SIZE, max-file=N (default 3) keeps N files. Repeatable.")]
    public IEnumerable<string> LogOpt { get; set; } = [];

    [Option("die-with-parent", HelpText = "Stop the container (as SIGTERM to isolate would) when the process that started isolate dies. On by default when isolate is the foreground job of a terminal.")]
    public bool DieWithParent { get; set; }

    [Option("debug", HelpText = "Print the namespaces, the mount plan and what the setup noticed on stderr.")]
    public bool Debug { get; set; }

    [Value(0, MetaName = "COMMAND [ARG...]", HelpText = "The command to run, looked up in the container's PATH.")]
    public IEnumerable<string> Command { get; set; } = [];
}

/// <summary>`run`'s everyday options alone, for a command line that gives no other: what the
/// parser is handed when it need not be handed all 55 (its cost grows with every option of
/// the type: reading each one's attributes through AOT reflection, and setting each one's
/// default; bench/run.sh: about 2 ms of a start). The same names, values and defaults as
/// <see cref="RunOptions"/> (ArgumentTests holds them to it), no help texts: `run --help` and
/// every other option go to RunOptions.</summary>
[Verb("run")]
public sealed class RunEverydayOptions
{
    [Option("rootfs")] public string? Rootfs { get; set; }
    [Option("hostname")] public string? Hostname { get; set; }
    [Option('w', "workdir")] public string? Workdir { get; set; }
    [Option('e', "env")] public IEnumerable<string> Env { get; set; } = [];
    [Option("network", Default = "none")] public string Network { get; set; } = "none";
    [Option('v', "volume")] public IEnumerable<string> Volumes { get; set; } = [];
    [Option("tmpfs")] public IEnumerable<string> Tmpfs { get; set; } = [];
    [Option("read-only")] public bool ReadOnly { get; set; }
    [Option('m', "memory")] public string? Memory { get; set; }
    [Option("cpus")] public string? Cpus { get; set; }
    [Option('u', "user")] public string? User { get; set; }
    [Option('t', "tty")] public bool Tty { get; set; }
    [Option('i', "interactive")] public bool Interactive { get; set; }
    [Option("init")] public bool Init { get; set; }
    [Option('d', "detach")] public bool Detach { get; set; }
    [Option("rm")] public bool Remove { get; set; }
    [Option("name")] public string? Name { get; set; }
    [Option("gpus")] public string? Gpus { get; set; }
    [Value(0)] public IEnumerable<string> Command { get; set; } = [];

    /// <summary>The long names above (a pattern, not a set: a set would cost every start its constructor).</summary>
    internal static bool Has(string name) => name is "rootfs" or "hostname" or "workdir" or "env" or "network" or "volume" or "tmpfs"
        or "read-only" or "memory" or "cpus" or "user" or "tty" or "interactive" or "init" or "detach" or "rm" or "name" or "gpus";

    /// <summary>Normalized arguments (PosixArguments: long spellings, "--" before the command)
    /// that name only these options.</summary>
    internal static bool Covers(string[] normalized)
    {
        for (int i = 1; i < normalized.Length; i++)
        {
            string token = normalized[i];
            if (token == "--")
                return true;
            if (!token.StartsWith("--", StringComparison.Ordinal))
                return false;
            int equals = token.IndexOf('=');
            string name = equals < 0 ? token[2..] : token[2..equals];
            if (!Has(name))
                return false;
            if (equals < 0 && RunOptions.Table.Long.TryGetValue(name, out bool takesValue) && takesValue)
                i++;
        }
        return true;
    }

    internal RunOptions ToRunOptions() => new()
    {
        Rootfs = Rootfs, Hostname = Hostname, Workdir = Workdir, Env = Env, Network = Network, Volumes = Volumes, Tmpfs = Tmpfs,
        ReadOnly = ReadOnly, Memory = Memory, Cpus = Cpus, User = User, Tty = Tty, Interactive = Interactive, Init = Init,
        Detach = Detach, Remove = Remove, Name = Name, Gpus = Gpus, Command = Command,
    };
}

/// <summary>docker's `run`: the options through the docker face's converter to a spec, then
/// launched in the foreground, or handed to a monitor (-d).</summary>
internal static class RunVerb
{
    /// <summary>The image `run` names (pulled where the store lacks it), or null for a command.</summary>
    private static Isolate.Images.ImageDefaults? ResolveImage(RunOptions options, List<string> command, GlobalOptions globals)
    {
        try
        {
            return Isolate.Images.ImageRun.Resolve(options.Rootfs, command, globals.Storage, options.Pull,
                ImageVerbs.RegistryOptionsFrom(options.TlsVerify, options.CaFile, null),
                () => ImageVerbs.Progress(quiet: false));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw ImageVerbs.StoreError(globals, e);
        }
    }

    public static int Execute(RunOptions options, GlobalOptions globals)
    {
        if (globals.SystemdCgroup)
            throw new IsolateException("--systemd-cgroup: applies to an OCI bundle (isolate --systemd-cgroup run -b BUNDLE ID); the docker face takes --cgroup-parent instead");
        var command = (options.Command ?? []).ToList();
        var image = ResolveImage(options, command, globals);
        if (image is null && (options.TlsVerify != null || options.CaFile != null))
            throw new IsolateException("--tls-verify and --ca-file apply to an image pulled by run (isolate run [OPTIONS] IMAGE [COMMAND])");
        var spec = RunConverter.ToSpec(new RunArguments(options), HostProcess.Variable, name => ContainerHandle.NetworkOf(globals.Store, name), image,
                globals.CdiSpecDirs.Count > 0 ? globals.CdiSpecDirs : null, globals.NvidiaDriverRoot)
            with { LayerRoot = globals.Store.LayerRoot };
        var stats = RunConverter.ParseStats(options.Stats);
        Isolate.Runtime.Timing.Mark("spec");
        var logOptions = LogOptions.Parse(options.LogDriver, options.LogOpt);
        if (!options.Detach && (options.LogDriver != null || options.LogOpt.Any()))
            throw new IsolateException("--log-driver and --log-opt set up a detached container's log: use them with -d (a foreground run's output goes to your terminal)");
        if (options.Detach)
        {
            DetachedRun.Start(globals.Store, spec, stats, options.Debug, logOptions, autoRemove: options.Remove);
            Output.Out(spec.Id + "\n");
            return 0;
        }
        Action<string>? debug = options.Debug ? line => Output.Error("isolate: debug: " + line) : null;
        // --name in the foreground: a service from an init script or a unit, reachable by name
        var result = options.Name != null
            ? NamedRun.Run(globals.Store, spec, stats, debug, globals.Warn)
            : Launcher.Run(spec, debug, globals.Warn, readUsage: stats != StatsFormat.None);
        foreach (string line in result.Messages(stats))
            Output.Error(line);
        return result.ExitCode;
    }
}
