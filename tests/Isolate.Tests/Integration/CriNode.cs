using System.Net.Sockets;
using Grpc.Core;
using Grpc.Net.Client;
using Isolate.Tests.Cri;
using Isolate.Tests.Support;

namespace Isolate.Tests.Integration;

/// <summary>A Kubernetes node as far as the runtime can tell: a containerd of the tests' own
/// with its CRI plugin (cgroupfs driver, a bridge network of its own through Debian's CNI
/// plugins, local images only), two runtime handlers of the runc v2 shim, <c>runc</c> and
/// <c>isolate</c>, and a CRI client playing the kubelet. Started once per test run.</summary>
public static class CriNode
{
    public const string Image = "localhost/isolate-test-busybox:latest";
    public const string PauseImage = "localhost/isolate-test-pause:latest";
    // Two test runs on one host (two worktrees) must not share a bridge or hand out the same
    // addresses, and one's teardown must not delete the other's bridge: both are the run's own.
    private static readonly string Bridge = $"isotcri{Environment.ProcessId % 100000}";
    private static readonly string Subnet = $"10.{200 + Environment.ProcessId % 50}.{Environment.ProcessId / 50 % 250}.0/24";
    private static readonly object Gate = new();
    private static RuntimeService.RuntimeServiceClient? _client;

    /// <summary>The temp directory that holds its root, state, socket, config, logs and CNI files.</summary>
    public static string Dir { get; private set; } = "";

    /// <summary>containerd's stderr: what the CRI plugin and the shims said.</summary>
    public static string Log => Path.Combine(Dir, "containerd.log");

    public static RuntimeService.RuntimeServiceClient Client => _client ?? throw new InvalidOperationException("containerd was not started");

    public static string Runc => File.Exists("/usr/sbin/runc") ? "/usr/sbin/runc" : "/usr/bin/runc";

    /// <summary>Starts it (once) before a test's base class looks at the mounts.</summary>
    public static BusyboxRootfs Ensure(BusyboxRootfs rootfs)
    {
        if (!CriTheoryAttribute.Available)
            return rootfs;
        lock (Gate)
        {
            if (_client != null)
                return rootfs;
            Dir = Directory.CreateTempSubdirectory("isolate-cri-").FullName;
            string socket = Path.Combine(Dir, "containerd.sock");
            Directory.CreateDirectory(Path.Combine(Dir, "cni"));
            File.WriteAllText(Path.Combine(Dir, "cni", "10-isolate-test.conflist"), CniConfig());
            File.WriteAllText(Path.Combine(Dir, "config.toml"), Config(socket));
            // a run whose pods were not removed (a runtime that failed to kill) leaves their shims,
            // which outlive containerd, and their mounts under Dir: stop those before Dir goes
            // ([c]: the pattern must not match the watchdog's own command line, which holds it)
            string leftovers = $"for s in $(pgrep -f \"[c]ontainerd-shim-runc-v2 .*-address {socket}\"); do kill -9 $(pgrep -P $s) $s; done; " +
                $"cut -d\" \" -f2 /proc/mounts | grep \"^{Dir}/\" | sort -r | xargs -r -n1 umount -l; ip link del {Bridge}";
            Containerd.StartDaemon(Dir, ["--config", Path.Combine(Dir, "config.toml")], socket, Log, onExit: leftovers);
            ImportImages(rootfs.Path, socket);
            _client = new RuntimeService.RuntimeServiceClient(Channel(socket));
            return rootfs;
        }
    }

    private static string Config(string socket) => $$"""
        version = 2
        root = "{{Dir}}/root"
        state = "{{Dir}}/state"
        [grpc]
          address = "{{socket}}"
        [plugins."io.containerd.internal.v1.opt"]
          path = "{{Dir}}/opt"
        [plugins."io.containerd.grpc.v1.cri"]
          sandbox_image = "{{PauseImage}}"
          stream_server_address = "127.0.0.1"
          stream_server_port = "0"
          disable_apparmor = true
          enable_selinux = false
          # a kubelet's sandbox asks for oom_score_adj -998; the test machine (itself a container)
          # may lack CAP_SYS_RESOURCE, and then runc fails too: keep it at containerd's own
          restrict_oom_score_adj = true
          [plugins."io.containerd.grpc.v1.cri".cni]
            bin_dir = "/usr/lib/cni"
            conf_dir = "{{Dir}}/cni"
          [plugins."io.containerd.grpc.v1.cri".containerd]
            snapshotter = "overlayfs"
            default_runtime_name = "runc"
            [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
              runtime_type = "io.containerd.runc.v2"
              [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
                BinaryName = "{{Runc}}"
                SystemdCgroup = false
        {{ReadmeRuntimeHandler()}}
        """;

