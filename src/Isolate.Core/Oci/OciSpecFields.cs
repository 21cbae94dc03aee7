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
        new("mounts", Part, "bind and tmpfs at any path, in the file's order; the standard /proc, /dev, /dev/pts, /dev/shm, /dev/mqueue, /sys, /sys/fs/cgroup are Isolate's own; other types refused"),
        new("mounts.destination", Yes, ""),
        new("mounts.source", Yes, "opened by Isolate"),
        new("mounts.type", Part, "bind, tmpfs, and the standard kernel file systems at their usual place"),
        new("mounts.options", Part, "ro/rw, propagation, atime options, tmpfs size/mode/uid/gid/nr_inodes; others refused"),
        new("mounts.uidMappings", No, "id-mapped mounts are not supported"),
        new("mounts.gidMappings", No, "id-mapped mounts are not supported"),
        new("process", Yes, "required"),
        new("process.terminal", Yes, "the master goes to --console-socket"),
        new("process.consoleSize", Yes, ""),
        new("process.consoleSize.height", Yes, ""),
        new("process.consoleSize.width", Yes, ""),
        new("process.cwd", Yes, ""),
        new("process.env", Yes, ""),
        new("process.args", Yes, ""),
        new("process.commandLine", No, "Windows only: use process.args"),
        new("process.rlimits", Yes, ""),
        new("process.rlimits.type", Yes, ""),
        new("process.rlimits.soft", Yes, ""),
        new("process.rlimits.hard", Yes, ""),
        new("process.apparmorProfile", No, "Isolate does not load AppArmor profiles"),
        new("process.capabilities", Yes, ""),
        new("process.capabilities.effective", Yes, ""),
        new("process.capabilities.bounding", Yes, ""),
        new("process.capabilities.inheritable", Yes, ""),
        new("process.capabilities.permitted", Yes, ""),
        new("process.capabilities.ambient", Yes, ""),
        new("process.noNewPrivileges", Yes, ""),
        new("process.oomScoreAdj", Yes, ""),
        new("process.scheduler", No, "scheduling policies are not supported"),
        new("process.selinuxLabel", No, "Isolate does not apply SELinux labels"),
        new("process.ioPriority", No, "I/O priorities are not supported"),
        new("process.execCPUAffinity", No, "exec CPU affinity is not supported"),
        new("process.user", Yes, ""),
        new("process.user.uid", Yes, ""),
        new("process.user.gid", Yes, ""),
        new("process.user.umask", No, "not supported yet"),
        new("process.user.additionalGids", Yes, ""),
        new("process.user.username", No, "Windows only: use process.user.uid"),
        new("hostname", Yes, ""),
        new("domainname", No, "not supported yet"),
        new("hooks", Yes, ""),
        new("hooks.prestart", Yes, ""),
        new("hooks.createRuntime", Yes, ""),
        new("hooks.createContainer", Yes, ""),
        new("hooks.startContainer", Yes, ""),
        new("hooks.poststart", Yes, ""),
        new("hooks.poststop", Yes, ""),
        new("hooks.*.path", Yes, ""),
        new("hooks.*.args", Yes, ""),
        new("hooks.*.env", Yes, ""),
        new("hooks.*.timeout", Yes, ""),
        new("annotations", Yes, "kept and shown by state", FreeKeys: true),
        new("linux", Yes, ""),
        new("linux.namespaces", Yes, ""),
        new("linux.namespaces.type", Part, "pid, network, mount, ipc, uts, user, cgroup; time refused"),
        new("linux.namespaces.path", Part, "network, ipc, uts, cgroup, pid joined; user and mount refused"),
        new("linux.uidMappings", Yes, ""),
        new("linux.uidMappings.containerID", Yes, ""),
        new("linux.uidMappings.hostID", Yes, ""),
        new("linux.uidMappings.size", Yes, ""),
        new("linux.gidMappings", Yes, ""),
        new("linux.gidMappings.containerID", Yes, ""),
        new("linux.gidMappings.hostID", Yes, ""),
        new("linux.gidMappings.size", Yes, ""),
        new("linux.timeOffsets", No, "time namespaces are not supported"),
        new("linux.devices", No, "not supported yet"),
        new("linux.cgroupsPath", Yes, ""),
        new("linux.resources", Yes, ""),
        new("linux.resources.devices", Part, "PENDING"),
        new("linux.resources.devices.allow", Part, "PENDING"),
        new("linux.resources.devices.type", Part, "PENDING"),
        new("linux.resources.devices.major", Part, "PENDING"),
        new("linux.resources.devices.minor", Part, "PENDING"),
        new("linux.resources.devices.access", Part, "PENDING"),
        new("linux.resources.memory", Yes, ""),
        new("linux.resources.memory.limit", Yes, ""),
        new("linux.resources.memory.reservation", No, "not supported yet"),
        new("linux.resources.memory.swap", Yes, ""),
        new("linux.resources.memory.kernel", No, "kernel memory limits are deprecated and not supported"),
        new("linux.resources.memory.kernelTCP", No, "not supported yet"),
        new("linux.resources.memory.swappiness", No, "not supported yet"),
        new("linux.resources.memory.disableOOMKiller", No, "not supported yet"),
        new("linux.resources.memory.useHierarchy", No, "not supported"),
        new("linux.resources.memory.checkBeforeUpdate", No, "not supported"),
        new("linux.resources.cpu", Yes, ""),
        new("linux.resources.cpu.shares", Yes, ""),
        new("linux.resources.cpu.quota", Yes, ""),
        new("linux.resources.cpu.burst", No, "not supported"),
        new("linux.resources.cpu.period", Yes, ""),
        new("linux.resources.cpu.realtimeRuntime", No, "real-time CPU limits are not supported"),
        new("linux.resources.cpu.realtimePeriod", No, "real-time CPU limits are not supported"),
        new("linux.resources.cpu.cpus", Yes, ""),
        new("linux.resources.cpu.mems", No, "not supported yet"),
        new("linux.resources.cpu.idle", No, "not supported"),
        new("linux.resources.blockIO", Yes, ""),
        new("linux.resources.blockIO.weight", Yes, ""),
        new("linux.resources.blockIO.leafWeight", No, "not supported"),
        new("linux.resources.blockIO.weightDevice", No, "not supported"),
        new("linux.resources.blockIO.throttleReadBpsDevice", No, "not supported"),
        new("linux.resources.blockIO.throttleWriteBpsDevice", No, "not supported"),
        new("linux.resources.blockIO.throttleReadIOPSDevice", No, "not supported"),
        new("linux.resources.blockIO.throttleWriteIOPSDevice", No, "not supported"),
        new("linux.resources.hugepageLimits", No, "not supported yet"),
        new("linux.resources.network", No, "net_cls/net_prio settings are not supported"),
        new("linux.resources.pids", Yes, ""),
        new("linux.resources.pids.limit", Yes, ""),
        new("linux.resources.rdma", No, "the rdma controller is not supported", FreeKeys: true),
        new("linux.resources.unified", No, "raw cgroup v2 settings are not supported", FreeKeys: true),
        new("linux.intelRdt", No, "Intel RDT is not supported"),
        new("linux.sysctl", Part, "namespaced keys (ipc, net with a network namespace, kernel.domainname); others refused", FreeKeys: true),
        new("linux.seccomp", Yes, ""),
        new("linux.seccomp.defaultAction", Yes, ""),
        new("linux.seccomp.defaultErrnoRet", Yes, ""),
        new("linux.seccomp.architectures", Part, "the filter is x86-64's: a call through the i386 or x32 ABI kills the process, whatever the list"),
        new("linux.seccomp.flags", Part, "not applied: the filter is installed without flags (TSYNC is moot: one thread)"),
        new("linux.seccomp.listenerPath", No, "seccomp user notification is not supported"),
        new("linux.seccomp.listenerMetadata", No, "seccomp user notification is not supported"),
        new("linux.seccomp.syscalls", Yes, ""),
        new("linux.seccomp.syscalls.names", Yes, ""),
        new("linux.seccomp.syscalls.action", Yes, ""),
        new("linux.seccomp.syscalls.errnoRet", Yes, ""),
        new("linux.seccomp.syscalls.args", Yes, ""),
        new("linux.seccomp.syscalls.args.index", Yes, ""),
        new("linux.seccomp.syscalls.args.value", Yes, ""),
        new("linux.seccomp.syscalls.args.valueTwo", Yes, ""),
        new("linux.seccomp.syscalls.args.op", Yes, ""),
        new("linux.rootfsPropagation", Part, "private, rprivate, slave, rslave; shared and unbindable refused"),
        new("linux.maskedPaths", Yes, ""),
        new("linux.readonlyPaths", Yes, ""),
        new("linux.mountLabel", No, "Isolate does not apply SELinux labels"),
        new("linux.personality", No, "execution domains are not supported"),
        new("linux.memoryPolicy", No, "NUMA memory policies are not supported"),
        new("linux.netDevices", No, "moving network devices is not supported"),
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
                    if (property.Value.ValueKind == JsonValueKind.Null)
                        continue;
                    if (field.Support == FieldSupport.Refused)
                        throw new IsolateException($"{source}: {childWhere}: {field.Note}; remove it, or use a runtime that supports it");
                    if (!field.FreeKeys)
                        Walk(property.Value, child, childWhere, source);
                }
                return;
        }
    }
}
