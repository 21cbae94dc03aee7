using System.Diagnostics;
using Isolate.Tests.Support;

namespace Isolate.Tests.Integration;

/// <summary>Isolate started from an initramfs, where pivot_root cannot work (EINVAL): a real
/// Linux kernel boots under qemu with an initramfs holding busybox, out/isolate and a busybox
/// rootfs, and its /init runs containers. Needs qemu-system-x86_64 and a kernel image in
/// /boot (Debian: qemu-system-x86, linux-image-amd64), which .ci/run installs.</summary>
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

    [InitramfsFact]
    public void Containers_start_from_an_initramfs_by_moving_the_root_instead_of_pivoting()
    {
        string work = Directory.CreateTempSubdirectory("isolate-test-initramfs-").FullName;
        try
        {
            string image = BuildInitramfs(work);
            string console = Boot(image);
            var lines = console.Split('\n').Select(l => l.Trim('\r', ' ')).ToList();
            var report = lines.Where(l => l.Contains("@@ ")).Select(l => l[(l.IndexOf("@@ ") + 3)..]).ToList();
            var isolate = lines.Where(l => l.StartsWith("isolate: ") && !l.Contains("mount plan")).ToList();

            Assert.True(report.Count == 7, "the VM did not run the whole /init:\n" + console);
            Assert.Equal("root / rootfs", report[0]); // Isolate itself runs on the initramfs
            Assert.Equal(
            [
                "inside pid 1 root /", "initramfs not visible", "exit 0", // the container ran, as PID 1, in its own root
                "host-root pid 1", "exit 1",       // the host-root default works there too, read-only
                "exit 125",                        // this kernel has overlay as a module, not loaded
            ], report.Skip(1));
            Assert.Contains("isolate: debug: pivot_root refused (Invalid argument): the current root is an initramfs or ramfs; " +
                "moved the container root onto / and chroot'ed into it instead, so the old root stays underneath", isolate);
            Assert.Contains(lines, l => l.Contains("/etc/x") && l.Contains("Read-only file system"));
            Assert.Contains("isolate: mount overlay on /rootfs: No such device (this kernel has no overlayfs; run with --no-overlay)", isolate);
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    private string BuildInitramfs(string work)
    {
        string root = Path.Combine(work, "root");
        foreach (string dir in new[] { "bin", "proc", "sys", "dev", "tmp", "etc", "rootfs" })
            Directory.CreateDirectory(Path.Combine(root, dir));
        File.Copy(Rootfs.HostPath("bin/busybox"), Path.Combine(root, "bin", "busybox"));
        foreach (string applet in new[] { "sh", "mount", "poweroff", "echo", "cat", "head", "cut", "ls", "touch" })
            File.CreateSymbolicLink(Path.Combine(root, "bin", applet), "busybox");
        File.WriteAllText(Path.Combine(root, "rootfs-marker"), "only on the initramfs\n");
        File.Copy(IsolateBinary.Path, Path.Combine(root, "isolate"));
        File.SetUnixFileMode(Path.Combine(root, "isolate"), (UnixFileMode)0x1ED);
        File.WriteAllText(Path.Combine(root, "init"), Init.Replace("\r", "") + "\n");
        File.SetUnixFileMode(Path.Combine(root, "init"), (UnixFileMode)0x1ED);
        Copy(Rootfs.Path, Path.Combine(root, "rootfs"));

        string image = Path.Combine(work, "initramfs.cpio.gz");
        var pack = IsolateBinary.RunFromShell($"cd '{root}' && find . | cpio -o -H newc 2>/dev/null | gzip -1 > '{image}'");
        Assert.True(pack.ExitCode == 0, "cpio: " + pack.Stderr);
        return image;
    }

    private static void Copy(string from, string to)
    {
        var result = IsolateBinary.RunFromShell($"cp -a '{from}/.' '{to}/'");
        Assert.True(result.ExitCode == 0, "cp: " + result.Stderr);
    }

    private static string Boot(string image)
    {
        var info = new ProcessStartInfo("qemu-system-x86_64")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
        };
        // TCG, no KVM: a boot takes seconds, and works where nested virtualisation does not.
        foreach (string arg in new[]
                 {
                     "-m", "512", "-kernel", InitramfsFactAttribute.Kernel()!, "-initrd", image, "-nographic", "-no-reboot",
                     "-append", "console=ttyS0 quiet panic=-1 rdinit=/init",
                 })
            info.ArgumentList.Add(arg);
        using var qemu = Process.Start(info)!;
        qemu.StandardInput.Close();
        var stdout = qemu.StandardOutput.ReadToEndAsync();
        var stderr = qemu.StandardError.ReadToEndAsync();
        if (!qemu.WaitForExit(TimeSpan.FromMinutes(4)))
        {
            qemu.Kill(entireProcessTree: true);
            Assert.Fail("the VM did not power off in 4 minutes:\n" + stdout.Result);
        }
        return stdout.Result + stderr.Result;
    }
}

/// <summary>Skipped, saying why, without root, qemu or a kernel image to boot.</summary>
public sealed class InitramfsFactAttribute : FactAttribute
{
    public InitramfsFactAttribute()
    {
        if (!Environment.IsPrivilegedProcess)
            Skip = "needs root: containers create namespaces and mounts";
        else if (!File.Exists("/usr/bin/qemu-system-x86_64"))
            Skip = "needs qemu-system-x86_64 (apt-get install qemu-system-x86) to boot a kernel with an initramfs";
        else if (Kernel() is null)
            Skip = "needs a kernel image in /boot (apt-get install linux-image-amd64) to boot with an initramfs";
    }

    public static string? Kernel() =>
        Directory.Exists("/boot") ? Directory.GetFiles("/boot", "vmlinuz-*").Order(StringComparer.Ordinal).LastOrDefault() : null;
}
