using Isolate.Interop;
using Isolate.Spec;

namespace Isolate.Launch;

/// <summary>Why the shim could not spawn a child, in words that say what to do.</summary>
public static class SpawnFailures
{
    /// <param name="joinPath">JoinNamespace: the namespace file it could not join.</param>
    internal static IsolateException Describe(ShimSpawnCall call, int errno, UserNamespaceSpec? userns, string? joinPath = null)
    {
        string operation = call switch
        {
            ShimSpawnCall.JoinNamespace => $"join the namespace {joinPath}",
            ShimSpawnCall.Socketpair => "create the sync socket",
            ShimSpawnCall.Stack => "allocate the child's stack",
            ShimSpawnCall.Config => "pass the configuration to the shim",
            _ => "create the container's namespaces",
        };
        var error = IsolateException.FromErrno(operation, null, errno);
        if (call != ShimSpawnCall.Clone || errno is not (Errno.EPERM or Errno.ENOSPC or Errno.EUSERS))
            return error;
        if (userns == null)
            return Libc.GetEffectiveUserId() != 0 ? new IsolateException(error.Message + ": isolate run needs root, or a user namespace") : error;
        return new IsolateException($"{error.Message}: {UserNamespaceBlocker(userns.Rootless, name => SmallFile.Read("/proc/sys/" + name.Replace('.', '/')))}");
    }

    /// <summary>Names the switch that keeps this host from creating user namespaces.</summary>
    public static string UserNamespaceBlocker(bool rootless, Func<string, string?> sysctl)
    {
        string? Read(string name) => sysctl(name)?.Trim();
        string who = rootless ? "a non-root user" : "anyone";
        if (Read("user.max_user_namespaces") == "0")
            return $"user namespaces are disabled on this host (sysctl user.max_user_namespaces = 0); enable them with: sysctl -w user.max_user_namespaces=15000";
        if (rootless && Read("kernel.unprivileged_userns_clone") == "0")
            return "unprivileged user namespaces are disabled on this host (sysctl kernel.unprivileged_userns_clone = 0); enable them with: sysctl -w kernel.unprivileged_userns_clone=1, or run isolate as root";
        if (rootless && Read("kernel.apparmor_restrict_unprivileged_userns") == "1")
            return "AppArmor keeps unprivileged users from creating user namespaces (sysctl kernel.apparmor_restrict_unprivileged_userns = 1); allow them with: sysctl -w kernel.apparmor_restrict_unprivileged_userns=0, or run isolate as root";
        return $"this host does not let {who} create a user namespace here (a seccomp filter, or a container Isolate runs in, may forbid it)" +
            (rootless ? "; run isolate as root" : "; drop --userns");
    }
}
