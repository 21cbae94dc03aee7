using System.Text.Json.Nodes;
using Isolate.Tests.Support;

namespace Isolate.Tests.Integration;

/// <summary>--gpus with no NVIDIA toolkit, on a driver the tests make (FakeNvidiaDriver: nodes
/// with NVIDIA's majors, the driver's /proc files, libraries with sonames in an ld.so cache),
/// given as --nvidia-driver-root; the container is a root with the host's glibc and nothing
/// of the driver. Checked from inside: the nodes in /dev, what the device cgroup lets it open,
/// the libraries loaded by soname, the read-only mounts, the environment. Then the same
/// through an nvidia.com/gpu CDI spec, whose NVIDIA hooks Isolate does itself.</summary>
public sealed class GpuDeviceTests : StateRootTest, IDisposable
{
    private readonly string _dir;
    private readonly FakeNvidiaDriver _driver = null!;
    private readonly RootfsVariant _root;

    public GpuDeviceTests(BusyboxRootfs rootfs) : base(rootfs, "isolate-test-gpu-state-")
    {
        _dir = Own(Directory.CreateTempSubdirectory("isolate-test-gpu-").FullName);
        _root = rootfs.CreateVariant();
        Own(_root.Path);
        if (!File.Exists(FakeNvidiaDriver.Gcc))
            return; // the test is skipped ([ContainerFact(Needs = gcc)])
        _driver = new FakeNvidiaDriver(_dir);
        _driver.AddGlibcRoot(_root.Path);
        foreach (string applet in new[] { "mknod", "env", "sort", "sed", "tr", "cut" })
            File.CreateSymbolicLink(_root.HostPath("bin/" + applet), "busybox");
    }

    void IDisposable.Dispose()
    {
        try
        {
            foreach (string dir in Directory.Exists(StateRoot) ? Directory.GetDirectories(StateRoot) : [])
                Isolate("rm", "-f", Path.GetFileName(dir));
        }
        finally
        {
            _root.Dispose();
            Directory.Delete(_dir, recursive: true);
            Directory.Delete(StateRoot, recursive: true);
            Dispose();
        }
    }

    private RunResult Gpu(string[] options, string script, string? driverRoot = null, string[]? globals = null) =>
        Isolate([.. globals ?? [], "--nvidia-driver-root", driverRoot ?? _driver.Root, "run", "--rootfs", _root.Path, "--cgroup-parent", CgroupParent,
            .. options, "--", "sh", "-c", script]);

    private const string ShowDev = "ls /dev | grep nvidia | sort | tr '\\n' ' '; echo";

    [ContainerFact(Needs = FakeNvidiaDriver.Gcc, Why = "to build the fake driver's libraries")]
    public void Gpus_all_gives_every_gpu_the_control_nodes_and_a_driver_loaded_by_soname()
    {
        var run = Gpu(["--gpus", "all"], $"""
            {ShowDev}
            echo "$NVIDIA_VISIBLE_DEVICES $NVIDIA_DRIVER_CAPABILITIES"
            gpuprobe libcuda.so.1 libnvidia-ml.so.1
            nvidia-smi
            grep libcuda.so.580 /proc/self/mountinfo
            readlink {FakeNvidiaDriver.Libraries}/libcuda.so.1
            cat /dev/nvidia0 2>&1 || true
            """);

        Assert.True(run.ExitCode == 0, run.ToString());
        string[] lines = run.Stdout.Split('\n');
        Assert.Equal("nvidia-uvm nvidia0 nvidia1 nvidiactl ", lines[0]);
        Assert.Equal("all compute,utility", lines[1]);
        Assert.Equal(["libcuda.so.1: 42", "libnvidia-ml.so.1: 42", "GPU 0: Fake H100", "GPU 1: Fake H100"], lines[2..6]);
        // the library is bound read-only, nosuid, nodev, at the path the driver has it
        string[] mount = lines[6].Split(' ');
        Assert.Equal($"{FakeNvidiaDriver.Libraries}/libcuda.so.580.65.06", mount[4]);
        Assert.Contains("ro", mount[5].Split(','));
        Assert.Contains("nosuid", mount[5].Split(','));
        Assert.Contains("nodev", mount[5].Split(','));
        Assert.Equal("libcuda.so.580.65.06", lines[7]);
        // allowed by the device cgroup: the open reaches the (absent) driver
        Assert.Contains("No such device or address", lines[8]);
        // the root is as it was: what the container got was mounted over a layer
        Assert.False(Directory.Exists(_root.HostPath("usr")));
        Assert.False(Directory.Exists(_root.HostPath("dev")) && Directory.GetFileSystemEntries(_root.HostPath("dev")).Length > 0);
    }

