using Isolate.Cgroups;
using Isolate.Spec;

namespace Isolate.Tests.Unit;

/// <summary>runc's "slice:prefix:name" as --systemd-cgroup reads it, and the device rules as
/// systemd is told them.</summary>
public sealed class SystemdScopeTests
{
    private static (string, string) Parse(string? path) =>
        SystemdScope.FromCgroupsPath(path, "c1", message => new IsolateException("config.json: linux.cgroupsPath: " + message));

    [Theory]
    [InlineData("system.slice:isolate:web", "system.slice", "isolate-web.scope")]
    [InlineData(null, "system.slice", "isolate-c1.scope")]
    [InlineData("", "system.slice", "isolate-c1.scope")]
    [InlineData(":kubepods:abc", "system.slice", "kubepods-abc.scope")]
    [InlineData("kubepods-besteffort-pod1.slice:cri-containerd:abc", "kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1.slice", "cri-containerd-abc.scope")]
    [InlineData("-.slice:p:n", "", "p-n.scope")]
    [InlineData("machine.slice::web.scope", "machine.slice", "web.scope")]
    public void A_slice_prefix_name_path_is_a_scope_in_the_slice_with_its_parents(string? path, string slicePath, string unit)
    {
        Assert.Equal((slicePath, unit), Parse(path));
        Assert.Equal(slicePath.Length == 0 ? "-.slice" : slicePath.Split('/')[^1], SystemdScope.SliceOf(slicePath));
    }

    [Theory]
    [InlineData("/isolate/web", "is not systemd's form")]
    [InlineData("a:b", "is not systemd's form")]
    [InlineData("system:isolate:web", "is not a slice unit name")]
    [InlineData("a--b.slice:isolate:web", "is not a valid slice name")]
    [InlineData("system.slice:isolate:", "the name part")]
    [InlineData("system.slice:isolate:web.slice", "a slice unit of its own")]
    public void A_path_systemd_cannot_take_is_refused_naming_the_field(string path, string reason)
    {
        var e = Assert.Throws<IsolateException>(() => Parse(path));
        Assert.StartsWith("config.json: linux.cgroupsPath: '", e.Message);
        Assert.Contains(reason, e.Message);
    }

    [Fact]
    public void Device_rules_become_a_strict_allow_list()
    {
        var rules = new List<DeviceRule>
        {
            new(false, 'a', null, null, "rwm"),
            new(true, 'c', 1, 3, "rwm"),
            new(true, 'b', null, null, "m"),
            new(true, 'c', 136, null, "rwm"),
        };
        var warnings = new List<string>();
        var allowed = SystemdScope.DeviceAllow(rules, warnings.Add);
        Assert.Equal(("/dev/char/1:3", "rwm"), allowed![0]);
        Assert.Equal(("block-*", "m"), allowed[1]);
        // 136 is "pts" in /proc/devices wherever pseudo-terminals exist
        Assert.True(allowed.Count == 3 ? allowed[2] == ("char-pts", "rwm") : warnings.Count == 1, string.Join('\n', warnings));
        Assert.Null(SystemdScope.DeviceAllow([], warnings.Add));
        Assert.Null(SystemdScope.DeviceAllow([new(true, 'a', null, null, "rwm")], warnings.Add));
        Assert.Null(SystemdScope.DeviceAllow([new(false, 'a', null, null, "rwm"), new(true, 'a', null, null, "rwm"), new(true, 'c', 1, 3, "rwm")], warnings.Add));
        Assert.Contains("deny-all followed by what is allowed", Assert.Throws<IsolateException>(() =>
            SystemdScope.DeviceAllow([new(true, 'a', null, null, "rwm"), new(false, 'c', 1, 3, "rwm")], _ => { })).Message);
    }
}
