namespace Isolate.Tests.Support;

/// <summary>The one busybox root filesystem all container tests share: busybox-static
/// copied into bin/ with its applet links, empty proc, sys, dev, tmp, and an etc/
/// with root in passwd and group. Built once per test run, removed at the end.</summary>
public sealed class BusyboxRootfs : IDisposable
{
    private static readonly string[] BusyboxCandidates = ["/bin/busybox", "/usr/bin/busybox", "/usr/sbin/busybox"];

    public string Path { get; }

    public BusyboxRootfs()
    {
        string busybox = BusyboxCandidates.FirstOrDefault(File.Exists)
            ?? throw new InvalidOperationException("busybox not found: install it with 'apt-get install busybox-static'");
        if (Elf.IsDynamicallyLinked(busybox))
            throw new InvalidOperationException($"{busybox} is dynamically linked and cannot run in a bare rootfs: install 'busybox-static'");

        Path = Directory.CreateTempSubdirectory("isolate-test-rootfs-").FullName;
        File.SetUnixFileMode(Path, (UnixFileMode)0x1ED); // 0755, as a root filesystem's / is (temp dirs are 0700)
        foreach (string dir in new[] { "bin", "proc", "sys", "dev", "tmp", "etc", "root" })
            Directory.CreateDirectory(System.IO.Path.Combine(Path, dir));
        File.Copy(busybox, System.IO.Path.Combine(Path, "bin", "busybox"));
        foreach (string applet in Applets(busybox))
            File.CreateSymbolicLink(System.IO.Path.Combine(Path, "bin", applet), "busybox");
        File.WriteAllText(System.IO.Path.Combine(Path, "etc", "passwd"),
            "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:An app:/home/app:/bin/sh\n");
        File.WriteAllText(System.IO.Path.Combine(Path, "etc", "group"), "root:x:0:\napp:x:1000:\nstaff:x:50:app\nextra:x:60:\n");
        File.WriteAllText(System.IO.Path.Combine(Path, "etc", "not-executable"), "just text\n");

        // the escape probe (native/test/probe.c), and a setuid-root copy for no_new_privs
        string probe = System.IO.Path.Combine(IsolateBinary.RepoRoot, "build", "native", "probe");
        if (!File.Exists(probe))
            throw new InvalidOperationException($"{probe} is missing: it is built with the shim (cmake)");
        File.Copy(probe, System.IO.Path.Combine(Path, "bin", "probe"));
        File.Copy(probe, System.IO.Path.Combine(Path, "bin", "probe-suid"));
        File.SetUnixFileMode(System.IO.Path.Combine(Path, "bin", "probe-suid"), (UnixFileMode)0xDED); // 04755
    }

    private static IEnumerable<string> Applets(string busybox)
    {
        var info = new System.Diagnostics.ProcessStartInfo(busybox, "--list") { RedirectStandardOutput = true };
        using var process = System.Diagnostics.Process.Start(info)!;
        string list = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        // "busybox" itself must stay the binary, not become a link to itself
        return list.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(a => a != "busybox" && !a.Contains('/'));
    }

    public string HostPath(string inside) => System.IO.Path.Combine(Path, inside.TrimStart('/'));

    /// <summary>A fresh, disposable copy of this root (busybox hard-linked) for a test that
    /// crafts or changes its layout.</summary>
    public RootfsVariant CreateVariant() => new(Path);

    public void Dispose() => Directory.Delete(Path, recursive: true);
}

/// <summary>A throwaway busybox root; deleted on Dispose.</summary>
public sealed class RootfsVariant : IDisposable
{
    public string Path { get; }

    public RootfsVariant(string template)
    {
        Path = Directory.CreateTempSubdirectory("isolate-test-variant-").FullName;
        File.SetUnixFileMode(Path, (UnixFileMode)0x1ED);
        foreach (string dir in new[] { "bin", "etc", "root", "tmp" })
            Directory.CreateDirectory(System.IO.Path.Combine(Path, dir));
        string busybox = System.IO.Path.Combine(Path, "bin", "busybox");
        if (link(System.IO.Path.Combine(template, "bin", "busybox"), busybox) != 0)
            File.Copy(System.IO.Path.Combine(template, "bin", "busybox"), busybox);
        foreach (string applet in new[] { "sh", "ls", "cat", "echo", "touch", "mkdir", "readlink", "stat", "true", "mount", "grep", "test", "[", "id" })
            File.CreateSymbolicLink(System.IO.Path.Combine(Path, "bin", applet), "busybox");
        File.Copy(System.IO.Path.Combine(template, "etc", "passwd"), System.IO.Path.Combine(Path, "etc", "passwd"));
    }

    public string HostPath(string inside) => System.IO.Path.Combine(Path, inside.TrimStart('/'));

    public void Dispose() => Directory.Delete(Path, recursive: true);

    [System.Runtime.InteropServices.DllImport("libc", SetLastError = true)]
    private static extern int link(string from, string to);
}

public static class Elf
{
    /// <summary>True when the ELF file has a PT_INTERP program header (needs ld.so).</summary>
    public static bool IsDynamicallyLinked(string path)
    {
        using var reader = new BinaryReader(File.OpenRead(path));
        reader.BaseStream.Seek(0x20, SeekOrigin.Begin);
        long phoff = reader.ReadInt64();
        reader.BaseStream.Seek(0x36, SeekOrigin.Begin);
        int phentsize = reader.ReadUInt16();
        int phnum = reader.ReadUInt16();
        for (int i = 0; i < phnum; i++)
        {
            reader.BaseStream.Seek(phoff + (long)i * phentsize, SeekOrigin.Begin);
            if (reader.ReadUInt32() == 3 /* PT_INTERP */)
                return true;
        }
        return false;
    }
}

[CollectionDefinition(Name)]
public sealed class ContainerCollection : ICollectionFixture<BusyboxRootfs>
{
    /// <summary>Container tests run one at a time: each checks afterwards that no
    /// container process and no mount was left behind, which a test running beside
    /// it would blur.</summary>
    public const string Name = "containers";
}