    [ContainerFact(Needs = FakeNvidiaDriver.Gcc, Why = "to build the fake driver's libraries")]
    public void A_chosen_gpu_hides_the_other_and_the_device_cgroup_refuses_it()
    {
        const string script = ShowDev + """

            echo "$NVIDIA_VISIBLE_DEVICES"
            cat /dev/nvidia1 2>&1 || true
            mknod /dev/other c 195 0 && cat /dev/other 2>&1 || true
            """;
        foreach (string choice in new[] { "device=1", FakeNvidiaDriver.UuidB.Insert(0, "device="), "\"device=1\",capabilities=compute" })
        {
            var run = Gpu(["--gpus", choice], script);
            Assert.True(run.ExitCode == 0, $"--gpus {choice}: {run}");
            string[] lines = run.Stdout.Split('\n');
            Assert.Equal("nvidia-uvm nvidia1 nvidiactl ", lines[0]);
            Assert.Equal("1", lines[1]);
            Assert.Contains("No such device or address", lines[2]);
            Assert.Contains("Operation not permitted", lines[3]);
        }
        var both = Gpu(["--gpus", "device=0,1"], ShowDev);
        Assert.Equal("nvidia-uvm nvidia0 nvidia1 nvidiactl \n", both.Stdout);

        // the other GPU's directory in the driver's /proc is masked (here, with no driver
        // loaded, there is none to mask: the plan shows it)
        var plan = Gpu(["--gpus", "device=1", "--debug"], "true");
        Assert.Contains("mask /proc/driver/nvidia/gpus/0000:3b:00.0 (in root) (if present)", plan.Stderr);
        Assert.DoesNotContain("mask /proc/driver/nvidia/gpus/0000:86:00.0", plan.Stderr);
    }

    /// <summary>The same on cgroup v2 (a VM whose /init mounts only the unified hierarchy): the
    /// chosen GPU's node is let through the eBPF device program, another's is not.</summary>
    [VmFact]
    public void On_cgroup_v2_the_chosen_gpu_opens_and_another_does_not()
    {
        Assert.True(File.Exists(FakeNvidiaDriver.Gcc), "gcc builds the fake driver's library");
        const string lib = FakeNvidiaDriver.Libraries + "/libcuda.so.580.65.06";
        string init = QemuVm.OnUnifiedHierarchy("""
            mkdir -p /drv/dev
            busybox mknod /drv/dev/nvidia0 c 195 0
            busybox mknod /drv/dev/nvidia1 c 195 1
            busybox mknod /drv/dev/nvidiactl c 195 255
            /isolate --nvidia-driver-root /drv run --rootfs /rootfs --no-overlay --gpus device=1 -- sh -c 'ls /dev | grep nvidia | tr "\n" " " | sed "s/^/@@ nodes /"; echo; (exec 3</dev/nvidia1) 2>&1 | sed "s/^/@@ given /"; mknod /dev/other c 195 0; (exec 3</dev/other) 2>&1 | sed "s/^/@@ other /"; readlink /usr/lib/x86_64-linux-gnu/libcuda.so.1 | sed "s/^/@@ link /"'
            """);
        var boot = QemuVm.Run(Rootfs, init, [(_driver.Root + lib, "/drv" + lib)]);
        string report = string.Join('\n', boot.Report) + "\n" + boot.Console;
        Assert.True(boot.Report.Contains("nodes nvidia1 nvidiactl"), report);
        Assert.True(boot.Report.Any(l => l.StartsWith("given", StringComparison.Ordinal) && l.Contains("No such device or address")), report);
        Assert.True(boot.Report.Any(l => l.StartsWith("other", StringComparison.Ordinal) && l.Contains("Operation not permitted")), report);
        Assert.True(boot.Report.Contains("link libcuda.so.580.65.06"), report);
    }

