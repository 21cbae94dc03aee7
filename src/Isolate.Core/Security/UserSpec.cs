using System.Globalization;

namespace Isolate.Security;

/// <summary>Who the command runs as: numeric ids, decided before the child exists.</summary>
public sealed record ProcessUser(uint Uid, uint Gid, IReadOnlyList<uint> Groups, string Home)
{
    public static readonly ProcessUser Root = new(0, 0, [], "/root");
}

/// <summary>What every uid and gid a user gives must not be: 4294967295 is (uid_t)-1, which
/// setresuid, setresgid, chown and the tmpfs options read as "leave unchanged", so a process
/// asked to run as it keeps root (runc refuses it too). One check for every face's ids.</summary>
public static class Ids
{
    public const uint Unchanged = uint.MaxValue;

    /// <summary>The end of an error line: "{field}: " + <see cref="Refusal"/>.</summary>
    public const string Refusal = "4294967295 is (uid_t)-1, which the kernel reads as 'leave unchanged' (the process would stay root); give another id";

    public static bool Valid(uint id) => id != Unchanged;

    /// <summary>A decimal id below 4294967295 (tmpfs uid=/gid=, user strings).</summary>
    public static bool TryParse(string text, out uint id) =>
        uint.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out id) && Valid(id);
}

/// <summary>-u/--user and --group-add, resolved from the container's own /etc/passwd and
/// /etc/group - never the host's, never NSS (a static binary has no NSS, and the host's
/// names mean nothing inside). Numeric ids need no entry, as docker allows.</summary>
public static class UserResolver
{
    /// <param name="user">"UID", "UID:GID", "NAME", "NAME:GROUP" (null: root).</param>
    /// <param name="passwd">The container's /etc/passwd, or null if it has none.</param>
    /// <param name="group">The container's /etc/group, or null.</param>
    public static ProcessUser Resolve(string? user, IEnumerable<string> groupAdd, string? passwd, string? group)
    {
        var users = ParseTable(passwd);
        var groups = ParseTable(group);
        uint uid = 0, gid = 0;
        string home = "/root";
        string? userName = "root";
        string? groupPart = null;

        if (user != null)
        {
            int colon = user.IndexOf(':');
            string userPart = colon < 0 ? user : user[..colon];
            groupPart = colon < 0 ? null : user[(colon + 1)..];
            if (userPart.Length == 0 || (groupPart != null && groupPart.Length == 0))
                throw new IsolateException($"invalid --user '{user}': use UID[:GID] or NAME[:GROUP]");
            if (uint.TryParse(userPart, NumberStyles.None, CultureInfo.InvariantCulture, out uid))
            {
                // docker (runc): a UID without an entry runs with GID 0 and HOME /
                var entry = users.FirstOrDefault(e => e.Length >= 4 && e[2] == userPart);
                userName = entry?[0];
                gid = entry != null && uint.TryParse(entry[3], out uint primary) ? primary : 0;
                home = entry is { Length: >= 6 } && entry[5].Length > 0 ? entry[5] : "/";
            }
            else
            {
                var entry = users.FirstOrDefault(e => e[0] == userPart && e.Length >= 4)
                    ?? throw new IsolateException($"unknown user '{userPart}': it is not in the container's /etc/passwd; give a UID or add the user to the image");
                uid = ParseId(entry[2], $"user '{userPart}' in /etc/passwd");
                gid = ParseId(entry[3], $"user '{userPart}' in /etc/passwd");
                home = entry.Length >= 6 && entry[5].Length > 0 ? entry[5] : "/";
                userName = userPart;
            }
            if (groupPart != null)
                gid = GroupId(groupPart, groups);
        }

        // docker: the user's groups from /etc/group, then --group-add
        var supplementary = new List<uint>();
        if (userName != null)
        {
            foreach (var entry in groups.Where(e => e.Length >= 4 && e[3].Split(',').Contains(userName)))
            {
                if (uint.TryParse(entry[2], out uint id) && !supplementary.Contains(id))
                    supplementary.Add(id);
            }
        }
        foreach (string extra in groupAdd)
        {
            uint id = GroupId(extra, groups);
            if (!supplementary.Contains(id))
                supplementary.Add(id);
        }
        if (!Ids.Valid(uid))
            throw new IsolateException($"invalid --user '{user}': uid {Ids.Refusal}");
        if (!Ids.Valid(gid))
            throw new IsolateException($"invalid --user '{user}': gid {Ids.Refusal}");
        if (!supplementary.All(Ids.Valid))
            throw new IsolateException($"invalid --group-add (or a group in /etc/group that lists the user): gid {Ids.Refusal}");
        return new ProcessUser(uid, gid, supplementary, home);
    }

    private static uint GroupId(string nameOrId, List<string[]> groups)
    {
        if (uint.TryParse(nameOrId, NumberStyles.None, CultureInfo.InvariantCulture, out uint id))
            return id;
        var entry = groups.FirstOrDefault(e => e[0] == nameOrId && e.Length >= 3)
            ?? throw new IsolateException($"unknown group '{nameOrId}': it is not in the container's /etc/group; give a GID or add the group to the image");
        return ParseId(entry[2], $"group '{nameOrId}' in /etc/group");
    }

    private static uint ParseId(string field, string what) =>
        uint.TryParse(field, NumberStyles.None, CultureInfo.InvariantCulture, out uint id)
            ? id
            : throw new IsolateException($"{what} has a bad id '{field}'");

    private static List<string[]> ParseTable(string? text) =>
        (text ?? "").Split('\n')
            .Where(line => line.Length > 0 && !line.StartsWith('#'))
            .Select(line => line.Split(':'))
            .ToList();
}
