using System.Globalization;
using Isolate.Interop;
using Isolate.Plan;
using Isolate.Spec;

namespace Isolate.Devices;

/// <summary>One NVIDIA GPU of the host: its index (the driver's order, by PCI bus id, as
/// nvidia-smi counts), its device minor (/dev/nvidiaN), UUID and model where the driver's
/// /proc files tell them.</summary>
public sealed record NvidiaGpu(int Index, int Minor, string? Uuid, string? BusId, string? Model);

/// <summary>`--gpus` without the NVIDIA container toolkit: what the toolkit would inject,
/// found on the host (or under a driver root, nvidia-ctk's --driver-root: a driver installed
/// in a directory, as the GPU operator does). The GPUs' nodes and the control nodes
/// (nvidiactl, nvidia-uvm, nvidia-uvm-tools, nvidia-modeset); the driver's user-space
/// libraries of the capabilities asked for, found through the ld.so cache and the driver's
/// own directories, bound read-only at the path they have there, each with its soname link
/// beside it; its tools (nvidia-smi...) at /usr/bin. The same edits a CDI spec makes, so they
/// take the same path into the container.</summary>
public static class NvidiaGpus
{
    private static readonly string[] ControlNodes = ["nvidiactl", "nvidia-uvm", "nvidia-uvm-tools", "nvidia-modeset"];

    /// <summary>The driver's libraries by capability (names before .so), as the toolkit lists them.</summary>
    private static readonly (string Capability, string[] Libraries, string[] Programs)[] Components =
    [
        ("utility", ["libnvidia-ml", "libnvidia-cfg"], ["nvidia-smi", "nvidia-debugdump", "nvidia-persistenced"]),
        ("compute", ["libcuda", "libcudadebugger", "libnvidia-opencl", "libnvidia-gpucomp", "libnvidia-ptxjitcompiler",
            "libnvidia-fatbinaryloader", "libnvidia-allocator", "libnvidia-compiler", "libnvidia-pkcs11", "libnvidia-pkcs11-openssl3",
            "libnvidia-nvvm"], ["nvidia-cuda-mps-control", "nvidia-cuda-mps-server"]),
    ];

    /// <summary>Where a driver keeps its libraries besides the ld.so cache, in the driver root.</summary>
    private static readonly string[] LibraryDirs =
        ["/usr/local/nvidia/lib64", "/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/lib/x86_64-linux-gnu", "/lib64", "/usr/lib"];

    private static readonly string[] ProgramDirs = ["/usr/bin", "/usr/local/nvidia/bin", "/bin", "/usr/sbin"];

    /// <summary>The host's GPUs under <paramref name="driverRoot"/>: from the driver's
    /// /proc/driver/nvidia/gpus (ordered by bus id), or, without it, the /dev/nvidiaN nodes.</summary>
    public static IReadOnlyList<NvidiaGpu> Find(string driverRoot)
    {
        string proc = Under(driverRoot, "/proc/driver/nvidia/gpus");
        var gpus = new List<NvidiaGpu>();
        if (Directory.Exists(proc))
        {
            foreach (string dir in Directory.EnumerateDirectories(proc).Order(StringComparer.Ordinal))
            {
                var fields = (SmallFile.Read(Path.Combine(dir, "information")) ?? "").Split('\n')
                    .Select(l => l.Split(':', 2)).Where(p => p.Length == 2)
                    .GroupBy(p => p[0].Trim()).ToDictionary(g => g.Key, g => g.First()[1].Trim());
                if (!fields.TryGetValue("Device Minor", out string? minorText) || !int.TryParse(minorText, CultureInfo.InvariantCulture, out int minor))
                    continue;
                gpus.Add(new NvidiaGpu(gpus.Count, minor, fields.GetValueOrDefault("GPU UUID"), Path.GetFileName(dir), fields.GetValueOrDefault("Model")));
            }
            if (gpus.Count > 0)
                return gpus;
        }
        string dev = Under(driverRoot, "/dev");
        if (!Directory.Exists(dev))
            return gpus;
        var minors = Directory.EnumerateFileSystemEntries(dev, "nvidia*")
            .Select(Path.GetFileName)
            .Select(n => n!.Length > 6 && n[6..].All(char.IsAsciiDigit) && int.TryParse(n[6..], CultureInfo.InvariantCulture, out int m) ? m : -1)
            .Where(m => m >= 0).Order();
        return [.. minors.Select((m, i) => new NvidiaGpu(i, m, null, null, null))];
    }