    [ContainerFact(Needs = FakeNvidiaDriver.Gcc, Why = "to build the fake driver's libraries")]
    public void A_count_the_capabilities_and_nvidia_visible_devices_choose_as_docker_and_the_toolkit_do()
    {
        Assert.Equal("nvidia-uvm nvidia0 nvidiactl \n", Gpu(["--gpus", "1"], ShowDev).Stdout);

        var utility = Gpu(["--gpus", "all,capabilities=utility"], "echo $NVIDIA_DRIVER_CAPABILITIES; gpuprobe libnvidia-ml.so.1 libcuda.so.1");
        Assert.Equal(1, utility.ExitCode);
        Assert.Equal("utility\nlibnvidia-ml.so.1: 42\nlibcuda.so.1: not loaded\n", utility.Stdout);

        var env = Gpu(["-e", "NVIDIA_VISIBLE_DEVICES=1"], ShowDev);
        Assert.Equal("nvidia-uvm nvidia1 nvidiactl \n", env.Stdout);

        // none: the driver without a GPU, as the toolkit gives it
        var none = Gpu(["-e", "NVIDIA_VISIBLE_DEVICES=none"], ShowDev + "; gpuprobe libcuda.so.1");
        Assert.Equal("nvidia-uvm nvidiactl \nlibcuda.so.1: 42\n", none.Stdout);

        var nothing = Gpu(["-e", "NVIDIA_VISIBLE_DEVICES=void"], ShowDev + "; gpuprobe libcuda.so.1");
        Assert.Equal(1, nothing.ExitCode);
        Assert.Equal("\nlibcuda.so.1: not loaded\n", nothing.Stdout);
    }

    [ContainerFact(Needs = FakeNvidiaDriver.Gcc, Why = "to build the fake driver's libraries")]
    public void What_gpus_cannot_give_is_refused_in_one_line()
    {
        string empty = Directory.CreateDirectory(Path.Combine(_dir, "empty")).FullName;
        var cases = new (string[] Options, string? Root, string Message)[]
        {
            (["--gpus", "3"], null, "--gpus 3: 3 GPUs asked for, and this host has 2"),
            (["--gpus", "device=7"], null, $"--gpus device=7: there is no GPU 7 under {_driver.Root} (there are 0 ({FakeNvidiaDriver.UuidA}), 1 ({FakeNvidiaDriver.UuidB}))"),
            (["--gpus", "all,capabilities=graphics"], null, "the graphics driver capability is not supported yet"),
            (["--gpus", "device=MIG-0f7d1a2b"], null, "is a MIG device, which is not supported yet"),
            (["--gpus", "some"], null, "invalid --gpus some: use all, a number"),
            (["--gpus", "all"], empty, $"--gpus all: no NVIDIA GPU found under {empty}"),
            (["-e", "NVIDIA_DRIVER_CAPABILITIES=video", "--gpus", "all"], null, "NVIDIA_DRIVER_CAPABILITIES: the video driver capability is not supported yet"),
        };
        foreach (var (options, root, message) in cases)
        {
            var run = Gpu(options, "echo ran", root);
            Assert.True(run.ExitCode == 125, $"{string.Join(' ', options)}: {run}");
            Assert.Contains(message, run.Stderr);
            Assert.Single(run.Stderr.TrimEnd('\n').Split('\n'));
            Assert.Empty(run.Stdout);
        }
    }

