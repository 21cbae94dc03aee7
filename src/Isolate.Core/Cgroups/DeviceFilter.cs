using Isolate.Spec;

namespace Isolate.Cgroups;

/// <summary>
/// cgroup v2 has no devices.allow / devices.deny: the kernel asks every BPF_PROG_TYPE_CGROUP_DEVICE
/// program attached to the group (and to its ancestors: all must say yes) about each open and
/// mknod of a device node. This turns the ordered rule list that v1 takes into such a program,
/// as plain eBPF instructions (struct bpf_insn, 8 bytes each): rules in, bytes out, nothing else.
///
/// What a list means is what writing it in order to a fresh v1 group means (CgroupV1 does that):
/// the group starts as its parent has it (allow everything: what a v1 group under the root
/// has, and what the ancestors' own programs still restrict on v2), and each rule overrides what
/// came before it for the devices and the accesses it names. So the LAST rule that matches a
/// device and an access bit decides that bit; "deny a" first resets to "nothing matched: deny".
/// The kernel asks once per open with every access together (read|write for O_RDWR), so each
/// bit is decided on its own and any denied bit denies the whole request.
///
/// The program walks the rules from the last to the first with the bits not decided yet in R3:
/// a matching deny that names one of them answers 0; a matching allow removes its bits and
/// answers 1 when none is left. Past the first rule (or at an "a" rule for rwm, which decides
/// everything) the rest is the starting point: allow.
/// </summary>
public static class DeviceFilter
{
    // struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; }, in R1.
    // access_type is (BPF_DEVCG_ACC_* << 16) | BPF_DEVCG_DEV_*.
    private const short CtxAccessType = 0, CtxMajor = 4, CtxMinor = 8;
    public const int DevBlock = 1, DevChar = 2;
    public const int AccMknod = 1, AccRead = 2, AccWrite = 4, AccAll = AccMknod | AccRead | AccWrite;

    // registers
    private const byte R0 = 0, R1 = 1, R2 = 2, R3 = 3, R4 = 4, R5 = 5;

    // opcodes: class | operation | source (linux/bpf_common.h, linux/bpf.h)
    private const byte LdxMemW = 0x61;      // BPF_LDX | BPF_MEM | BPF_W
    private const byte Alu64AndK = 0x57;    // BPF_ALU64 | BPF_AND | BPF_K
    private const byte Alu64RshK = 0x77;    // BPF_ALU64 | BPF_RSH | BPF_K
    private const byte Alu64MovK = 0xb7;    // BPF_ALU64 | BPF_MOV | BPF_K
    private const byte Alu64MovX = 0xbf;    // BPF_ALU64 | BPF_MOV | BPF_X
    private const byte JmpJeqK = 0x15;      // BPF_JMP | BPF_JEQ | BPF_K
    private const byte JmpJneK = 0x55;      // BPF_JMP | BPF_JNE | BPF_K
    private const byte JmpExit = 0x95;      // BPF_JMP | BPF_EXIT

    /// <summary>One struct bpf_insn: code, dst_reg (low nibble) and src_reg (high nibble), off, imm.</summary>
    public readonly record struct Instruction(byte Code, byte Dst, byte Src, short Offset, int Immediate)
    {
        public void WriteTo(Span<byte> to)
        {
            to[0] = Code;
            to[1] = (byte)((Src << 4) | (Dst & 0x0f));
            BitConverter.TryWriteBytes(to[2..4], Offset);
            BitConverter.TryWriteBytes(to[4..8], Immediate);
        }

        public override string ToString() => $"{Code:x2} r{Dst} r{Src} {Offset} {Immediate}";
    }

    /// <summary>The program for <paramref name="rules"/> as the bytes BPF_PROG_LOAD takes.</summary>
    public static byte[] Build(IReadOnlyList<DeviceRule> rules) => Encode(Instructions(rules));

