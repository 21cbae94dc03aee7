using Isolate.Cgroups;
using Isolate.Interop;
using Isolate.Spec;

namespace Isolate.Tests.Integration;

/// <summary>A group's device programs need not all be Isolate's: a manager that delegated the
/// group (systemd's sd_devices) may have one attached too. Replacing its own program (an
/// update), Isolate detaches only the programs it loaded itself, found by the name the kernel
/// keeps with each; another's stays attached and keeps applying. On this hybrid host the
/// groups are made in the cgroup2 at /sys/fs/cgroup/unified, as CgroupV2DeviceTests does.</summary>
public sealed class CgroupV2ForeignProgramTests : IDisposable
{
    private readonly string _parent = $"isolate-test-v2foreign-{Environment.ProcessId}-{Guid.NewGuid():N}"[..48];
    private readonly List<ContainerCgroup> _groups = [];

    private static readonly DeviceRule DenyAll = new(false, 'a', null, null, "rwm");
    private static readonly DeviceRule AllowNull = new(true, 'c', 1, 3, "rwm");

    private static uint[] Programs(string dir)
    {
        using var fd = FileDescriptor.Open(dir, OpenFlags.O_RDONLY | OpenFlags.O_DIRECTORY);
        return Bpf.QueryCgroupDevice(fd) ?? throw new InvalidOperationException("BPF_PROG_QUERY failed");
    }

    [CgroupV2DeviceTests.UnifiedFact]
    public void An_update_replaces_only_isolates_program_and_leaves_anothers_attached()
    {
        string unified = CgroupLayout.Detect().UnifiedRoot!;
        var cgroup = CgroupV2.Create(CgroupFilesystem.Instance, unified, _parent, "c1", new ResourceLimits { DeviceRules = [DenyAll, AllowNull] },
            w => Assert.Fail("unexpected warning: " + w));
        _groups.Add(cgroup);
        string dir = cgroup.Directories[0];
        uint[] isolates = Programs(dir);
        Assert.Single(isolates);

        // another manager's program: allow everything (r0 = 1; exit), under a name of its own
        byte[] allowAll = DeviceFilter.Encode([new(0xb7, 0, 0, 0, 1), new(0x95, 0, 0, 0, 0)]);
        using (var group = FileDescriptor.Open(dir, OpenFlags.O_RDONLY | OpenFlags.O_DIRECTORY))
        using (var foreign = Bpf.LoadCgroupDevice(allowAll, "sd_devices", out string log))
        {
            Assert.False(foreign.IsInvalid, $"load: errno {System.Runtime.InteropServices.Marshal.GetLastPInvokeError()} {log}");
            Assert.Equal(0, Bpf.AttachCgroupDevice(group, foreign));
        }
        uint foreignId = Assert.Single(Programs(dir).Except(isolates));

        cgroup.Update(new ResourceLimits { DeviceRules = [DenyAll, AllowNull, new(true, 'c', 1, 5, "r")] }, _ => { });

        uint[] after = Programs(dir);
        Assert.Contains(foreignId, after);                   // the other manager's program stays
        Assert.DoesNotContain(isolates[0], after);           // Isolate's old one is gone
        Assert.Equal(2, after.Length);                       // its new one is beside the other's
        using var kept = Bpf.ProgramById(after.Single(id => id != foreignId));
        Assert.Equal(Bpf.ProgramName, Bpf.NameOf(kept));
    }

    public void Dispose()
    {
        foreach (var cgroup in _groups)
        {
            cgroup.KillAll();
            cgroup.Remove();
        }
        string? unified = CgroupLayout.Detect().UnifiedRoot;
        if (unified != null && Directory.Exists(Path.Combine(unified, _parent)))
            Directory.Delete(Path.Combine(unified, _parent));
    }
}
