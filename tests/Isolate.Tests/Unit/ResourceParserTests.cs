using Isolate.Spec;

namespace Isolate.Tests.Unit;

public sealed class ResourceParserTests
{
    [Theory]
    [InlineData("100b", 100)]
    [InlineData("100", 100)]
    [InlineData("4k", 4096)]
    [InlineData("256m", 268435456)]
    [InlineData("256M", 268435456)]
    [InlineData("1g", 1073741824)]
    [InlineData("1.5g", 1610612736)]
    public void Sizes_take_dockers_units(string value, long bytes) => Assert.Equal(bytes, ResourceParser.ParseSize("--memory", value));

    [Theory]
    [InlineData("10x")]
    [InlineData("-5m")]
    [InlineData("m")]
    [InlineData("0")]
    [InlineData("")]
    public void Bad_sizes_are_one_line_errors(string value)
    {
        var error = Assert.Throws<IsolateException>(() => ResourceParser.ParseSize("--memory", value));
        Assert.StartsWith($"invalid --memory '{value}': ", error.Message);
        Assert.Equal(125, error.ExitCode);
    }

    [Theory]
    [InlineData("--memory 256: below the minimum of 4 MiB; give a size with a unit, such as 256m", "256")]
    [InlineData("--memory 4194303: below the minimum of 4 MiB; give at least 4m", "4194303")]
    [InlineData("--memory 3m: below the minimum of 4 MiB; give at least 4m", "3m")]
    [InlineData("--memory 1k: below the minimum of 4 MiB; give at least 4m", "1k")]
    public void A_memory_limit_below_dockers_minimum_is_refused_naming_it(string message, string value) =>
        Assert.Equal(message, Assert.Throws<IsolateException>(() => ResourceParser.ParseMemory("--memory", value)).Message);

    [Fact]
    public void A_memory_limit_at_the_minimum_is_taken()
    {
        Assert.Equal(4L << 20, ResourceParser.ParseMemory("--memory", "4m"));
        Assert.Equal(4L << 20, ResourceParser.ParseMemory("--memory", "4194304"));
        Assert.Equal("--memory-swap 3m: below the minimum of 4 MiB; give at least 4m",
            Assert.Throws<IsolateException>(() => ResourceParser.ParseMemorySwap("3m", 1 << 20)).Message);
    }

    [Fact]
    public void A_cpu_number_past_ints_range_is_a_bad_cpuset_not_an_overflow()
    {
        Assert.StartsWith("invalid --cpuset-cpus '99999999999': use CPU numbers",
            Assert.Throws<IsolateException>(() => ResourceParser.ParseCpuset("99999999999", new SortedSet<int> { 0 })).Message);
        Assert.Null(ResourceParser.ParseCpuList("0-99999999999"));
    }

    [Fact]
    public void Cpus_become_a_quota_per_100ms_period_within_the_machines_cpus()
    {
        Assert.Equal(150_000, ResourceParser.ParseCpus("1.5", 2));
        Assert.Equal(1_000, ResourceParser.ParseCpus("0.01", 2));
        Assert.Equal(200_000, ResourceParser.ParseCpus("2", 2));
        foreach (string bad in new[] { "0", "0.001", "3", "-1", "one" })
            Assert.Equal($"invalid --cpus '{bad}': use a number from 0.01 to 2, the CPUs this machine has",
                Assert.Throws<IsolateException>(() => ResourceParser.ParseCpus(bad, 2)).Message);
    }

    [Fact]
    public void A_cpuset_must_name_online_cpus()
    {
        var online = new SortedSet<int> { 0, 1 };
        Assert.Equal("0-1", ResourceParser.ParseCpuset("0-1", online));
        Assert.Equal("invalid --cpuset-cpus '0-3': CPU 2, 3 is not online here (online: 0,1)",
            Assert.Throws<IsolateException>(() => ResourceParser.ParseCpuset("0-3", online)).Message);
        Assert.StartsWith("invalid --cpuset-cpus '1-0': use CPU numbers",
            Assert.Throws<IsolateException>(() => ResourceParser.ParseCpuset("1-0", online)).Message);
    }

    [Fact]
    public void Pids_shares_io_weight_and_swap_have_dockers_ranges()
    {
        Assert.Equal(100, ResourceParser.ParsePidsLimit("100"));
        Assert.Equal(-1, ResourceParser.ParsePidsLimit("-1"));
        Assert.Throws<IsolateException>(() => ResourceParser.ParsePidsLimit("0"));
        Assert.Throws<IsolateException>(() => ResourceParser.ParsePidsLimit("-5"));
        Assert.Equal(512, ResourceParser.ParseCpuShares("512"));
        Assert.Throws<IsolateException>(() => ResourceParser.ParseCpuShares("1"));
        Assert.Equal(500, ResourceParser.ParseIoWeight("500"));
        Assert.Throws<IsolateException>(() => ResourceParser.ParseIoWeight("5"));
        Assert.Equal(-1, ResourceParser.ParseMemorySwap("-1", 1 << 20));
        Assert.Equal("invalid --memory-swap '512k': it is memory plus swap, so it must be at least --memory",
            Assert.Throws<IsolateException>(() => ResourceParser.ParseMemorySwap("512k", 1 << 20)).Message);
        Assert.Equal("--memory-swap needs --memory: it is the total of memory and swap",
            Assert.Throws<IsolateException>(() => ResourceParser.ParseMemorySwap("1g", null)).Message);
    }
}
