using Isolate.Tests.Support;

namespace Isolate.Tests.Integration;

/// <summary>Bytes in, bytes out: every byte value 0x01-0xff in an argument, an environment
/// value, a volume path and a working directory reaches the container unchanged, through run,
/// run -d + exec, and the OCI face; compared with od inside. The bytes are made by the shell's
/// printf, since .NET's own process API would re-encode them.</summary>
public sealed class ByteTests(BusyboxRootfs rootfs) : ContainerTest(rootfs)
{
    private static readonly string AllBytesHex = string.Concat(Enumerable.Range(1, 255).Select(b => b.ToString("x2")));

    /// <summary>Shell lines that put every byte 0x01-0xff in $all (0x0a too: it is not trailing).</summary>
    private const string MakeAll = "all=$(i=1; while [ $i -le 255 ]; do printf \"\\\\$(printf %o $i)\"; i=$((i+1)); done); ";

    private RunResult Shell(string script) => IsolateBinary.RunFromShell(MakeAll + script);

    private static string Hex(RunResult result)
    {
        Assert.True(result.ExitCode == 0, result.ToString());
        return result.Stdout.Replace(" ", "").Replace("\n", "");
    }

    [ContainerFact]
    public void The_issue_example_prints_the_bytes_given()
    {
        var result = IsolateBinary.RunFromShell($"\"$ISOLATE\" run --rootfs {Rootfs.Path} -- printf '%s' \"$(printf 'a\\377\\376b')\" | od -An -tx1");
        Assert.Equal("61fffe62", Hex(result));
    }

    [ContainerFact]
    public void Every_byte_reaches_the_container_in_an_argument()
    {
        Assert.Equal(AllBytesHex, Hex(Shell($"\"$ISOLATE\" run --rootfs {Rootfs.Path} -- printf %s \"$all\" | od -An -tx1")));
    }

    [ContainerFact]
    public void Every_byte_reaches_the_container_in_an_environment_value_given_or_copied()
    {
        Assert.Equal(AllBytesHex, Hex(Shell($"V=\"$all\" \"$ISOLATE\" run --rootfs {Rootfs.Path} -e V -- sh -c 'printf %s \"$V\"' | od -An -tx1")));
        Assert.Equal(AllBytesHex, Hex(Shell($"\"$ISOLATE\" run --rootfs {Rootfs.Path} -e \"W=$all\" -- sh -c 'printf %s \"$W\"' | od -An -tx1")));
        string file = Own(Path.Combine(Path.GetTempPath(), $"envfile-{Guid.NewGuid():N}"));
        Assert.Equal(string.Concat(Enumerable.Range(1, 255).Where(b => b != 10).Select(b => b.ToString("x2"))), Hex(Shell(
            $"printf 'F=%s\\n' \"$(printf %s \"$all\" | tr -d '\\n')\" > {file}; \"$ISOLATE\" run --rootfs {Rootfs.Path} --env-file {file} -- sh -c 'printf %s \"$F\"' | od -An -tx1")));
    }

