using System.Text.Json;

namespace Isolate.Oci;

/// <summary>What Isolate does with a field of config.json.</summary>
public enum FieldSupport
{
    /// <summary>Done as the runtime spec says, as runc does it.</summary>
    Honoured,

    /// <summary>Done, but some of its values are refused (each named in the note, and refused in
    /// one line naming the field when given).</summary>
    Partial,

    /// <summary>Refused whenever it is given (not null): the note says why.</summary>
    Refused,
}

/// <summary>One field of the runtime spec: its JSON path (array elements are passed through:
/// `mounts.options` is each mount's options; `hooks.*.path` is every hook's path), what Isolate
/// does with it, a note for the conformance table (for a refused field, the reason given), and
/// whether it is a map whose keys are the user's (annotations, sysctl).</summary>
public sealed record SpecField(string Path, FieldSupport Support, string Note, bool FreeKeys = false);

/// <summary>Every field of the OCI runtime spec (1.2, Linux, and the other platforms' sections)
/// with Isolate's answer to it: the one table behind the refusal of fields Isolate cannot honour,
/// docs/oci-conformance.md (a test keeps the two equal) and `features`. A field that is not in
/// the spec is an extension, ignored as the spec requires ("MUST ignore unknown properties"); a
/// field of the spec is never ignored: it is read, or refused here before anything is made.</summary>
public static class OciSpecFields
{
    private const FieldSupport Yes = FieldSupport.Honoured, Part = FieldSupport.Partial, No = FieldSupport.Refused;