    /// <summary>The `isolate` runtime handler exactly as the README's Kubernetes section gives
    /// it (the block after its `cri-runtime-handler` marker), with the binary under test in
    /// place of /usr/local/bin/isolate: the README's snippet is what these tests run.</summary>
    private static string ReadmeRuntimeHandler()
    {
        string[] lines = File.ReadAllLines(Path.Combine(IsolateBinary.RepoRoot, "README.md"));
        int marker = Array.FindIndex(lines, l => l.Contains("cri-runtime-handler", StringComparison.Ordinal));
        if (marker < 0 || marker + 1 >= lines.Length || lines[marker + 1] != "```toml")
            throw new InvalidOperationException("README.md has no ```toml block after its cri-runtime-handler marker");
        var block = lines.Skip(marker + 2).TakeWhile(l => !l.StartsWith("```", StringComparison.Ordinal)).ToList();
        string text = string.Join('\n', block);
        if (!text.Contains("\"/usr/local/bin/isolate\"", StringComparison.Ordinal))
            throw new InvalidOperationException("the README's runtime handler does not name /usr/local/bin/isolate");
        return text.Replace("\"/usr/local/bin/isolate\"", $"\"{IsolateBinary.Path}\"", StringComparison.Ordinal);
    }

    /// <summary>A bridge and a subnet of the tests' own; host-local keeps its leases in the temp
    /// directory, so nothing of it outlives the run but what a leak leaves.</summary>
    private static string CniConfig() => $$"""
        {
          "cniVersion": "0.4.0",
          "name": "isolate-test-cri",
          "plugins": [
            {
              "type": "bridge",
              "bridge": "{{Bridge}}",
              "isGateway": true,
              "ipMasq": false,
              "ipam": { "type": "host-local", "ranges": [[{ "subnet": "{{Subnet}}" }]], "dataDir": "{{Dir}}/ipam" }
            }
          ]
        }
        """;

    /// <summary>No registry here: the test rootfs becomes the containers' image, and the same
    /// rootfs with a command that waits for ever becomes the sandbox ("pause") image.</summary>
    private static void ImportImages(string rootfs, string socket)
    {
        PodmanImage.Import(rootfs);
        var import = IsolateBinary.RunFromShell(
            $"set -e; tar -C {rootfs} -cf - . | podman import --change 'CMD [\"/bin/sleep\", \"2147483647\"]' - {PauseImage} >/dev/null; " +
            $"podman save --format oci-archive -o {Dir}/image.tar {PodmanImage.Name} >/dev/null 2>&1; " +
            $"podman save --format oci-archive -o {Dir}/pause.tar {PauseImage} >/dev/null 2>&1; " +
            $"ctr -a {socket} -n k8s.io images import --base-name localhost/isolate-test-busybox {Dir}/image.tar >/dev/null; " +
            $"ctr -a {socket} -n k8s.io images import --base-name localhost/isolate-test-pause {Dir}/pause.tar >/dev/null",
            TimeSpan.FromMinutes(2));
        if (import.ExitCode != 0)
            throw new InvalidOperationException("importing the images into containerd failed: " + import);
    }

    /// <summary>gRPC over containerd's unix socket: HTTP/2 without TLS, as the kubelet speaks it.</summary>
    private static GrpcChannel Channel(string socket)
    {
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (_, cancel) =>
            {
                var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                try
                {
                    await s.ConnectAsync(new UnixDomainSocketEndPoint(socket), cancel);
                    return new NetworkStream(s, ownsSocket: true);
                }
                catch
                {
                    s.Dispose();
                    throw;
                }
            },
        };
        return GrpcChannel.ForAddress("http://localhost", new GrpcChannelOptions { HttpHandler = handler });
    }

    /// <summary>A deadline for one call: a runtime that hangs fails the step, not the run.</summary>
    public static CallOptions Within(int seconds = 30) => new(deadline: DateTime.UtcNow.AddSeconds(seconds));

    /// <summary>containerd's log lines since <paramref name="offset"/> that say something went wrong.</summary>
    public static string ErrorsSince(long offset)
    {
        using var stream = new FileStream(Log, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        stream.Seek(Math.Min(offset, stream.Length), SeekOrigin.Begin);
        var lines = new StreamReader(stream).ReadToEnd().Split('\n')
            .Where(l => l.Contains("level=error") || l.Contains("level=warn"));
        return string.Join('\n', lines.TakeLast(30));
    }

    public static long LogLength => new FileInfo(Log).Length;
}

/// <summary>A test that plays the kubelet: skipped, saying why, without root, containerd, the
/// CNI plugins or podman (which makes the images).</summary>
public sealed class CriTheoryAttribute : TheoryAttribute
{
    public static bool Available => Environment.IsPrivilegedProcess && ContainerdFactAttribute.Available
        && File.Exists("/usr/lib/cni/bridge") && File.Exists("/usr/lib/cni/host-local") && File.Exists("/usr/lib/cni/loopback");

    public CriTheoryAttribute()
    {
        if (!Environment.IsPrivilegedProcess)
            Skip = "needs root: containerd runs rootful pods here";
        else if (!ContainerdFactAttribute.Available)
            Skip = "containerd, ctr or podman (which makes the images) is not installed (.ci/run installs them)";
        else if (!Available)
            Skip = "Debian's CNI plugins (/usr/lib/cni: bridge, host-local, loopback) are not installed (.ci/run installs containernetworking-plugins)";
    }
}
