using Isolate.Interop;
using Isolate.Plan;
using Isolate.Runtime;

namespace Isolate.Tests.Unit;

/// <summary>The child's {step, errno, index} becomes one line naming step and path.</summary>
public sealed class StepFailureTests
{
    private static readonly SpawnPlan Plan = new()
    {
        Namespaces = CloneFlags.NewNs,
        Hostname = "box",
        Mounts =
        [
            MountOp.MakePrivate("/"), MountOp.Filesystem("proc", "/proc", MountFlags.NoSuid, null, MountOptions.InRoot | MountOptions.NoSymlinks),
            MountOp.PivotRoot(), MountOp.Filesystem("overlay", "/srv/root", MountFlags.None, "lowerdir=/srv/root"),
            MountOp.Bind("/host", "/data", true, MountOptions.InRoot | MountOptions.CreateDir),
        ],
        Workdir = "/app",
        Args = ["server", "--port", "80"],
        Env = [],
        SearchPath = "/bin",
    };

    private static IsolateException Describe(ShimStep step, int errno, int detail = -1) =>
        StepFailure.Describe(new ShimMessage { Type = 2, Step = (uint)step, Err = errno, Detail = detail }, Plan);

    [Fact]
    public void A_mount_failure_names_the_operation_and_target()
    {
        Assert.Equal("mount proc on /proc: Permission denied", Describe(ShimStep.MountOp, 13, 1).Message);
        Assert.Equal("pivot_root into the container root: Invalid argument", Describe(ShimStep.MountOp, 22, 2).Message);
        Assert.Equal(125, Describe(ShimStep.MountOp, 22, 2).ExitCode);
    }

    [Fact]
    public void Crafted_roots_and_missing_features_get_a_hint()
    {
        Assert.Equal("mount proc on /proc: Too many levels of symbolic links (the rootfs has a symlink there; proc is mounted only on a real directory)",
            Describe(ShimStep.MountOp, 40, 1).Message);
        Assert.Equal("bind /host onto /data: Invalid cross-device link (it resolves outside the container's root)",
            Describe(ShimStep.MountOp, 18, 4).Message);
        Assert.Equal("mount overlay on /srv/root: No such device (this kernel has no overlayfs; run with --no-overlay)",
            Describe(ShimStep.MountOp, 19, 3).Message);
    }

    [Fact]
    public void Exec_failures_map_to_127_and_126()
    {
        var notFound = Describe(ShimStep.Exec, 2, (int)ShimExecDetail.NotFound);
        var noInterpreter = Describe(ShimStep.Exec, 2, (int)ShimExecDetail.Found);
        var denied = Describe(ShimStep.Exec, 13);
        var format = Describe(ShimStep.Exec, 8);

        Assert.Equal(("exec server: executable file not found in PATH (/bin)", 127), (notFound.Message, notFound.ExitCode));
        Assert.Equal(("exec server: No such file or directory (the file exists: its interpreter or dynamic loader is missing in the container)", 127),
            (noInterpreter.Message, noInterpreter.ExitCode));
        Assert.Equal(("exec server: Permission denied", 126), (denied.Message, denied.ExitCode));
        Assert.Equal(("exec server: Exec format error", 126), (format.Message, format.ExitCode));
    }

    [Fact]
    public void Other_steps_name_what_they_were_doing()
    {
        Assert.Equal("chdir to working directory /app: Not a directory", Describe(ShimStep.Workdir, 20, (int)ShimWorkdirDetail.Enter).Message);
        Assert.Equal("create working directory /app: Read-only file system", Describe(ShimStep.Workdir, 30, (int)ShimWorkdirDetail.Create).Message);
        Assert.Equal("chdir to working directory /app: it leads outside the container's root; give a directory inside it",
            Describe(ShimStep.Workdir, 1, (int)ShimWorkdirDetail.OutsideRoot).Message);
        Assert.Equal("sethostname box: Operation not permitted", Describe(ShimStep.Hostname, 1).Message);
    }
}