    public static readonly IReadOnlyList<SpecField> All =
    [
        new("ociVersion", Part, "any 1.x; other major versions refused"),
        new("root", Yes, ""),
        new("root.path", Yes, "absolute or relative to the bundle; the host's / refused"),
        new("root.readonly", Yes, "the root mount made read-only after every mount"),
        new("mounts", Yes, "made in the file's order, stacked where two share a destination; the default /dev nodes are added after them unless /dev is bound"),
        new("mounts.destination", Yes, ""),
        new("mounts.source", Yes, "bind sources opened by Isolate before it enters a user namespace, as runc does"),
        new("mounts.type", Yes, "bind and any filesystem type the kernel has (tmpfs, proc, sysfs, devpts, mqueue, cgroup, overlay ...); cgroup on a v1 host mounts the container's own hierarchies"),
        new("mounts.options", Part, "the flags, their no- forms, propagation, atime options, rro/rrw, tmpcopyup and filesystem data; refused: idmap, ridmap, other recursive attributes (rnosuid ...), remount, copy-symlink"),
        new("mounts.uidMappings", No, "id-mapped mounts are not supported"),
        new("mounts.gidMappings", No, "id-mapped mounts are not supported"),
        new("process", Yes, "required"),
        new("process.terminal", Yes, "the master goes to --console-socket"),
        new("process.consoleSize", Yes, ""),
        new("process.consoleSize.height", Yes, ""),
        new("process.consoleSize.width", Yes, ""),
        new("process.cwd", Yes, "created before the root is made read-only when missing, as runc does"),
        new("process.env", Yes, "HOME added from the root's /etc/passwd (or /) when missing, as runc does"),
        new("process.args", Yes, ""),
        new("process.commandLine", No, "Windows only: give the command as process.args"),
        new("process.rlimits", Yes, ""),
        new("process.rlimits.type", Yes, ""),
        new("process.rlimits.soft", Yes, ""),
        new("process.rlimits.hard", Yes, ""),
        new("process.apparmorProfile", No, "AppArmor profiles are not supported (Isolate loads and applies none)"),
        new("process.capabilities", Yes, ""),
        new("process.capabilities.effective", Yes, ""),
        new("process.capabilities.bounding", Yes, ""),
        new("process.capabilities.inheritable", Yes, ""),
        new("process.capabilities.permitted", Yes, ""),
        new("process.capabilities.ambient", Yes, ""),
        new("process.noNewPrivileges", Yes, ""),
        new("process.oomScoreAdj", Yes, ""),
        new("process.scheduler", Yes, "sched_setattr(2) before exec"),
        new("process.scheduler.policy", Part, "SCHED_OTHER, SCHED_FIFO, SCHED_RR, SCHED_BATCH, SCHED_IDLE, SCHED_DEADLINE; SCHED_ISO (not in Linux) refused"),
        new("process.scheduler.nice", Yes, ""),
        new("process.scheduler.priority", Yes, ""),
        new("process.scheduler.flags", Yes, ""),
        new("process.scheduler.runtime", Yes, ""),
        new("process.scheduler.deadline", Yes, ""),
        new("process.scheduler.period", Yes, ""),
        new("process.selinuxLabel", No, "SELinux labels are not supported (Isolate sets none)"),
        new("process.ioPriority", Yes, "ioprio_set(2) before exec"),
        new("process.ioPriority.class", Yes, ""),
        new("process.ioPriority.priority", Yes, ""),
        new("process.execCPUAffinity", No, "exec CPU affinity is not supported; limit the CPUs with linux.resources.cpu.cpus"),
        new("process.user", Yes, ""),
        new("process.user.uid", Yes, ""),
        new("process.user.gid", Yes, ""),
        new("process.user.umask", Yes, "022 when absent, as runc does"),
        new("process.user.additionalGids", Yes, ""),
        new("process.user.username", No, "Windows only: give process.user.uid and gid"),
        new("hostname", Yes, "set in the container's UTS namespace, its own or a joined one; when absent the name is left as it is, as runc does; refused with the host's"),
        new("domainname", Yes, "as hostname"),
        new("hooks", Yes, ""),
        new("hooks.prestart", Yes, ""),
        new("hooks.createRuntime", Yes, ""),
        new("hooks.createContainer", Yes, "the host program must be statically linked: a dynamically linked one, a #! script or another kind is refused at create (its loader or interpreter would be the container's); it runs from a sealed copy the container cannot write. NVIDIA's hooks (nvidia-cdi-hook, nvidia-ctk hook: what podman and containerd copy from an NVIDIA CDI spec) are not run: Isolate does their work itself (create-symlinks, update-ldcache; disable-device-node-modification and enable-cuda-compat where there is nothing to do), and refuses their other subcommands"),
        new("hooks.startContainer", Yes, ""),
        new("hooks.poststart", Yes, "a failure stops and deletes the container, as runtime-spec 1.1 and runc do"),
        new("hooks.poststop", Yes, ""),
        new("hooks.*.path", Yes, ""),
        new("hooks.*.args", Yes, ""),
        new("hooks.*.env", Yes, "without env, a host hook gets the runtime's environment, as runc does"),
        new("hooks.*.timeout", Yes, ""),
        new("annotations", Yes, "kept and shown by state", FreeKeys: true),
        new("linux", Yes, ""),
        new("linux.namespaces", Yes, ""),
        new("linux.namespaces.type", Part, "pid, network, mount, ipc, uts, user, cgroup (a type left out is the host's, as in runc; mount is required); time refused"),
        new("linux.namespaces.path", Part, "network, ipc, uts, cgroup, pid and mount joined (before the new ones are made); user refused; mount joined with a new user namespace refused"),
        new("linux.uidMappings", Yes, ""),
        new("linux.uidMappings.containerID", Yes, ""),
        new("linux.uidMappings.hostID", Yes, ""),
        new("linux.uidMappings.size", Yes, ""),
        new("linux.gidMappings", Yes, ""),
        new("linux.gidMappings.containerID", Yes, ""),
        new("linux.gidMappings.hostID", Yes, ""),
        new("linux.gidMappings.size", Yes, ""),
        new("linux.timeOffsets", No, "time namespaces are not supported"),
        new("linux.devices", Yes, "made with mknod (bound from the host's node in a user namespace)"),
        new("linux.devices.type", Yes, "c, u, b, p"),
        new("linux.devices.path", Yes, ""),
        new("linux.devices.major", Yes, ""),
        new("linux.devices.minor", Yes, ""),
        new("linux.devices.fileMode", Yes, ""),
        new("linux.devices.uid", Yes, ""),
        new("linux.devices.gid", Yes, ""),
        new("linux.cgroupsPath", Part, "cgroupfs paths; systemd slice:prefix:name only with --systemd-cgroup where systemd runs (a transient scope)"),
        new("linux.resources", Yes, ""),
        new("linux.resources.devices", Yes, "applied in order, then runc's default rules; cgroup v1: devices.deny/allow; cgroup v2: an eBPF device program attached to the container's group"),
        new("linux.resources.devices.allow", Yes, ""),
        new("linux.resources.devices.type", Yes, ""),
        new("linux.resources.devices.major", Yes, ""),
        new("linux.resources.devices.minor", Yes, ""),
        new("linux.resources.devices.access", Yes, ""),
        new("linux.resources.memory", Yes, ""),
        new("linux.resources.memory.limit", Yes, ""),
        new("linux.resources.memory.reservation", Yes, "v1 memory.soft_limit_in_bytes, v2 memory.low"),
        new("linux.resources.memory.swap", Part, "refused where the host has no swap accounting (memory.memsw)"),
        new("linux.resources.memory.kernel", Part, "0 taken as unset; a limit refused (deprecated; the kernel ignores memory.kmem.limit_in_bytes)"),
        new("linux.resources.memory.kernelTCP", Part, "cgroup v1; refused on v2 (no such file), as runc does"),
        new("linux.resources.memory.swappiness", Part, "cgroup v1; refused on v2, as runc does"),
        new("linux.resources.memory.disableOOMKiller", Part, "cgroup v1; refused on v2 (it cannot turn the OOM killer off)"),
        new("linux.resources.memory.useHierarchy", Part, "true; false refused (the kernel always accounts hierarchically)"),
        new("linux.resources.memory.checkBeforeUpdate", Part, "false; true refused"),
        new("linux.resources.cpu", Yes, ""),
        new("linux.resources.cpu.shares", Yes, ""),
        new("linux.resources.cpu.quota", Yes, ""),
        new("linux.resources.cpu.burst", No, "CPU burst is not supported"),
        new("linux.resources.cpu.period", Yes, ""),
        new("linux.resources.cpu.realtimeRuntime", Part, "0 taken as unset; a budget refused (real-time groups are not supported)"),
        new("linux.resources.cpu.realtimePeriod", Part, "0 taken as unset; a period refused (real-time groups are not supported)"),
        new("linux.resources.cpu.cpus", Yes, ""),
        new("linux.resources.cpu.mems", Yes, ""),
        new("linux.resources.cpu.idle", Part, "0 taken as unset; 1 refused (SCHED_IDLE groups are not supported)"),
        new("linux.resources.blockIO", Yes, ""),
        new("linux.resources.blockIO.weight", Part, "refused where the host has no blkio.weight / io.weight (no BFQ scheduler)"),
        new("linux.resources.blockIO.leafWeight", Part, "0 taken as unset; a weight refused (leaf weights went with CFQ)"),
        new("linux.resources.blockIO.weightDevice", No, "per-device weights are not supported: blockIO.weight sets the weight for every device"),
        new("linux.resources.blockIO.throttleReadBpsDevice", Yes, "v1 blkio.throttle.*, v2 io.max"),
        new("linux.resources.blockIO.throttleReadBpsDevice.major", Yes, ""),
        new("linux.resources.blockIO.throttleReadBpsDevice.minor", Yes, ""),
        new("linux.resources.blockIO.throttleReadBpsDevice.rate", Yes, ""),
        new("linux.resources.blockIO.throttleWriteBpsDevice", Yes, "v1 blkio.throttle.*, v2 io.max"),
        new("linux.resources.blockIO.throttleWriteBpsDevice.major", Yes, ""),
        new("linux.resources.blockIO.throttleWriteBpsDevice.minor", Yes, ""),
        new("linux.resources.blockIO.throttleWriteBpsDevice.rate", Yes, ""),
        new("linux.resources.blockIO.throttleReadIOPSDevice", Yes, "v1 blkio.throttle.*, v2 io.max"),
        new("linux.resources.blockIO.throttleReadIOPSDevice.major", Yes, ""),
        new("linux.resources.blockIO.throttleReadIOPSDevice.minor", Yes, ""),
        new("linux.resources.blockIO.throttleReadIOPSDevice.rate", Yes, ""),
        new("linux.resources.blockIO.throttleWriteIOPSDevice", Yes, "v1 blkio.throttle.*, v2 io.max"),
        new("linux.resources.blockIO.throttleWriteIOPSDevice.major", Yes, ""),
        new("linux.resources.blockIO.throttleWriteIOPSDevice.minor", Yes, ""),
        new("linux.resources.blockIO.throttleWriteIOPSDevice.rate", Yes, ""),
        new("linux.resources.hugepageLimits", Part, "refused for a page size the host lacks"),
        new("linux.resources.hugepageLimits.pageSize", Yes, ""),
        new("linux.resources.hugepageLimits.limit", Yes, ""),
        new("linux.resources.network", Part, "an empty object; classID or priorities refused (the net_cls and net_prio controllers are not supported)"),
        new("linux.resources.network.classID", Part, "0 taken as unset"),
        new("linux.resources.network.priorities", Part, "an empty list"),
        new("linux.resources.pids", Yes, ""),
        new("linux.resources.pids.limit", Yes, ""),
        new("linux.resources.rdma", Part, "an empty map; entries refused (the rdma controller is not supported)", FreeKeys: true),
        new("linux.resources.unified", Part, "an empty map; entries refused (set limits through memory, cpu, pids and blockIO)", FreeKeys: true),
        new("linux.intelRdt", No, "Intel RDT (resctrl) is not supported"),
        new("linux.sysctl", Part, "namespaced keys of a namespace the container owns (ipc, net, kernel.domainname); kernel.hostname and host-wide keys refused", FreeKeys: true),
        new("linux.seccomp", Yes, ""),
        new("linux.seccomp.defaultAction", Part, "every action but SCMP_ACT_NOTIFY (seccomp user notification)"),
        new("linux.seccomp.defaultErrnoRet", Yes, ""),
        new("linux.seccomp.architectures", Part, "the filter is x86-64's: a call through the i386 or x32 ABI kills the process, whatever the list"),
        new("linux.seccomp.flags", Part, "SECCOMP_FILTER_FLAG_TSYNC, SECCOMP_FILTER_FLAG_LOG, SECCOMP_FILTER_FLAG_SPEC_ALLOW; others refused"),
        new("linux.seccomp.listenerPath", No, "seccomp user notification (SCMP_ACT_NOTIFY) is not supported"),
        new("linux.seccomp.listenerMetadata", No, "seccomp user notification is not supported"),
        new("linux.seccomp.syscalls", Yes, ""),
        new("linux.seccomp.syscalls.names", Yes, ""),
        new("linux.seccomp.syscalls.action", Part, "every action but SCMP_ACT_NOTIFY (seccomp user notification)"),
        new("linux.seccomp.syscalls.errnoRet", Yes, ""),
        new("linux.seccomp.syscalls.args", Yes, ""),
        new("linux.seccomp.syscalls.args.index", Yes, ""),
        new("linux.seccomp.syscalls.args.value", Yes, ""),
        new("linux.seccomp.syscalls.args.valueTwo", Yes, ""),
        new("linux.seccomp.syscalls.args.op", Yes, ""),
        new("linux.rootfsPropagation", Yes, "every value, applied after pivot_root"),
        new("linux.maskedPaths", Yes, ""),
        new("linux.readonlyPaths", Yes, ""),
        new("linux.mountLabel", No, "SELinux mount labels are not supported (Isolate sets none)"),
        new("linux.personality", No, "execution domains (personality(2)) are not supported"),
        new("linux.memoryPolicy", No, "NUMA memory policies (set_mempolicy(2)) are not supported"),
        new("linux.netDevices", No, "moving network devices into the container is not supported"),
        new("windows", No, "a Windows container's section: Isolate runs Linux containers"),
        new("solaris", No, "a Solaris container's section: Isolate runs Linux containers"),
        new("vm", No, "a virtual-machine container's section: Isolate runs Linux containers"),
        new("zos", No, "a z/OS container's section: Isolate runs Linux containers"),
    ];