    /// <summary>The GPUs <paramref name="request"/> names, in its order; an error names one
    /// that is not there.</summary>
    public static IReadOnlyList<NvidiaGpu> Select(GpuRequest request, IReadOnlyList<NvidiaGpu> gpus, string driverRoot)
    {
        string where = driverRoot == "/" ? "" : $" under {driverRoot}";
        if ((request.All || request.Count != null || request.Ids.Count > 0) && gpus.Count == 0)
            throw new IsolateException($"{request.Source}: no NVIDIA GPU found{where} (no /dev/nvidiaN, nothing in /proc/driver/nvidia/gpus): is the driver loaded?");
        if (request.All)
            return gpus;
        if (request.Count is { } count)
            return count <= gpus.Count ? gpus.Take(count).ToList()
                : throw new IsolateException($"{request.Source}: {count} GPUs asked for, and this host has {gpus.Count}");
        return [.. request.Ids.Select(id =>
            (id.All(char.IsAsciiDigit)
                ? gpus.FirstOrDefault(g => g.Index.ToString(CultureInfo.InvariantCulture) == id)
                : gpus.FirstOrDefault(g => string.Equals(g.Uuid, id, StringComparison.OrdinalIgnoreCase)))
            ?? throw new IsolateException($"{request.Source}: there is no GPU {id}{where} (there are {string.Join(", ", gpus.Select(g => g.Uuid is null ? $"{g.Index}" : $"{g.Index} ({g.Uuid})"))})"))
            .Distinct()];
    }

    /// <summary>What the container gets for <paramref name="chosen"/>: the nodes (allowed in the
    /// device cgroup), the driver's files of the capabilities asked for, and the environment
    /// the toolkit sets.</summary>
    /// <param name="hidden">The host's other GPUs.</param>
    public static CdiEdits Edits(GpuRequest request, IReadOnlyList<NvidiaGpu> chosen, IReadOnlyList<NvidiaGpu> hidden, string driverRoot)
    {
        var nodes = new List<DeviceNode>();
        var allows = new List<DeviceRule>();
        foreach (string name in chosen.Select(g => $"nvidia{g.Minor.ToString(CultureInfo.InvariantCulture)}").Concat(ControlNodes))
        {
            string host = Under(driverRoot, "/dev/" + name);
            if (FileStat.Follow(host) is not { DeviceType: { } type } st)
            {
                if (name.StartsWith("nvidia", StringComparison.Ordinal) && name[6..].All(char.IsAsciiDigit))
                    throw new IsolateException($"{request.Source}: {host} is not a device node: is the driver loaded?");
                continue; // nvidia-uvm and nvidia-modeset come with their modules
            }
            nodes.Add(new DeviceNode("/dev/" + name, type, st.RdevMajor, st.RdevMinor, (uint)st.Mode & 0xFFF, st.Uid, st.Gid, host));
            allows.Add(new DeviceRule(true, type, st.RdevMajor, st.RdevMinor, "rwm"));
        }

        var mounts = new List<VolumeSpec>();
        var links = new List<SymlinkSpec>();
        var files = DriverFiles(request.Capabilities, driverRoot);
        foreach (var file in files)
        {
            if (mounts.Any(m => m.Destination == file.ContainerPath))
                continue;
            mounts.Add(new VolumeSpec(file.Host, file.ContainerPath, ReadOnly: true, SourceIsFile: true) { Flags = MountFlags.NoSuid | MountFlags.NoDev });
            string link = Path.Combine(Path.GetDirectoryName(file.ContainerPath)!, file.Soname ?? "");
            if (file.Soname != null && file.Soname != Path.GetFileName(file.ContainerPath) && links.All(l => l.Path != link))
                links.Add(new SymlinkSpec(link, Path.GetFileName(file.ContainerPath)));
        }
        if (!files.Any(f => f.Soname != null))
            throw new IsolateException($"{request.Source}: no NVIDIA driver library found{(driverRoot == "/" ? "" : $" under {driverRoot}")} (libnvidia-ml, libcuda: in the ld.so cache or {string.Join(", ", LibraryDirs)}); is the driver installed?");
        string visible = request.All ? "all" : chosen.Count == 0 ? "none" : string.Join(',', chosen.Select(g => g.Index.ToString(CultureInfo.InvariantCulture)));
        return new CdiEdits(nodes, allows, [$"NVIDIA_VISIBLE_DEVICES={visible}", $"NVIDIA_DRIVER_CAPABILITIES={string.Join(',', request.Capabilities)}"], mounts)
        {
            Links = links,
            LibraryDirs = [.. files.Where(f => f.Soname != null).Select(f => Path.GetDirectoryName(f.ContainerPath)!).Distinct()],
            // the container's /proc shows the host kernel's driver: the GPUs not chosen are
            // hidden there too (their /proc/driver/nvidia/gpus/BUS), as the toolkit hides them
            Masks = [.. hidden.Where(g => g.BusId != null).Select(g => $"/proc/driver/nvidia/gpus/{g.BusId}")],
        };
    }

