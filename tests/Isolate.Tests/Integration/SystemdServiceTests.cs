using Isolate.Tests.Support;

namespace Isolate.Tests.Integration;

/// <summary>The service examples of the README ("Running a service"), tried as
/// written: the systemd unit docs/examples/isolate-web.service under real systemd, booted as
/// PID 1 of an Isolate container (Support/ServiceHost), and the init script
/// docs/examples/isolate-web.init run by sh on a machine without systemd. Each command the
/// README shows is one the test runs there, as root, in docs/examples.</summary>
public sealed class SystemdServiceTests(BusyboxRootfs rootfs) : ContainerTest(rootfs)
{
    private const string Page = "hello from web";

    [ContainerFact(Needs = ServiceHost.Systemd, Why = "to boot as the service manager")]
    public void The_unit_runs_the_container_as_a_service_and_a_requested_stop_leaves_it_inactive_not_failed()
    {
        using var host = new ServiceHost(systemd: true, Rootfs, CgroupParent, Own, Page + "\n");

        Ok(host, "cp isolate-web.service /etc/systemd/system/");
        var verify = host.Run("systemd-analyze verify /etc/systemd/system/isolate-web.service");
        Assert.True(verify.ExitCode == 0 && verify.Stdout + verify.Stderr == "", $"systemd-analyze verify: {verify}");
        Ok(host, "systemctl daemon-reload");
        Ok(host, "systemctl enable --now isolate-web"); // enabled, the unit stays loaded when stopped: show tells how it ended
        Assert.Equal("active", host.Run("systemctl is-active isolate-web").Stdout.Trim());
        AssertServing(host);

        // systemctl stop: SIGTERM to isolate, which stops httpd; 143 is a success
        Ok(host, "systemctl stop isolate-web");
        var stopped = host.Run("systemctl is-active isolate-web");
        Assert.Equal(("inactive", 3), (stopped.Stdout.Trim(), stopped.ExitCode));
        Assert.Equal("Result=success\nNRestarts=0\nExecMainStatus=143",
            host.Run("systemctl show -p Result -p NRestarts -p ExecMainStatus isolate-web").Stdout.Trim());
        AssertGone(host);

        // isolate stop web, from outside systemd: a requested stop too, so no restart
        Ok(host, "systemctl start isolate-web");
        AssertServing(host);
        Assert.Equal("web", Ok(host, "isolate stop web").Trim());
        Assert.Equal("inactive", host.RunUntil("systemctl is-active isolate-web", "inactive").Stdout.Trim());
        Assert.Equal("Result=success\nNRestarts=0\nExecMainStatus=143",
            host.Run("systemctl show -p Result -p NRestarts -p ExecMainStatus isolate-web").Stdout.Trim());
        AssertGone(host);

        // a container that fails is still a failure, and restarted (Restart=on-failure)
        Ok(host, "systemctl start isolate-web");
        AssertServing(host);
        Ok(host, "isolate kill web KILL");
        var failed = host.RunUntil("systemctl show -p NRestarts --value isolate-web", "1");
        Assert.True(failed.Stdout.Trim() == "1", "not restarted after SIGKILL: " + host.Run("systemctl status isolate-web; journalctl -u isolate-web"));
        AssertServing(host);
        Ok(host, "systemctl stop isolate-web");
        Assert.Equal("inactive", host.Run("systemctl is-active isolate-web").Stdout.Trim());
        AssertGone(host);

        // systemd stops its units and halts: reboot(2) in a PID namespace ends its init as if by
        // SIGINT (the kernel's way of saying "halted"; a reboot would be SIGHUP), hence 130
        var halt = host.Halt();
        Assert.True(halt.ExitCode == 130, $"systemd did not halt cleanly: {halt}");
    }

    [ContainerFact]
    public void The_init_script_starts_reports_and_stops_the_container()
    {
        using var host = new ServiceHost(systemd: false, Rootfs, CgroupParent, Own, Page + "\n");

        Ok(host, "cp isolate-web.init /etc/init.d/isolate-web");
        Assert.Equal("", Ok(host, "/etc/init.d/isolate-web start"));
        Assert.Equal("web is running", Ok(host, "/etc/init.d/isolate-web status").Trim());
        AssertServing(host);
        Assert.Equal("web is running already", Ok(host, "/etc/init.d/isolate-web start").Trim());

        Assert.Equal("", Ok(host, "/etc/init.d/isolate-web stop"));
        var status = host.Run("/etc/init.d/isolate-web status");
        Assert.Equal(("web is not running", 3), (status.Stdout.Trim(), status.ExitCode));
        Assert.Equal("", Ok(host, "isolate ps -q"));
        Assert.Equal("143", Ok(host, "isolate wait web").Trim()); // httpd ended by the SIGTERM of the stop
        Assert.Equal("web is not running", Ok(host, "/etc/init.d/isolate-web stop").Trim());

        // started again: the state of the last run is removed, the name free
        Assert.Equal("web is not running", Ok(host, "/etc/init.d/isolate-web restart").Trim());
        AssertServing(host);
        Ok(host, "/etc/init.d/isolate-web stop");
        Assert.Equal("", Ok(host, "isolate ps -q"));

        var halt = host.Halt();
        Assert.True(halt.ExitCode == 0, $"the machine did not end cleanly: {halt}");
    }

    [Fact]
    public void The_readme_text_shows_the_files_the_tests_install()
    {
        string examples = Path.Combine(IsolateBinary.RepoRoot, "docs", "examples");
        string readme = File.ReadAllText(Path.Combine(IsolateBinary.RepoRoot, "README.md"));
        Assert.Contains("```ini\n" + File.ReadAllText(Path.Combine(examples, "isolate-web.service")) + "```\n", readme);
        Assert.Contains("```sh\n" + File.ReadAllText(Path.Combine(examples, "isolate-web.init")) + "```\n", readme);
    }

    /// <summary>isolate ps lists web, exec reaches it, and httpd answers.</summary>
    private static void AssertServing(ServiceHost host)
    {
        var ps = host.RunUntil("isolate ps -q", "web");
        Assert.True(ps.Stdout.Trim() == "web", $"isolate ps does not list web: {ps}\n{host.Run("isolate ps -a")}");
        Assert.Matches(@"\nweb +Up [^\n]* \d+ +[^\n]* httpd -f -p 8080 -h /www\n", Ok(host, "isolate ps"));
        Assert.Equal("web", Ok(host, "isolate exec web hostname").Trim());
        var page = host.RunUntil("isolate exec web wget -qO- http://127.0.0.1:8080/", Page); // httpd may still be starting
        Assert.True(page.Stdout.Trim() == Page, $"httpd does not answer: {page}");
    }

    /// <summary>The container is gone: not listed, its cgroups removed.</summary>
    private static void AssertGone(ServiceHost host)
    {
        Assert.Equal("", Ok(host, "isolate ps -q"));
        Assert.Equal("", Ok(host, "ls -d /sys/fs/cgroup/*/isolate/web.* /sys/fs/cgroup/isolate/web.* 2>/dev/null || true"));
    }

    private static string Ok(ServiceHost host, string command)
    {
        var result = host.Run(command);
        Assert.True(result.ExitCode == 0, $"{command}: {result}");
        return result.Stdout;
    }
}
