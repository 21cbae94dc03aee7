using System.Diagnostics;
using Isolate.Devices;

namespace Isolate.Tests.Unit;

/// <summary>--gpus in docker's forms and NVIDIA_VISIBLE_DEVICES as the toolkit reads it; the
/// ld.so cache read and written as glibc's ldconfig and ld.so do.</summary>
public sealed class GpuRequestTests
{
    [Theory]
    [InlineData("all", true, null, "")]
    [InlineData("2", false, 2, "")]
    [InlineData("count=3", false, 3, "")]
    [InlineData("count=all", true, null, "")]
    [InlineData("device=1", false, null, "1")]
    [InlineData("\"device=0,2\"", false, null, "0,2")]
    [InlineData("device=0,2", false, null, "0,2")] // docker's CSV would split it; taken as meant
    [InlineData("device=GPU-3a1b,1,driver=nvidia", false, null, "GPU-3a1b,1")]
    public void Docker_forms_of_gpus_choose_the_gpus(string flag, bool all, int? count, string ids)
    {
        var request = GpuRequest.From(flag, null, null)!;
        Assert.Equal(all, request.All);
        Assert.Equal(count, request.Count);
        Assert.Equal(ids, string.Join(',', request.Ids));
        Assert.Equal(["compute", "utility"], request.Capabilities);
    }

    [Fact]
    public void Capabilities_come_from_the_flag_then_the_environment_and_all_means_what_isolate_gives()
    {
        Assert.Equal(["utility"], GpuRequest.From("all,capabilities=utility", null, "compute")!.Capabilities);
        Assert.Equal(["compute"], GpuRequest.From("all", null, "compute")!.Capabilities);
        Assert.Equal(["compute", "utility"], GpuRequest.From("all", null, "all")!.Capabilities);
        Assert.Equal(["compute", "utility"], GpuRequest.From("all,capabilities=gpu", null, null)!.Capabilities);
        Assert.Contains("the graphics driver capability is not supported yet",
            Assert.Throws<IsolateException>(() => GpuRequest.From("all", null, "compute,graphics")).Message);
        Assert.Contains("unknown driver capability 'cuda'", Assert.Throws<IsolateException>(() => GpuRequest.From("all,capabilities=cuda", null, null)).Message);
    }

    [Fact]
    public void Nvidia_visible_devices_is_a_request_only_without_gpus()
    {
        Assert.Null(GpuRequest.From(null, null, null));
        Assert.Null(GpuRequest.From(null, null, "graphics")); // an image's capabilities alone ask for nothing
        Assert.Null(GpuRequest.From(null, "void", null));
        Assert.Null(GpuRequest.From(null, "", null));
        Assert.True(GpuRequest.From(null, "all", null)!.All);
        var none = GpuRequest.From(null, "none", null)!;
        Assert.False(none.All);
        Assert.Null(none.Count);
        Assert.Empty(none.Ids);
        Assert.Equal(["1", "GPU-ab"], GpuRequest.From(null, "1,GPU-ab", null)!.Ids);
        Assert.True(GpuRequest.From("all", "1", null)!.All); // --gpus wins
    }

    [Theory]
    [InlineData("", "invalid --gpus : use all")]
    [InlineData("0", "invalid --gpus 0: use all")]
    [InlineData("all,2", "give one of all, a count or device=ID[,ID]")]
    [InlineData("device=MIG-1234", "is a MIG device, which is not supported yet")]
    [InlineData("device=0:1", "is a MIG device")]
    [InlineData("device=gpu0", "'gpu0' is not a GPU index (0, 1) or UUID (GPU-...)")]
    [InlineData("driver=amd,all", "driver amd is not supported (nvidia is)")]
    [InlineData("\"device=1", "a quote is not closed")]
    [InlineData("all,options=x", "driver options are not supported")]
    public void What_gpus_cannot_take_is_a_clear_error(string flag, string message)
    {
        Assert.Contains(message, Assert.Throws<IsolateException>(() => GpuRequest.From(flag, null, null)).Message);
    }

    [Fact]
    public void Names_compare_as_ldconfig_sorts_them_and_the_hosts_cache_agrees()
    {
        Assert.True(SharedLibraries.Compare("libfoo.so.10", "libfoo.so.9") > 0);
        Assert.True(SharedLibraries.Compare("libz3.so.4", "libz3.so") > 0);
        Assert.True(SharedLibraries.Compare("libfoo1.so", "libfooa.so") > 0); // a digit after any other character
        Assert.Equal(0, SharedLibraries.Compare("libc.so.6", "libc.so.6"));
        var entries = SharedLibraries.ReadCache("/etc/ld.so.cache");
        Assert.True(entries.Count > 10, "the host's ld.so cache reads");
        for (int i = 1; i < entries.Count; i++)
            Assert.True(SharedLibraries.Compare(entries[i - 1].Name, entries[i].Name) >= 0, $"{entries[i - 1].Name} before {entries[i].Name}");
    }

    [Fact]
    public void A_written_cache_is_what_ldconfig_reads()
    {
        var host = SharedLibraries.ReadCache("/etc/ld.so.cache");
        var added = new SharedLibraries.CacheEntry("libcuda.so.1", "/usr/local/nvidia/lib64/libcuda.so.1", 0x0303);
        string file = Path.GetTempFileName();
        try
        {
            File.WriteAllBytes(file, SharedLibraries.WriteCache(host.Append(added).Reverse()));
            Assert.Equal(host.Where(e => !e.UsesExtension).Append(added).OrderBy(e => e.Name + " " + e.Path, StringComparer.Ordinal)
                    .Select(e => (e.Name, e.Path)),
                SharedLibraries.ReadCache(file).OrderBy(e => e.Name + " " + e.Path, StringComparer.Ordinal).Select(e => (e.Name, e.Path)));
            string ours = Ldconfig(file), theirs = Ldconfig("/etc/ld.so.cache");
            Assert.Contains("\tlibcuda.so.1 (libc6,x86-64) => /usr/local/nvidia/lib64/libcuda.so.1\n", ours);
            Assert.Equal(theirs.Split('\n').Skip(1).Where(l => !l.Contains("hwcap", StringComparison.Ordinal) && !l.StartsWith("Cache generated by", StringComparison.Ordinal)).Order(StringComparer.Ordinal),
                ours.Split('\n').Skip(1).Where(l => !l.Contains("libcuda.so.1", StringComparison.Ordinal)).Order(StringComparer.Ordinal));
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void The_soname_is_read_from_the_library_itself()
    {
        string libc = File.Exists("/lib/x86_64-linux-gnu/libc.so.6") ? "/lib/x86_64-linux-gnu/libc.so.6" : "/lib64/libc.so.6";
        Assert.Equal("libc.so.6", SharedLibraries.Soname(libc));
        Assert.Null(SharedLibraries.Soname("/etc/passwd"));
        Assert.Null(SharedLibraries.Soname("/nonexistent"));
    }

    private static string Ldconfig(string cache)
    {
        var info = new ProcessStartInfo("/sbin/ldconfig") { RedirectStandardOutput = true };
        foreach (string arg in new[] { "-p", "-C", cache })
            info.ArgumentList.Add(arg);
        using var process = Process.Start(info)!;
        string output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return output;
    }
}
