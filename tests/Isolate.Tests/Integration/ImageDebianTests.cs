using System.Diagnostics;
using System.Text.RegularExpressions;
using Isolate.Tests.Support;

namespace Isolate.Tests.Integration;

/// <summary>The issue's last check, with a real distribution's files: a Debian tree (this host's
/// own bash, coreutils, their libraries through merged-/usr symlinks, the zone database: some
/// two thousand files) with hard links and device nodes, as `docker save` writes it, loaded,
/// and `isolate run -it debian:12 bash` giving a shell on a terminal.</summary>
public sealed partial class ImageDebianTests(BusyboxRootfs rootfs) : ImageTest(rootfs)
{
    private static readonly string[] Programs = ["/usr/bin/bash", "/usr/bin/ls", "/usr/bin/cat", "/usr/bin/id", "/usr/bin/stat", "/usr/bin/wc", "/usr/bin/tty"];

    [GeneratedRegex(@"(/[^\s]+) \(0x")]
    private static partial Regex LibraryPath();

    /// <summary>The programs and every library ldd names for them, under usr/ as Debian 12 has them.</summary>
    private string DebianTree()
    {
        string tree = NewDir("debian");
        foreach (string program in Programs)
        {
            var ldd = Process.Start(new ProcessStartInfo("ldd", [program]) { RedirectStandardOutput = true })!;
            string text = ldd.StandardOutput.ReadToEnd();
            ldd.WaitForExit();
            foreach (string file in LibraryPath().Matches(text).Select(m => m.Groups[1].Value).Append(program))
            {
                // a link (/lib64/ld-linux-x86-64.so.2, a soname) stays a link where it is, and
                // the file it leads to is copied where that is
                for (string at = file; ; )
                {
                    string inside = tree + Inside(at);
                    Directory.CreateDirectory(Path.GetDirectoryName(inside)!);
                    var info = new FileInfo(at);
                    if (info.LinkTarget is { } link)
                    {
                        if (!File.Exists(inside) && !Directory.Exists(inside) && new FileInfo(inside).LinkTarget is null)
                            File.CreateSymbolicLink(inside, link);
                        at = Path.GetFullPath(link, Path.GetDirectoryName(at)!);
                        continue;
                    }
                    File.Copy(at, inside, overwrite: true);
                    break;
                }
            }
        }
        if (Directory.Exists("/usr/share/zoneinfo"))
            CopyTree("/usr/share/zoneinfo", tree + "/usr/share/zoneinfo");
        Directory.CreateDirectory(tree + "/etc");
        File.WriteAllText(tree + "/etc/os-release", "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\n");
        File.WriteAllText(tree + "/etc/passwd", "root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n");
        File.WriteAllText(tree + "/etc/group", "root:x:0:\nnogroup:x:65534:\n");
        return tree;
    }

    /// <summary>Where a host path goes in the tree: /lib and /lib64 are links into usr/ on
    /// Debian 12, so their files are kept under usr/.</summary>
    private static string Inside(string path) => path.StartsWith("/usr/", StringComparison.Ordinal) ? path : "/usr" + path;

    private static void CopyTree(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var entry in new DirectoryInfo(from).EnumerateFileSystemInfos())
        {
            string target = Path.Combine(to, entry.Name);
            if (entry.LinkTarget is { } link)
                File.CreateSymbolicLink(target, link);
            else if (entry is DirectoryInfo)
                CopyTree(entry.FullName, target);
            else
                File.Copy(entry.FullName, target);
        }
    }

    [ImageFact(Containers = true)]
    public void A_debian_tree_saved_by_docker_loads_and_run_it_bash_gives_a_shell()
    {
        string tree = DebianTree();
        var layer = new LayerBuilder().Tree(tree)
            .Symlink("bin", "usr/bin").Symlink("lib", "usr/lib").Symlink("lib64", "usr/lib64").Symlink("sbin", "usr/sbin")
            .HardLink("usr/bin/rbash", "usr/bin/bash")
            .Directory("dev").CharDevice("dev/null", 1, 3).CharDevice("dev/zero", 1, 5)
            .Directory("root", 0x1C0).Directory("tmp", 0x3FF);
        int files = Directory.EnumerateFileSystemEntries(tree, "*", SearchOption.AllDirectories).Count();
        Assert.True(files > 1000, $"the Debian tree has only {files} files");
        string layout = NewDir("layout");
        new OciImageBuilder { Cmd = ["/bin/bash"], Env = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"] }
            .AddLayer(layer).WriteLayout(layout, "12");
        string archive = Path.Combine(Work, "debian.tar");
        SkopeoArchive.DockerArchive(layout, "12", archive, "debian:12");

        var load = Store("load", "-i", archive);
        Assert.True(load.ExitCode == 0, load.ToString());
        Assert.Equal("Loaded image: debian:12\n", load.Stdout);

        // the tree as the container sees it: the hard link is one inode, the nodes are nodes
        var check = RunImage("debian:12", "bash", "-c",
            "stat -c '%i %h' /usr/bin/bash /usr/bin/rbash; stat -c '%F %t,%T' /dev/null; ls /usr/share/zoneinfo | wc -l; . /etc/os-release; echo $PRETTY_NAME");
        Assert.True(check.ExitCode == 0, check.ToString());
        var lines = check.Stdout.Split('\n');
        Assert.Equal(lines[0], lines[1]);
        Assert.EndsWith(" 2", lines[0]);
        Assert.Equal("character special file 1,3", lines[2]);
        Assert.True(int.Parse(lines[3]) > 50, check.ToString()); // the zone database's top level
        Assert.True(lines.Length > 4 && lines[4] == "Debian GNU/Linux 12 (bookworm)", check.ToString());

        // isolate run -it debian:12 bash, on a real terminal (script(1)), fed a line and exit
        string isolate = $"{IsolateBinary.Path} --root {StateRoot} --storage {Storage} run -it debian:12 bash";
        var info = new ProcessStartInfo("/usr/bin/script", ["-qec", isolate, "/dev/null"])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        var shell = IsolateBinary.RunToEnd(info, "echo \"shell $BASH_VERSINFO as $(id -un) on $(tty)\"; exit 7\n", TimeSpan.FromSeconds(60));
        Assert.True(shell.ExitCode == 7, shell.ToString());
        Assert.Matches(@"shell 5 as root on /dev/pts/0", shell.Stdout);
        AssertStoreSettled();
    }
}