    /// <summary>The table as docs/oci-conformance.md shows it (one row a field, in the spec's order).</summary>
    public static string Markdown()
    {
        var text = new System.Text.StringBuilder();
        text.Append("| field | Isolate | note |\n|---|---|---|\n");
        foreach (var field in All)
        {
            string support = field.Support switch
            {
                FieldSupport.Honoured => "honoured",
                FieldSupport.Partial => "partly",
                _ => "**refused**",
            };
            text.Append("| `").Append(field.Path).Append(field.FreeKeys ? ".*" : "").Append("` | ").Append(support)
                .Append(" | ").Append(field.Note.Replace("|", "\\|", StringComparison.Ordinal)).Append(" |\n");
        }
        return text.ToString();
    }

    private static readonly Dictionary<string, SpecField> ByPath = All.ToDictionary(f => f.Path, StringComparer.Ordinal);

    /// <summary>Refuses the first refused field the document gives (not null), as "SOURCE: PATH:
    /// REASON"; fields outside the spec are passed over. <paramref name="path"/>: where the
    /// document sits in config.json ("process" for exec --process's file).</summary>
    public static void Check(JsonElement document, string source = "config.json", string path = "")
    {
        if (document.ValueKind == JsonValueKind.Object)
            Walk(document, path, "", source);
    }

