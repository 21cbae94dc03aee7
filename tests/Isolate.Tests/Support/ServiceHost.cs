using System.Diagnostics;

namespace Isolate.Tests.Support;

/// <summary>A machine to try service files on, in an Isolate container: with real systemd as
/// its PID 1 (the host's, booted there), or for init scripts a plain one, whose PID 1 is a
/// shell that mounts the cgroup hierarchies as the host has them and waits. Its root is a
/// directory of the test's with the host's /usr bound read-only, an /etc of its own (nothing
/// enabled, so only systemd's static units start), tmpfs /run and /tmp, the binary under test
/// as /usr/local/bin/isolate, the shared busybox root at /srv/web/rootfs, a web page at
/// /srv/web/www and docs/examples at /root/examples. --privileged: systemd (or the shell)
/// mounts the cgroup hierarchies, inside the container's cgroup namespace, and the containers
/// started there nest in its group.</summary>
/// <remarks>
/// Isolate makes the container's groups only in the controllers it uses; in the other
/// hierarchies (name=systemd, devices, the hybrid cgroup2...) the container stays where Isolate
/// was, and that is where systemd's init.scope and system.slice go. So Isolate is started from
/// a group of the test's own in each of those hierarchies ({parent}/service-host), never from
/// the host's root groups, and that group is removed, deepest first, when systemd has gone.
/// SIGTERM to Isolate halts the machine: with systemd its stop signal is SIGRTMIN+3, systemd's
/// "halt"; the plain one's shell exits on SIGTERM.
/// </remarks>
public sealed class ServiceHost : IDisposable
{
    public const string Systemd = "/lib/systemd/systemd";

    /// <summary>The outer container's name, in its own state root.</summary>
    private const string Name = "servicehost";

    private static readonly string[] UsrLinks = ["bin", "sbin", "lib", "lib32", "lib64", "libx32"];

    private readonly string _work;
    private readonly string _state;
    private readonly List<string> _groups;
    private readonly Process _isolate;
    private readonly Task<string> _stdout;
    private readonly Task<string> _stderr;
    private RunResult? _exit;

    private readonly bool _systemd;

