using System.Text.Json;
using Isolate.Oci;
using Isolate.Plan;
using Isolate.Security;
using Isolate.Spec;
using Isolate.Tests.Support;

namespace Isolate.Tests.Unit;

/// <summary>config.json into a ContainerSpec: the default spec `isolate spec` writes, a real
/// podman config, each mapping, and each error with its one-line message naming the JSON path.
/// Every test gets its own bundle directory (with an empty rootfs/) under the temp directory.</summary>
public sealed class OciBundleTests : IDisposable
{
    private const uint Allow = 0x7fff0000, EpermRet = 0x00050001;

    private static readonly OciHost Root = new(0, 0, 40);
    private static readonly OciHost User1000 = new(1000, 1001, 40);

    private readonly string _bundle;
    private readonly string _rootfs;

    public OciBundleTests()
    {
        _bundle = Directory.CreateTempSubdirectory("isolate-oci-").FullName;
        _rootfs = Directory.CreateDirectory(Path.Combine(_bundle, "rootfs")).FullName;
    }

    public void Dispose() => Directory.Delete(_bundle, recursive: true);

    private static int Nr(string name) => SyscallTable.X86_64[name];

    /// <summary>The default (rootful) spec, edited, as JSON.</summary>
    private static string Config(Action<OciConfig>? edit = null, bool rootless = false)
    {
        var config = OciDefaultSpec.Build(rootless, 1000, 1001);
        edit?.Invoke(config);
        return JsonSerializer.Serialize(config, OciJsonContext.Default.OciConfig);
    }

    private OciBundle Parse(string json, OciHost? host = null, string id = "0123456789abcdef") =>
        OciBundleLoader.Parse(json, _bundle, id, host ?? Root);

    private OciBundle Parse(Action<OciConfig> edit) => Parse(Config(edit));

    private string Fails(string json, OciHost? host = null) =>
        Assert.Throws<IsolateException>(() => Parse(json, host)).Message;

    private string Fails(Action<OciConfig> edit, OciHost? host = null) => Fails(Config(edit), host);

    private static OciMount Mount(string destination, string type, string? source, params string[] options) =>
        new() { Destination = destination, Type = type, Source = source, Options = [.. options] };

