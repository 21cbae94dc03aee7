using System.Security.Cryptography;
using System.Text;
using Isolate.Tests.Support;

namespace Isolate.Tests.Integration;

/// <summary>A --rootfs is copy-on-write by default: the container writes, the directory on
/// disk stays byte-for-byte as it was, and no layer is left anywhere afterwards.</summary>
public sealed class CopyOnWriteTests(BusyboxRootfs rootfs) : ContainerTest(rootfs)
{
    private const string Vandalism =
        "rm /bin/ls && echo changed > /etc/passwd && echo new > /bin/newfile && rm -r /root && mkdir /etc/new.d " +
        "&& chmod 700 /etc && ln -sf /nowhere /bin/true && { [ -e /bin/ls ] || echo gone; } && cat /etc/passwd";

    [ContainerTheory]
    [InlineData("--overlay")]
    [InlineData("--hostname")] // (an unrelated option: copy-on-write is the default)
    public void The_container_rewrites_bin_and_etc_and_the_rootfs_on_disk_hashes_as_before(string option)
    {
        string before = TreeHash(Rootfs.Path);
        string[] args = option == "--overlay" ? ["--overlay"] : ["--hostname", "cow"];

        var result = Sh(Vandalism, args);

        Assert.Equal(0, result.ExitCode);
        Assert.Equal("gone\nchanged\n", result.Stdout); // the writes happened, inside
        Assert.Equal(before, TreeHash(Rootfs.Path));
    }

    [ContainerFact]
    public void Keep_changes_keeps_the_layer_for_the_next_run_and_still_not_the_rootfs()
    {
        string before = TreeHash(Rootfs.Path);
        string layer = Path.Combine(Path.GetTempPath(), "isolate-test-layer-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            var first = Sh("echo kept > /etc/motd", "--keep-changes", layer); // created 0700 by isolate
            var second = RunIn(["--keep-changes", layer], "cat", "/etc/motd");

            Assert.Equal(0, first.ExitCode);
            Assert.Equal("kept\n", second.Stdout);
            Assert.Equal("kept\n", File.ReadAllText(Path.Combine(layer, "upper", "etc", "motd")));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(layer));
            Assert.Equal(before, TreeHash(Rootfs.Path));
        }
        finally
        {
            Directory.Delete(layer, recursive: true);
        }
    }

    [ContainerFact]
    public void Keep_changes_refuses_a_directory_others_can_reach_or_a_layer_that_is_a_link()
    {
        string open = Directory.CreateTempSubdirectory("isolate-test-layer-").FullName;
        string swapped = Directory.CreateTempSubdirectory("isolate-test-layer-").FullName;
        string elsewhere = Directory.CreateTempSubdirectory("isolate-test-elsewhere-").FullName;
        try
        {
            File.SetUnixFileMode(open, (UnixFileMode)0x1ED); // 0755
            File.SetUnixFileMode(swapped, (UnixFileMode)0x1C0); // 0700
            File.CreateSymbolicLink(Path.Combine(swapped, "upper"), elsewhere);

            var lax = RunIn(["--keep-changes", open], "true");
            var linked = Sh("echo x > /planted", "--keep-changes", swapped);

            Assert.Equal((125, $"isolate: --keep-changes {open}: it is open to other users (mode 755); make it root's alone: chmod 700 {open}\n"),
                (lax.ExitCode, lax.Stderr));
            Assert.Equal((125, $"isolate: --keep-changes {swapped}: upper is not a plain directory; remove it or choose another DIR\n"),
                (linked.ExitCode, linked.Stderr));
            Assert.Empty(Directory.EnumerateFileSystemEntries(elsewhere));
        }
        finally
        {
            Directory.Delete(open, recursive: true);
            Directory.Delete(swapped, recursive: true);
            Directory.Delete(elsewhere, recursive: true);
        }
    }

    [ContainerFact]
    public void A_killed_container_leaves_no_layer_and_no_mount()
    {
        string before = TreeHash(Rootfs.Path);
        using (var isolate = IsolateBinary.Start(["run", "--rootfs", Rootfs.Path, "--", "sh", "-c", "echo junk > /etc/junk; echo ready; exec sleep 100"]))
        {
            Assert.Equal(0, kill(isolate.Pid, 9));
            isolate.WaitForExit();
        }
        Assert.Equal(before, TreeHash(Rootfs.Path));
        // the base class checks the host's mounts and that no upper/work directory appeared
    }

    /// <summary>A container may nest directories as deep as it likes; its layer still goes
    /// (rm -r in the shim holds a bounded number of directories open and moves deeper ones up).</summary>
    [ContainerFact]
    public void A_layer_with_directories_nested_hundreds_deep_is_removed()
    {
        string root = Directory.CreateTempSubdirectory("isolate-test-deep-").FullName;
        try
        {
            var run = IsolateBinary.Run("--root", root, "run", "--rootfs", Rootfs.Path, "--", "sh", "-c",
                "mkdir -p /deep/$(i=0; while [ $i -lt 300 ]; do printf d/; i=$((i+1)); done) && mkdir -p /etc/$(i=0; while [ $i -lt 70 ]; do printf e/; i=$((i+1)); done) && echo made");

            Assert.Equal((0, "made\n", ""), (run.ExitCode, run.Stdout, run.Stderr));
            Assert.False(Directory.Exists(Path.Combine(root, ".layers")), "the layer root is gone with the only layer");
            Assert.Empty(Directory.EnumerateFileSystemEntries(root));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [ContainerFact]
    public void Overlay_options_need_a_rootfs_and_do_not_contradict()
    {
        var hostRoot = IsolateBinary.Run("run", "--overlay", "--", "true");
        var both = RunIn(["--no-overlay", "--keep-changes", "/tmp/x"], "true");

        Assert.Equal((125, "isolate: --overlay, --no-overlay and --keep-changes need --rootfs: the host's own root is read-only already\n"),
            (hostRoot.ExitCode, hostRoot.Stderr));
        Assert.Equal((125, "isolate: --no-overlay contradicts --overlay and --keep-changes: choose one\n"), (both.ExitCode, both.Stderr));
    }

    /// <summary>Every path under root with its type, mode, link target and content.</summary>
    public static string TreeHash(string root)
    {
        var text = new StringBuilder();
        foreach (var entry in new DirectoryInfo(root).EnumerateFileSystemInfos("*", new EnumerationOptions
                 {
                     RecurseSubdirectories = true, AttributesToSkip = 0, IgnoreInaccessible = false,
                 }).OrderBy(e => e.FullName, StringComparer.Ordinal))
        {
            text.Append(Path.GetRelativePath(root, entry.FullName)).Append('|').Append((int)entry.UnixFileMode).Append('|');
            if (entry.LinkTarget is { } target)
                text.Append("link:").Append(target);
            else if (entry is FileInfo file)
                text.Append(Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(file.FullName))));
            else
                text.Append("dir");
            text.Append('\n');
        }
        text.Append((int)new DirectoryInfo(root).UnixFileMode);
        return Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())));
    }

    [System.Runtime.InteropServices.DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int signal);
}