    private string WriteNvidiaSpec(string extraHook = "")
    {
        string specs = Directory.CreateDirectory(Path.Combine(_dir, "cdi")).FullName;
        string dev = Path.Combine(_driver.Root, "dev");
        string lib = Path.Combine(_driver.Root, FakeNvidiaDriver.Libraries.TrimStart('/'), "libcuda.so.580.65.06");
        // as nvidia-ctk cdi generate writes it (v1.17), for the fake driver
        File.WriteAllText(Path.Combine(specs, "nvidia.yaml"), $"""
            ---
            cdiVersion: 0.5.0
            kind: nvidia.com/gpu
            devices:
            - name: "0"
              containerEdits:
                deviceNodes:
                - path: /dev/nvidia0
                  hostPath: {dev}/nvidia0
            - name: {FakeNvidiaDriver.UuidB}
              containerEdits:
                deviceNodes:
                - path: /dev/nvidia1
                  hostPath: {dev}/nvidia1
            - name: "1"
              containerEdits:
                deviceNodes:
                - path: /dev/nvidia1
                  hostPath: {dev}/nvidia1
            - name: all
              containerEdits:
                deviceNodes:
                - path: /dev/nvidia0
                  hostPath: {dev}/nvidia0
                - path: /dev/nvidia1
                  hostPath: {dev}/nvidia1
            containerEdits:
              env:
              - NVIDIA_VISIBLE_DEVICES=void
              deviceNodes:
              - path: /dev/nvidiactl
                hostPath: {dev}/nvidiactl
              hooks:
              - hookName: createContainer
                path: /usr/bin/nvidia-cdi-hook
                args:
                - nvidia-cdi-hook
                - create-symlinks
                - --link
                - libcuda.so.1::{FakeNvidiaDriver.Libraries}/libcuda.so
              - hookName: createContainer
                path: /usr/bin/nvidia-cdi-hook
                args:
                - nvidia-cdi-hook
                - enable-cuda-compat
                - --host-driver-version=580.65.06
              - hookName: createContainer
                path: /usr/bin/nvidia-cdi-hook
                args:
                - nvidia-cdi-hook
                - update-ldcache
                - --folder
                - {FakeNvidiaDriver.Libraries}
              - hookName: createContainer
                path: /usr/bin/nvidia-cdi-hook
                args:
                - nvidia-cdi-hook
                - disable-device-node-modification
            {extraHook}
              mounts:
              - hostPath: {lib}
                containerPath: {FakeNvidiaDriver.Libraries}/libcuda.so.580.65.06
                options:
                - ro
                - nosuid
                - nodev
                - bind
            """);
        return specs;
    }

    [ContainerFact(Needs = FakeNvidiaDriver.Gcc, Why = "to build the fake driver's libraries")]
    public void An_nvidia_cdi_spec_gives_the_gpus_and_isolate_does_the_work_of_its_hooks()
    {
        string specs = WriteNvidiaSpec();
        const string script = ShowDev + """

            echo $NVIDIA_VISIBLE_DEVICES
            gpuprobe libcuda.so.1 libcuda.so
            readlink /usr/lib/x86_64-linux-gnu/libcuda.so.1
            readlink /usr/lib/x86_64-linux-gnu/libcuda.so
            """;
        // --gpus takes the spec (no nvidia-uvm: the spec does not list it), as --device does
        foreach (var (options, nodes) in new (string[], string)[]
        {
            (["--gpus", "device=1"], "nvidia1 nvidiactl "),
            (["--gpus", $"device={FakeNvidiaDriver.UuidB}"], "nvidia1 nvidiactl "),
            (["--gpus", "1"], "nvidia0 nvidiactl "),
            (["--device", "nvidia.com/gpu=all"], "nvidia0 nvidia1 nvidiactl "),
        })
        {
            var run = Gpu(options, script, globals: ["--cdi-spec-dir", specs]);
            Assert.True(run.ExitCode == 0, $"{string.Join(' ', options)}: {run}");
            Assert.Equal($"{nodes}\nvoid\nlibcuda.so.1: 42\nlibcuda.so: 42\nlibcuda.so.580.65.06\nlibcuda.so.1\n", run.Stdout);
        }

        // a hook whose work Isolate does not do is refused, naming it
        specs = WriteNvidiaSpec("""
              - hookName: createContainer
                path: /usr/bin/nvidia-cdi-hook
                args: [nvidia-cdi-hook, chmod, --mode, "755", --path, /dev/dri]
            """);
        var chmod = Gpu(["--gpus", "all"], "echo ran", globals: ["--cdi-spec-dir", specs]);
        Assert.Equal(125, chmod.ExitCode);
        Assert.Contains("hook createContainer /usr/bin/nvidia-cdi-hook chmod --mode 755 --path /dev/dri: the NVIDIA hook chmod is not supported", chmod.Stderr);
        Assert.Single(chmod.Stderr.TrimEnd('\n').Split('\n'));
    }

