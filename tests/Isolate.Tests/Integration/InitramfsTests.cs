using Isolate.Tests.Support;

namespace Isolate.Tests.Integration;

/// <summary>Isolate started from an initramfs, where pivot_root cannot work (EINVAL): a real
/// Linux kernel boots under qemu (Support/QemuVm) and its /init runs containers. Needs
/// qemu-system-x86_64 and a kernel image in /boot, which .ci/run installs.</summary>
public sealed class InitramfsTests(BusyboxRootfs rootfs) : ContainerTest(rootfs)
{
    private const string Init = """
        #!/bin/sh
        mount -t proc proc /proc
        mount -t devtmpfs dev /dev
        mount -t sysfs sys /sys
        echo "@@ root $(head -1 /proc/self/mountinfo | cut -d' ' -f5,9)"
        /isolate run --debug --rootfs /rootfs --no-overlay -- sh -c 'echo "@@ inside pid $$ root $(head -1 /proc/self/mountinfo | cut -d" " -f5)"; [ -e /rootfs-marker ] || echo "@@ initramfs not visible"'
        echo "@@ exit $?"
        /isolate run -- sh -c 'echo "@@ host-root pid $$"; touch /etc/x'
        echo "@@ exit $?"
        /isolate run --rootfs /rootfs -- true
        echo "@@ exit $?"
        poweroff -f
        """;

    [VmFact]
    public void Containers_start_from_an_initramfs_by_moving_the_root_instead_of_pivoting()
    {
        var boot = QemuVm.Run(Rootfs, Init);
        var isolate = boot.Lines.Where(l => l.StartsWith("isolate: ") && !l.Contains("mount plan")).ToList();

        Assert.True(boot.Report.Count == 7, "the VM did not run the whole /init:\n" + boot.Console);
        Assert.Equal("root / rootfs", boot.Report[0]); // Isolate itself runs on the initramfs
        Assert.Equal(
        [
            "inside pid 1 root /", "initramfs not visible", "exit 0", // the container ran, as PID 1, in its own root
            "host-root pid 1", "exit 1",       // the host-root default works there too, read-only
            "exit 125",                        // this kernel has overlay as a module, not loaded
        ], boot.Report.Skip(1));
        Assert.Contains("isolate: debug: pivot_root refused (Invalid argument): the current root is an initramfs or ramfs; " +
            "moved the container root onto / and chroot'ed into it instead, so the old root stays underneath", isolate);
        Assert.Contains(boot.Lines, l => l.Contains("/etc/x") && l.Contains("Read-only file system"));
        Assert.Contains("isolate: mount overlay on /rootfs: No such device (this kernel has no overlayfs; run with --no-overlay)", isolate);
    }
}
