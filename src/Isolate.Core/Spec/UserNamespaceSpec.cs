using System.Globalization;

namespace Isolate.Spec;

/// <summary>One line of /proc/PID/uid_map or gid_map: ids ContainerId .. ContainerId+Count-1
/// inside are HostId .. HostId+Count-1 outside.</summary>
public readonly record struct IdMapping(uint ContainerId, uint HostId, uint Count)
{
    public bool Contains(uint containerId) => containerId >= ContainerId && containerId - ContainerId < Count;

    public override string ToString() => $"{ContainerId}:{HostId}:{Count}";
}

/// <summary>A user namespace for the container: root inside is an unprivileged id outside.</summary>
public sealed record UserNamespaceSpec
{
    public required IReadOnlyList<IdMapping> UidMap { get; init; }
    public required IReadOnlyList<IdMapping> GidMap { get; init; }

    /// <summary>Made for a non-root caller: the one id it owns, mapped to root; its setgroups
    /// file is "deny" (the kernel requires it), so supplementary groups cannot be set.</summary>
    public bool Rootless { get; init; }

    public bool MapsUid(uint uid) => UidMap.Any(m => m.Contains(uid));
    public bool MapsGid(uint gid) => GidMap.Any(m => m.Contains(gid));

    /// <summary>The text for /proc/PID/uid_map or gid_map.</summary>
    public static string MapText(IEnumerable<IdMapping> map) =>
        string.Concat(map.Select(m => $"{m.ContainerId} {m.HostId} {m.Count}\n"));

    public string Describe() => string.Join(",", UidMap) + (GidMap.SequenceEqual(UidMap) ? "" : $" (gids {string.Join(",", GidMap)})");
}

/// <summary>--userns=host|auto[:USER]|ID:HOSTID:COUNT[,...], and the map a non-root caller gets.</summary>
public static class UserNamespaceParser
{
    /// <summary>docker's and podman's size for one container: uids 0..65535.</summary>
    public const uint AutoSize = 65536;

    /// <summary>The user whose /etc/subuid and /etc/subgid ranges --userns=auto takes, as
    /// docker's userns-remap takes dockremap's.</summary>
    public const string DefaultAutoUser = "isolate";

    /// <param name="value">The option's value; null: not given.</param>
    /// <param name="euid">The caller's effective uid (0: root).</param>
    /// <param name="egid">The caller's effective gid.</param>
    /// <param name="readHostFile">Reads a host file (/etc/subuid, /etc/subgid; null if missing),
    /// called only for auto.</param>
    /// <returns>The namespace, or null for none (the host's).</returns>
    public static UserNamespaceSpec? Parse(string? value, uint euid, uint egid, Func<string, string?> readHostFile)
    {
        bool rootless = euid != 0;
        if (value is null)
            return rootless ? RootlessMap(euid, egid) : null;

        if (value == "host")
        {
            if (rootless)
                throw new IsolateException($"--userns=host needs root: run by a non-root user (uid {euid}), isolate needs a user namespace; drop --userns=host");
            return null;
        }

        if (value == "auto" || value.StartsWith("auto:", StringComparison.Ordinal))
        {
            string user = value == "auto" ? DefaultAutoUser : value["auto:".Length..];
            if (user.Length == 0)
                throw new IsolateException("invalid --userns 'auto:': name the user whose /etc/subuid range to use, as in auto:isolate");
            if (rootless)
                throw new IsolateException($"--userns={value} needs root: only root may map subordinate ids (a non-root user is mapped to root inside as it is)");
            var uid = AutoRange(readHostFile("/etc/subuid"), "/etc/subuid", user);
            var gid = AutoRange(readHostFile("/etc/subgid"), "/etc/subgid", user);
            return new UserNamespaceSpec { UidMap = [uid], GidMap = [gid] };
        }

        var map = ParseMappings(value);
        if (rootless)
        {
            if (map is not [{ ContainerId: 0, Count: 1 } only] || only.HostId != euid)
                throw new IsolateException($"--userns {value}: a non-root user may map only its own uid {euid}, to root (0:{euid}:1); mapping other host ids needs root");
            return RootlessMap(euid, egid);
        }
        return new UserNamespaceSpec { UidMap = map, GidMap = map };
    }

    private static UserNamespaceSpec RootlessMap(uint euid, uint egid) =>
        new() { UidMap = [new IdMapping(0, euid, 1)], GidMap = [new IdMapping(0, egid, 1)], Rootless = true };

    /// <summary>"ID:HOSTID:COUNT[,ID:HOSTID:COUNT...]", the same for uids and gids.</summary>
    public static IReadOnlyList<IdMapping> ParseMappings(string value)
    {
        const string Usage = "use host, auto[:USER] or ID:HOSTID:COUNT[,ID:HOSTID:COUNT...]";
        var mappings = new List<IdMapping>();
        foreach (string part in value.Split(','))
        {
            string[] fields = part.Split(':');
            if (fields.Length != 3 || !TryId(fields[0], out uint inside) || !TryId(fields[1], out uint outside) || !TryId(fields[2], out uint count))
                throw new IsolateException($"invalid --userns '{value}': {Usage}");
            if (count == 0 || (ulong)inside + count > uint.MaxValue || (ulong)outside + count > uint.MaxValue)
                throw new IsolateException($"invalid --userns '{value}': {part} is an empty range or runs past 4294967294");
            var mapping = new IdMapping(inside, outside, count);
            var clash = mappings.FirstOrDefault(m => Overlaps(m.ContainerId, m.Count, inside, count) || Overlaps(m.HostId, m.Count, outside, count));
            if (clash.Count != 0)
                throw new IsolateException($"invalid --userns '{value}': {clash} and {part} overlap");
            mappings.Add(mapping);
        }
        if (mappings.Count > 340)
            throw new IsolateException($"invalid --userns: {mappings.Count} ranges; the kernel takes at most 340");
        if (!mappings.Any(m => m.Contains(0)))
            throw new IsolateException($"invalid --userns '{value}': container id 0 must be mapped (the container starts as root), as in 0:100000:65536");
        return mappings;
    }

    /// <summary>The first <see cref="AutoSize"/> ids of the user's first range in a subordinate-id
    /// file ("name:start:count" lines; the name may be a uid).</summary>
    public static IdMapping AutoRange(string? file, string fileName, string user)
    {
        foreach (string line in (file ?? "").Split('\n'))
        {
            string[] fields = line.Trim().Split(':');
            if (fields.Length == 3 && fields[0] == user && TryId(fields[1], out uint start) && TryId(fields[2], out uint count) && count > 0)
                return new IdMapping(0, start, Math.Min(count, AutoSize));
        }
        throw new IsolateException($"--userns=auto: {fileName} has no range for user '{user}': add one (usermod --add-subuids 100000-165535 --add-subgids 100000-165535 {user}), or give the map: --userns 0:100000:65536");
    }

    private static bool Overlaps(uint a, uint aCount, uint b, uint bCount) => (ulong)a < (ulong)b + bCount && (ulong)b < (ulong)a + aCount;

    private static bool TryId(string text, out uint id) =>
        uint.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out id) && id != uint.MaxValue;
}