    [ContainerFact(Needs = FakeNvidiaDriver.Gcc, Why = "to build the fake driver's libraries")]
    public void Libraries_where_the_loader_does_not_look_go_into_the_containers_own_ld_so_cache()
    {
        // a driver in its own directory, as the GPU operator installs one, with no ld.so cache
        var driver = new FakeNvidiaDriver(_dir, "operator", "/usr/local/nvidia/lib64", cache: false);
        Directory.CreateDirectory(_root.HostPath("etc"));
        File.Copy("/etc/ld.so.cache", _root.HostPath("etc/ld.so.cache")); // the image's own cache
        byte[] before = File.ReadAllBytes(_root.HostPath("etc/ld.so.cache"));
        var run = Gpu(["--gpus", "all", "-v", "/sbin/ldconfig:/sbin/ldconfig:ro"], """
            gpuprobe libcuda.so.1 libnvidia-ml.so.1
            cat /etc/ld.so.conf.d/000-isolate-gpu.conf
            /sbin/ldconfig -p | grep -E 'libcuda|libnvidia-ml|libc\.so\.6 '
            readlink /usr/local/nvidia/lib64/libcuda.so.1
            """, driver.Root);
        Assert.True(run.ExitCode == 0, run.ToString());
        string[] lines = run.Stdout.Split('\n');
        Assert.Equal(["libcuda.so.1: 42", "libnvidia-ml.so.1: 42", "/usr/local/nvidia/lib64"], lines[..3]);
        // the image's entries kept, the driver's added: the cache as ldconfig itself reads it
        Assert.Contains(lines, l => l.Trim() == "libcuda.so.1 (libc6,x86-64) => /usr/local/nvidia/lib64/libcuda.so.1");
        Assert.Contains(lines, l => l.Trim() == "libnvidia-ml.so.1 (libc6,x86-64) => /usr/local/nvidia/lib64/libnvidia-ml.so.1");
        Assert.Contains(lines, l => l.Trim() == "libc.so.6 (libc6,x86-64) => /lib/x86_64-linux-gnu/libc.so.6");
        Assert.Equal("libcuda.so.580.65.06", lines[^2]);
        // written in the container's own layer: the root's files are as they were
        Assert.Equal(before, File.ReadAllBytes(_root.HostPath("etc/ld.so.cache")));
        Assert.False(Directory.Exists(_root.HostPath("etc/ld.so.conf.d")));

        // a read-only root keeps its cache: the soname links are there, the loader does not look there
        var readOnly = Gpu(["--gpus", "all", "--read-only"], "ls /usr/local/nvidia/lib64 | tr '\\n' ' '; echo; gpuprobe libcuda.so.1", driver.Root);
        Assert.Equal(1, readOnly.ExitCode);
        Assert.Equal("libcuda.so.1 libcuda.so.580.65.06 libnvidia-ml.so.1 libnvidia-ml.so.580.65.06 \nlibcuda.so.1: not loaded\n", readOnly.Stdout);
    }

    [ContainerFact(Needs = FakeNvidiaDriver.Gcc, Why = "to build the fake driver's libraries")]
    public void Under_an_engine_the_nvidia_hooks_it_copied_into_config_json_are_done_by_isolate()
    {
        // what podman writes for --device nvidia.com/gpu=1 from an nvidia-ctk spec: the node,
        // its device cgroup rule, the library's bind, and NVIDIA's createContainer hooks
        using var root = Rootfs.CreateVariant();
        _driver.AddGlibcRoot(root.Path);
        string bundle = Directory.CreateDirectory(Path.Combine(_dir, "bundle")).FullName;
        string lib = $"{FakeNvidiaDriver.Libraries}/libcuda.so.580.65.06";
        var config = OciBundleWriter.Start(bundle, root.Path, ["/bin/sh", "-c",
            "gpuprobe libcuda.so.1 libcuda.so; cat /dev/nvidia1 2>&1; ls /etc/ld.so.conf.d"]);
        config["linux"]!["cgroupsPath"] = $"/{CgroupParent}/gpu-oci";
        config["linux"]!["devices"] = new JsonArray(new JsonObject
        {
            ["path"] = "/dev/nvidia1", ["type"] = "c", ["major"] = 195, ["minor"] = 1, ["fileMode"] = 438, ["uid"] = 0, ["gid"] = 0,
        });
        config["linux"]!["resources"]!["devices"]!.AsArray().Add(new JsonObject { ["allow"] = true, ["type"] = "c", ["major"] = 195, ["minor"] = 1, ["access"] = "rwm" });
        config["mounts"]!.AsArray().Add(new JsonObject
        {
            ["destination"] = lib, ["type"] = "bind", ["source"] = _driver.Root + lib, ["options"] = new JsonArray("ro", "nosuid", "nodev", "bind"),
        });
        JsonObject Hook(params string[] args) => new() { ["path"] = "/usr/bin/nvidia-cdi-hook", ["args"] = new JsonArray([.. args.Select(a => JsonValue.Create(a))]) };
        config["hooks"] = new JsonObject
        {
            ["createContainer"] = new JsonArray(
                Hook("nvidia-cdi-hook", "create-symlinks", "--link", $"libcuda.so.1::{FakeNvidiaDriver.Libraries}/libcuda.so"),
                Hook("nvidia-cdi-hook", "update-ldcache", "--folder", FakeNvidiaDriver.Libraries),
                Hook("nvidia-cdi-hook", "disable-device-node-modification")),
        };
        OciBundleWriter.Save(bundle, config);

        var run = IsolateBinary.Run(["--root", Path.Combine(_dir, "oci-state"), "run", "--bundle", bundle, "gpu-oci"]);

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal("libcuda.so.1: 42\nlibcuda.so: 42\ncat: can't open '/dev/nvidia1': No such device or address\n000-isolate-gpu.conf\n", run.Stdout);
    }

