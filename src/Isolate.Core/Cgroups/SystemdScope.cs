using System.Text;
using Isolate.Interop;
using Isolate.Spec;

namespace Isolate.Cgroups;

/// <summary>runc's systemd cgroup driver (--systemd-cgroup): the container's cgroup is a
/// transient scope `prefix-name.scope` in a slice, which systemd makes with the container's
/// PID (a scope cannot exist empty) while the child waits at the gate. Isolate asks over
/// systemd's private socket, as root, with no bus daemon between; the limits are then written
/// by cgroupfs into the scope's directories, as for any container.</summary>
public static class SystemdScope
{
    /// <summary>systemd's own test that it is the service manager (sd_booted(3)).</summary>
    public const string BootedMarker = "/run/systemd/system";

    /// <summary>The manager's socket for root's direct (peer-to-peer) connections: no Hello, no bus.</summary>
    public const string PrivateSocket = "/run/systemd/private";

    /// <summary>Isolate's own prefix in runc's default "system.slice:runc:ID".</summary>
    public const string DefaultPrefix = "isolate";

    /// <summary>Refused before anything is made: without systemd there is nobody to make the scope.</summary>
    public static void RefuseWithoutSystemd()
    {
        if (!Directory.Exists(BootedMarker))
            throw new IsolateException($"--systemd-cgroup: systemd is not running on this host (no {BootedMarker}); use the cgroupfs driver (leave --systemd-cgroup out)");
    }

    /// <summary>runc's "slice:prefix:name" (empty: "system.slice:isolate:ID"): the slice's
    /// directory below each hierarchy's root ("a-b.slice" is "a.slice/a-b.slice") and the unit.</summary>
    public static (string SlicePath, string Unit) FromCgroupsPath(string? path, string id, Func<string, Exception> error)
    {
        string slice = "system.slice", prefix = DefaultPrefix, name = id;
        if (!string.IsNullOrEmpty(path))
        {
            string[] parts = path.Split(':');
            if (parts.Length != 3)
                throw error($"'{path}' is not systemd's form \"slice:prefix:name\" (--systemd-cgroup); give that form, or leave --systemd-cgroup out for a cgroupfs path");
            (slice, prefix, name) = (parts[0].Length == 0 ? slice : parts[0], parts[1], parts[2]);
        }
        if (name.Length == 0 || name.Contains('/') || name.Contains('\0'))
            throw error($"'{path}': the name part must be a unit name without '/'");
        if (name.EndsWith(".slice", StringComparison.Ordinal))
            throw error($"'{path}': a container in a slice unit of its own is not supported; give a scope name (slice:prefix:name)");
        if (prefix.Contains('/') || prefix.Contains('\0'))
            throw error($"'{path}': the prefix must not hold '/'");
        string unit = prefix.Length == 0 ? name : $"{prefix}-{name}";
        if (!unit.EndsWith(".scope", StringComparison.Ordinal))
            unit += ".scope";
        return (ExpandSlice(slice, path, error), unit);
    }

    /// <summary>systemd's slice naming: each '-' is a level, "a-b-c.slice" lives in
    /// "a.slice/a-b.slice/a-b-c.slice"; "-.slice" is the root.</summary>
    private static string ExpandSlice(string slice, string? path, Func<string, Exception> error)
    {
        if (slice == "-.slice")
            return "";
        if (!slice.EndsWith(".slice", StringComparison.Ordinal) || slice.Contains('/') || slice.Contains('\0'))
            throw error($"'{path}': slice '{slice}' is not a slice unit name (NAME.slice, without '/')");
        string stem = slice[..^".slice".Length];
        if (stem.Length == 0 || stem.StartsWith('-') || stem.EndsWith('-') || stem.Contains("--", StringComparison.Ordinal))
            throw error($"'{path}': slice '{slice}' is not a valid slice name (no leading, trailing or doubled '-')");
        var levels = new List<string>();
        int dash = -1;
        while ((dash = stem.IndexOf('-', dash + 1)) >= 0)
            levels.Add(stem[..dash] + ".slice");
        levels.Add(slice);
        return string.Join('/', levels);
    }

    /// <summary>The slice unit whose directory is <paramref name="slicePath"/> (its last level).</summary>
    public static string SliceOf(string slicePath) => slicePath.Length == 0 ? "-.slice" : slicePath.Split('/')[^1];

