using System.Diagnostics;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using Isolate.Interop;
using Isolate.Plan;
using Isolate.Runtime;
using Isolate.Security;
using Isolate.Tests.Support;

namespace Isolate.Tests.Unit;

/// <summary>The C/C# contract, fact by fact. ISOLATE_SHIM_ABI_VERSION only says both sides
/// meant the same version: a field added in the wrong order, or a constant renumbered on
/// one side, would pass it and corrupt memory (or misname a failure) silently. Here the C
/// compiler says what native/include/isolate_shim.h means (native/test/abi_layout.c prints
/// every size, offset and constant) and each is compared with its C# mirror.</summary>
public sealed class AbiTests
{
    /// <summary>Every struct of the header and its C# mirror (isolate_bpf_insn has none: the
    /// filter is passed as packed ulongs, checked on its own below).</summary>
    private static readonly Dictionary<string, Type> Structs = new()
    {
        ["isolate_mount_op"] = typeof(ShimMountOp),
        ["isolate_process_security"] = typeof(ShimProcessSecurity),
        ["isolate_ns_join"] = typeof(ShimNamespaceJoin),
        ["isolate_port"] = typeof(ShimPort),
        ["isolate_sysctl"] = typeof(ShimSysctl),
        ["isolate_rlimit"] = typeof(ShimRlimit),
        ["isolate_spawn_config"] = typeof(ShimSpawnConfig),
        ["isolate_spawn_result"] = typeof(ShimSpawnResult),
        ["isolate_msg"] = typeof(ShimMessage),
    };

    private const string BpfInsn = "isolate_bpf_insn";

    /// <summary>Every enum of the header: its C# mirror, and the prefix its constants share.</summary>
    private static readonly Dictionary<string, (Type Mirror, string Prefix)> Enums = new()
    {
        ["isolate_mount_kind"] = (typeof(MountKind), "ISOLATE_MOUNT_"),
        ["isolate_op_options"] = (typeof(MountOptions), "ISOLATE_OP_"),
        ["isolate_step"] = (typeof(ShimStep), "ISOLATE_STEP_"),
        ["isolate_tty_detail"] = (typeof(ShimTtyDetail), "ISOLATE_TTY_"),
        ["isolate_caps_detail"] = (typeof(ShimCapabilitiesDetail), "ISOLATE_CAPS_"),
        ["isolate_user_detail"] = (typeof(ShimUserDetail), "ISOLATE_USER_"),
        ["isolate_workdir_detail"] = (typeof(ShimWorkdirDetail), "ISOLATE_WORKDIR_"),
        ["isolate_exec_detail"] = (typeof(ShimExecDetail), "ISOLATE_EXEC_"),
        ["isolate_spawn_flags"] = (typeof(ShimSpawnFlags), "ISOLATE_SPAWN_"),
        ["isolate_security_flags"] = (typeof(ShimSecurityFlags), "ISOLATE_SECURITY_"),
        ["isolate_spawn_call"] = (typeof(ShimSpawnCall), "ISOLATE_SPAWN_CALL_"),
        ["isolate_msg_type"] = (typeof(ShimMessageType), "ISOLATE_MSG_"),
        ["isolate_note"] = (typeof(ShimNote), "ISOLATE_NOTE_"),
        ["isolate_feature"] = (typeof(KernelFeatures), "ISOLATE_FEATURE_"),
        ["isolate_program_kind"] = (typeof(ShimProgramKind), "ISOLATE_PROGRAM_"),
    };

    /// <summary>The C side's abbreviations, word by word, as the C# names may spell them out. A
    /// C name and a C# name are "the same" when they match, as written or with these words
    /// spelled out, ignoring case and '_' (ns_joins is NsJoins, ISOLATE_STEP_JOIN_NS JoinNamespace).</summary>
    private static readonly Dictionary<string, string> Abbreviations = new()
    {
        ["CAPS"] = "Capabilities",
        ["CGROUPNS"] = "CgroupNamespace",
        ["USERNS"] = "UserNamespace",
        ["NS"] = "Namespace",
        ["PRIVS"] = "Privileges",
        ["PDEATHSIG"] = "ParentDeathSignal",
        ["LEN"] = "Length",
    };

    private static string SpelledOut(string cName) =>
        string.Concat(cName.Split('_').Select(word => Abbreviations.GetValueOrDefault(word.ToUpperInvariant(), word))).ToLowerInvariant();

    private static bool SameName(string cName, string csName) =>
        cName.Replace("_", "").Equals(csName, StringComparison.OrdinalIgnoreCase) || SpelledOut(cName) == csName.ToLowerInvariant();

    private static string Header => Path.Combine(IsolateBinary.RepoRoot, "native", "include", "isolate_shim.h");

    private sealed record CField(string Name, long Offset, long Size);