    private static void Walk(JsonElement value, string path, string where, string source)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.Array:
                int i = 0;
                foreach (var item in value.EnumerateArray())
                    Walk(item, path, $"{where}[{i++}]", source);
                return;
            case JsonValueKind.Object:
                foreach (var property in value.EnumerateObject())
                {
                    string name = property.Name;
                    string child = path.Length == 0 ? name : path + "." + name;
                    string childWhere = where.Length == 0 ? name : where + "." + name;
                    if (!ByPath.TryGetValue(child, out var field))
                    {
                        // the hooks' lists share one element shape: hooks.*.path
                        if (path.StartsWith("hooks.", StringComparison.Ordinal) && path.IndexOf('.', 6) < 0
                            && ByPath.TryGetValue("hooks.*." + name, out var hookField))
                            field = hookField;
                        else
                            continue; // an extension: not the spec's
                    }
                    // null, and for a string field "", ask for nothing (podman writes "apparmorProfile": "")
                    if (property.Value.ValueKind == JsonValueKind.Null
                        || (property.Value.ValueKind == JsonValueKind.String && property.Value.GetString() == ""))
                        continue;
                    if (field.Support == FieldSupport.Refused)
                        throw new IsolateException($"{source}: {childWhere}: {field.Note}; remove it");
                    if (!field.FreeKeys)
                        Walk(property.Value, child, childWhere, source);
                }
                return;
        }
    }
}