    [ContainerFact(Needs = FakeNvidiaDriver.Gcc, Why = "to build the fake driver's libraries")]
    public void Info_lists_the_gpus_the_cdi_devices_and_the_driver_files()
    {
        var text = Isolate("--nvidia-driver-root", _driver.Root, "--cdi-spec-dir", Path.Combine(_dir, "none"), "info");
        Assert.True(text.ExitCode == 0, text.ToString());
        Assert.Contains($"NVIDIA GPUs under {_driver.Root}:\n  0  /dev/nvidia0  {FakeNvidiaDriver.UuidA}  Fake H100 A  0000:3b:00.0\n  1  /dev/nvidia1  {FakeNvidiaDriver.UuidB}  Fake H100 B  0000:86:00.0\n", text.Stdout);
        Assert.Contains($"  {FakeNvidiaDriver.Libraries}/libcuda.so.580.65.06 <- {_driver.Root}{FakeNvidiaDriver.Libraries}/libcuda.so.580.65.06\n", text.Stdout);
        Assert.Contains($"  /usr/bin/nvidia-smi <- {_driver.Root}/usr/bin/nvidia-smi\n", text.Stdout);

        string specs = WriteNvidiaSpec();
        var json = JsonNode.Parse(Isolate("--nvidia-driver-root", _driver.Root, "--cdi-spec-dir", specs, "info", "--format", "json").Stdout)!;
        Assert.Equal(["nvidia.com/gpu=0", $"nvidia.com/gpu={FakeNvidiaDriver.UuidB}", "nvidia.com/gpu=1", "nvidia.com/gpu=all"],
            json["cdi"]!["devices"]!.AsArray().Select(d => d!.ToString()));
        Assert.Equal([FakeNvidiaDriver.UuidA, FakeNvidiaDriver.UuidB], json["nvidia"]!["gpus"]!.AsArray().Select(g => g!["uuid"]!.ToString()));
        Assert.Equal(3, json["nvidia"]!["driverFiles"]!.AsArray().Count);
    }

    [ContainerFact(Needs = FakeNvidiaDriver.Gcc, Why = "to build the fake driver's libraries")]
    public void A_detached_container_gets_its_gpu_as_a_foreground_one_does()
    {
        var run = Isolate("--nvidia-driver-root", _driver.Root, "run", "-d", "--name", "gpu", "--rootfs", _root.Path, "--cgroup-parent", CgroupParent,
            "--gpus", "device=0", "--", "sh", "-c", ShowDev + "; gpuprobe libcuda.so.1; grep libcuda.so.580 /proc/self/mountinfo | cut -d' ' -f6");
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal("0\n", Isolate("wait", "gpu").Stdout);
        var logs = Isolate("logs", "gpu");
        string[] lines = logs.Stdout.Split('\n');
        Assert.Equal("nvidia-uvm nvidia0 nvidiactl ", lines[0]);
        Assert.Equal("libcuda.so.1: 42", lines[1]);
        Assert.Contains("nodev", lines[2].Split(','));
        Assert.Equal(0, Isolate("rm", "gpu").ExitCode);
    }
}