    [ContainerFact]
    public void A_volume_and_a_working_directory_named_in_other_bytes_work_from_inside()
    {
        string host = Own(Directory.CreateTempSubdirectory("bytes-").FullName);
        // a directory named 0xe9 0xff (Latin-1 e-acute, then a byte no encoding uses here)
        var result = IsolateBinary.RunFromShell(
            $"d={host}/$(printf 'v\\351\\377'); mkdir \"$d\" && echo hi > \"$d/f\" && " +
            $"\"$ISOLATE\" run --rootfs {Rootfs.Path} -v \"$d:/data-$(printf '\\376')\" -w \"/data-$(printf '\\376')\" -- " +
            "sh -c 'pwd | od -An -tx1; cat f; n=$(printf \"n\\377\"); touch \"$n\" && ls \"$n\" >/dev/null && rm \"$n\" && touch \"$n\"' && " +
            "ls \"$d\" | od -An -tx1");
        Assert.True(result.ExitCode == 0, result.ToString());
        var lines = result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Replace(" ", "")).ToList();
        Assert.Equal("2f646174612dfe0a", lines[0]); // "/data-\xfe\n"
        Assert.Equal("hi", lines[1]);
        Assert.Equal("660a6eff0a", string.Concat(lines.Skip(2))); // "f\n" "n\xff\n": made, deleted and made again inside
    }

    [ContainerFact]
    public void Run_d_keeps_the_bytes_for_its_monitor_and_exec_and_ps_shows_them_escaped()
    {
        string root = Own(Directory.CreateTempSubdirectory("bytes-state-").FullName);
        string isolate = $"\"$ISOLATE\" --root {root}";
        try
        {
            var result = Shell(
                $"id=$({isolate} run -d --rootfs {Rootfs.Path} -- sh -c 'printf %s \"$1\" > /tmp/arg; sleep 30' sh \"$all\") || exit 1; " +
                $"sleep 0.3; {isolate} exec $id cat /tmp/arg | od -An -tx1; echo; " +
                $"{isolate} exec $id printf %s \"$all\" | od -An -tx1; echo; " +
                $"{isolate} ps --no-trunc | grep -c '\\\\x80\\\\x81'; {isolate} rm -f $id >/dev/null");
            Assert.True(result.ExitCode == 0, result.ToString());
            var parts = result.Stdout.Split("\n\n");
            Assert.Equal(AllBytesHex, parts[0].Replace(" ", "").Replace("\n", ""));
            Assert.Equal(AllBytesHex, parts[1].Replace(" ", "").Replace("\n", ""));
            Assert.Equal("1", parts[2].Trim());
        }
        finally
        {
            foreach (string dir in Directory.GetDirectories(root))
                IsolateBinary.Run(["--root", root, "rm", "-f", Path.GetFileName(dir)]);
        }
    }

    [ContainerFact]
    public void The_oci_face_refuses_a_config_json_string_that_is_not_utf8_naming_the_field()
    {
        string bundle = Own(Directory.CreateTempSubdirectory("bytes-bundle-").FullName);
        Assert.Equal(0, IsolateBinary.Run(["spec", "-b", bundle]).ExitCode);
        string config = File.ReadAllText(Path.Combine(bundle, "config.json"))
            .Replace("\"sh\"", "\"BYTES\"").Replace("\"rootfs\"", $"\"{Rootfs.Path}\"");
        byte[] bytes = System.Text.Encoding.UTF8.GetBytes(config);
        int at = config.IndexOf("BYTES", StringComparison.Ordinal);
        Assert.True(at > 0, config);
        bytes[at + 1] = 0xff;
        File.WriteAllBytes(Path.Combine(bundle, "config.json"), bytes);
        var result = IsolateBinary.Run(["--root", Own(Directory.CreateTempSubdirectory("bytes-oci-").FullName), "run", "-b", bundle, Guid.NewGuid().ToString("N")[..12]]);
        Assert.Equal(125, result.ExitCode);
        Assert.Equal("isolate: config.json: process.args[0]: not valid UTF-8; config.json is UTF-8 by definition: write the value in UTF-8\n", result.Stderr);
    }

    [ContainerFact]
    public void A_state_root_or_layer_directory_not_in_utf8_is_refused_in_one_line()
    {
        var root = IsolateBinary.RunFromShell($"\"$ISOLATE\" --root \"/tmp/state-$(printf '\\377')\" list");
        Assert.Equal((125, "isolate: --root /tmp/state-\\xff: a state root whose name is not UTF-8 is not supported; choose another directory\n"), (root.ExitCode, root.Stderr));
        var keep = IsolateBinary.RunFromShell($"\"$ISOLATE\" run --rootfs {Rootfs.Path} --keep-changes \"/tmp/keep-$(printf '\\377')\" -- true");
        Assert.Equal((125, "isolate: --keep-changes /tmp/keep-\\xff: a layer directory whose name is not UTF-8 is not supported; choose another directory\n"), (keep.ExitCode, keep.Stderr));
    }
}
