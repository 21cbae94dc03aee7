using Isolate.Interop;
using Isolate.Spec;

namespace Isolate.Oci;

public static partial class OciBundleLoader
{
    private sealed partial class Mapper
    {
        // ---- namespaces ----

        /// <returns>The network mode the namespaces give.</returns>
        private NetworkMode Namespaces(List<OciNamespace>? namespaces)
        {
            var list = namespaces ?? [];
            for (int i = 0; i < list.Count; i++)
            {
                string where = $"linux.namespaces[{i}]";
                string type = list[i].Type ?? throw Error($"{where}.type", "is required");
                if (type == "time")
                    throw Error($"{where}.type", "'time' namespaces are not supported");
                if (!Known.Contains(type))
                    throw Error($"{where}.type", $"'{type}' is not a namespace type (pid, network, mount, ipc, uts, user, cgroup)");
                if (!_namespaces.Add(type))
                    throw Error($"{where}.type", $"the '{type}' namespace is listed twice");
                if (list[i].Path is not { Length: > 0 } path)
                    continue;
                if (!path.StartsWith('/'))
                    throw Error($"{where}.path", $"'{path}' must be an absolute path");
                if (type == "user")
                    throw Error($"{where}.path", "joining an existing user namespace is not supported: Isolate creates its own (remove path; uidMappings and gidMappings map it)");
                if (type == "mount" && IsOwnMountNamespace(path))
                    throw Error($"{where}.path", $"'{path}' is the mount namespace Isolate itself runs in (the host's, for /proc/1/ns/mnt): the container's mounts and pivot_root would re-root it; remove the path for a mount namespace of the container's own");
                _join.Add((type, path));
            }
            foreach (string type in Required)
            {
                if (!_namespaces.Contains(type))
                    throw Error("linux.namespaces", $"has no '{type}' namespace: Isolate always creates one, add {{\"type\": \"{type}\"}}");
            }
            // without one of these the container shares the host's, as runc does (podman --pid host, ...)
            foreach (string type in Shareable)
            {
                if (!_namespaces.Contains(type))
                    _hostNamespaces.Add(type);
            }
            if (_namespaces.Contains("user") && _join.FindIndex(j => j.Item1 == "mount") is >= 0 and int mount)
                throw Error($"linux.namespaces[{list.FindIndex(n => n.Type == "mount")}].path", "a joined mount namespace with a new user namespace: the user namespace's root has no right to mount in a namespace the host owns; remove the path or the user namespace");
            if (host.Rootless && !_namespaces.Contains("user"))
                throw Error("linux.namespaces", $"has no 'user' namespace, which a non-root user (uid {host.Euid}) needs: add one with uidMappings and gidMappings (isolate spec --rootless writes them)");
            return _namespaces.Contains("network") ? NetworkMode.None : NetworkMode.Host;
        }

        /// <summary>The namespace file names the mount namespace this process runs in (the same
        /// nsfs inode as /proc/self/ns/mnt). The child joins a mount namespace to set the
        /// container's root up in it, which in this one would remount and pivot_root the
        /// runtime's own - the host's - view of the filesystem.</summary>
        private static bool IsOwnMountNamespace(string path) =>
            FileStat.Follow(path) is { } joined && FileStat.Follow("/proc/self/ns/mnt") is { } own
            && joined.Device == own.Device && joined.Inode == own.Inode;

        private UserNamespaceSpec? UserNamespace(OciLinux linux)
        {
            if (!_namespaces.Contains("user"))
            {
                if (linux.UidMappings is { Count: > 0 })
                    throw Error("linux.uidMappings", "given without a 'user' namespace in linux.namespaces");
                if (linux.GidMappings is { Count: > 0 })
                    throw Error("linux.gidMappings", "given without a 'user' namespace in linux.namespaces");
                return null;
            }
            var uids = Mappings("linux.uidMappings", linux.UidMappings, host.Euid, "uid");
            var gids = Mappings("linux.gidMappings", linux.GidMappings, host.Egid, "gid");
            return new UserNamespaceSpec { UidMap = uids, GidMap = gids, Rootless = host.Rootless };
        }