    /// <summary>What abi_layout printed: struct sizes, fields in declaration order, enum
    /// constants in order, and the #defines.</summary>
    private sealed class CLayout
    {
        public Dictionary<string, long> Sizes { get; } = [];
        public Dictionary<string, List<CField>> Fields { get; } = [];
        public Dictionary<string, List<(string Name, long Value)>> Constants { get; } = [];
        public Dictionary<string, long> Defines { get; } = [];
    }

    private static readonly Lazy<CLayout> Layout = new(CompileAndRun);

    private static CLayout CompileAndRun()
    {
        string dir = Directory.CreateTempSubdirectory("isolate-abi-").FullName;
        try
        {
            string program = Path.Combine(dir, "abi_layout");
            string compiler = Run("gcc", "-std=c11", "-Wall", "-Wextra", "-Werror",
                "-I", Path.Combine(IsolateBinary.RepoRoot, "native", "include"),
                Path.Combine(IsolateBinary.RepoRoot, "native", "test", "abi_layout.c"), "-o", program);
            Assert.True(File.Exists(program), "gcc could not build native/test/abi_layout.c:\n" + compiler);
            var layout = new CLayout();
            foreach (string line in Run(program).Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                string[] f = line.Split(' ');
                switch (f[0])
                {
                    case "struct":
                        layout.Sizes[f[1]] = long.Parse(f[2]);
                        layout.Fields[f[1]] = [];
                        break;
                    case "field":
                        layout.Fields[f[1]].Add(new CField(f[2], long.Parse(f[3]), long.Parse(f[4])));
                        break;
                    case "enum":
                        if (!layout.Constants.TryGetValue(f[1], out var constants))
                            layout.Constants[f[1]] = constants = [];
                        constants.Add((f[2], long.Parse(f[3])));
                        break;
                    case "define":
                        layout.Defines[f[1]] = long.Parse(f[2]);
                        break;
                    default:
                        throw new InvalidDataException("abi_layout printed an unknown line: " + line);
                }
            }
            return layout;
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static string Run(string file, params string[] args)
    {
        var info = new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(info)!;
        var stderr = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return process.ExitCode == 0 ? stdout : $"{file} exited {process.ExitCode}\n{stdout}{stderr.Result}";
    }

    private static long SizeOf(Type type) => type.IsPointer ? IntPtr.Size : Marshal.SizeOf(type);

    [Fact]
    public void Every_shared_struct_has_the_size_and_field_offsets_of_its_CSharp_mirror()
    {
        var problems = new List<string>();
        foreach (var (cStruct, mirror) in Structs)
        {
            if (!Layout.Value.Sizes.TryGetValue(cStruct, out long size))
            {
                problems.Add($"struct {cStruct}: not printed by native/test/abi_layout.c");
                continue;
            }
            if (Marshal.SizeOf(mirror) != size)
                problems.Add($"struct {cStruct}: {size} bytes in C, {Marshal.SizeOf(mirror)} in {mirror.Name}");
            var csFields = mirror.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic);
            var cFields = Layout.Value.Fields[cStruct];
            if (csFields.Length != cFields.Count)
                problems.Add($"struct {cStruct}: {cFields.Count} fields in C, {csFields.Length} in {mirror.Name}");
            foreach (var field in cFields)
            {
                var csField = csFields.SingleOrDefault(f => SameName(field.Name, f.Name));
                if (csField is null)
                {
                    problems.Add($"{cStruct}.{field.Name}: {mirror.Name} has no field of that name");
                    continue;
                }
                long offset = Marshal.OffsetOf(mirror, csField.Name);
                if (offset != field.Offset)
                    problems.Add($"{cStruct}.{field.Name}: offset {field.Offset} in C, {offset} in {mirror.Name}.{csField.Name}");
                if (SizeOf(csField.FieldType) != field.Size)
                    problems.Add($"{cStruct}.{field.Name}: {field.Size} bytes in C, {SizeOf(csField.FieldType)} in {mirror.Name}.{csField.Name}");
            }
        }
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    /// <summary>C# passes the seccomp filter as one ulong per instruction
    /// (BpfInstruction.Packed): each part must land where struct isolate_bpf_insn has it.</summary>
    [Fact]
    public void A_packed_seccomp_instruction_is_laid_out_as_struct_isolate_bpf_insn()
    {
        Assert.Equal(sizeof(ulong), Layout.Value.Sizes[BpfInsn]);
        var insn = new BpfInstruction(0x1122, 0x33, 0x44, 0x55667788);
        byte[] bytes = BitConverter.GetBytes(insn.Packed);
        Assert.True(BitConverter.IsLittleEndian);
        var fields = Layout.Value.Fields[BpfInsn].ToDictionary(f => f.Name);
        Assert.Equal(new[] { "code", "jt", "jf", "k" }, fields.Keys);
        Assert.Equal(2, fields["code"].Size);
        Assert.Equal(insn.Code, BitConverter.ToUInt16(bytes, (int)fields["code"].Offset));
        Assert.Equal(1, fields["jt"].Size);
        Assert.Equal(insn.JumpTrue, bytes[fields["jt"].Offset]);
        Assert.Equal(1, fields["jf"].Size);
        Assert.Equal(insn.JumpFalse, bytes[fields["jf"].Offset]);
        Assert.Equal(4, fields["k"].Size);
        Assert.Equal(insn.K, BitConverter.ToUInt32(bytes, (int)fields["k"].Offset));
    }

    [Fact]
    public void Every_enum_constant_has_a_CSharp_member_of_the_same_name_and_value()
    {
        var problems = new List<string>();
        foreach (var (cEnum, (mirror, prefix)) in Enums)
        {
            if (!Layout.Value.Constants.TryGetValue(cEnum, out var constants))
            {
                problems.Add($"enum {cEnum}: not printed by native/test/abi_layout.c");
                continue;
            }
            var members = Enum.GetNames(mirror).ToDictionary(name => name, name => Convert.ToInt64(Enum.Parse(mirror, name)));
            foreach (var (name, value) in constants)
            {
                Assert.StartsWith(prefix, name);
                var matches = members.Keys.Where(member => SameName(name[prefix.Length..], member)).ToList();
                if (matches.Count != 1)
                    problems.Add($"{name}: {mirror.Name} has {matches.Count} members of that name");
                else if (members[matches[0]] != value)
                    problems.Add($"{name}: {value} in C, {members[matches[0]]} in {mirror.Name}.{matches[0]}");
            }
            // and no C# member the header lacks (a flags enum's None is C#'s own)
            foreach (var (member, value) in members)
            {
                if (!(member == "None" && value == 0) && !constants.Any(c => SameName(c.Name[prefix.Length..], member)))
                    problems.Add($"{mirror.Name}.{member}: no constant of that name in enum {cEnum}");
            }
        }
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    [Fact]
    public void The_defines_CSharp_depends_on_have_its_values()
    {
        var defines = Layout.Value.Defines;
        Assert.Equal(Shim.AbiVersion, (uint)defines["ISOLATE_SHIM_ABI_VERSION"]);
        Assert.Equal(MountPlanBuilder.RootfsSlot + 1, defines["ISOLATE_MAX_CAPTURES"]); // the last slot
        Assert.Equal(ExitCodes.Failure, defines["ISOLATE_EXIT_SETUP_FAILED"]);
        Assert.Equal(ExitCodes.CannotExecute, defines["ISOLATE_EXIT_CANNOT_EXEC"]);
        Assert.Equal(ExitCodes.NotFound, defines["ISOLATE_EXIT_NOT_FOUND"]);
    }

    /// <summary>abi_layout.c is written by hand: a struct, field or constant added to the
    /// header and not to it would go unchecked. The header's own text says what there is.</summary>
    [Fact]
    public void The_layout_program_prints_every_struct_field_and_enum_constant_of_the_header()
    {
        string text = Regex.Replace(File.ReadAllText(Header), @"/\*.*?\*/", " ", RegexOptions.Singleline);

        var structs = Regex.Matches(text, @"struct\s+(isolate_\w+)\s*\{(.*?)\}\s*;", RegexOptions.Singleline)
            .ToDictionary(m => m.Groups[1].Value, m => m.Groups[2].Value
                .Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(declaration => Regex.Match(declaration, @"(\w+)\s*$").Groups[1].Value).ToList());
        var enums = Regex.Matches(text, @"enum\s+(isolate_\w+)\s*\{(.*?)\}\s*;", RegexOptions.Singleline)
            .ToDictionary(m => m.Groups[1].Value, m => Regex.Matches(m.Groups[2].Value, @"(ISOLATE_\w+)\s*=")
                .Select(c => c.Groups[1].Value).ToList());
        Assert.NotEmpty(structs);
        Assert.NotEmpty(enums);

        Assert.Equal(structs.Keys.Order(), Structs.Keys.Append(BpfInsn).Order());
        Assert.Equal(enums.Keys.Order(), Enums.Keys.Order());
        Assert.Equal(structs.Keys.Order(), Layout.Value.Fields.Keys.Order());
        Assert.Equal(enums.Keys.Order(), Layout.Value.Constants.Keys.Order());
        foreach (var (name, fields) in structs)
            Assert.Equal(fields, Layout.Value.Fields[name].Select(f => f.Name));
        foreach (var (name, constants) in enums)
            Assert.Equal(constants, Layout.Value.Constants[name].Select(c => c.Name));
    }
}
