using Isolate.Interop;
using Isolate.Plan;

namespace Isolate.Runtime;

/// <summary>Turns the child's FAILED message {step, errno, detail} into the one-line
/// error and exit code. The child only sends numbers; the words come from the plan,
/// which C# still holds.</summary>
internal static class StepFailure
{
    public static IsolateException Describe(ShimMessage message, SpawnPlan plan)
    {
        int errno = message.Err;
        switch ((ShimStep)message.Step)
        {
            case ShimStep.Exec:
                return DescribeExec(plan.Args[0], errno, (ShimExecDetail)message.Detail, plan.SearchPath);
            case ShimStep.MountOp when message.Detail >= 0 && message.Detail < plan.Mounts.Count:
                return DescribeMount(plan.Mounts[message.Detail], errno);
            case ShimStep.Hostname:
                return IsolateException.FromErrno("sethostname", plan.Hostname, errno);
            case ShimStep.Domainname:
                return IsolateException.FromErrno("setdomainname", plan.Domainname, errno);
            case ShimStep.IoPriority:
                return IsolateException.FromErrno($"ioprio_set (class {plan.IoPriority >> 13}, level {plan.IoPriority & 7})", null, errno);
            case ShimStep.Scheduler:
                return IsolateException.FromErrno($"sched_setattr (policy {plan.Scheduler?.Policy})", null, errno);
            case ShimStep.Loopback:
                return IsolateException.FromErrno("bring up the loopback device", "lo", errno);
            case ShimStep.Workdir:
                return (ShimWorkdirDetail)message.Detail switch
                {
                    ShimWorkdirDetail.Create => IsolateException.FromErrno("create working directory", plan.Workdir, errno),
                    ShimWorkdirDetail.OutsideRoot => new IsolateException(
                        $"chdir to working directory {plan.Workdir}: it leads outside the container's root; give a directory inside it"),
                    // exec: the command cannot run where it was asked to (docker's 126), and
                    // the directory is not made for it (runc)
                    _ when plan.ExecInto && errno == Errno.ENOENT => new IsolateException(
                        $"exec: working directory {plan.Workdir} does not exist in the container; give an existing one (--cwd)", ExitCodes.CannotExecute),
                    _ when plan.ExecInto => IsolateException.FromErrno("chdir to working directory", plan.Workdir, errno, ExitCodes.CannotExecute),
                    _ => IsolateException.FromErrno("chdir to working directory", plan.Workdir, errno),
                };
            case ShimStep.Setsid:
                return IsolateException.FromErrno("setsid", null, errno);
            case ShimStep.CloseFds:
                return IsolateException.FromErrno("close inherited file descriptors", null, errno);
            case ShimStep.Capabilities:
                return IsolateException.FromErrno((ShimCapabilitiesDetail)message.Detail switch
                {
                    ShimCapabilitiesDetail.Bounding => "drop capabilities from the bounding set",
                    ShimCapabilitiesDetail.Ambient => "clear the ambient capabilities",
                    _ => "set the capabilities",
                }, null, errno);
            case ShimStep.User:
                var user = plan.Security.User;
                return IsolateException.FromErrno((ShimUserDetail)message.Detail switch
                {
                    ShimUserDetail.Groups => $"set the supplementary groups ({string.Join(",", user.Groups)})",
                    ShimUserDetail.Gid => $"set the group id {user.Gid}",
                    _ => $"set the user id {user.Uid}",
                }, null, errno);
            case ShimStep.NoNewPrivileges:
                return IsolateException.FromErrno("set no_new_privs", null, errno);
            case ShimStep.Seccomp:
                return IsolateException.FromErrno($"install the seccomp filter ({plan.Security.Seccomp.Count} instructions)", null, errno);
            case ShimStep.CgroupNamespace:
                return IsolateException.FromErrno("create the cgroup namespace", null, errno);
            case ShimStep.Stdio:
                string name = message.Detail switch { 0 => "stdin", 1 => "stdout", _ => "stderr" };
                return new IsolateException(
                    $"{name} is a directory (or an O_PATH descriptor): it would give the container a way out of its root; redirect it from a file or a pipe");
            case ShimStep.UserNamespace:
                return IsolateException.FromErrno("become root of the user namespace", null, errno);
            case ShimStep.Rlimit when message.Detail >= 0 && message.Detail < plan.Rlimits.Count:
                var limit = plan.Rlimits[message.Detail];
                return IsolateException.FromErrno(limit.Describe(), null, errno).WithHint(errno == Errno.EPERM
                    ? "raising a hard limit needs CAP_SYS_RESOURCE, which Isolate does not hold here; stay at or below the current hard limit (ulimit -H)"
                        + (limit.Origin != null && limit.Resource == 7 ? "; podman asks for RLIMIT_NOFILE 1048576 unless given --ulimit nofile=N:N or default_ulimits in containers.conf" : "")
                    : null);
            case ShimStep.Tty:
                return IsolateException.FromErrno((ShimTtyDetail)message.Detail switch
                {
                    ShimTtyDetail.OpenMaster => "-t: open the container's /dev/ptmx",
                    ShimTtyDetail.OpenSlave => "-t: open the container's terminal",
                    ShimTtyDetail.Controlling => "-t: make the terminal the container's controlling terminal",
                    ShimTtyDetail.Stdio => "-t: make the terminal the container's stdio",
                    _ => "-t: pass the terminal to isolate",
                }, null, errno);
            case ShimStep.Init:
                return IsolateException.FromErrno("--init: start the command", null, errno);
            case ShimStep.JoinNamespace when message.Detail >= 0 && message.Detail < plan.JoinNamespaces.Count:
                return IsolateException.FromErrno($"join the namespace {plan.JoinNamespaces[message.Detail].Path}", null, errno);
            case ShimStep.Sysctl when message.Detail >= 0 && message.Detail < plan.Sysctls.Count:
                return IsolateException.FromErrno($"set the sysctl {plan.Sysctls[message.Detail].Path}", null, errno);
            case ShimStep.ExecInto:
                return IsolateException.FromErrno("exec: start the command in the container's PID namespace", null, errno);
            case ShimStep.ExecFifo:
                return IsolateException.FromErrno("open the exec FIFO", null, errno);
            default:
                return IsolateException.FromErrno($"container setup (step {message.Step})", null, errno);
        }
    }