    private string HostFile(string name, string text = "")
    {
        string path = Path.Combine(_bundle, name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
        return path;
    }

    // ---- the default spec ----

    [Fact]
    public void Default_spec_is_runcs_layout_indented_with_tabs()
    {
        string json = OciDefaultSpec.Json(false, 1000, 1001);
        Assert.StartsWith("{\n\t\"ociVersion\": \"1.2.0\",\n\t\"process\": {\n\t\t\"terminal\": true,\n\t\t\"user\": {\n\t\t\t\"uid\": 0,\n\t\t\t\"gid\": 0\n\t\t},", json);
        Assert.DoesNotContain("null", json);
        using var doc = JsonDocument.Parse(json);
        var root = doc.RootElement;
        Assert.Equal(["ociVersion", "process", "root", "hostname", "mounts", "linux"], root.EnumerateObject().Select(p => p.Name));
        var process = root.GetProperty("process");
        Assert.Equal(["terminal", "user", "args", "env", "cwd", "capabilities", "rlimits", "noNewPrivileges"], process.EnumerateObject().Select(p => p.Name));
        Assert.Equal("sh", process.GetProperty("args")[0].GetString());
        Assert.Equal(["bounding", "effective", "permitted", "ambient"], process.GetProperty("capabilities").EnumerateObject().Select(p => p.Name));
        Assert.Equal("""{"type":"RLIMIT_NOFILE","hard":1024,"soft":1024}""", JsonSerializer.Serialize(process.GetProperty("rlimits")[0]));
        Assert.Equal("""{"path":"rootfs","readonly":true}""", JsonSerializer.Serialize(root.GetProperty("root")));
        Assert.Equal(["/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys", "/sys/fs/cgroup"],
            root.GetProperty("mounts").EnumerateArray().Select(m => m.GetProperty("destination").GetString()));
        Assert.False(root.GetProperty("mounts")[0].TryGetProperty("options", out _)); // /proc: none, as runc writes it
        var linux = root.GetProperty("linux");
        Assert.Equal(["resources", "namespaces", "maskedPaths", "readonlyPaths"], linux.EnumerateObject().Select(p => p.Name));
        Assert.Equal("""{"devices":[{"allow":false,"access":"rwm"}]}""", JsonSerializer.Serialize(linux.GetProperty("resources")));
        Assert.Equal(["pid", "network", "ipc", "uts", "mount", "cgroup"], linux.GetProperty("namespaces").EnumerateArray().Select(n => n.GetProperty("type").GetString()));
    }

    [Fact]
    public void Rootless_default_spec_maps_the_caller_to_root_and_shares_the_hosts_network()
    {
        using var doc = JsonDocument.Parse(OciDefaultSpec.Json(true, 1000, 1001));
        var linux = doc.RootElement.GetProperty("linux");
        Assert.Equal(["uidMappings", "gidMappings", "namespaces", "maskedPaths", "readonlyPaths"], linux.EnumerateObject().Select(p => p.Name));
        Assert.Equal("""[{"containerID":0,"hostID":1000,"size":1}]""", JsonSerializer.Serialize(linux.GetProperty("uidMappings")));
        Assert.Equal("""[{"containerID":0,"hostID":1001,"size":1}]""", JsonSerializer.Serialize(linux.GetProperty("gidMappings")));
        Assert.Equal(["pid", "ipc", "uts", "mount", "cgroup", "user"], linux.GetProperty("namespaces").EnumerateArray().Select(n => n.GetProperty("type").GetString()));
        var mounts = doc.RootElement.GetProperty("mounts").EnumerateArray().ToList();
        Assert.Equal("""{"destination":"/sys","type":"none","source":"/sys","options":["rbind","nosuid","noexec","nodev","ro"]}""", JsonSerializer.Serialize(mounts[5]));
        Assert.DoesNotContain("gid=5", JsonSerializer.Serialize(mounts[2]));
    }

    [Fact]
    public void The_public_generator_maps_the_calling_user()
    {
        using var doc = JsonDocument.Parse(OciDefaultSpec.Json(true));
        uint uid = Isolate.Interop.HostIdentity.EffectiveUserId;
        Assert.Equal(uid, doc.RootElement.GetProperty("linux").GetProperty("uidMappings")[0].GetProperty("hostID").GetUInt32());
    }

    [Fact]
    public void Default_spec_parses_back_into_the_container_runc_would_run()
    {
        var bundle = Parse(OciDefaultSpec.Json(false, 1000, 1001));
        var spec = bundle.Spec;
        Assert.Equal(_bundle, bundle.BundleDir);
        Assert.Equal("1.2.0", bundle.OciVersion);
        Assert.Equal(_rootfs, spec.Rootfs);
        Assert.True(spec.ReadOnlyRoot);
        Assert.Equal(RootfsWrites.Direct, spec.RootfsWrites);
        Assert.Equal("isolate", spec.Hostname);
        Assert.Equal("0123456789abcdef", spec.Id);
        Assert.Equal(["sh"], spec.Process.Args);
        // no HOME in the environment: the user's from the rootfs's /etc/passwd, and it has none: "/", as runc
        Assert.Equal(["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm", "HOME=/"], spec.Process.Env);
        Assert.Equal("/", spec.Process.Workdir);
        Assert.True(bundle.Terminal);
        Assert.True(spec.Process.Tty);
        Assert.Null(bundle.ConsoleSize);
        Assert.Equal(NetworkMode.None, spec.Network);
        Assert.Empty(bundle.JoinNamespaces);
        Assert.Null(spec.UserNamespace);
        Assert.Equal(["/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys", "/sys/fs/cgroup"],
            spec.Mounts!.Select(m => m.Destination)); // each made as listed, as runc makes them
        Assert.Empty(spec.Volumes);
        Assert.Empty(spec.Tmpfs);
        Assert.Equal(["CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_AUDIT_WRITE"], Capabilities.Describe(spec.Process.Security.Capabilities));
        Assert.True(spec.Process.Security.NoNewPrivileges);
        Assert.Empty(spec.Process.Security.Seccomp); // no linux.seccomp: no filter, as runc
        Assert.Equal(ProcessUser.Root.Uid, spec.Process.Security.User.Uid);
        Assert.Empty(spec.Process.Security.User.Groups);
        Assert.False(spec.Process.Security.KeepGroups);
        Assert.Equal(40, spec.Process.Security.LastCap);
        Assert.Equal([new RlimitSpec("nofile", 7, 1024, 1024)], spec.Process.Rlimits);
        Assert.Null(spec.OomScoreAdj);
        Assert.Equal(["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
            "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"], spec.MaskedPaths);
        Assert.Equal(["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"], spec.ReadOnlyPaths);
        // the default spec's one device rule (deny all), then the nodes Isolate always makes
        Assert.Equal(new ResourceLimits(), spec.Resources with { DeviceRules = [] });
        Assert.Equal(new DeviceRule(false, 'a', null, null, "rwm"), spec.Resources.DeviceRules[0]);
        Assert.Equal(Isolate.Plan.DeviceNodes.DefaultCgroupRules, spec.Resources.DeviceRules.Skip(1));
        Assert.True(spec.Cgroups);
        Assert.Equal(("isolate", "0123456789abcdef"), (bundle.CgroupParent, bundle.CgroupName));
        Assert.Equal("isolate", spec.CgroupParent);
        Assert.Empty(bundle.Annotations);
        Assert.Empty(bundle.Sysctl);
        Assert.False(bundle.Hooks.Any);
        Assert.False(spec.Privileged);
    }

    [Fact]
    public void Rootless_default_spec_parses_for_the_user_it_was_written_for()
    {
        var bundle = Parse(OciDefaultSpec.Json(true, 1000, 1001), User1000);
        var spec = bundle.Spec;
        Assert.Equal(NetworkMode.Host, spec.Network); // no network namespace entry
        var userns = spec.UserNamespace!;
        Assert.True(userns.Rootless);
        Assert.Equal([new IdMapping(0, 1000, 1)], userns.UidMap);
        Assert.Equal([new IdMapping(0, 1001, 1)], userns.GidMap);
        Assert.True(spec.Process.Security.KeepGroups);
        Assert.False(spec.Cgroups); // a non-root user makes no cgroup
        Assert.Equal(("bind", "/sys", MountFlags.Bind | MountFlags.Rec | MountFlags.NoSuid | MountFlags.NoExec | MountFlags.NoDev | MountFlags.ReadOnly),
            spec.Mounts!.Where(m => m.Destination == "/sys").Select(m => (m.Type, m.Source, m.Flags)).Single()); // the host's /sys, bound
    }

    [Fact]
    public void Root_may_run_a_rootless_spec_with_a_mapped_user_namespace()
    {
        var userns = Parse(OciDefaultSpec.Json(true, 1000, 1001)).Spec.UserNamespace!;
        Assert.False(userns.Rootless);
        Assert.Equal([new IdMapping(0, 1000, 1)], userns.UidMap);
    }

    [Fact]
    public void Load_reads_config_json_from_the_bundle_directory()
    {
        File.WriteAllText(Path.Combine(_bundle, "config.json"), OciDefaultSpec.Json(false, 0, 0));
        string relative = Path.GetRelativePath(Directory.GetCurrentDirectory(), _bundle);
        var bundle = OciBundleLoader.Load(relative, "abc");
        Assert.Equal(_bundle, bundle.BundleDir);
        Assert.Equal(_rootfs, bundle.Spec.Rootfs);
        Assert.Equal("abc", bundle.Spec.Id);
    }

    [Fact]
    public void Load_names_a_missing_bundle_or_config_json()
    {
        Assert.Equal($"bundle {_bundle}: config.json not found", Assert.Throws<IsolateException>(() => OciBundleLoader.Load(_bundle, "x")).Message);
        string missing = Path.Combine(_bundle, "nope");
        Assert.Equal($"bundle {missing}: no such directory", Assert.Throws<IsolateException>(() => OciBundleLoader.Load(missing, "x")).Message);
        Directory.CreateDirectory(Path.Combine(_bundle, "config.json"));
        Assert.Equal($"bundle {_bundle}: config.json is a directory", Assert.Throws<IsolateException>(() => OciBundleLoader.Load(_bundle, "x")).Message);
    }

    // ---- a real podman config ----

    [Fact]
    public void A_podman_config_maps_whole()
    {
        string merged = Directory.CreateDirectory(Path.Combine(_bundle, "merged")).FullName;
        foreach (string name in new[] { "resolv.conf", "hosts", ".containerenv", "hostname" })
            HostFile("userdata/" + name, name);
        Directory.CreateDirectory(Path.Combine(_bundle, "userdata/shm"));
        var bundle = Parse(PodmanConfig.Replace("@DIR@", _bundle), id: "dae0f15835ea618f291f4e2f8905c4d20a39524337aad815cc03b86f0301ad84");
        var spec = bundle.Spec;

        Assert.Equal("1.0.2-dev", bundle.OciVersion);
        Assert.Equal(merged, spec.Rootfs);
        Assert.False(spec.ReadOnlyRoot);
        Assert.Equal("dae0f15835ea", spec.Hostname);
        Assert.Equal(["sleep", "100"], spec.Process.Args);
        Assert.Equal(["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm", "container=podman", "HOME=/root", "HOSTNAME=dae0f15835ea"], spec.Process.Env);
        Assert.False(bundle.Terminal);

        // the network namespace is podman's, joined by path
        Assert.Equal(NetworkMode.None, spec.Network);
        Assert.Equal([("network", _bundle + "/netns")], bundle.JoinNamespaces);
        Assert.Null(spec.UserNamespace);

        // every mount as podman lists it, its binds with their canonical sources
        Assert.Equal(
        [
            (_bundle + "/userdata/resolv.conf", "/etc/resolv.conf", true),
            (_bundle + "/userdata/hosts", "/etc/hosts", true),
            (_bundle + "/userdata/shm", "/dev/shm", false),
            (_bundle + "/userdata/.containerenv", "/run/.containerenv", true),
            (_bundle + "/userdata/hostname", "/etc/hostname", true),
        ], spec.Mounts!.Where(m => m.IsBind).Select(m => (m.Source, m.Destination, m.SourceIsFile)));
        Assert.Equal(11, spec.Mounts!.Count);
        Assert.Empty(spec.Volumes);
        Assert.Empty(spec.Tmpfs);

        Assert.Equal(["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP",
            "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_SETFCAP"], Capabilities.Describe(spec.Process.Security.Capabilities));
        Assert.False(spec.Process.Security.NoNewPrivileges); // not given: false, as OCI says
        Assert.Equal("/root", spec.Process.Security.User.Home);
        Assert.Equal([new RlimitSpec("nofile", 7, 1024, 1024), new RlimitSpec("nproc", 6, 1024, 1024)], spec.Process.Rlimits);

        Assert.Equal(2048, spec.Resources.PidsLimit);
        Assert.Null(spec.Resources.MemoryBytes);
        Assert.Equal(("libpod_parent", "libpod-dae0f15835ea618f291f4e2f8905c4d20a39524337aad815cc03b86f0301ad84"), (bundle.CgroupParent, bundle.CgroupName));
        Assert.Equal("libpod_parent", spec.CgroupParent);
        Assert.Equal(new Dictionary<string, string> { ["net.ipv4.ping_group_range"] = "0 0" }, bundle.Sysctl);
        Assert.Equal("libpod", bundle.Annotations["io.container.manager"]);
        Assert.Equal(8, bundle.Annotations.Count);
        Assert.Equal(["/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
            "/proc/sched_debug", "/proc/scsi", "/sys/firmware", "/sys/fs/selinux", "/sys/dev/block"], spec.MaskedPaths);
        Assert.Equal(["/proc/asound", "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"], spec.ReadOnlyPaths);

        // podman's seccomp profile, compiled: what the kernel would decide
        var filter = spec.Process.Security.Seccomp;
        Assert.NotEmpty(filter);
        const uint Enosys = 0x00050026, Einval = 0x00050016;
        Assert.Equal(Allow, BpfInterpreter.Run(filter, Nr("read")));
        Assert.Equal(Allow, BpfInterpreter.Run(filter, Nr("clone3")));
        Assert.Equal(EpermRet, BpfInterpreter.Run(filter, Nr("swapon")));
        Assert.Equal(EpermRet, BpfInterpreter.Run(filter, Nr("bpf")));
        Assert.Equal(EpermRet, BpfInterpreter.Run(filter, Nr("kexec_load")));
        Assert.Equal(Enosys, BpfInterpreter.Run(filter, Nr("add_key"))); // not listed: defaultErrnoRet
        Assert.Equal(Allow, BpfInterpreter.Run(filter, Nr("personality"), args: [0x20008]));
        Assert.Equal(Allow, BpfInterpreter.Run(filter, Nr("personality"), args: [0xffffffff]));
        Assert.Equal(Enosys, BpfInterpreter.Run(filter, Nr("personality"), args: [1]));
        Assert.Equal(Einval, BpfInterpreter.Run(filter, Nr("socket"), args: [16, 3, 9])); // AF_NETLINK, NETLINK_AUDIT
        Assert.Equal(Allow, BpfInterpreter.Run(filter, Nr("socket"), args: [16, 3, 0]));
        Assert.Equal(Allow, BpfInterpreter.Run(filter, Nr("socket"), args: [2, 1, 9]));
        Assert.Equal(0x80000000u, BpfInterpreter.Run(filter, 5, BpfInterpreter.I386)); // i386: killed, whatever the profile
    }

    // ---- the process ----

    [Fact]
    public void Process_fields_map_one_to_one()
    {
        var bundle = Parse(c =>
        {
            var p = c.Process!;
            p.Terminal = false;
            p.ConsoleSize = new OciConsoleSize { Height = 40, Width = 120 };
            p.Args = ["/bin/app", "--flag", ""];
            p.Env = ["A=1", "EMPTY=", "HOME=/home/app"];
            p.Cwd = "/srv/app";
            p.User = new OciUser { Uid = 1000, Gid = 100, Umask = 18, AdditionalGids = [10, 20] };
            p.Capabilities = new OciCapabilities { Bounding = ["CAP_SYS_ADMIN", "CAP_CHOWN", "CAP_CHECKPOINT_RESTORE"] };
            p.Rlimits = [new OciRlimit { Type = "RLIMIT_CORE", Soft = 0, Hard = ulong.MaxValue }, new OciRlimit { Type = "RLIMIT_NPROC", Soft = 10, Hard = 20 }];
            p.NoNewPrivileges = false;
            p.OomScoreAdj = -500;
            c.Hostname = "web-1.example";
        });
        var spec = bundle.Spec;
        Assert.False(spec.Process.Tty);
        Assert.Equal(((ushort)40, (ushort)120), bundle.ConsoleSize);
        Assert.Equal(["/bin/app", "--flag", ""], spec.Process.Args);
        Assert.Equal(["A=1", "EMPTY=", "HOME=/home/app"], spec.Process.Env); // exactly: nothing added
        Assert.Equal("/srv/app", spec.Process.Workdir);
        Assert.Equal("web-1.example", spec.Hostname);
        var user = spec.Process.Security.User;
        Assert.Equal((1000u, 100u, "/home/app"), (user.Uid, user.Gid, user.Home));
        Assert.Equal([10u, 20u], user.Groups);
        Assert.Equal(["CAP_CHOWN", "CAP_SYS_ADMIN", "CAP_CHECKPOINT_RESTORE"], Capabilities.Describe(spec.Process.Security.Capabilities));
        Assert.False(spec.Process.Security.NoNewPrivileges);
        Assert.Equal([new RlimitSpec("core", 4, 0, RlimitSpec.Unlimited), new RlimitSpec("nproc", 6, 10, 20)], spec.Process.Rlimits);
        Assert.Equal(-500, spec.OomScoreAdj);
    }

    [Fact]
    public void Absent_optional_process_fields_take_ocis_defaults()
    {
        var spec = Parse("""
            {"ociVersion": "1.0.0", "root": {"path": "rootfs"},
             "process": {"args": ["true"], "cwd": "/"},
             "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}, {"type": "ipc"}, {"type": "uts"}]}}
            """, id: "short").Spec;
        Assert.Equal(["HOME=/"], spec.Process.Env);
        Assert.False(spec.Process.Tty);
        Assert.False(spec.ReadOnlyRoot);
        Assert.Equal("", spec.Hostname); // none given: the UTS namespace keeps its name, as under runc
        Assert.Equal(0UL, spec.Process.Security.Capabilities); // no capabilities object: none
        Assert.False(spec.Process.Security.NoNewPrivileges);
        Assert.Equal((0u, 0u, "/"), (spec.Process.Security.User.Uid, spec.Process.Security.User.Gid, spec.Process.Security.User.Home));
        Assert.Equal(ProcessSpec.DefaultUmask, spec.Process.Umask); // runc's 022
        Assert.Null(spec.Process.IoPriority);
        Assert.Null(spec.Process.Scheduler);
        Assert.Null(spec.Domainname);
        Assert.Equal(["cgroup"], spec.HostNamespaces); // not listed: the host's, as runc
        Assert.Equal(NetworkMode.Host, spec.Network);
        Assert.Null(spec.MaskedPaths); // absent: null (Isolate's defaults)
        Assert.Null(spec.ReadOnlyPaths);
        Assert.Empty(spec.Process.Rlimits);
    }

    [Fact]
    public void Empty_lists_of_masked_and_read_only_paths_stay_empty()
    {
        var spec = Parse(c => { c.Linux!.MaskedPaths = []; c.Linux.ReadonlyPaths = ["/proc/sys"]; }).Spec;
        Assert.Equal([], spec.MaskedPaths!);
        Assert.Equal(["/proc/sys"], spec.ReadOnlyPaths!);
    }

    [Fact]
    public void Capabilities_newer_than_the_kernel_are_left_out()
    {
        var bundle = OciBundleLoader.Parse(Config(c => c.Process!.Capabilities!.Bounding = ["CAP_CHOWN", "CAP_BPF"]), _bundle, "x", new OciHost(0, 0, 38));
        Assert.Equal(["CAP_CHOWN"], Capabilities.Describe(bundle.Spec.Process.Security.Capabilities));
    }

    [Fact]
    public void Unknown_fields_are_ignored()
    {
        // extensions, and a spec field given as null; a field of the spec is never among them
        // (another platform's section, "vm": {...}, is refused: OciSpecFieldTests)
        string json = Config().Replace("\"ociVersion\": \"1.2.0\",", """
            "ociVersion": "1.2.0", "windows": null, "org.example.extension": 1,
            """).Replace("\"cwd\": \"/\",", """
            "cwd": "/", "org.example.knob": true,
            """);
        Assert.Contains("org.example.knob", json);
        Assert.Equal(["sh"], Parse(json).Spec.Process.Args);
    }

    /// <summary>What `features` lists is what the loader takes: each mount option on a tmpfs
    /// (bind words on a bind), each namespace type, seccomp action, operator and flag.</summary>
    [Fact]
    public void Everything_features_lists_is_taken()
    {
        using var features = JsonDocument.Parse(OciFeatures.Json("test"));
        var root = features.RootElement;
        string[] Strings(JsonElement list) => [.. list.EnumerateArray().Select(e => e.GetString()!)];
        string source = HostFile("src");
        foreach (string option in Strings(root.GetProperty("mountOptions")))
        {
            bool bind = option is "bind" or "rbind";
            Parse(c => c.Mounts!.Add(bind ? Mount("/x", "bind", source, option) : Mount("/x", "tmpfs", "tmpfs", option)));
        }
        var linux = root.GetProperty("linux");
        foreach (string type in Strings(linux.GetProperty("namespaces")))
            Parse(c =>
            {
                if (!c.Linux!.Namespaces!.Any(n => n.Type == type))
                    c.Linux.Namespaces!.Add(new OciNamespace { Type = type });
                if (type == "user")
                {
                    c.Linux.UidMappings = [new OciIdMapping { ContainerId = 0, HostId = 100000, Size = 65536 }];
                    c.Linux.GidMappings = [new OciIdMapping { ContainerId = 0, HostId = 100000, Size = 65536 }];
                }
            });
        var seccomp = linux.GetProperty("seccomp");
        foreach (string action in Strings(seccomp.GetProperty("actions")))
            Parse(c => c.Linux!.Seccomp = Profile("SCMP_ACT_ALLOW", new OciSyscall { Names = ["mount"], Action = action }));
        foreach (string op in Strings(seccomp.GetProperty("operators")))
            Parse(c => c.Linux!.Seccomp = Profile("SCMP_ACT_ALLOW", new OciSyscall { Names = ["read"], Action = "SCMP_ACT_ERRNO",
                Args = [new OciSyscallArg { Index = 0, Value = 100, ValueTwo = 100, Op = op }] }));
        var flags = Strings(seccomp.GetProperty("supportedFlags"));
        Assert.Contains("SECCOMP_FILTER_FLAG_LOG", flags);
        Assert.Equal(ProcessSecurity.SeccompFilterLog | ProcessSecurity.SeccompFilterSpecAllow,
            Parse(c => c.Linux!.Seccomp = new OciSeccomp { DefaultAction = "SCMP_ACT_ALLOW", Flags = [.. flags] }).Spec.Process.Security.SeccompFlags);
        Assert.DoesNotContain("time", Strings(linux.GetProperty("namespaces")));
        Assert.Equal("config.json: linux.namespaces[6].type: 'time' namespaces are not supported",
            Fails(c => c.Linux!.Namespaces!.Add(new OciNamespace { Type = "time" })));
    }

    public static TheoryData<string, string> RefusedFields => new()
    {
        { "\"apparmorProfile\": \"p\"", "config.json: process.apparmorProfile: AppArmor profiles are not supported (Isolate loads and applies none); remove it" },
        { "\"selinuxLabel\": \"l\"", "config.json: process.selinuxLabel: SELinux labels are not supported (Isolate sets none); remove it" },
        { "\"execCPUAffinity\": {\"final\": \"0\"}", "config.json: process.execCPUAffinity: exec CPU affinity is not supported; limit the CPUs with linux.resources.cpu.cpus; remove it" },
        { "\"commandLine\": \"sh\"", "config.json: process.commandLine: Windows only: give the command as process.args; remove it" },
        { "\"ioPriority\": {\"class\": \"IOPRIO_CLASS_XX\"}", "config.json: process.ioPriority.class: 'IOPRIO_CLASS_XX' is not an I/O class: use IOPRIO_CLASS_RT, IOPRIO_CLASS_BE or IOPRIO_CLASS_IDLE" },
        { "\"ioPriority\": {\"class\": \"IOPRIO_CLASS_BE\", \"priority\": 8}", "config.json: process.ioPriority.priority: 8 is out of range: use 0 (highest) to 7 (lowest)" },
        { "\"scheduler\": {\"policy\": \"SCHED_ISO\"}", "config.json: process.scheduler.policy: SCHED_ISO is not in the Linux kernel: use SCHED_OTHER, SCHED_FIFO, SCHED_RR, SCHED_BATCH, SCHED_IDLE or SCHED_DEADLINE" },
        { "\"scheduler\": {\"policy\": \"SCHED_FIFO\"}", "config.json: process.scheduler.priority: 0 is out of range for SCHED_FIFO: use 1 to 99" },
        { "\"scheduler\": {\"policy\": \"SCHED_BATCH\", \"nice\": 5, \"flags\": [\"SCHED_FLAG_UTIL_CLAMP_MIN\"]}", "config.json: process.scheduler.flags[0]: 'SCHED_FLAG_UTIL_CLAMP_MIN' is not supported: use SCHED_FLAG_RESET_ON_FORK, SCHED_FLAG_RECLAIM, SCHED_FLAG_DL_OVERRUN, SCHED_FLAG_KEEP_POLICY, SCHED_FLAG_KEEP_PARAMS" },
    };

    [Theory]
    [MemberData(nameof(RefusedFields))]
    public void Known_process_fields_Isolate_cannot_apply_are_refused(string field, string message) =>
        Assert.Equal(message, Fails(Config().Replace("\"cwd\": \"/\",", $"\"cwd\": \"/\", {field},")));

    public static TheoryData<string, string> RefusedLinuxFields => new()
    {
        { "\"mountLabel\": \"m\"", "config.json: linux.mountLabel: SELinux mount labels are not supported (Isolate sets none); remove it" },
        { "\"personality\": {\"domain\": \"LINUX32\"}", "config.json: linux.personality: execution domains (personality(2)) are not supported; remove it" },
        { "\"intelRdt\": {\"closID\": \"x\"}", "config.json: linux.intelRdt: Intel RDT (resctrl) is not supported; remove it" },
        { "\"timeOffsets\": {\"monotonic\": {\"secs\": 1}}", "config.json: linux.timeOffsets: time namespaces are not supported; remove it" },
        { "\"netDevices\": {\"eth1\": {}}", "config.json: linux.netDevices: moving network devices into the container is not supported; remove it" },
        { "\"memoryPolicy\": {\"mode\": \"MPOL_BIND\"}", "config.json: linux.memoryPolicy: NUMA memory policies (set_mempolicy(2)) are not supported; remove it" },
        { "\"seccomp\": {\"defaultAction\": \"SCMP_ACT_ALLOW\", \"listenerPath\": \"/run/notify.sock\"}", "config.json: linux.seccomp.listenerPath: seccomp user notification (SCMP_ACT_NOTIFY) is not supported; remove it" },
        { "\"seccomp\": {\"defaultAction\": \"SCMP_ACT_ALLOW\", \"flags\": [\"SECCOMP_FILTER_FLAG_LOG\", \"SECCOMP_FILTER_FLAG_NEW_LISTENER\"]}", "config.json: linux.seccomp.flags[1]: 'SECCOMP_FILTER_FLAG_NEW_LISTENER' is not supported: use SECCOMP_FILTER_FLAG_TSYNC, SECCOMP_FILTER_FLAG_LOG, SECCOMP_FILTER_FLAG_SPEC_ALLOW" },
        { "\"resources\": {\"blockIO\": {\"weightDevice\": [{\"major\": 8, \"minor\": 0, \"weight\": 100}]}}", "config.json: linux.resources.blockIO.weightDevice: per-device weights are not supported: blockIO.weight sets the weight for every device; remove it" },
    };

    [Theory]
    [MemberData(nameof(RefusedLinuxFields))]
    public void Known_linux_fields_Isolate_cannot_apply_are_refused(string field, string message) =>
        Assert.Equal(message, Fails(Config().Replace("\"linux\": {", $"\"linux\": {{ {field},")));

    [Fact]
    public void Umask_io_priority_and_scheduler_are_read()
    {
        var process = Parse(Config().Replace("\"cwd\": \"/\",", """
            "cwd": "/", "ioPriority": {"class": "IOPRIO_CLASS_IDLE", "priority": 3},
            "scheduler": {"policy": "SCHED_BATCH", "nice": 7, "flags": ["SCHED_FLAG_RESET_ON_FORK"]},
            """).Replace("\"uid\": 0,", "\"uid\": 0, \"umask\": 63,")).Spec.Process;
        Assert.Equal(63u, process.Umask);
        Assert.Equal((3 << 13) | 3, process.IoPriority);
        Assert.Equal(new SchedulerSpec(3, 7, 0, 1, 0, 0, 0), process.Scheduler);
        Assert.Equal("config.json: process.user.umask: 512 is not a file mode mask: give 0 to 511 (octal 0777; JSON has no octal, so 022 is written 18)",
            Fails(Config(c => c.Process!.User!.Umask = 512)));
    }

    [Fact]
    public void Home_comes_from_the_containers_passwd_resolved_inside_the_root()
    {
        Directory.CreateDirectory(Path.Combine(_rootfs, "etc"));
        File.WriteAllText(Path.Combine(_rootfs, "etc", "passwd"), "root:x:0:0:root:/root:/bin/sh\napp:x:1000:100::/home/app:/bin/sh\n");
        Assert.Contains("HOME=/root", Parse(c => { }).Spec.Process.Env);
        Assert.Contains("HOME=/home/app", Parse(c => c.Process!.User!.Uid = 1000).Spec.Process.Env);
        Assert.Contains("HOME=/", Parse(c => c.Process!.User!.Uid = 1234).Spec.Process.Env); // no entry
        Assert.Contains("HOME=/x", Parse(c => c.Process!.Env!.Add("HOME=/x")).Spec.Process.Env); // given: kept
        Assert.DoesNotContain("HOME=/root", Parse(c => c.Process!.Env!.Add("HOME=/x")).Spec.Process.Env);
        // a link to a host file is followed inside the root, where it leads nowhere
        string evil = HostFile("evil-passwd", "root:x:0:0::/evil:/bin/sh\n");
        File.Delete(Path.Combine(_rootfs, "etc", "passwd"));
        File.CreateSymbolicLink(Path.Combine(_rootfs, "etc", "passwd"), evil);
        Assert.Contains("HOME=/", Parse(c => { }).Spec.Process.Env);
        Assert.DoesNotContain("HOME=/evil", Parse(c => { }).Spec.Process.Env);
    }

    [Fact]
    public void Namespaces_left_out_are_the_hosts()
    {
        var spec = Parse(c => { c.Linux!.Namespaces!.RemoveAll(n => n.Type is "pid" or "ipc" or "uts" or "cgroup"); c.Hostname = null; }).Spec;
        Assert.Equal(["pid", "ipc", "uts", "cgroup"], spec.HostNamespaces);
        Assert.Empty(Parse(c => { }).Spec.HostNamespaces);
    }

    public static TheoryData<string, Action<OciConfig>> UtsAndSysctlErrors => new()
    {
        { "config.json: hostname: needs a UTS namespace of the container's own, and it shares the host's: add {\"type\": \"uts\"} to linux.namespaces, or remove it",
            c => c.Linux!.Namespaces!.RemoveAll(n => n.Type == "uts") },
        { "config.json: domainname: needs a UTS namespace of the container's own, and it shares the host's: add {\"type\": \"uts\"} to linux.namespaces, or remove it",
            c => { c.Linux!.Namespaces!.RemoveAll(n => n.Type == "uts"); c.Hostname = null; c.Domainname = "example.org"; } },
        { "config.json: domainname: '" + new string('d', 65) + "' is longer than the kernel's 64 characters",
            c => c.Domainname = new string('d', 65) },
        { "config.json: linux.sysctl.kernel.hostname: conflicts with the hostname field, which sets it: give the name as hostname",
            c => c.Linux!.Sysctl = new() { ["kernel.hostname"] = "x" } },
        { "config.json: linux.sysctl.kernel.shmmax: needs an IPC namespace of the container's own, and it shares the host's (add {\"type\": \"ipc\"} to linux.namespaces)",
            c => { c.Linux!.Namespaces!.RemoveAll(n => n.Type == "ipc"); c.Linux.Sysctl = new() { ["kernel.shmmax"] = "1" }; } },
        { "config.json: linux.sysctl.kernel.domainname: needs a UTS namespace of the container's own, and it shares the host's (add {\"type\": \"uts\"} to linux.namespaces)",
            c => { c.Linux!.Namespaces!.RemoveAll(n => n.Type == "uts"); c.Hostname = null; c.Linux.Sysctl = new() { ["kernel.domainname"] = "x" }; } },
    };

    [Theory]
    [MemberData(nameof(UtsAndSysctlErrors))]
    public void Uts_names_and_sysctls_need_their_namespace(string message, Action<OciConfig> edit) => Assert.Equal(message, Fails(edit));

    // ---- namespaces ----

    [Fact]
    public void A_network_namespace_entry_decides_the_network()
    {
        Assert.Equal(NetworkMode.None, Parse(c => { }).Spec.Network);
        Assert.Equal(NetworkMode.Host, Parse(c => c.Linux!.Namespaces!.RemoveAll(n => n.Type == "network")).Spec.Network);
        var joined = Parse(c =>
        {
            c.Linux!.Namespaces!.Single(n => n.Type == "network").Path = "/run/netns/blue";
            c.Linux.Namespaces!.Single(n => n.Type == "ipc").Path = "/proc/42/ns/ipc";
        });
        Assert.Equal(NetworkMode.None, joined.Spec.Network);
        Assert.Equal([("network", "/run/netns/blue"), ("ipc", "/proc/42/ns/ipc")], joined.JoinNamespaces);
    }

    [Fact]
    public void Without_a_cgroup_namespace_the_spec_is_the_same()
    {
        var a = Parse(c => c.Linux!.Namespaces!.RemoveAll(n => n.Type == "cgroup")).Spec;
        Assert.Equal(NetworkMode.None, a.Network);
    }

    [Fact]
    public void A_user_namespace_takes_the_mappings()
    {
        var spec = Parse(c =>
        {
            c.Linux!.Namespaces!.Add(new OciNamespace { Type = "user" });
            c.Linux.UidMappings = [new OciIdMapping { ContainerId = 0, HostId = 100000, Size = 65536 }];
            c.Linux.GidMappings = [new OciIdMapping { ContainerId = 0, HostId = 200000, Size = 1000 }, new OciIdMapping { ContainerId = 1000, HostId = 300000, Size = 10 }];
            c.Process!.User = new OciUser { Uid = 65535, Gid = 1005, AdditionalGids = [999] };
        }).Spec;
        var userns = spec.UserNamespace!;
        Assert.False(userns.Rootless);
        Assert.Equal([new IdMapping(0, 100000, 65536)], userns.UidMap);
        Assert.Equal([new IdMapping(0, 200000, 1000), new IdMapping(1000, 300000, 10)], userns.GidMap);
        Assert.False(spec.Process.Security.KeepGroups);
    }

    public static TheoryData<string, Action<OciConfig>> NamespaceErrors => new()
    {
        { "config.json: linux.namespaces: has no 'mount' namespace: Isolate always creates one, add {\"type\": \"mount\"}",
            c => c.Linux!.Namespaces!.RemoveAll(n => n.Type == "mount") },
        { "config.json: linux.namespaces: has no 'mount' namespace: Isolate always creates one, add {\"type\": \"mount\"}",
            c => c.Linux = null },
        { "config.json: linux.namespaces[2].type: 'time' namespaces are not supported",
            c => c.Linux!.Namespaces!.Insert(2, new OciNamespace { Type = "time" }) },
        { "config.json: linux.namespaces[6].type: 'net' is not a namespace type (pid, network, mount, ipc, uts, user, cgroup)",
            c => c.Linux!.Namespaces!.Add(new OciNamespace { Type = "net" }) },
        { "config.json: linux.namespaces[6].type: is required",
            c => c.Linux!.Namespaces!.Add(new OciNamespace()) },
        { "config.json: linux.namespaces[6].type: the 'pid' namespace is listed twice",
            c => c.Linux!.Namespaces!.Add(new OciNamespace { Type = "pid" }) },
        { "config.json: linux.namespaces[1].path: 'netns/x' must be an absolute path",
            c => c.Linux!.Namespaces![1].Path = "netns/x" },
        { "config.json: linux.namespaces[4].path: a joined mount namespace with a new user namespace: the user namespace's root has no right to mount in a namespace the host owns; remove the path or the user namespace",
            c => { c.Linux!.Namespaces![4].Path = "/proc/1/ns/mnt"; UserNs(c, new OciIdMapping { HostId = 1000, Size = 1 }, new OciIdMapping { HostId = 1000, Size = 1 }); } },
        { "config.json: linux.namespaces[6].path: joining an existing user namespace is not supported: Isolate creates its own (remove path; uidMappings and gidMappings map it)",
            c => c.Linux!.Namespaces!.Add(new OciNamespace { Type = "user", Path = "/proc/1/ns/user" }) },
        { "config.json: linux.uidMappings: given without a 'user' namespace in linux.namespaces",
            c => c.Linux!.UidMappings = [new OciIdMapping { Size = 1 }] },
        { "config.json: linux.gidMappings: given without a 'user' namespace in linux.namespaces",
            c => c.Linux!.GidMappings = [new OciIdMapping { Size = 1 }] },
        { "config.json: linux.uidMappings: a 'user' namespace needs at least one mapping",
            c => c.Linux!.Namespaces!.Add(new OciNamespace { Type = "user" }) },
        { "config.json: linux.gidMappings[0].size: must be at least 1",
            c => UserNs(c, new OciIdMapping { Size = 10 }, new OciIdMapping { Size = 0 }) },
        { "config.json: linux.uidMappings[1]: overlaps 0:100:10",
            c => UserNs(c, [new OciIdMapping { HostId = 100, Size = 10 }, new OciIdMapping { ContainerId = 10, HostId = 105, Size = 1 }], [new OciIdMapping { Size = 1 }]) },
        { "config.json: linux.uidMappings[0]: the range runs past 4294967294",
            c => UserNs(c, new OciIdMapping { HostId = 4294967000, Size = 1000 }, new OciIdMapping { Size = 1 }) },
        { "config.json: linux.uidMappings: container uid 0 must be mapped (the container starts as root)",
            c => UserNs(c, new OciIdMapping { ContainerId = 1, HostId = 1000, Size = 10 }, new OciIdMapping { Size = 1 }) },
        { "config.json: process.user.uid: 5 has no id in the container's user namespace (the user namespace maps 0:1000:1 (gids 0:1000:5))",
            c => { UserNs(c, new OciIdMapping { HostId = 1000, Size = 1 }, new OciIdMapping { HostId = 1000, Size = 5 }); c.Process!.User!.Uid = 5; } },
        { "config.json: process.user.gid: 7 has no id in the container's user namespace (the user namespace maps 0:1000:5)",
            c => { UserNs(c, new OciIdMapping { HostId = 1000, Size = 5 }, new OciIdMapping { HostId = 1000, Size = 5 }); c.Process!.User!.Gid = 7; } },
        { "config.json: process.user.additionalGids[1]: 9 has no id in the container's user namespace (the user namespace maps 0:1000:5)",
            c => { UserNs(c, new OciIdMapping { HostId = 1000, Size = 5 }, new OciIdMapping { HostId = 1000, Size = 5 }); c.Process!.User!.AdditionalGids = [1, 9]; } },
    };

    private static void UserNs(OciConfig c, OciIdMapping uid, OciIdMapping gid) => UserNs(c, [uid], [gid]);

    private static void UserNs(OciConfig c, List<OciIdMapping> uids, List<OciIdMapping> gids)
    {
        c.Linux!.Namespaces!.Add(new OciNamespace { Type = "user" });
        c.Linux.UidMappings = uids;
        c.Linux.GidMappings = gids;
    }

    [Theory]
    [MemberData(nameof(NamespaceErrors))]
    public void Namespace_errors_name_the_json_path(string message, Action<OciConfig> edit) => Assert.Equal(message, Fails(edit));

    [Fact]
    public void A_non_root_caller_needs_a_user_namespace_mapping_only_itself()
    {
        Assert.Equal("config.json: linux.namespaces: has no 'user' namespace, which a non-root user (uid 1000) needs: add one with uidMappings and gidMappings (isolate spec --rootless writes them)",
            Fails(Config(), User1000));
        Assert.Equal("config.json: linux.uidMappings: a non-root user may map only its own uid 1000 (one mapping, size 1); mapping other host ids needs root",
            Fails(Config(c => c.Linux!.UidMappings![0].Size = 2, rootless: true), User1000));
        Assert.Equal("config.json: linux.gidMappings: a non-root user may map only its own gid 1001 (one mapping, size 1); mapping other host ids needs root",
            Fails(Config(c => c.Linux!.GidMappings![0].HostId = 0, rootless: true), User1000));
        Assert.Equal("config.json: process.user.additionalGids: a non-root user's user namespace cannot set supplementary groups (setgroups is denied there)",
            Fails(Config(c => c.Process!.User!.AdditionalGids = [0], rootless: true), User1000));
        Assert.Equal("config.json: linux.resources: limits need a cgroup, which a non-root user (uid 1000) cannot create: run isolate as root, or remove them",
            Fails(Config(c => c.Linux!.Resources = new OciResources { Pids = new OciPids { Limit = 10 } }, rootless: true), User1000));
    }

    // ---- mounts ----

    [Fact]
    public void Mounts_are_kept_as_configured_in_order()
    {
        string file = HostFile("data/file.txt", "x");
        string dir = Path.GetDirectoryName(file)!;
        Directory.CreateSymbolicLink(Path.Combine(_bundle, "link"), dir);
        var spec = Parse(c => c.Mounts = [
            Mount("/data", "bind", dir, "rbind", "ro", "rprivate"),
            Mount("/etc/app.conf", "none", file, "bind", "nosuid", "nodev", "mode=755"),
            Mount("/via/./link/../link", "bind", Path.Combine(_bundle, "link"), "rw"),
            Mount("/tmp", "tmpfs", "tmpfs", "nosuid", "nodev", "mode=1777", "size=64m", "strictatime"),
            Mount("/run/secret", "tmpfs", "tmpfs", "ro", "noexec", "uid=10", "gid=20", "nr_inodes=100", "size=50%", "huge=always", "shared"),
            Mount("/scratch", "tmpfs", "whatever"),
            Mount("/merged", "overlay", "overlay", "lowerdir=/a:/b", "upperdir=/u", "workdir=/w"),
        ]).Spec;
        const MountFlags bind = MountFlags.Bind, rbind = MountFlags.Bind | MountFlags.Rec;
        var mounts = spec.Mounts!.Select(m => (m.Type, m.Source, m.Destination, m.Flags, string.Join(' ', m.Propagation), m.Data, m.SourceIsFile));
        Assert.Equal(
        [
            ("bind", dir, "/data", rbind | MountFlags.ReadOnly, (MountFlags.Private | MountFlags.Rec).ToString(), "", false),
            ("bind", file, "/etc/app.conf", bind | MountFlags.NoSuid | MountFlags.NoDev, "", "mode=755", true), // data a bind ignores: runc takes it
            ("bind", dir, "/via/link", bind, "", "", false), // canonical source, normalized destination
            ("tmpfs", "tmpfs", "/tmp", MountFlags.NoSuid | MountFlags.NoDev | MountFlags.StrictAtime, "", "mode=1777,size=64m", false),
            ("tmpfs", "tmpfs", "/run/secret", MountFlags.ReadOnly | MountFlags.NoExec, MountFlags.Shared.ToString(),
                "uid=10,gid=20,nr_inodes=100,size=50%,huge=always", false),
            ("tmpfs", "whatever", "/scratch", MountFlags.None, "", "", false), // OCI: only the flags given
            ("overlay", "overlay", "/merged", MountFlags.None, "", "lowerdir=/a:/b,upperdir=/u,workdir=/w", false),
        ], mounts);
        Assert.Empty(spec.Volumes);
        Assert.Empty(spec.Tmpfs);
    }

    [Fact]
    public void Kernel_filesystems_are_kept_as_listed()
    {
        var spec = Parse(c => c.Mounts =
        [
            Mount("/proc", "proc", "proc"),
            Mount("/dev", "tmpfs", "tmpfs", "nosuid"),
            Mount("/dev/pts", "devpts", "devpts"),
            Mount("/dev/shm", "tmpfs", "shm"),
            Mount("/dev/mqueue", "mqueue", "mqueue"),
            Mount("/sys/", "sysfs", "sysfs"),
            Mount("/sys/fs/cgroup", "cgroup", "cgroup"),
        ]).Spec;
        Assert.Equal(["/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys", "/sys/fs/cgroup"], spec.Mounts!.Select(m => m.Destination));
        Assert.Equal("shm", spec.Mounts![3].Source);
    }

    public static TheoryData<string, OciMount> MountErrors => new()
    {
        { "config.json: mounts[7].type: is required (bind, or a filesystem type: tmpfs, proc, sysfs, devpts, mqueue, cgroup, overlay ...)", new OciMount { Destination = "/x" } },
        { "config.json: mounts[7].destination: is required", Mount("", "tmpfs", "tmpfs") },
        { "config.json: mounts[7].destination: 'data' must be an absolute path inside the container", Mount("data", "tmpfs", "tmpfs") },
        { "config.json: mounts[7].source: a bind mount needs a source", Mount("/data", "bind", null) },
        { "config.json: mounts[7].source: 'data' must be an absolute host path", Mount("/data", "bind", "data", "rbind") },
        { "config.json: mounts[7].source: /nonexistent/isolate-test: No such file or directory", Mount("/data", "bind", "/nonexistent/isolate-test", "rbind") },
        { "config.json: mounts[7].options[1]: 'idmap' (an id-mapped mount) is not supported; remove it and give the files the container's ids, or use linux.uidMappings for the whole root",
            Mount("/data", "bind", "/tmp", "rbind", "idmap") },
        { "config.json: mounts[7].options[1]: 'rnoexec' (a recursive mount attribute) is not supported; use 'noexec', which applies to the mount itself",
            Mount("/data", "bind", "/tmp", "rbind", "rnoexec") },
        { "config.json: mounts[7].options[0]: bad value for size: ''; use a number with k, m or g, or a percentage (64m, 50%)", Mount("/t", "tmpfs", "tmpfs", "size") },
        { "config.json: mounts[7].options[1]: bad value for size: '1t'; use a number with k, m or g, or a percentage (64m, 50%)", Mount("/t", "tmpfs", "tmpfs", "ro", "size=1t") },
        { "config.json: mounts[7].options[0]: bad value for mode: '999'; use octal digits (1777)", Mount("/t", "tmpfs", "tmpfs", "mode=999") },
        { "config.json: mounts[7].options[0]: bad value for uid: 'root'; use a number", Mount("/t", "tmpfs", "tmpfs", "uid=root") },
    };

    [Theory]
    [MemberData(nameof(MountErrors))]
    public void Mount_errors_name_the_json_path(string message, OciMount mount) => Assert.Equal(message, Fails(c => c.Mounts!.Add(mount)));

    [Fact]
    public void A_destination_mounted_twice_stacks()
    {
        var spec = Parse(c => c.Mounts = [Mount("/data", "tmpfs", "tmpfs"), Mount("/data/", "bind", "/tmp", "bind")]).Spec;
        Assert.Equal([("tmpfs", "/data"), ("bind", "/data")], spec.Mounts!.Select(m => (m.Type, m.Destination)));
    }

    [Fact]
    public void More_binds_than_capture_slots_is_an_error()
    {
        Assert.Equal("config.json: mounts: 64 bind mounts; Isolate takes at most 63",
            Fails(c => c.Mounts!.AddRange(Enumerable.Range(0, 64).Select(i => Mount($"/v{i}", "bind", "/tmp", "bind")))));
    }

    [Fact]
    public void Masked_and_read_only_paths_must_be_absolute()
    {
        Assert.Equal("config.json: linux.maskedPaths[1]: 'proc/kcore' must be an absolute path inside the container",
            Fails(c => c.Linux!.MaskedPaths = ["/proc/keys", "proc/kcore"]));
        Assert.Equal("config.json: linux.readonlyPaths[0]: '' must be an absolute path inside the container",
            Fails(c => c.Linux!.ReadonlyPaths = [""]));
    }

    // ---- root, process and its errors ----

    [Fact]
    public void Root_path_may_be_absolute_and_is_made_canonical()
    {
        Directory.CreateSymbolicLink(Path.Combine(_bundle, "rootlink"), _rootfs);
        Assert.Equal(_rootfs, Parse(c => c.Root!.Path = "rootlink").Spec.Rootfs);
        Assert.Equal(_rootfs, Parse(c => c.Root!.Path = _rootfs + "/.").Spec.Rootfs);
    }

    public static TheoryData<string, Action<OciConfig>> ProcessErrors => new()
    {
        { "config.json: process: is required: it is the command the container runs", c => c.Process = null },
        { "config.json: process.args: must hold at least one argument", c => c.Process!.Args = [] },
        { "config.json: process.args: must hold at least one argument", c => c.Process!.Args = null },
        { "config.json: process.args[0]: the command is empty", c => c.Process!.Args = ["", "x"] },
        { "config.json: process.cwd: is required: the working directory, an absolute path inside the container", c => c.Process!.Cwd = null },
        { "config.json: process.cwd: 'srv' must be an absolute path inside the container", c => c.Process!.Cwd = "srv" },
        { "config.json: process.env[1]: 'NOVALUE' is not KEY=VALUE", c => c.Process!.Env = ["A=1", "NOVALUE"] },
        { "config.json: process.env[0]: '=x' is not KEY=VALUE", c => c.Process!.Env = ["=x"] },
        { "config.json: process.capabilities.bounding[1]: unknown capability 'CAP_TELEPORT': use a name from capabilities(7), such as CAP_NET_ADMIN",
            c => c.Process!.Capabilities!.Bounding = ["CAP_KILL", "CAP_TELEPORT"] },
        { "config.json: process.capabilities.bounding[0]: unknown capability 'KILL': use a name from capabilities(7) with its CAP_ prefix, such as CAP_NET_ADMIN",
            c => c.Process!.Capabilities!.Bounding = ["KILL"] },
        { "config.json: process.capabilities.ambient[3]: unknown capability 'CAP_NOPE': use a name from capabilities(7), such as CAP_NET_ADMIN",
            c => c.Process!.Capabilities!.Ambient!.Add("CAP_NOPE") },
        { "config.json: process.rlimits[0].type: unknown resource 'RLIMIT_BOGUS': use an RLIMIT_ name of setrlimit(2), such as RLIMIT_NOFILE",
            c => c.Process!.Rlimits![0].Type = "RLIMIT_BOGUS" },
        { "config.json: process.rlimits[0].type: unknown resource 'nofile': use an RLIMIT_ name of setrlimit(2), such as RLIMIT_NOFILE",
            c => c.Process!.Rlimits![0].Type = "nofile" },
        { "config.json: process.rlimits[0]: the soft limit 2048 is above the hard one 1024", c => c.Process!.Rlimits![0].Soft = 2048 },
        { "config.json: process.rlimits[0].hard: is required", c => c.Process!.Rlimits![0].Hard = null },
        { "config.json: process.rlimits[1].type: RLIMIT_NOFILE is given twice",
            c => c.Process!.Rlimits!.Add(new OciRlimit { Type = "RLIMIT_NOFILE", Soft = 1, Hard = 1 }) },
        { "config.json: process.oomScoreAdj: 1001 is out of range: use -1000 (never killed) to 1000 (killed first)", c => c.Process!.OomScoreAdj = 1001 },
        { "config.json: process.consoleSize.width: 70000 is more than a terminal's 65535 columns",
            c => c.Process!.ConsoleSize = new OciConsoleSize { Height = 1, Width = 70000 } },
        { "config.json: root.path: is required: the container's root directory (absolute, or relative to the bundle)", c => c.Root = null },
        { "config.json: root.path: is required: the container's root directory (absolute, or relative to the bundle)", c => c.Root!.Path = "" },
        { "config.json: root.path: the host's own / cannot be a container root", c => c.Root!.Path = "/" },
        { "config.json: hostname: '" + new string('h', 65) + "' is longer than the kernel's 64 characters", c => c.Hostname = new string('h', 65) },
        { "config.json: ociVersion: '2.0.0' is not a 1.x version of the runtime spec, the one Isolate implements", c => c.OciVersion = "2.0.0" },
        { "config.json: linux.rootfsPropagation: 'sideways' is not a propagation: use private, rprivate, slave, rslave, shared, rshared, unbindable or runbindable",
            c => c.Linux!.RootfsPropagation = "sideways" },
    };

    [Theory]
    [MemberData(nameof(ProcessErrors))]
    public void Process_and_root_errors_name_the_json_path(string message, Action<OciConfig> edit) => Assert.Equal(message, Fails(edit));

    [Fact]
    public void A_missing_rootfs_or_one_that_is_a_file_is_an_error()
    {
        Assert.Equal($"config.json: root.path: {_bundle}/missing: No such file or directory", Fails(c => c.Root!.Path = "missing"));
        HostFile("file");
        Assert.Equal($"config.json: root.path: {_bundle}/file: Not a directory", Fails(c => c.Root!.Path = "file"));
    }

    [Theory]
    [InlineData("private")]
    [InlineData("rprivate")]
    [InlineData("slave")]
    [InlineData("rslave")]
    [InlineData("shared")]
    [InlineData("runbindable")]
    public void Every_root_propagation_is_taken(string propagation) =>
        Assert.NotEqual(MountFlags.None, Parse(c => c.Linux!.RootfsPropagation = propagation).Spec.RootPropagation);

    // ---- malformed JSON ----

    [Fact]
    public void Malformed_json_names_the_line()
    {
        Assert.Equal("config.json: line 4: process.args[1]: a trailing comma, which JSON does not allow",
            Fails("{\n  \"ociVersion\": \"1.0.0\",\n  \"process\": {\n    \"args\": [\"sh\",]\n  }\n}"));
        string message = Fails("{\n\n  \"hostname\": }");
        Assert.StartsWith("config.json: line 3: hostname: ", message);
        Assert.DoesNotContain("LineNumber", message);
        Assert.DoesNotContain("\n", message);
        Assert.Equal("config.json: line 1: the document is null; it must be a JSON object", Fails("null"));
        Assert.Equal("config.json: line 1: the file is empty; it must hold a JSON object", Fails(""));
        Assert.Equal("config.json: line 1: expected an object", Fails("[]"));
    }

    [Fact]
    public void A_value_of_the_wrong_type_names_the_json_path_and_the_type_wanted()
    {
        Assert.Equal("config.json: line 3: process.user.uid: expected a non-negative integer",
            Fails("{\n \"process\": {\n  \"user\": {\"uid\": -1}\n }\n}"));
        Assert.Equal("config.json: line 2: process.args: expected an array",
            Fails("{\n \"process\": {\"args\": \"sh\"}\n}"));
        Assert.Equal("config.json: line 1: process.terminal: expected true or false",
            Fails("{\"process\": {\"terminal\": \"yes\"}}"));
        Assert.Equal("config.json: line 1: hostname: expected a string",
            Fails("{\"hostname\": 7}"));
        Assert.Equal("config.json: line 1: linux.resources.memory.limit: expected an integer",
            Fails("{\"linux\": {\"resources\": {\"memory\": {\"limit\": 1.5}}}}"));
        Assert.Equal("config.json: line 1: annotations.a: expected a string",
            Fails("{\"annotations\": {\"a\": 1}}"));
    }

    // ---- resources and cgroups ----

    [Fact]
    public void Resources_map_to_limits()
    {
        var bundle = Parse(c => c.Linux!.Resources = new OciResources
        {
            Memory = new OciMemory { Limit = 256 << 20, Reservation = 128 << 20, Swap = 512 << 20 },
            Cpu = new OciCpu { Shares = 512, Quota = 150_000, Period = 100_000, Cpus = "0-1,3" },
            Pids = new OciPids { Limit = 100 },
            Devices = [new OciDeviceRule { Allow = true, Type = "c", Major = 1, Minor = 3, Access = "rwm" }],
        });
        // (blockIO.weight: this host has no blkio.weight, and OciResourceTests checks the refusal)
        Assert.Equal(new DeviceRule(true, 'c', 1, 3, "rwm"), bundle.Spec.Resources.DeviceRules[0]);
        Assert.Equal(new ResourceLimits
        {
            MemoryBytes = 256 << 20,
            MemorySwapBytes = 512 << 20,
            CpuQuotaMicros = 150_000,
            CpuPeriodMicros = 100_000,
            CpuShares = 512,
            CpusetCpus = "0-1,3",
            PidsLimit = 100,
            MemoryReservationBytes = 128 << 20,
        }, bundle.Spec.Resources with { DeviceRules = [] });
    }

    [Fact]
    public void A_memory_limit_below_the_minimum_is_refused_naming_the_field()
    {
        Assert.Equal("config.json: linux.resources.memory.limit: 256 is below the minimum of 4 MiB (4194304 bytes); the limit is in bytes",
            Fails(c => c.Linux!.Resources = new OciResources { Memory = new OciMemory { Limit = 256 } }));
        Assert.Equal(4L << 20, Parse(c => c.Linux!.Resources = new OciResources { Memory = new OciMemory { Limit = 4 << 20 } }).Spec.Resources.MemoryBytes);
    }

    [Fact]
    public void Zero_is_unset_and_minus_one_unlimited()
    {
        var limits = Parse(c => c.Linux!.Resources = new OciResources
        {
            Memory = new OciMemory { Limit = -1, Swap = 0 },
            Cpu = new OciCpu { Shares = 0, Quota = -1, Period = 50_000 },
            Pids = new OciPids { Limit = -1 },
            BlockIo = new OciBlockIo { Weight = 0 },
        }).Spec.Resources;
        // a period alone is still written, as runc writes cpu.cfs_period_us
        Assert.Equal(new ResourceLimits { CpuPeriodMicros = 50_000, CpuPeriodGiven = true, PidsLimit = -1 }, limits);
        var unlimitedSwap = Parse(c => c.Linux!.Resources = new OciResources { Memory = new OciMemory { Limit = 1 << 30, Swap = -1 } }).Spec.Resources;
        Assert.Equal((1L << 30, -1L), (unlimitedSwap.MemoryBytes, unlimitedSwap.MemorySwapBytes));
        Assert.Equal(new ResourceLimits(), Parse(c => c.Linux!.Resources = new OciResources { Pids = new OciPids { Limit = 0 } }).Spec.Resources);
    }

    public static TheoryData<string, OciResources> ResourceErrors => new()
    {
        { "config.json: linux.resources.memory.limit: -2 is not a size in bytes (or -1 for no limit)", new() { Memory = new() { Limit = -2 } } },
        { "config.json: linux.resources.memory.swap: needs memory.limit: it is the total of memory and swap", new() { Memory = new() { Swap = 1 << 30 } } },
        { "config.json: linux.resources.memory.swap: 1000 is below memory.limit 8388608: it is memory plus swap, so it must be at least the limit", new() { Memory = new() { Limit = 8 << 20, Swap = 1000 } } },
        { "config.json: linux.resources.memory.swap: -5 is not a size in bytes (or -1 for unlimited swap)", new() { Memory = new() { Limit = 8 << 20, Swap = -5 } } },
        { "config.json: linux.resources.cpu.quota: 500 is out of range: use microseconds per period, at least 1000 (or -1 for no limit)", new() { Cpu = new() { Quota = 500 } } },
        { "config.json: linux.resources.cpu.period: 2000000 is out of range: use 1000 to 1000000 microseconds", new() { Cpu = new() { Period = 2_000_000 } } },
        { "config.json: linux.resources.cpu.shares: 1 is out of range: use 2 to 262144 (1024 is the default weight)", new() { Cpu = new() { Shares = 1 } } },
        { "config.json: linux.resources.cpu.cpus: '3-1' is not a CPU list such as 0-1,3", new() { Cpu = new() { Cpus = "3-1" } } },
        { "config.json: linux.resources.pids.limit: -7 is out of range: use a number of processes above 0, or -1 for no limit", new() { Pids = new() { Limit = -7 } } },
        { "config.json: linux.resources.blockIO.weight: 5 is out of range: use 10 to 1000", new() { BlockIo = new() { Weight = 5 } } },
    };

    [Theory]
    [MemberData(nameof(ResourceErrors))]
    public void Resource_errors_name_the_json_path(string message, OciResources resources) =>
        Assert.Equal(message, Fails(c => c.Linux!.Resources = resources));

    [Theory]
    [InlineData("/a/b/c", "a/b", "c")]
    [InlineData("a/b/c", "a/b", "c")]
    [InlineData("/machine.slice//box/", "machine.slice", "box")]
    [InlineData("/top", "", "top")]
    [InlineData("", "isolate", "0123456789abcdef")]
    [InlineData(null, "isolate", "0123456789abcdef")]
    public void Cgroups_path_splits_into_parent_and_name(string? path, string parent, string name)
    {
        var bundle = Parse(c => c.Linux!.CgroupsPath = path);
        Assert.Equal((parent, name), (bundle.CgroupParent, bundle.CgroupName));
        Assert.Equal(parent, bundle.Spec.CgroupParent);
    }

    [Theory]
    [InlineData("system.slice:docker:abc", "a systemd slice:prefix:name path needs isolate --systemd-cgroup (where systemd runs); otherwise give a cgroupfs path (podman --cgroup-manager cgroupfs)")]
    [InlineData("/", "'/' names no cgroup")]
    [InlineData("/a/../b", "'/a/../b' must not hold '.' or '..'")]
    public void Bad_cgroups_paths_are_errors(string path, string message) =>
        Assert.Equal("config.json: linux.cgroupsPath: " + message, Fails(c => c.Linux!.CgroupsPath = path));

    // ---- sysctl ----

    [Fact]
    public void Namespaced_sysctls_are_kept()
    {
        var sysctl = new Dictionary<string, string>
        {
            ["net.ipv4.ip_forward"] = "1", ["kernel.shmmax"] = "1000", ["fs.mqueue.msg_max"] = "20", ["kernel.domainname"] = "d", ["net/core/somaxconn"] = "512",
        };
        Assert.Equal(sysctl, Parse(c => c.Linux!.Sysctl = new(sysctl)).Sysctl);
    }

    [Theory]
    [InlineData("kernel.pid_max", "is not namespaced: setting it would change the host (only kernel.msg*, kernel.sem, kernel.shm*, fs.mqueue.*, kernel.hostname, kernel.domainname and net.* are)")]
    [InlineData("vm.swappiness", "is not namespaced: setting it would change the host (only kernel.msg*, kernel.sem, kernel.shm*, fs.mqueue.*, kernel.hostname, kernel.domainname and net.* are)")]
    [InlineData("net..x", "is not a sysctl name")]
    public void Sysctls_outside_the_containers_namespaces_are_errors(string name, string message) =>
        Assert.Equal($"config.json: linux.sysctl.{name}: {message}", Fails(c => c.Linux!.Sysctl = new() { [name] = "1" }));

    [Fact]
    public void Net_sysctls_need_a_network_namespace()
    {
        Assert.Equal("config.json: linux.sysctl.net.ipv4.ip_forward: needs a network namespace of the container's own, and it shares the host's (add {\"type\": \"network\"} to linux.namespaces)",
            Fails(c => { c.Linux!.Namespaces!.RemoveAll(n => n.Type == "network"); c.Linux.Sysctl = new() { ["net.ipv4.ip_forward"] = "1" }; }));
    }

    // ---- seccomp ----

    private static OciSeccomp Profile(string defaultAction, params OciSyscall[] syscalls) =>
        new() { DefaultAction = defaultAction, Architectures = ["SCMP_ARCH_X86_64"], Syscalls = [.. syscalls] };

    [Fact]
    public void Seccomp_compiles_with_the_existing_compiler()
    {
        var filter = Parse(c => c.Linux!.Seccomp = Profile("SCMP_ACT_ALLOW",
            new OciSyscall { Names = ["mount", "no_such_call"], Action = "SCMP_ACT_ERRNO" },
            new OciSyscall { Names = ["no_such_call_either"], Action = "SCMP_ACT_KILL" }, // nothing known: skipped
            new OciSyscall { Names = ["kill"], Action = "SCMP_ACT_ERRNO", ErrnoRet = 13, Args = [new OciSyscallArg { Index = 1, Value = 9, Op = "SCMP_CMP_EQ" }] },
            new OciSyscall { Names = ["chmod"], Action = "SCMP_ACT_ERRNO", ErrnoRet = 30, Args = [new OciSyscallArg { Index = 1, Value = 0x800, ValueTwo = 0x800, Op = "SCMP_CMP_MASKED_EQ" }] },
            new OciSyscall { Names = ["reboot"], Action = "SCMP_ACT_KILL_PROCESS" })).Spec.Process.Security.Seccomp;
        Assert.Equal(EpermRet, BpfInterpreter.Run(filter, Nr("mount")));
        Assert.Equal(0x0005000du, BpfInterpreter.Run(filter, Nr("kill"), args: [1, 9]));
        Assert.Equal(Allow, BpfInterpreter.Run(filter, Nr("kill"), args: [1, 15]));
        Assert.Equal(0x0005001eu, BpfInterpreter.Run(filter, Nr("chmod"), args: [0, 0x9ED]));
        Assert.Equal(Allow, BpfInterpreter.Run(filter, Nr("chmod"), args: [0, 0x1ED]));
        Assert.Equal(0x80000000u, BpfInterpreter.Run(filter, Nr("reboot")));
        Assert.Equal(Allow, BpfInterpreter.Run(filter, Nr("getpid")));
    }

    [Theory]
    [InlineData("SCMP_ACT_ERRNO", null, 0x00050001u)]
    [InlineData("SCMP_ACT_ERRNO", 38u, 0x00050026u)]
    [InlineData("SCMP_ACT_KILL", null, 0x00000000u)]
    [InlineData("SCMP_ACT_KILL_THREAD", null, 0x00000000u)]
    [InlineData("SCMP_ACT_KILL_PROCESS", null, 0x80000000u)]
    [InlineData("SCMP_ACT_TRAP", null, 0x00030000u)]
    [InlineData("SCMP_ACT_LOG", null, 0x7ffc0000u)]
    [InlineData("SCMP_ACT_TRACE", 5u, 0x7ff00005u)]
    public void Seccomp_default_actions_become_the_kernels_return_values(string action, uint? errno, uint expected)
    {
        var filter = Parse(c => c.Linux!.Seccomp = new OciSeccomp { DefaultAction = action, DefaultErrnoRet = errno }).Spec.Process.Security.Seccomp;
        Assert.Equal(expected, BpfInterpreter.Run(filter, Nr("getpid")));
    }

    public static TheoryData<string, OciSeccomp> SeccompErrors => new()
    {
        { "config.json: linux.seccomp.defaultAction: is required", new OciSeccomp() },
        { "config.json: linux.seccomp.defaultAction: unknown action 'SCMP_ACT_MAYBE'", Profile("SCMP_ACT_MAYBE") },
        { "config.json: linux.seccomp.syscalls[1].action: SCMP_ACT_NOTIFY (seccomp user notification) is not supported",
            Profile("SCMP_ACT_ALLOW", new OciSyscall { Names = ["read"], Action = "SCMP_ACT_ERRNO" }, new OciSyscall { Names = ["mount"], Action = "SCMP_ACT_NOTIFY" }) },
        { "config.json: linux.seccomp.syscalls[0].action: is required", Profile("SCMP_ACT_ALLOW", new OciSyscall { Names = ["read"] }) },
        { "config.json: linux.seccomp.syscalls[0].names: must name at least one system call", Profile("SCMP_ACT_ALLOW", new OciSyscall { Action = "SCMP_ACT_ALLOW" }) },
        { "config.json: linux.seccomp.syscalls[0].args[0].index: 6 is not an argument (0 to 5)",
            Profile("SCMP_ACT_ALLOW", new OciSyscall { Names = ["read"], Action = "SCMP_ACT_ERRNO", Args = [new OciSyscallArg { Index = 6, Op = "SCMP_CMP_EQ" }] }) },
        { "config.json: linux.seccomp.syscalls[0].args[1].op: unknown operator 'SCMP_CMP_LIKE'",
            Profile("SCMP_ACT_ALLOW", new OciSyscall { Names = ["read"], Action = "SCMP_ACT_ERRNO",
                Args = [new OciSyscallArg { Index = 0, Op = "SCMP_CMP_EQ" }, new OciSyscallArg { Index = 1, Op = "SCMP_CMP_LIKE" }] }) },
        { "config.json: linux.seccomp.syscalls[0].args[0].op: is required",
            Profile("SCMP_ACT_ALLOW", new OciSyscall { Names = ["read"], Action = "SCMP_ACT_ERRNO", Args = [new OciSyscallArg()] }) },
        { "config.json: linux.seccomp: the seccomp profile compiles to 4103 BPF instructions, more than the kernel's 4096; simplify it",
            Profile("SCMP_ACT_ALLOW", [.. Enumerable.Repeat(new OciSyscall { Names = ["read"], Action = "SCMP_ACT_ERRNO" }, 2048)]) },
    };

    [Theory]
    [MemberData(nameof(SeccompErrors))]
    public void Seccomp_errors_name_the_json_path(string message, OciSeccomp seccomp) =>
        Assert.Equal(message, Fails(c => c.Linux!.Seccomp = seccomp));

    // ---- hooks and annotations ----

    [Fact]
    public void Hooks_keep_their_phase_order_and_get_argv_zero()
    {
        var hooks = Parse(c => c.Hooks = new OciHooksConfig
        {
            Prestart = [new OciHookConfig { Path = "/usr/bin/pre" }],
            CreateRuntime = [new OciHookConfig { Path = "/bin/a", Args = ["a", "1"] }, new OciHookConfig { Path = "/bin/b", Env = ["X=1"], Timeout = 5 }],
            CreateContainer = [new OciHookConfig { Path = "/no-such-dir/cc" }], // one that is not there is the runner's to report
            StartContainer = [new OciHookConfig { Path = "/bin/sc" }],
            Poststart = [new OciHookConfig { Path = "/bin/ps" }],
            Poststop = [new OciHookConfig { Path = "/bin/stop", Args = ["stop", "--all"], Timeout = 30 }],
        }).Hooks;
        Assert.True(hooks.Any);
        // no env: the runtime's own environment, as runc's hooks inherit it (null); env: exactly that
        Assert.Equal([new OciHook("/usr/bin/pre", ["/usr/bin/pre"], null, null)], hooks.Prestart, HookEquals);
        Assert.Equal([new OciHook("/bin/a", ["a", "1"], null, null), new OciHook("/bin/b", ["/bin/b"], ["X=1"], 5)], hooks.CreateRuntime, HookEquals);
        Assert.Equal("/no-such-dir/cc", hooks.CreateContainer.Single().Path);
        Assert.Equal("/bin/sc", hooks.StartContainer.Single().Path);
        Assert.Equal("/bin/ps", hooks.Poststart.Single().Path);
        Assert.Equal([new OciHook("/bin/stop", ["stop", "--all"], null, 30)], hooks.Poststop, HookEquals);
    }

    [Fact]
    public void A_createContainer_hook_that_is_no_static_program_is_refused_at_load()
    {
        // the test host (dotnet) is dynamically linked; a #! script in a temp file
        string host = Environment.ProcessPath!;
        Assert.Equal($"config.json: hooks.createContainer[0].path: {host} is dynamically linked (its loader would be the container's); give a statically linked program",
            Fails(c => c.Hooks = new OciHooksConfig { CreateContainer = [new OciHookConfig { Path = host }] }));
        string script = Path.GetTempFileName();
        try
        {
            File.WriteAllText(script, "#!/bin/sh\n");
            Assert.Equal($"config.json: hooks.createContainer[0].path: {script} is a #! script (its interpreter would be the container's); give a statically linked program",
                Fails(c => c.Hooks = new OciHooksConfig { CreateContainer = [new OciHookConfig { Path = script }] }));
            File.WriteAllText(script, "plain text");
            Assert.Equal($"config.json: hooks.createContainer[0].path: {script} is not an ELF program of this machine (its interpreter would be looked up in the container); give a statically linked program",
                Fails(c => c.Hooks = new OciHooksConfig { CreateContainer = [new OciHookConfig { Path = script }] }));
        }
        finally
        {
            File.Delete(script);
        }
        // a host program that runs where it is (prestart) may be any program
        Assert.Single(Parse(c => c.Hooks = new OciHooksConfig { Prestart = [new OciHookConfig { Path = host }] }).Hooks.Prestart);
    }

    private static readonly IEqualityComparer<OciHook> HookEquals = EqualityComparer<OciHook>.Create(
        (a, b) => a!.Path == b!.Path && a.Args.SequenceEqual(b.Args) && (a.Env is null ? b.Env is null : b.Env != null && a.Env.SequenceEqual(b.Env)) && a.Timeout == b.Timeout);

    [Theory]
    [InlineData(null, null, "config.json: hooks.poststop[0].path: is required")]
    [InlineData("bin/hook", null, "config.json: hooks.poststop[0].path: 'bin/hook' must be an absolute host path")]
    [InlineData("/bin/hook", 0, "config.json: hooks.poststop[0].timeout: 0 is not a number of seconds above 0")]
    [InlineData("/bin/hook", -3, "config.json: hooks.poststop[0].timeout: -3 is not a number of seconds above 0")]
    public void Bad_hooks_are_errors(string? path, int? timeout, string message) =>
        Assert.Equal(message, Fails(c => c.Hooks = new OciHooksConfig { Poststop = [new OciHookConfig { Path = path, Timeout = timeout }] }));

    [Fact]
    public void Annotations_are_kept_as_given()
    {
        var annotations = Parse(c => c.Annotations = new() { ["org.example/key"] = "value", ["empty"] = "" }).Annotations;
        Assert.Equal(new Dictionary<string, string> { ["org.example/key"] = "value", ["empty"] = "" }, annotations);
    }

    // ---- the fixture ----

    /// <summary>What podman 4 (cgroupfs manager, root) wrote for `podman run alpine sleep 100`, with its
    /// host paths moved under @DIR@ (the test's bundle directory).</summary>
    private const string PodmanConfig = """
        {
          "ociVersion": "1.0.2-dev",
          "process": {
            "user": {
              "uid": 0,
              "gid": 0,
              "umask": 18
            },
            "args": ["sleep", "100"],
            "env": [
              "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm", "container=podman",
              "HOME=/root", "HOSTNAME=dae0f15835ea"
            ],
            "cwd": "/",
            "capabilities": {
              "bounding": [
                "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_SETFCAP",
                "CAP_SETGID", "CAP_SETPCAP", "CAP_SETUID", "CAP_SYS_CHROOT"
              ],
              "effective": [
                "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_SETFCAP",
                "CAP_SETGID", "CAP_SETPCAP", "CAP_SETUID", "CAP_SYS_CHROOT"
              ],
              "permitted": [
                "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_SETFCAP",
                "CAP_SETGID", "CAP_SETPCAP", "CAP_SETUID", "CAP_SYS_CHROOT"
              ]
            },
            "rlimits": [
              {
                "type": "RLIMIT_NOFILE",
                "hard": 1024,
                "soft": 1024
              },
              {
                "type": "RLIMIT_NPROC",
                "hard": 1024,
                "soft": 1024
              }
            ]
          },
          "root": {
            "path": "@DIR@/merged"
          },
          "hostname": "dae0f15835ea",
          "mounts": [
            {
              "destination": "/proc",
              "type": "proc",
              "source": "proc",
              "options": ["nosuid", "noexec", "nodev"]
            },
            {
              "destination": "/dev",
              "type": "tmpfs",
              "source": "tmpfs",
              "options": ["nosuid", "noexec", "strictatime", "mode=755", "size=65536k"]
            },
            {
              "destination": "/sys",
              "type": "sysfs",
              "source": "sysfs",
              "options": ["nosuid", "noexec", "nodev", "ro"]
            },
            {
              "destination": "/dev/pts",
              "type": "devpts",
              "source": "devpts",
              "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]
            },
            {
              "destination": "/dev/mqueue",
              "type": "mqueue",
              "source": "mqueue",
              "options": ["nosuid", "noexec", "nodev"]
            },
            {
              "destination": "/etc/resolv.conf",
              "type": "bind",
              "source": "@DIR@/userdata/resolv.conf",
              "options": ["bind", "rprivate"]
            },
            {
              "destination": "/etc/hosts",
              "type": "bind",
              "source": "@DIR@/userdata/hosts",
              "options": ["bind", "rprivate"]
            },
            {
              "destination": "/dev/shm",
              "type": "bind",
              "source": "@DIR@/userdata/shm",
              "options": ["bind", "rprivate", "nosuid", "noexec", "nodev"]
            },
            {
              "destination": "/run/.containerenv",
              "type": "bind",
              "source": "@DIR@/userdata/.containerenv",
              "options": ["bind", "rprivate"]
            },
            {
              "destination": "/etc/hostname",
              "type": "bind",
              "source": "@DIR@/userdata/hostname",
              "options": ["bind", "rprivate"]
            },
            {
              "destination": "/sys/fs/cgroup",
              "type": "cgroup",
              "source": "cgroup",
              "options": ["rprivate", "nosuid", "noexec", "nodev", "relatime", "ro"]
            }
          ],
          "annotations": {
            "io.container.manager": "libpod",
            "io.kubernetes.cri-o.Created": "2026-11-29T09:01:47.833044416Z",
            "io.kubernetes.cri-o.TTY": "false",
            "io.podman.annotations.autoremove": "FALSE",
            "io.podman.annotations.init": "FALSE",
            "io.podman.annotations.privileged": "FALSE",
            "io.podman.annotations.publish-all": "FALSE",
            "org.opencontainers.image.stopSignal": "15"
          },
          "linux": {
            "sysctl": {
              "net.ipv4.ping_group_range": "0 0"
            },
            "resources": {
              "devices": [
                {
                  "allow": false,
                  "access": "rwm"
                }
              ],
              "pids": {
                "limit": 2048
              }
            },
            "cgroupsPath": "/libpod_parent/libpod-dae0f15835ea618f291f4e2f8905c4d20a39524337aad815cc03b86f0301ad84",
            "namespaces": [
              {
                "type": "pid"
              },
              {
                "type": "network",
                "path": "@DIR@/netns"
              },
              {
                "type": "ipc"
              },
              {
                "type": "uts"
              },
              {
                "type": "mount"
              }
            ],
            "seccomp": {
              "defaultAction": "SCMP_ACT_ERRNO",
              "defaultErrnoRet": 38,
              "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
              "syscalls": [
                {
                  "names": [
                    "bdflush", "io_pgetevents", "kexec_file_load", "kexec_load", "migrate_pages", "move_pages", "nfsservctl",
                    "nice", "oldfstat", "oldlstat", "oldolduname", "oldstat", "olduname", "pciconfig_iobase", "pciconfig_read",
                    "pciconfig_write", "sgetmask", "ssetmask", "swapcontext", "swapoff", "swapon", "sysfs", "uselib",
                    "userfaultfd", "ustat", "vm86", "vm86old", "vmsplice"
                  ],
                  "action": "SCMP_ACT_ERRNO",
                  "errnoRet": 1
                },
                {
                  "names": [
                    "_llseek", "_newselect", "accept", "accept4", "access", "adjtimex", "alarm", "bind", "brk", "capget",
                    "capset", "chdir", "chmod", "chown", "chown32", "clock_adjtime", "clock_adjtime64", "clock_getres",
                    "clock_getres_time64", "clock_gettime", "clock_gettime64", "clock_nanosleep", "clock_nanosleep_time64",
                    "clone", "clone3", "close", "close_range", "connect", "copy_file_range", "creat", "dup", "dup2", "dup3",
                    "epoll_create", "epoll_create1", "epoll_ctl", "epoll_ctl_old", "epoll_pwait", "epoll_pwait2", "epoll_wait",
                    "epoll_wait_old", "eventfd", "eventfd2", "execve", "execveat", "exit", "exit_group", "faccessat",
                    "faccessat2", "fadvise64", "fadvise64_64", "fallocate", "fanotify_mark", "fchdir", "fchmod", "fchmodat",
                    "fchown", "fchown32", "fchownat", "fcntl", "fcntl64", "fdatasync", "fgetxattr", "flistxattr", "flock",
                    "fork", "fremovexattr", "fsconfig", "fsetxattr", "fsmount", "fsopen", "fspick", "fstat", "fstat64",
                    "fstatat64", "fstatfs", "fstatfs64", "fsync", "ftruncate", "ftruncate64", "futex", "futex_time64",
                    "futimesat", "get_mempolicy", "get_robust_list", "get_thread_area", "getcpu", "getcwd", "getdents",
                    "getdents64", "getegid", "getegid32", "geteuid", "geteuid32", "getgid", "getgid32", "getgroups",
                    "getgroups32", "getitimer", "getpeername", "getpgid", "getpgrp", "getpid", "getppid", "getpriority",
                    "getrandom", "getresgid", "getresgid32", "getresuid", "getresuid32", "getrlimit", "getrusage", "getsid",
                    "getsockname", "getsockopt", "gettid", "gettimeofday", "getuid", "getuid32", "getxattr",
                    "inotify_add_watch", "inotify_init", "inotify_init1", "inotify_rm_watch", "io_cancel", "io_destroy",
                    "io_getevents", "io_setup", "io_submit", "ioctl", "ioprio_get", "ioprio_set", "ipc", "keyctl", "kill",
                    "landlock_add_rule", "landlock_create_ruleset", "landlock_restrict_self", "lchown", "lchown32",
                    "lgetxattr", "link", "linkat", "listen", "listxattr", "llistxattr", "lremovexattr", "lseek", "lsetxattr",
                    "lstat", "lstat64", "madvise", "mbind", "membarrier", "memfd_create", "memfd_secret", "mincore", "mkdir",
                    "mkdirat", "mknod", "mknodat", "mlock", "mlock2", "mlockall", "mmap", "mmap2", "mount", "mount_setattr",
                    "move_mount", "mprotect", "mq_getsetattr", "mq_notify", "mq_open", "mq_timedreceive",
                    "mq_timedreceive_time64", "mq_timedsend", "mq_timedsend_time64", "mq_unlink", "mremap", "msgctl", "msgget",
                    "msgrcv", "msgsnd", "msync", "munlock", "munlockall", "munmap", "name_to_handle_at", "nanosleep",
                    "newfstatat", "open", "open_tree", "openat", "openat2", "pause", "pidfd_getfd", "pidfd_open",
                    "pidfd_send_signal", "pipe", "pipe2", "pivot_root", "pkey_alloc", "pkey_free", "pkey_mprotect", "poll",
                    "ppoll", "ppoll_time64", "prctl", "pread64", "preadv", "preadv2", "prlimit64", "process_mrelease",
                    "process_vm_readv", "process_vm_writev", "pselect6", "pselect6_time64", "ptrace", "pwrite64", "pwritev",
                    "pwritev2", "read", "readahead", "readdir", "readlink", "readlinkat", "readv", "reboot", "recv",
                    "recvfrom", "recvmmsg", "recvmmsg_time64", "recvmsg", "remap_file_pages", "removexattr", "rename",
                    "renameat", "renameat2", "restart_syscall", "rmdir", "rseq", "rt_sigaction", "rt_sigpending",
                    "rt_sigprocmask", "rt_sigqueueinfo", "rt_sigreturn", "rt_sigsuspend", "rt_sigtimedwait",
                    "rt_sigtimedwait_time64", "rt_tgsigqueueinfo", "sched_get_priority_max", "sched_get_priority_min",
                    "sched_getaffinity", "sched_getattr", "sched_getparam", "sched_getscheduler", "sched_rr_get_interval",
                    "sched_rr_get_interval_time64", "sched_setaffinity", "sched_setattr", "sched_setparam",
                    "sched_setscheduler", "sched_yield", "seccomp", "select", "semctl", "semget", "semop", "semtimedop",
                    "semtimedop_time64", "send", "sendfile", "sendfile64", "sendmmsg", "sendmsg", "sendto", "set_mempolicy",
                    "set_robust_list", "set_thread_area", "set_tid_address", "setfsgid", "setfsgid32", "setfsuid",
                    "setfsuid32", "setgid", "setgid32", "setgroups", "setgroups32", "setitimer", "setns", "setpgid",
                    "setpriority", "setregid", "setregid32", "setresgid", "setresgid32", "setresuid", "setresuid32",
                    "setreuid", "setreuid32", "setrlimit", "setsid", "setsockopt", "setuid", "setuid32", "setxattr", "shmat",
                    "shmctl", "shmdt", "shmget", "shutdown", "sigaction", "sigaltstack", "signal", "signalfd", "signalfd4",
                    "sigpending", "sigprocmask", "sigreturn", "sigsuspend", "socketcall", "socketpair", "splice", "stat",
                    "stat64", "statfs", "statfs64", "statx", "symlink", "symlinkat", "sync", "sync_file_range", "syncfs",
                    "syscall", "sysinfo", "syslog", "tee", "tgkill", "time", "timer_create", "timer_delete",
                    "timer_getoverrun", "timer_gettime", "timer_gettime64", "timer_settime", "timer_settime64", "timerfd",
                    "timerfd_create", "timerfd_gettime", "timerfd_gettime64", "timerfd_settime", "timerfd_settime64", "times",
                    "tkill", "truncate", "truncate64", "ugetrlimit", "umask", "umount", "umount2", "uname", "unlink",
                    "unlinkat", "unshare", "utime", "utimensat", "utimensat_time64", "utimes", "vfork", "wait4", "waitid",
                    "waitpid", "write", "writev"
                  ],
                  "action": "SCMP_ACT_ALLOW"
                },
                {
                  "names": ["personality"],
                  "action": "SCMP_ACT_ALLOW",
                  "args": [
                    {
                      "index": 0,
                      "value": 0,
                      "op": "SCMP_CMP_EQ"
                    }
                  ]
                },
                {
                  "names": ["personality"],
                  "action": "SCMP_ACT_ALLOW",
                  "args": [
                    {
                      "index": 0,
                      "value": 8,
                      "op": "SCMP_CMP_EQ"
                    }
                  ]
                },
                {
                  "names": ["personality"],
                  "action": "SCMP_ACT_ALLOW",
                  "args": [
                    {
                      "index": 0,
                      "value": 131072,
                      "op": "SCMP_CMP_EQ"
                    }
                  ]
                },
                {
                  "names": ["personality"],
                  "action": "SCMP_ACT_ALLOW",
                  "args": [
                    {
                      "index": 0,
                      "value": 131080,
                      "op": "SCMP_CMP_EQ"
                    }
                  ]
                },
                {
                  "names": ["personality"],
                  "action": "SCMP_ACT_ALLOW",
                  "args": [
                    {
                      "index": 0,
                      "value": 4294967295,
                      "op": "SCMP_CMP_EQ"
                    }
                  ]
                },
                {
                  "names": ["arch_prctl"],
                  "action": "SCMP_ACT_ALLOW"
                },
                {
                  "names": ["modify_ldt"],
                  "action": "SCMP_ACT_ALLOW"
                },
                {
                  "names": ["open_by_handle_at"],
                  "action": "SCMP_ACT_ERRNO",
                  "errnoRet": 1
                },
                {
                  "names": [
                    "bpf", "fanotify_init", "lookup_dcookie", "perf_event_open", "quotactl", "setdomainname", "sethostname",
                    "setns"
                  ],
                  "action": "SCMP_ACT_ERRNO",
                  "errnoRet": 1
                },
                {
                  "names": ["chroot"],
                  "action": "SCMP_ACT_ALLOW"
                },
                {
                  "names": ["delete_module", "finit_module", "init_module", "query_module"],
                  "action": "SCMP_ACT_ERRNO",
                  "errnoRet": 1
                },
                {
                  "names": ["acct"],
                  "action": "SCMP_ACT_ERRNO",
                  "errnoRet": 1
                },
                {
                  "names": ["kcmp", "process_madvise"],
                  "action": "SCMP_ACT_ERRNO",
                  "errnoRet": 1
                },
                {
                  "names": ["ioperm", "iopl"],
                  "action": "SCMP_ACT_ERRNO",
                  "errnoRet": 1
                },
                {
                  "names": ["clock_settime", "clock_settime64", "settimeofday", "stime"],
                  "action": "SCMP_ACT_ERRNO",
                  "errnoRet": 1
                },
                {
                  "names": ["vhangup"],
                  "action": "SCMP_ACT_ERRNO",
                  "errnoRet": 1
                },
                {
                  "names": ["socket"],
                  "action": "SCMP_ACT_ERRNO",
                  "errnoRet": 22,
                  "args": [
                    {
                      "index": 0,
                      "value": 16,
                      "op": "SCMP_CMP_EQ"
                    },
                    {
                      "index": 2,
                      "value": 9,
                      "op": "SCMP_CMP_EQ"
                    }
                  ]
                },
                {
                  "names": ["socket"],
                  "action": "SCMP_ACT_ALLOW",
                  "args": [
                    {
                      "index": 2,
                      "value": 9,
                      "op": "SCMP_CMP_NE"
                    }
                  ]
                },
                {
                  "names": ["socket"],
                  "action": "SCMP_ACT_ALLOW",
                  "args": [
                    {
                      "index": 0,
                      "value": 16,
                      "op": "SCMP_CMP_NE"
                    }
                  ]
                },
                {
                  "names": ["socket"],
                  "action": "SCMP_ACT_ALLOW",
                  "args": [
                    {
                      "index": 2,
                      "value": 9,
                      "op": "SCMP_CMP_NE"
                    }
                  ]
                }
              ]
            },
            "maskedPaths": [
              "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
              "/proc/sched_debug", "/proc/scsi", "/sys/firmware", "/sys/fs/selinux", "/sys/dev/block"
            ],
            "readonlyPaths": ["/proc/asound", "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
          }
        }
        """;
}