    /// <summary>A file of the driver a container gets: a library (with the soname it is
    /// loaded by) or a program (Soname null), its path in the container and on the host.</summary>
    public sealed record DriverFile(string? Soname, string ContainerPath, string Host);

    /// <summary>The driver's files of <paramref name="capabilities"/> under <paramref name="driverRoot"/>.</summary>
    public static IReadOnlyList<DriverFile> DriverFiles(IReadOnlyList<string> capabilities, string driverRoot)
    {
        var files = new List<DriverFile>();
        var cache = SharedLibraries.ReadCache(Under(driverRoot, "/etc/ld.so.cache")).Where(e => e.IsX8664).ToList();
        foreach (var (_, names, programs) in Components.Where(c => capabilities.Contains(c.Capability)))
        {
            foreach (string library in names)
                files.AddRange(FindLibrary(library, cache, driverRoot).Select(f => new DriverFile(f.Soname, f.ContainerPath, f.Host)));
            foreach (string program in programs)
            {
                string? host = ProgramDirs.Select(d => Under(driverRoot, $"{d}/{program}")).Select(Resolve).FirstOrDefault(p => p != null);
                if (host != null)
                    files.Add(new DriverFile(null, "/usr/bin/" + program, host));
            }
        }
        return files;
    }

    /// <summary>A driver library's files: from the ld.so cache (the soname it is loaded by, the
    /// directory it is in there, the file it names); or, missing there, the driver's own
    /// directories, the soname from the file itself. The container path is the one the
    /// library has in the driver root, so the container's loader finds it where the host's does.</summary>
    private static IEnumerable<(string Soname, string ContainerPath, string Host)> FindLibrary(string library, IReadOnlyList<SharedLibraries.CacheEntry> cache, string driverRoot)
    {
        var found = new List<(string, string, string)>();
        foreach (var entry in cache.Where(e => e.Name.StartsWith(library + ".so.", StringComparison.Ordinal)).DistinctBy(e => e.Name))
        {
            if (Resolve(Under(driverRoot, entry.Path)) is { } host)
                found.Add((entry.Name, Path.Combine(Path.GetDirectoryName(entry.Path)!, Path.GetFileName(host)), host));
        }
        if (found.Count > 0)
            return found;
        foreach (string dir in LibraryDirs)
        {
            string hostDir = Under(driverRoot, dir);
            if (!Directory.Exists(hostDir))
                continue;
            foreach (string file in Directory.EnumerateFiles(hostDir, library + ".so.*").Order(StringComparer.Ordinal))
            {
                if (FileStat.NoFollow(file) is not { IsRegularFile: true })
                    continue; // the links are made again from the soname
                if (SharedLibraries.Soname(file) is { } soname && soname.StartsWith(library + ".so", StringComparison.Ordinal))
                    found.Add((soname, $"{dir}/{Path.GetFileName(file)}", file));
            }
            if (found.Count > 0)
                return found;
        }
        return found;
    }

    private static string? Resolve(string path)
    {
        try
        {
            return FileStat.Follow(path) is { IsRegularFile: true } ? Rootfs.RootfsResolver.Canonical(path, "") : null;
        }
        catch (IsolateException)
        {
            return null;
        }
    }

    private static string Under(string root, string path) => root == "/" ? path : root.TrimEnd('/') + path;
}
