using Isolate.Tests.Support;

namespace Isolate.Tests.Integration;

/// <summary>Issue 14: what docker's default profile refuses and Isolate's default filter let
/// through, tried from inside a container (native/test/probe.c makes each call), with the
/// kernel's own answer beside it under seccomp=unconfined. Unit/SeccompParityTests compares the
/// whole filter with the reference profile.</summary>
public sealed class SeccompDefaultTests(BusyboxRootfs rootfs) : ContainerTest(rootfs)
{
    private string Probe(params string[] attempt) => Probe([], attempt);

    private string Probe(string[] options, params string[] attempt)
    {
        var result = RunIn(options, ["probe", .. attempt]);
        Assert.True(result.ExitCode == 0, result.ToString());
        return result.Stdout.Trim();
    }

    private static readonly string[] Unconfined = ["--security-opt", "seccomp=unconfined"];

    [ContainerFact]
    public void An_af_vsock_socket_is_refused_even_with_no_network()
    {
        // vsock is not network-namespaced: a --network none container could otherwise take a
        // port in the host's vsock space
        Assert.Equal("errno EPERM", Probe(["--network", "none"], "vsock"));
        Assert.NotEqual("errno EPERM", Probe(Unconfined, "vsock")); // the kernel's own answer (ok, or EAFNOSUPPORT without the module)
    }

    [ContainerTheory]
    [InlineData("0x0400000")]   // READ_IMPLIES_EXEC: every readable mapping executable
    [InlineData("0x0040000")]   // ADDR_NO_RANDOMIZE: no ASLR for what runs next
    public void Personality_flags_beyond_dockers_values_are_refused(string persona)
    {
        Assert.Equal("errno EPERM", Probe("personality", persona));
        Assert.Equal("ok", Probe(Unconfined, "personality", persona));
    }

    [ContainerTheory]
    [InlineData("0xffffffff")]  // the query
    [InlineData("0x0")]         // PER_LINUX
    [InlineData("0x0020000")]   // PER_LINUX32 (what `linux32` sets)
    public void Personality_values_docker_allows_still_work(string persona)
    {
        Assert.Equal("ok", Probe("personality", persona));
    }

    [ContainerTheory]
    [InlineData("listmount")]
    [InlineData("statmount")]
    public void Listmount_and_statmount_are_refused(string call)
    {
        Assert.Equal("errno EPERM", Probe(call));
        Assert.Equal("errno EFAULT", Probe(Unconfined, call)); // they exist here: the kernel reads the missing request
    }
}