        private IReadOnlyList<IdMapping> Mappings(string where, List<OciIdMapping>? list, uint ownId, string kind)
        {
            if (list is null || list.Count == 0)
                throw Error(where, "a 'user' namespace needs at least one mapping");
            if (list.Count > 340)
                throw Error(where, $"{list.Count} ranges; the kernel takes at most 340");
            var mappings = new List<IdMapping>();
            for (int i = 0; i < list.Count; i++)
            {
                var m = list[i];
                if (m.Size == 0)
                    throw Error($"{where}[{i}].size", "must be at least 1");
                if ((ulong)m.ContainerId + m.Size > uint.MaxValue || (ulong)m.HostId + m.Size > uint.MaxValue)
                    throw Error($"{where}[{i}]", "the range runs past 4294967294");
                foreach (var other in mappings)
                {
                    if (Overlaps(other.ContainerId, other.Count, m.ContainerId, m.Size) || Overlaps(other.HostId, other.Count, m.HostId, m.Size))
                        throw Error($"{where}[{i}]", $"overlaps {other}");
                }
                mappings.Add(new IdMapping(m.ContainerId, m.HostId, m.Size));
            }
            if (host.Rootless && (mappings.Count != 1 || mappings[0].HostId != ownId || mappings[0].Count != 1))
                throw Error(where, $"a non-root user may map only its own {kind} {ownId} (one mapping, size 1); mapping other host ids needs root");
            if (!mappings.Any(m => m.Contains(0)))
                throw Error(where, $"container {kind} 0 must be mapped (the container starts as root)");
            return mappings;
        }

        private static bool Overlaps(uint a, uint aCount, uint b, uint bCount) => (ulong)a < (ulong)b + bCount && (ulong)b < (ulong)a + aCount;

        /// <summary>The UTS names, which need a UTS namespace of the container's (its own, or one it
        /// joins, as runc has it): in the host's, they would rename the host.</summary>
        private (string Hostname, string? Domainname) UtsNames(string? hostname, string? domainname)
        {
            if (domainname is { Length: > 64 })
                throw Error("domainname", $"'{domainname}' is longer than the kernel's 64 characters");
            if (!_namespaces.Contains("uts"))
            {
                const string fix = "add {\"type\": \"uts\"} to linux.namespaces, or remove it";
                if (!string.IsNullOrEmpty(hostname))
                    throw Error("hostname", $"needs a UTS namespace of the container's own, and it shares the host's: {fix}");
                if (!string.IsNullOrEmpty(domainname))
                    throw Error("domainname", $"needs a UTS namespace of the container's own, and it shares the host's: {fix}");
            }
            return (Hostname(hostname), string.IsNullOrEmpty(domainname) ? null : domainname);
        }

        /// <summary>runc's rule: only sysctls of a namespace the container has of its own.</summary>
        private IReadOnlyDictionary<string, string> Sysctl(Dictionary<string, string>? sysctl, NetworkMode network)
        {
            var result = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var (key, value) in sysctl ?? [])
            {
                string name = key.Replace('/', '.');
                string where = $"linux.sysctl.{key}";
                bool ipc = name is "kernel.msgmax" or "kernel.msgmnb" or "kernel.msgmni" or "kernel.sem" or "kernel.shmall"
                    or "kernel.shmmax" or "kernel.shmmni" or "kernel.shm_rmid_forced" || name.StartsWith("fs.mqueue.", StringComparison.Ordinal);
                bool uts = name is "kernel.hostname" or "kernel.domainname";
                // checked before the rest: each is refused only for what it is
                bool net = name.StartsWith("net.", StringComparison.Ordinal);
                if (net && network == NetworkMode.Host)
                    throw Error(where, "needs a network namespace of the container's own, and it shares the host's (add {\"type\": \"network\"} to linux.namespaces)");
                if (name == "kernel.hostname")
                    throw Error(where, "conflicts with the hostname field, which sets it: give the name as hostname");
                if (ipc && !_namespaces.Contains("ipc"))
                    throw Error(where, "needs an IPC namespace of the container's own, and it shares the host's (add {\"type\": \"ipc\"} to linux.namespaces)");
                if (uts && !_namespaces.Contains("uts"))
                    throw Error(where, "needs a UTS namespace of the container's own, and it shares the host's (add {\"type\": \"uts\"} to linux.namespaces)");
                if (!ipc && !uts && !net)
                    throw Error(where, "is not namespaced: setting it would change the host (only kernel.msg*, kernel.sem, kernel.shm*, fs.mqueue.*, kernel.hostname, kernel.domainname and net.* are)");
                if (name.Contains("..", StringComparison.Ordinal) || name.EndsWith('.'))
                    throw Error(where, "is not a sysctl name");
                result[key] = value;
            }
            return result;
        }
    }
}
