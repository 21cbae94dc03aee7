using System.Text.Json;
using Isolate.Interop;

namespace Isolate.Oci;

/// <summary>The config.json `isolate spec` writes: the same content as `runc spec` (a shell
/// on a terminal, a read-only "rootfs" directory next to the file, three capabilities, the
/// usual kernel file systems and masked paths), plus a cgroup namespace as newer runc has.
/// Rootless (`--rootless`): the caller's uid and gid are root in a user namespace of the
/// container's own, the host's network is shared (an unprivileged user cannot give a new
/// network namespace any connectivity), /sys is the host's, bound read-only, and there are
/// no cgroup rules.</summary>
public static class OciDefaultSpec
{
    public const string Version = "1.2.0";

    /// <summary>The default config.json, indented with tabs, without a final newline.</summary>
    public static string Json(bool rootless) =>
        Json(rootless, HostIdentity.EffectiveUserId, HostIdentity.EffectiveGroupId);

    /// <param name="uid">With <paramref name="rootless"/>: the host uid mapped to root.</param>
    /// <param name="gid">With <paramref name="rootless"/>: the host gid mapped to root.</param>
    internal static string Json(bool rootless, uint uid, uint gid) =>
        JsonSerializer.Serialize(Build(rootless, uid, gid), OciJsonContext.Default.OciConfig);

    internal static OciConfig Build(bool rootless, uint uid, uint gid)
    {
        List<string> caps = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"];
        var config = new OciConfig
        {
            OciVersion = Version,
            Process = new OciProcess
            {
                Terminal = true,
                User = new OciUser { Uid = 0, Gid = 0 },
                Args = ["sh"],
                Env = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
                Cwd = "/",
                Capabilities = new OciCapabilities
                {
                    Bounding = [.. caps],
                    Effective = [.. caps],
                    Permitted = [.. caps],
                    Ambient = [.. caps],
                },
                Rlimits = [new OciRlimit { Type = "RLIMIT_NOFILE", Hard = 1024, Soft = 1024 }],
                NoNewPrivileges = true,
            },
            Root = new OciRoot { Path = "rootfs", Readonly = true },
            Hostname = "isolate",
            Mounts =
            [
                Mount("/proc", "proc", "proc"),
                Mount("/dev", "tmpfs", "tmpfs", "nosuid", "strictatime", "mode=755", "size=65536k"),
                rootless
                    ? Mount("/dev/pts", "devpts", "devpts", "nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620")
                    : Mount("/dev/pts", "devpts", "devpts", "nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"),
                Mount("/dev/shm", "tmpfs", "shm", "nosuid", "noexec", "nodev", "mode=1777", "size=65536k"),
                Mount("/dev/mqueue", "mqueue", "mqueue", "nosuid", "noexec", "nodev"),
                rootless
                    ? Mount("/sys", "none", "/sys", "rbind", "nosuid", "noexec", "nodev", "ro")
                    : Mount("/sys", "sysfs", "sysfs", "nosuid", "noexec", "nodev", "ro"),
                Mount("/sys/fs/cgroup", "cgroup", "cgroup", "nosuid", "noexec", "nodev", "relatime", "ro"),
            ],
            Linux = new OciLinux
            {
                Resources = rootless ? null : new OciResources { Devices = [new OciDeviceRule { Allow = false, Access = "rwm" }] },
                Namespaces = [.. Namespaces(rootless).Select(t => new OciNamespace { Type = t })],
                MaskedPaths =
                [
                    "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
                    "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi",
                ],
                ReadonlyPaths = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"],
            },
        };
        if (rootless)
        {
            config.Linux.UidMappings = [new OciIdMapping { ContainerId = 0, HostId = uid, Size = 1 }];
            config.Linux.GidMappings = [new OciIdMapping { ContainerId = 0, HostId = gid, Size = 1 }];
        }
        return config;
    }

    /// <summary>runc's order; rootless drops the network namespace and adds a user namespace last.</summary>
    private static IEnumerable<string> Namespaces(bool rootless) =>
        rootless ? ["pid", "ipc", "uts", "mount", "cgroup", "user"] : ["pid", "network", "ipc", "uts", "mount", "cgroup"];

    private static OciMount Mount(string destination, string type, string source, params string[] options) =>
        new() { Destination = destination, Type = type, Source = source, Options = options.Length == 0 ? null : [.. options] };
}