    public static byte[] Encode(IReadOnlyList<Instruction> program)
    {
        var bytes = new byte[program.Count * 8];
        for (int i = 0; i < program.Count; i++)
            program[i].WriteTo(bytes.AsSpan(i * 8, 8));
        return bytes;
    }

    public static IReadOnlyList<Instruction> Instructions(IReadOnlyList<DeviceRule> rules)
    {
        var program = new List<Instruction>
        {
            new(LdxMemW, R2, R1, CtxAccessType, 0),
            new(Alu64AndK, R2, 0, 0, 0xffff),       // R2: the device type
            new(LdxMemW, R3, R1, CtxAccessType, 0),
            new(Alu64RshK, R3, 0, 0, 16),           // R3: the access bits not decided yet
            new(LdxMemW, R4, R1, CtxMajor, 0),
            new(LdxMemW, R5, R1, CtxMinor, 0),
        };
        for (int i = rules.Count - 1; i >= 0; i--)
        {
            var (block, decidesAll) = Block(rules[i]);
            program.AddRange(block);
            // the verifier refuses instructions no path reaches
            if (decidesAll)
                return program;
        }
        program.Add(new(Alu64MovK, R0, 0, 0, 1));
        program.Add(new(JmpExit, 0, 0, 0, 0));
        return program;
    }

    /// <summary>One rule's test: every jump in it goes to the instruction after it (the rule
    /// before it in the list). decidesAll: it matches every request, so nothing after it runs.</summary>
    private static (List<Instruction> Block, bool DecidesAll) Block(DeviceRule rule)
    {
        int access = AccessBits(rule.Access);
        // a device number the kernel cannot have (majors are 12 bits, minors 20) matches nothing
        if (access == 0 || rule.Major is > int.MaxValue || rule.Minor is > int.MaxValue)
            return ([], false);

        var block = new List<Instruction>();
        var skips = new List<int>(); // jumps to the end of the block, their offsets filled last
        void SkipUnless(byte register, int value)
        {
            skips.Add(block.Count);
            block.Add(new(JmpJneK, register, 0, 0, value));
        }
        if (rule.Type != 'a')
            SkipUnless(R2, rule.Type == 'b' ? DevBlock : DevChar);
        // a type "a" rule is every device whatever its numbers, as the v1 controller reads "a"
        if (rule.Type != 'a' && rule.Major is { } major)
            SkipUnless(R4, (int)major);
        if (rule.Type != 'a' && rule.Minor is { } minor)
            SkipUnless(R5, (int)minor);

        bool everyAccess = access == AccAll; // the undecided bits are never none here: it decides
        if (rule.Allow && !everyAccess)
        {
            block.Add(new(Alu64AndK, R3, 0, 0, ~access));
            skips.Add(block.Count);
            block.Add(new(JmpJneK, R3, 0, 0, 0));
        }
        else if (!rule.Allow && !everyAccess)
        {
            block.Add(new(Alu64MovX, R1, R3, 0, 0));
            block.Add(new(Alu64AndK, R1, 0, 0, access));
            skips.Add(block.Count);
            block.Add(new(JmpJeqK, R1, 0, 0, 0));
        }
        block.Add(new(Alu64MovK, R0, 0, 0, rule.Allow ? 1 : 0));
        block.Add(new(JmpExit, 0, 0, 0, 0));

        foreach (int at in skips)
            block[at] = block[at] with { Offset = (short)(block.Count - at - 1) };
        return (block, skips.Count == 0);
    }

    /// <summary>"rwm" onto BPF_DEVCG_ACC_* bits.</summary>
    public static int AccessBits(string access)
    {
        int bits = 0;
        foreach (char c in access)
        {
            bits |= c switch
            {
                'r' => AccRead,
                'w' => AccWrite,
                'm' => AccMknod,
                _ => throw new ArgumentException($"'{access}' is not a device access: letters of rwm"),
            };
        }
        return bits;
    }
}