    private static IsolateException DescribeExec(string command, int errno, ShimExecDetail detail, string? searchPath)
    {
        if (errno != Errno.ENOENT)
            return IsolateException.FromErrno("exec", command, errno, ExitCodes.CannotExecute);
        if (detail == ShimExecDetail.Found)
            return new IsolateException(
                $"exec {command}: {IsolateException.Describe(errno)} (the file exists: its interpreter or dynamic loader is missing in the container)",
                ExitCodes.NotFound);
        return command.Contains('/')
            ? IsolateException.FromErrno("exec", command, errno, ExitCodes.NotFound)
            : new IsolateException($"exec {command}: executable file not found in PATH ({searchPath ?? EnvironmentBuilder.DefaultPath})", ExitCodes.NotFound);
    }

    private static IsolateException DescribeMount(MountOp op, int errno)
    {
        string target = op.Target;
        string what = op.Kind switch
        {
            MountKind.MakePrivate => "make mounts private under",
            MountKind.Bind => $"bind {op.Source} onto",
            MountKind.Filesystem when op.Options.HasFlag(MountOptions.CopyUp) => $"mount {op.FsType} (tmpcopyup: copying what was there) on",
            MountKind.Filesystem => $"mount {op.FsType} on",
            MountKind.ReadOnly => "make read-only",
            MountKind.Mkdir => "create directory",
            MountKind.Mknod => "create device",
            MountKind.Symlink => "create symlink",
            MountKind.PivotRoot => "pivot_root into the container root",
            MountKind.OpenRoot => "open the container root",
            MountKind.Mask => "mask",
            MountKind.ReadOnlyPath => "make read-only",
            MountKind.Capture => "take the volume source",
            MountKind.Remount => $"remount with {op.Flags}",
            MountKind.Propagation => $"make {op.Flags} the propagation of",
            MountKind.WriteFile => "write the file",
            _ => $"mount step {op.Kind}",
        };
        string subject = op.Kind == MountKind.PivotRoot ? what : $"{what} {target}";
        if (op.Kind == MountKind.ReadOnly && op.Options.HasFlag(MountOptions.Recursive))
            subject = "make the host's filesystem read-only"; // the staged host root: its path means nothing to the user
        string reason = IsolateException.Describe(errno);
        string? hint = (op.Kind, errno) switch
        {
            (MountKind.Filesystem, Errno.ELOOP) when op.Options.HasFlag(MountOptions.CopyUp) =>
                "the directory is nested deeper than 32 levels, which tmpcopyup does not copy; remove tmpcopyup or flatten the directory",
            (MountKind.Filesystem, Errno.ENOSPC) when op.Options.HasFlag(MountOptions.CopyUp) =>
                "what the directory holds does not fit in the tmpfs; give a larger size= or remove tmpcopyup",
            (_, Errno.ELOOP) when op.Options.HasFlag(MountOptions.NoSymlinks) =>
                $"the rootfs has a symlink there; {op.FsType} is mounted only on a real directory",
            (_, Errno.EXDEV) when op.InRoot => "it resolves outside the container's root",
            (_, Errno.EBUSY) when op.InRoot => "it resolves to the container's / itself",
            (MountKind.ReadOnly, Errno.ENOSYS) => "mount_setattr needs Linux 5.12 or later; on this kernel give a root with --rootfs DIR",
            (MountKind.Filesystem, Errno.ENODEV) when op.FsType == "overlay" => "this kernel has no overlayfs; run with --no-overlay",
            (MountKind.Filesystem, Errno.EINVAL) when op.FsType == "overlay" =>
                "overlayfs refused these layers (is the rootfs or --keep-changes on an overlay or a filesystem without xattrs?); try --no-overlay",
            _ => null,
        };
        return new IsolateException(hint is null ? $"{subject}: {reason}" : $"{subject}: {reason} ({hint})");
    }

    /// <summary>One --debug line for a NOTE from the child.</summary>
    public static string DescribeNote(ShimMessage note, SpawnPlan plan) => (ShimNote)note.Step switch
    {
        ShimNote.NoPivot =>
            "pivot_root refused (" + IsolateException.Describe(note.Err) + "): the current root is an initramfs or ramfs; " +
            "moved the container root onto / and chroot'ed into it instead, so the old root stays underneath",
        ShimNote.ExecPid => $"exec: the command is PID {note.Detail}",
        _ => $"note {note.Step} (errno {note.Err}, detail {note.Detail})",
    };
}
