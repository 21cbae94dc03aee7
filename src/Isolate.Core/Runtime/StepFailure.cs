using Isolate.Interop;
using Isolate.Plan;

namespace Isolate.Runtime;

/// <summary>Turns the child's FAILED message {step, errno, detail} into the one-line
/// error and exit code. The child only sends numbers; the words come from the plan,
/// which C# still holds.</summary>
internal static class StepFailure
{
    private const int ENOENT = 2, ENOSYS = 38;

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
            case ShimStep.Loopback:
                return IsolateException.FromErrno("bring up the loopback device", "lo", errno);
            case ShimStep.Workdir:
                return (ShimWorkdirDetail)message.Detail switch
                {
                    ShimWorkdirDetail.Create => IsolateException.FromErrno("create working directory", plan.Workdir, errno),
                    ShimWorkdirDetail.OutsideRoot => new IsolateException(
                        $"chdir to working directory {plan.Workdir}: it leads outside the container's root; give a directory inside it"),
                    _ => IsolateException.FromErrno("chdir to working directory", plan.Workdir, errno),
                };
            case ShimStep.Setsid:
                return IsolateException.FromErrno("setsid", null, errno);
            case ShimStep.CloseFds:
                return IsolateException.FromErrno("close inherited file descriptors", null, errno);
            default:
                return IsolateException.FromErrno($"container setup (step {message.Step})", null, errno);
        }
    }

    private static IsolateException DescribeExec(string command, int errno, ShimExecDetail detail, string? searchPath)
    {
        if (errno != ENOENT)
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
        var error = op.Kind switch
        {
            MountKind.MakePrivate => IsolateException.FromErrno("make mounts private under", op.Target, errno),
            MountKind.Bind => IsolateException.FromErrno($"bind {op.Source} onto", op.Target, errno),
            MountKind.Filesystem => IsolateException.FromErrno($"mount {op.FsType} on", op.Target, errno),
            MountKind.ReadOnlyTree => IsolateException.FromErrno("make read-only", op.Target, errno),
            MountKind.Mkdir => IsolateException.FromErrno("create directory", op.Target, errno),
            MountKind.Mknod => IsolateException.FromErrno("create device", op.Target, errno),
            MountKind.Symlink => IsolateException.FromErrno("create symlink", op.Target, errno),
            MountKind.PivotRoot => IsolateException.FromErrno("pivot_root into", op.Target, errno),
            _ => IsolateException.FromErrno($"mount step {op.Kind}", op.Target, errno),
        };
        if (op.Kind == MountKind.ReadOnlyTree && errno == ENOSYS)
            return new IsolateException(error.Message + " (mount_setattr needs Linux 5.12 or later)");
        return error;
    }
}
