using Isolate.Interop;
using Isolate.Plan;
using Isolate.Rootfs;
using Isolate.Security;
using Isolate.Spec;

namespace Isolate.Docker;

/// <summary>`run`'s confinement options (--user, --cap-add/--cap-drop, --security-opt,
/// --privileged, --preserve-fds) to a process's security.</summary>
public static class RunSecurity
{
    /// <param name="lowers">An image's layers below <paramref name="root"/>, where /etc/passwd may be.</param>
    /// <param name="imageUser">The image's User, where -u is not given.</param>
    public static ProcessSecurity From(IRunArguments options, string root, UserNamespaceSpec? userns, IReadOnlyList<string>? lowers = null, string? imageUser = null)
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
        string? userText = options.User ?? imageUser;
        var user = userText is null && !(options.GroupAdd ?? []).Any()
            ? ProcessUser.Root with { Home = RootHome(root, lowers ?? []) }
            : UserResolver.Resolve(userText, options.GroupAdd ?? [], ContainerFiles.ReadText(root, lowers ?? [], "/etc/passwd"), ContainerFiles.ReadText(root, lowers ?? [], "/etc/group"));
        if (userns != null)
            user = CheckMapped(user, userns, options);
        uint preserveFds = ProcessOptionParser.ParsePreserveFds(options.PreserveFds);
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
    private static ProcessUser CheckMapped(ProcessUser user, UserNamespaceSpec userns, IRunArguments options)
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

    internal static string? ReadHostFile(string path)
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

    private static string ReadProfile(string path) =>
        System.Text.Encoding.UTF8.GetString(SmallFile.ReadUserFile("seccomp profile", path));

    /// <summary>root's home from the container's /etc/passwd (/root when it has no entry).</summary>
    private static string RootHome(string root, IReadOnlyList<string> lowers) =>
        (ContainerFiles.ReadText(root, lowers, "/etc/passwd") ?? "").Split('\n').Select(l => l.Split(':'))
            .FirstOrDefault(f => f.Length >= 6 && f[2] == "0" && f[5].Length > 0)?[5] ?? "/root";
}
