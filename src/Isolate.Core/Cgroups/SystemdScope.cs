namespace Isolate.Cgroups;

/// <summary>runc's systemd cgroup driver (--systemd-cgroup): the container's cgroup is a
/// transient scope `prefix-name.scope` in a slice, made by systemd with the container's PID.</summary>
public static class SystemdScope
{
    /// <summary>systemd's own test that it is the service manager (sd_booted(3)).</summary>
    public const string BootedMarker = "/run/systemd/system";

    /// <summary>Refused before anything is made: without systemd there is nobody to make the scope.</summary>
    public static void RefuseWithoutSystemd()
    {
        if (!Directory.Exists(BootedMarker))
            throw new IsolateException($"--systemd-cgroup: systemd is not running on this host (no {BootedMarker}); use the cgroupfs driver (leave --systemd-cgroup out)");
    }
}
