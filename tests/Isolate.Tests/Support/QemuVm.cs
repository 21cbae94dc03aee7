using System.Diagnostics;

namespace Isolate.Tests.Support;

/// <summary>Boots a real Linux kernel under qemu (TCG: seconds, and no nested virtualisation
/// needed) with an initramfs holding busybox, out/isolate, a busybox rootfs at /rootfs and
/// the given /init, and returns the lines /init reported with "@@ ", plus the console.</summary>
public static class QemuVm
{
    public static string? Kernel() =>
        Directory.Exists("/boot") ? Directory.GetFiles("/boot", "vmlinuz-*").Order(StringComparer.Ordinal).LastOrDefault() : null;

    /// <summary>Why a VM test cannot run here, or null.</summary>
    public static string? MissingPrerequisite() =>
        !Environment.IsPrivilegedProcess ? "needs root: containers create namespaces and mounts"
        : !File.Exists("/usr/bin/qemu-system-x86_64") ? "needs qemu-system-x86_64 (apt-get install qemu-system-x86) to boot a kernel with an initramfs"
        : Kernel() is null ? "needs a kernel image in /boot (apt-get install linux-image-amd64) to boot with an initramfs"
        : null;

    /// <summary>An /init that mounts /proc, /dev, /sys and only the unified cgroup hierarchy at
    /// /sys/fs/cgroup (a pure cgroup v2 host), runs the given lines, and powers the VM off.</summary>
    public static string OnUnifiedHierarchy(string lines) => $"""
        #!/bin/sh
        mount -t proc proc /proc
        mount -t devtmpfs dev /dev
        mount -t sysfs sys /sys
        mount -t cgroup2 none /sys/fs/cgroup
        {lines.TrimEnd('\n')}
        poweroff -f

        """;

    public sealed record Boot(List<string> Report, List<string> Lines, string Console);

    /// <param name="files">Host files copied into the VM's initramfs: (host path, path there).</param>
    public static Boot Run(BusyboxRootfs rootfs, string init, IEnumerable<(string Source, string Target)>? files = null)
    {
        string work = Directory.CreateTempSubdirectory("isolate-test-vm-").FullName;
        try
        {
            string image = BuildInitramfs(work, rootfs, init, files ?? []);
            string console = RunQemu(image);
            var lines = console.Split('\n').Select(l => l.Trim('\r', ' ')).ToList();
            var report = lines.Where(l => l.Contains("@@ ")).Select(l => l[(l.IndexOf("@@ ", StringComparison.Ordinal) + 3)..]).ToList();
            return new Boot(report, lines, console);
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    private static string BuildInitramfs(string work, BusyboxRootfs rootfs, string init, IEnumerable<(string Source, string Target)> files)
    {
        string root = Path.Combine(work, "root");
        foreach (string dir in new[] { "bin", "proc", "sys", "dev", "tmp", "etc", "rootfs" })
            Directory.CreateDirectory(Path.Combine(root, dir));
        File.Copy(rootfs.HostPath("bin/busybox"), Path.Combine(root, "bin", "busybox"));
        foreach (string applet in new[] { "sh", "mount", "poweroff", "echo", "cat", "head", "cut", "ls", "touch", "tail", "grep", "wc" })
            File.CreateSymbolicLink(Path.Combine(root, "bin", applet), "busybox");
        File.WriteAllText(Path.Combine(root, "rootfs-marker"), "only on the initramfs\n");
        File.Copy(IsolateBinary.Path, Path.Combine(root, "isolate"));
        File.SetUnixFileMode(Path.Combine(root, "isolate"), (UnixFileMode)0x1ED);
        File.WriteAllText(Path.Combine(root, "init"), init.Replace("\r", "") + "\n");
        File.SetUnixFileMode(Path.Combine(root, "init"), (UnixFileMode)0x1ED);
        Shell($"cp -a '{rootfs.Path}/.' '{root}/rootfs/'");
        foreach (var (source, target) in files)
        {
            string at = Path.Combine(root, target.TrimStart('/'));
            Directory.CreateDirectory(Path.GetDirectoryName(at)!);
            File.Copy(source, at);
        }

        string image = Path.Combine(work, "initramfs.cpio.gz");
        Shell($"cd '{root}' && find . | cpio -o -H newc 2>/dev/null | gzip -1 > '{image}'");
        return image;
    }

    private static void Shell(string script)
    {
        var result = IsolateBinary.RunFromShell(script);
        Assert.True(result.ExitCode == 0, $"{script}: {result.Stderr}");
    }

    private static string RunQemu(string image)
    {
        var info = new ProcessStartInfo("qemu-system-x86_64")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
        };
        foreach (string arg in new[]
                 {
                     "-m", "512", "-smp", "2", "-kernel", Kernel()!, "-initrd", image, "-nographic", "-no-reboot",
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
public sealed class VmFactAttribute : FactAttribute
{
    public VmFactAttribute()
    {
        if (QemuVm.MissingPrerequisite() is { } why)
            Skip = why;
    }
}