    /// <param name="systemd">Boot systemd; false: the plain machine, for init scripts.</param>
    /// <param name="own">Marks a directory as the test's (ContainerTest.Own).</param>
    /// <param name="page">What the web container serves: /srv/web/www/index.html.</param>
    public ServiceHost(bool systemd, BusyboxRootfs rootfs, string cgroupParent, Func<string, string> own, string page)
    {
        _systemd = systemd;
        _work = own(Directory.CreateTempSubdirectory("isolate-test-systemd-").FullName);
        string root = Path.Combine(_work, "root");
        foreach (string dir in new[] { "usr", "etc/systemd/system", "etc/init.d", "proc", "sys", "dev", "run", "tmp", "var/log", "root/examples", "srv/web/rootfs", "srv/web/www" })
            Directory.CreateDirectory(Path.Combine(root, dir));
        var volumes = new List<string> { "/usr:/usr:ro" };
        foreach (string name in UsrLinks)
        {
            var host = new FileInfo("/" + name);
            if (host.LinkTarget is { } target)
                File.CreateSymbolicLink(Path.Combine(root, name), target); // merged /usr: bin -> usr/bin
            else if (Directory.Exists(host.FullName))
                volumes.Add($"{host.FullName}:{host.FullName}:ro");
        }
        File.WriteAllText(Path.Combine(root, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n");
        File.WriteAllText(Path.Combine(root, "etc/group"), "root:x:0:\n");
        File.WriteAllText(Path.Combine(root, "etc/hostname"), Name + "\n");
        File.WriteAllText(Path.Combine(root, "etc/machine-id"), Guid.NewGuid().ToString("N") + "\n"); // not a first boot
        File.CreateSymbolicLink(Path.Combine(root, "etc/os-release"), "../usr/lib/os-release");

        string bin = Directory.CreateDirectory(Path.Combine(_work, "bin")).FullName;
        File.Copy(IsolateBinary.Path, Path.Combine(bin, "isolate"));
        File.SetUnixFileMode(Path.Combine(bin, "isolate"), (UnixFileMode)0x1ED);
        string www = Directory.CreateDirectory(Path.Combine(_work, "www")).FullName;
        File.WriteAllText(Path.Combine(www, "index.html"), page);
        _state = Directory.CreateDirectory(Path.Combine(_work, "state")).FullName;

        volumes.AddRange([
            $"{bin}:/usr/local/bin:ro",
            $"{rootfs.Path}:/srv/web/rootfs:ro",
            $"{www}:/srv/web/www:ro",
            $"{Path.Combine(IsolateBinary.RepoRoot, "docs", "examples")}:/root/examples:ro",
        ]);

        // cpuset is left out: a new cpuset group has no CPUs until given some, and takes no process
        _groups = TestScope.HierarchyRoots().Where(r => Path.GetFileName(r) != "cpuset")
            .Select(r => Path.Combine(r, cgroupParent, "service-host")).ToList();
        var info = new ProcessStartInfo("/bin/sh")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string arg in new[] { "-c", "set -e; for g in $GROUPS; do mkdir -p \"$g\"; echo $$ > \"$g/cgroup.procs\"; done; exec \"$@\"", "sh",
                     IsolateBinary.Path, "--root", _state, "run", "--cgroup-parent", cgroupParent, "--name", Name, "--rootfs", root })
            info.ArgumentList.Add(arg);
        foreach (string volume in volumes)
        {
            info.ArgumentList.Add("-v");
            info.ArgumentList.Add(volume);
        }
        foreach (string arg in new[] { "--privileged", "--tmpfs", "/run:mode=755", "--tmpfs", "/tmp:mode=1777", "-e", "container=isolate",
                     "--stop-signal", systemd ? "RTMIN+3" : "TERM", "--stop-timeout", "30s", "--" })
            info.ArgumentList.Add(arg);
        foreach (string arg in systemd ? [Systemd] : new[] { "sh", "-c", PlainInit() })
            info.ArgumentList.Add(arg);
        info.Environment["GROUPS"] = string.Join(' ', _groups);
        _isolate = Process.Start(info)!;
        _isolate.StandardInput.Close();
        _stdout = _isolate.StandardOutput.ReadToEndAsync();
        _stderr = _isolate.StandardError.ReadToEndAsync();
        try
        {
            WaitForBoot();
        }
        catch
        {
            Dispose(); // the test's using never sees this object
            throw;
        }
    }

    /// <summary>The plain machine's PID 1: mounts each cgroup hierarchy Isolate may use as the
    /// host mounts it (in the cgroup namespace: the container's own group is its root), says it
    /// is ready, and waits for SIGTERM (a shell that is PID 1 gets no signal it does not trap).</summary>
    private static string PlainInit()
    {
        var mounts = new List<string>();
        if (File.Exists("/sys/fs/cgroup/cgroup.controllers"))
        {
            // v2: the shell moves to a leaf of its own, as systemd does, since a group with
            // processes in it cannot hand controllers to the container groups beside it
            mounts.Add("mount -t cgroup2 cgroup2 /sys/fs/cgroup && mkdir /sys/fs/cgroup/init && echo $$ > /sys/fs/cgroup/init/cgroup.procs");
        }
        else
        {
            mounts.Add("mount -t tmpfs -o mode=755 cgroup /sys/fs/cgroup");
            foreach (string line in File.ReadAllLines("/proc/self/mountinfo"))
            {
                string[] fields = line.Split(' ');
                int dash = Array.IndexOf(fields, "-");
                if (dash < 0 || fields[dash + 1] != "cgroup" || !fields[4].StartsWith("/sys/fs/cgroup/", StringComparison.Ordinal))
                    continue;
                string options = string.Join(',', fields[dash + 3].Split(',').Where(o => o is not ("rw" or "ro")));
                if (!options.Split(',').Intersect(Isolate.Cgroups.CgroupLayout.V1Controllers).Any())
                    continue;
                string dir = "/sys/fs/cgroup/" + Path.GetFileName(fields[4]);
                mounts.Add($"mkdir {dir} && mount -t cgroup -o {options} cgroup {dir}");
            }
        }
        return $"set -e; {string.Join("; ", mounts)}; touch /run/ready; trap 'exit 0' TERM; while :; do sleep 1 & wait $!; done";
    }

    /// <summary>Until the machine is up. systemd: until it says the boot is over, "running" or
    /// "degraded" with a unit of its own failed (what the test does comes after, and is checked
    /// by itself). The plain one: until its shell has mounted the cgroups.</summary>
    private void WaitForBoot()
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90);
        RunResult? last = null;
        while (DateTime.UtcNow < deadline)
        {
            if (_isolate.HasExited)
                Assert.Fail($"the machine ended while booting: exit {_isolate.ExitCode}\n{_stdout.Result}\n{_stderr.Result}");
            last = Run(_systemd ? "systemctl is-system-running --wait" : "test -e /run/ready && echo running");
            if (last.Stdout.Trim() is "running" or "degraded")
                return;
            Thread.Sleep(200); // not started yet: exec finds no container, or systemctl no bus
        }
        Assert.Fail($"the machine did not finish booting in 90 s: {last}");
    }

    /// <summary>A shell command on the machine, as root, in /root/examples (isolate exec).</summary>
    public RunResult Run(string script, TimeSpan? timeout = null) =>
        IsolateBinary.Run(["--root", _state, "exec", "--cwd", "/root/examples", Name, "sh", "-c", script], stdin: null, timeout ?? TimeSpan.FromSeconds(60));

    /// <summary>Polls a command until its output is <paramref name="expected"/>; the last result.</summary>
    public RunResult RunUntil(string script, string expected, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(15));
        RunResult result;
        while ((result = Run(script)).Stdout.Trim() != expected && DateTime.UtcNow < deadline)
            Thread.Sleep(100);
        return result;
    }

    /// <summary>Halts the machine (SIGTERM to Isolate: SIGRTMIN+3 to systemd, SIGTERM to the
    /// plain one's shell) and waits for Isolate's exit.</summary>
    public RunResult Halt()
    {
        if (_exit != null)
            return _exit;
        if (!_isolate.HasExited)
            _ = kill(_isolate.Id, 15);
        if (!_isolate.WaitForExit(TimeSpan.FromSeconds(60)))
            _isolate.Kill(entireProcessTree: true);
        _isolate.WaitForExit();
        _exit = new RunResult(_isolate.ExitCode, _stdout.Result, _stderr.Result);
        return _exit;
    }

    public void Dispose()
    {
        Halt();
        _isolate.Dispose();
        var errors = new List<Exception>();
        foreach (string group in _groups)
        {
            try
            {
                RemoveTree(group);
            }
            catch (IOException e)
            {
                errors.Add(e); // the others still go
            }
        }
        Directory.Delete(_work, recursive: true);
        if (errors.Count > 0)
            throw new AggregateException("the machine's cgroups could not all be removed", errors);
    }

    private static void RemoveTree(string group)
    {
        if (!Directory.Exists(group))
            return;
        foreach (string child in Directory.GetDirectories(group))
            RemoveTree(child);
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                Directory.Delete(group);
                return;
            }
            catch (IOException) when (attempt < 200)
            {
                Thread.Sleep(10); // a process that is dying still counts
            }
        }
    }

    [System.Runtime.InteropServices.DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int signal);
}
