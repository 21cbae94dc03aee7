using System.Diagnostics;

namespace Isolate.Tests.Support;

/// <summary>An NVIDIA driver as --gpus finds one, made in a test's directory (the driver root,
/// --nvidia-driver-root): device nodes with NVIDIA's majors (195: nvidia0, nvidia1, nvidiactl;
/// a dynamic one for nvidia-uvm), the driver's /proc files for two GPUs, two driver libraries
/// built by gcc with their sonames (libcuda.so.1, libnvidia-ml.so.1) and an ld.so cache made by
/// the host's ldconfig, and an nvidia-smi script. A glibc program, gpuprobe, dlopens the
/// libraries it is given by name and calls their cuInit (each returns 42 + its argument).</summary>
public sealed class FakeNvidiaDriver
{
    public const string Gcc = "/usr/bin/gcc";
    public const string UuidA = "GPU-aaaaaaaa-1111-2222-3333-444444444444";
    public const string UuidB = "GPU-bbbbbbbb-1111-2222-3333-444444444444";
    public const string Libraries = "/usr/lib/x86_64-linux-gnu";

    public string Root { get; }

    /// <summary>The probe program (on the host, in the test's directory).</summary>
    public string Probe { get; }

    /// <param name="libraries">Where the driver's libraries are (a directory outside the loader's
    /// default ones, such as /usr/local/nvidia/lib64, has them only through an ld.so cache).</param>
    /// <param name="cache">Whether the driver root has an ld.so cache (ldconfig -r): without one,
    /// --gpus finds the libraries in the driver's directories.</param>
    public FakeNvidiaDriver(string directory, string name = "driver", string libraries = Libraries, bool cache = true)
    {
        Root = Path.Combine(directory, name);
        foreach (string dir in new[] { "dev", "etc", "usr/bin", libraries.TrimStart('/'), "proc/driver/nvidia/gpus" })
            Directory.CreateDirectory(Path.Combine(Root, dir));
        Mknod("dev/nvidia0", 195, 0);
        Mknod("dev/nvidia1", 195, 1);
        Mknod("dev/nvidiactl", 195, 255);
        Mknod("dev/nvidia-uvm", 509, 0);
        Gpu("0000:3b:00.0", "Fake H100 A", UuidA, 0);
        Gpu("0000:86:00.0", "Fake H100 B", UuidB, 1);
        string source = Path.Combine(directory, name + "-cuda.c");
        File.WriteAllText(source, "int cuInit(unsigned flags) { return 42 + (int)flags; }\n");
        Run(Gcc, "-shared", "-fPIC", "-Wl,-soname,libcuda.so.1", "-o", Path.Combine(Root, libraries.TrimStart('/'), "libcuda.so.580.65.06"), source);
        Run(Gcc, "-shared", "-fPIC", "-Wl,-soname,libnvidia-ml.so.1", "-o", Path.Combine(Root, libraries.TrimStart('/'), "libnvidia-ml.so.580.65.06"), source);
        if (cache)
            Run("/sbin/ldconfig", "-r", Root); // the cache, and the soname links the driver's installer leaves
        File.WriteAllText(Path.Combine(Root, "usr/bin/nvidia-smi"), "#!/bin/sh\nfor d in /dev/nvidia[0-9]*; do echo \"GPU ${d#/dev/nvidia}: Fake H100\"; done\n");
        File.SetUnixFileMode(Path.Combine(Root, "usr/bin/nvidia-smi"), (UnixFileMode)0x1ED);

        Probe = Path.Combine(directory, name + "-gpuprobe");
        string probe = Path.Combine(directory, name + "-gpuprobe.c");
        File.WriteAllText(probe, """
            #include <dlfcn.h>
            #include <stdio.h>
            int main(int argc, char **argv) {
                int failed = 0;
                for (int i = 1; i < argc; i++) {
                    void *lib = dlopen(argv[i], RTLD_NOW);
                    int (*init)(unsigned) = lib ? (int (*)(unsigned))dlsym(lib, "cuInit") : 0;
                    if (init)
                        printf("%s: %d\n", argv[i], init(0));
                    else {
                        printf("%s: not loaded\n", argv[i]);
                        failed = 1;
                    }
                }
                return failed;
            }
            """);
        Run(Gcc, "-o", Probe, probe, "-ldl");
    }

    /// <summary>A root with the host's glibc (ld.so and libc only), busybox and gpuprobe: no
    /// driver, no ld.so cache, nothing in /usr.</summary>
    public void AddGlibcRoot(string root)
    {
        Directory.CreateDirectory(Path.Combine(root, "lib64"));
        Directory.CreateDirectory(Path.Combine(root, "lib/x86_64-linux-gnu"));
        File.Copy("/lib64/ld-linux-x86-64.so.2", Path.Combine(root, "lib64/ld-linux-x86-64.so.2"));
        foreach (string lib in new[] { "libc.so.6", "libdl.so.2" })
        {
            string host = Path.Combine("/lib/x86_64-linux-gnu", lib);
            if (File.Exists(host))
                File.Copy(host, Path.Combine(root, "lib/x86_64-linux-gnu", lib));
        }
        File.Copy(Probe, Path.Combine(root, "bin", "gpuprobe"));
    }

    private void Mknod(string path, int major, int minor) => Run("/usr/bin/mknod", Path.Combine(Root, path), "c", $"{major}", $"{minor}");

    private void Gpu(string bus, string model, string uuid, int minor)
    {
        string dir = Path.Combine(Root, "proc/driver/nvidia/gpus", bus);
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "information"),
            $"Model: \t\t {model}\nIRQ:   \t\t 0\nGPU UUID: \t {uuid}\nVideo BIOS: \t ??.??.??.??.??\nBus Type: \t PCIe\nDevice Minor: \t {minor}\nBus Location: \t {bus}\n");
    }

    private static void Run(string program, params string[] args)
    {
        var info = new ProcessStartInfo(program) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (string arg in args)
            info.ArgumentList.Add(arg);
        using var process = Process.Start(info)!;
        string output = process.StandardOutput.ReadToEnd() + process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"{program} {string.Join(' ', args)}: exit {process.ExitCode}: {output}");
    }
}