    /// <summary>StartTransientUnit(unit, "fail", [Description, Slice, Delegate, PIDs], []) and
    /// waits until systemd has put <paramref name="pid"/> in it.</summary>
    public static void Start(string slice, string unit, int pid, string containerId, ResourceLimits limits, bool v2, Action<string> warn)
    {
        var devices = DeviceAllow(limits.DeviceRules, warn);
        using var bus = Connect();
        var reply = Call(bus, 1, "StartTransientUnit", "ssa(sv)a(sa(sv))", w =>
        {
            w.String(unit);
            w.String("fail");
            w.Array(8, () =>
            {
                w.Property("Description", "s", () => w.String($"isolate container {containerId}"));
                w.Property("Slice", "s", () => w.String(slice));
                // the container's own groups below the scope are its (runc sets it too)
                w.Property("Delegate", "b", () => w.Boolean(true));
                // not stopped with the units around it at shutdown ordering: the engine stops it
                w.Property("DefaultDependencies", "b", () => w.Boolean(false));
                w.Property("PIDs", "au", () => w.Array(4, () => w.UInt32((uint)pid)));
                LimitProperties(w, limits, v2, devices);
            });
            w.Array(8, () => { });
        });
        if (reply.Type == DBusReply.Error)
            throw new IsolateException($"--systemd-cgroup: systemd did not start {unit} in {slice}: {reply.ErrorName}: {reply.ErrorMessage}");
        // the reply names the job; the PID is in the scope when the job has run
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!InUnit(pid, unit))
        {
            if (DateTime.UtcNow > deadline)
                throw new IsolateException($"--systemd-cgroup: systemd did not put the container's PID {pid} in {unit} within 10 s");
            Thread.Sleep(2);
        }
    }

    /// <summary>The device rules as systemd's DevicePolicy=strict takes them: a deny-all, then
    /// what is allowed, each as a node ("/dev/char/1:3"), or a group ("char-pts", "char-*").
    /// Null: every device allowed (no rules, or an allow-all last): systemd's DevicePolicy=auto.</summary>
    internal static List<(string Node, string Access)>? DeviceAllow(IReadOnlyList<DeviceRule> rules, Action<string> warn)
    {
        // only what follows the last rule for all devices counts; a deny among it is a list of
        // exceptions, which systemd cannot hold (it would open them again on a reload)
        int last = -1;
        for (int i = 0; i < rules.Count; i++)
        {
            if (rules[i].Type == 'a')
                last = i;
        }
        var after = rules.Skip(last + 1).ToList();
        if (after.Any(r => !r.Allow))
            throw new IsolateException("--systemd-cgroup: linux.resources.devices: systemd takes device rules only as a deny-all followed by what is allowed; give them in that order, or leave --systemd-cgroup out");
        if (last < 0 || rules[last].Allow)
            return null;
        var allowed = new List<(string, string)>();
        foreach (var rule in after)
        {
            string kind = rule.Type == 'b' ? "block" : "char";
            if (rule.Major is null)
                allowed.Add(($"{kind}-*", rule.Access));
            else if (rule.Minor is { } minor)
                allowed.Add(($"/dev/{kind}/{rule.Major}:{minor}", rule.Access));
            else if (DeviceGroup(rule.Type, rule.Major.Value) is { } group)
                allowed.Add(($"{kind}-{group}", rule.Access));
            else
                warn($"--systemd-cgroup: no device group has major {rule.Major} in /proc/devices: systemd is not told of '{rule.CgroupV1Text}' (Isolate sets it; a daemon-reload would drop it)");
        }
        return allowed;
    }

    /// <summary>The /proc/devices name of a major number ("136" is "pts").</summary>
    private static string? DeviceGroup(char type, long major)
    {
        bool inSection = false;
        foreach (string line in (SmallFile.Read("/proc/devices") ?? "").Split('\n'))
        {
            if (line.EndsWith("devices:", StringComparison.Ordinal))
                inSection = line.StartsWith(type == 'b' ? "Block" : "Character", StringComparison.Ordinal);
            else if (inSection && line.Trim().Split(' ', 2) is [var number, var name] && number == major.ToString(System.Globalization.CultureInfo.InvariantCulture))
                return name.Trim();
        }
        return null;
    }

    /// <summary>systemd writes a unit's settings into its groups again (on daemon-reload, say):
    /// the limits it would otherwise put back to its defaults are given to it too.</summary>
    private static void LimitProperties(DBusWriter w, ResourceLimits limits, bool v2,
        List<(string Node, string Access)>? devices)
    {
        if (limits.MemoryBytes is { } memory)
            w.Property("MemoryMax", "t", () => w.UInt64(memory < 0 ? ulong.MaxValue : (ulong)memory));
        if (limits.PidsLimit is { } tasks)
            w.Property("TasksMax", "t", () => w.UInt64(tasks < 0 ? ulong.MaxValue : (ulong)tasks));
        if (limits.CpuQuotaMicros is { } quota)
        {
            w.Property("CPUQuotaPerSecUSec", "t", () => w.UInt64(quota < 0 ? ulong.MaxValue : (ulong)(quota * 1_000_000 / limits.CpuPeriodMicros)));
            w.Property("CPUQuotaPeriodUSec", "t", () => w.UInt64((ulong)limits.CpuPeriodMicros));
        }
        if (limits.CpuShares is { } shares && !v2)
            w.Property("CPUShares", "t", () => w.UInt64((ulong)shares));
        if (devices != null)
        {
            w.Property("DevicePolicy", "s", () => w.String("strict"));
            w.Property("DeviceAllow", "a(ss)", () => w.Array(8, () =>
            {
                foreach (var (node, access) in devices)
                {
                    w.Align(8);
                    w.String(node);
                    w.String(access);
                }
            }));
        }
    }

    /// <summary>update: the new limits given to systemd as well (SetUnitProperties, for this boot),
    /// so that a daemon-reload keeps them.</summary>
    public static void SetProperties(string unit, ResourceLimits limits, bool v2, Action<string> warn)
    {
        var devices = DeviceAllow(limits.DeviceRules, warn);
        using var bus = Connect();
        var reply = Call(bus, 1, "SetUnitProperties", "sba(sv)", w =>
        {
            w.String(unit);
            w.Boolean(true);
            w.Array(8, () => LimitProperties(w, limits, v2, devices));
        });
        if (reply.Type == DBusReply.Error)
            throw new IsolateException($"--systemd-cgroup: systemd did not take the new limits of {unit}: {reply.ErrorName}: {reply.ErrorMessage}");
    }

    /// <summary>Whether /proc/PID/cgroup places it in the unit (on v1 in name=systemd, on v2 in the one hierarchy).</summary>
    private static bool InUnit(int pid, string unit)
    {
        string? text = SmallFile.Read($"/proc/{pid}/cgroup");
        if (text is null)
            throw new IsolateException($"--systemd-cgroup: the container's PID {pid} ended before systemd placed it in {unit}");
        return text.Split('\n').Any(line => line.EndsWith("/" + unit, StringComparison.Ordinal));
    }

    /// <summary>Connected and authenticated (SASL EXTERNAL: the kernel tells systemd our uid).</summary>
    private static FileDescriptor Connect()
    {
        const string what = "--systemd-cgroup: systemd's private bus";
        var fd = UnixSocket.Open(PrivateSocket, what);
        try
        {
            string uid = Libc.GetEffectiveUserId().ToString(System.Globalization.CultureInfo.InvariantCulture);
            string hex = Convert.ToHexString(Encoding.ASCII.GetBytes(uid)).ToLowerInvariant();
            UnixSocket.WriteAll(fd, Encoding.ASCII.GetBytes($"\0AUTH EXTERNAL {hex}\r\n"), what);
            string answer = ReadLine(fd, what);
            if (!answer.StartsWith("OK ", StringComparison.Ordinal))
                throw new IsolateException($"{what}: authentication refused: {answer}");
            UnixSocket.WriteAll(fd, "BEGIN\r\n"u8, what);
            return fd;
        }
        catch
        {
            fd.Dispose();
            throw;
        }
    }

    private static string ReadLine(FileDescriptor fd, string what)
    {
        var line = new List<byte>();
        Span<byte> one = stackalloc byte[1];
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (line.Count < 512)
        {
            if (UnixSocket.Read(fd, one, deadline, what) == 0)
                throw new IsolateException($"{what}: closed during authentication");
            if (one[0] == '\n')
                return Encoding.ASCII.GetString([.. line]).TrimEnd('\r');
            line.Add(one[0]);
        }
        throw new IsolateException($"{what}: an authentication line too long");
    }

    /// <summary>One call to org.freedesktop.systemd1.Manager; its return or error (signals
    /// that arrive before it, JobNew say, are passed over).</summary>
    private static DBusReply Call(FileDescriptor fd, uint serial, string member, string signature, Action<DBusWriter> body)
    {
        string what = $"--systemd-cgroup: systemd's {member}";
        UnixSocket.WriteAll(fd, DBusWriter.MethodCall(serial, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
            "org.freedesktop.systemd1.Manager", member, signature, body), what);
        var buffer = new List<byte>();
        byte[] chunk = new byte[4096];
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(25); // systemd's own method timeout
        while (true)
        {
            while (DBusReply.TotalLength(buffer.ToArray()) is int total && buffer.Count >= total)
            {
                var reply = DBusReply.Parse(buffer.GetRange(0, total).ToArray());
                buffer.RemoveRange(0, total);
                if ((reply.Type is DBusReply.MethodReturn or DBusReply.Error) && reply.ReplySerial == serial)
                    return reply;
            }
            int n = UnixSocket.Read(fd, chunk, deadline, what);
            if (n == 0)
                throw new IsolateException($"{what}: systemd closed the connection without an answer");
            buffer.AddRange(chunk.AsSpan(0, n).ToArray());
        }
    }

}
