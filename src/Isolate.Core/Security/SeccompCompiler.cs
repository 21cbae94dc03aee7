namespace Isolate.Security;

/// <summary>Compiles a <see cref="SeccompProfile"/> to classic BPF for seccomp(2): no libseccomp,
/// the binary stays one static file. The program checks the architecture, refuses x32 numbers,
/// then tries each rule in order and falls back to the default action.</summary>
public static class SeccompCompiler
{
    // BPF opcodes (linux/filter.h)
    private const ushort LdAbsW = 0x20;   // BPF_LD | BPF_W | BPF_ABS
    private const ushort JeqK = 0x15;     // BPF_JMP | BPF_JEQ | BPF_K
    private const ushort JgtK = 0x25;     // BPF_JMP | BPF_JGT | BPF_K
    private const ushort JgeK = 0x35;     // BPF_JMP | BPF_JGE | BPF_K
    private const ushort JsetK = 0x45;    // BPF_JMP | BPF_JSET | BPF_K
    private const ushort AndK = 0x54;     // BPF_ALU | BPF_AND | BPF_K
    private const ushort RetK = 0x06;     // BPF_RET | BPF_K

    // struct seccomp_data
    private const uint OffsetNr = 0, OffsetArch = 4, OffsetArgs = 16;
    private const uint AuditArchX86_64 = 0xC000003E;
    private const uint X32SyscallBit = 0x40000000;

    public const int MaxInstructions = 4096; // BPF_MAXINSNS

    public static IReadOnlyList<BpfInstruction> Compile(SeccompProfile profile)
    {
        var program = new List<BpfInstruction>
        {
            new(LdAbsW, 0, 0, OffsetArch),
            new(JeqK, 1, 0, AuditArchX86_64),
            new(RetK, 0, 0, SeccompAction.KillProcess.ReturnValue), // i386 and anything else: denied by arch
            new(LdAbsW, 0, 0, OffsetNr),
            new(JsetK, 0, 1, X32SyscallBit),
            new(RetK, 0, 0, SeccompAction.KillProcess.ReturnValue), // x32 numbers would bypass every rule
        };
        foreach (var rule in profile.Rules)
        {
            if (rule.Conditions.Count == 0)
                EmitUnconditional(program, rule);
            else
                foreach (int nr in rule.Syscalls)
                    EmitRule(program, nr, rule);
        }
        program.Add(new(RetK, 0, 0, profile.DefaultAction.ReturnValue));
        if (program.Count > MaxInstructions)
            throw new IsolateException($"the seccomp profile compiles to {program.Count} BPF instructions, more than the kernel's {MaxInstructions}; simplify it");
        return program;
    }

    /// <summary>"if nr is one of these: return action": one jeq per system call, all to one
    /// ret, so an allow-list of 300 calls costs 300 instructions, not 600. A jump reaches at
    /// most 255 instructions ahead, so long lists go in chunks, each with its own ret.</summary>
    private static void EmitUnconditional(List<BpfInstruction> program, SeccompRule rule)
    {
        const int chunk = 255;
        for (int start = 0; start < rule.Syscalls.Count; start += chunk)
        {
            int count = Math.Min(chunk, rule.Syscalls.Count - start);
            for (int i = 0; i < count; i++)
            {
                uint nr = (uint)rule.Syscalls[start + i];
                program.Add(i < count - 1
                    ? new(JeqK, (byte)(count - 1 - i), 0, nr)  // to the ret after the last jeq
                    : new(JeqK, 0, 1, nr));                     // the last: on to the ret, or past it
            }
            program.Add(new(RetK, 0, 0, rule.Action.ReturnValue));
        }
    }

    /// <summary>"if nr == N and every condition holds: return action", falling through otherwise.
    /// The accumulator holds nr on entry and on every exit (conditions reload it).</summary>
    private static void EmitRule(List<BpfInstruction> program, int nr, SeccompRule rule)
    {
        var block = new List<BpfInstruction>();
        var failJumps = new List<(int Index, bool OnTrue)>(); // jumps to patch to "after the block"
        foreach (var condition in rule.Conditions)
            EmitCondition(block, failJumps, condition);
        if (rule.Conditions.Count > 0)
            block.Add(new(LdAbsW, 0, 0, OffsetNr)); // (unreached on success; the ret follows)
        block.Insert(block.Count - (rule.Conditions.Count > 0 ? 1 : 0), new(RetK, 0, 0, rule.Action.ReturnValue));
        if (rule.Conditions.Count > 0)
        {
            // failing conditions land on the reload of nr, the block's last instruction
            int reload = block.Count - 1;
            foreach (var (index, onTrue) in failJumps)
            {
                var jump = block[index];
                int offset = reload - index - 1;
                if (offset > 255)
                    throw new IsolateException("a seccomp rule has too many conditions to compile");
                block[index] = onTrue ? jump with { JumpTrue = (byte)offset } : jump with { JumpFalse = (byte)offset };
            }
        }
        if (block.Count > 255)
            throw new IsolateException("a seccomp rule is too long to compile");
        // skip the whole block when nr differs
        program.Add(new(JeqK, 0, (byte)block.Count, (uint)nr));
        program.AddRange(block);
    }

    /// <summary>Compares one 64-bit argument as two 32-bit words (high first). Jumps that mean
    /// "the condition fails" are recorded for patching; "holds" falls through.</summary>
    private static void EmitCondition(List<BpfInstruction> block, List<(int, bool)> fail, SeccompCondition c)
    {
        uint hiOffset = OffsetArgs + 8 * (uint)c.Index + 4, loOffset = OffsetArgs + 8 * (uint)c.Index;
        uint hi = (uint)(c.Value >> 32), lo = (uint)c.Value;
        void Fail(ushort code, uint k, bool onTrue)
        {
            fail.Add((block.Count, onTrue));
            block.Add(new(code, 0, 0, k));
        }
        switch (c.Operator)
        {
            case SeccompOperator.Equal:
                block.Add(new(LdAbsW, 0, 0, hiOffset));
                Fail(JeqK, hi, onTrue: false);
                block.Add(new(LdAbsW, 0, 0, loOffset));
                Fail(JeqK, lo, onTrue: false);
                break;
            case SeccompOperator.MaskedEqual:
                uint maskHi = (uint)(c.Value >> 32), maskLo = (uint)c.Value;
                uint wantHi = (uint)(c.ValueTwo >> 32), wantLo = (uint)c.ValueTwo;
                block.Add(new(LdAbsW, 0, 0, hiOffset));
                block.Add(new(AndK, 0, 0, maskHi));
                Fail(JeqK, wantHi, onTrue: false);
                block.Add(new(LdAbsW, 0, 0, loOffset));
                block.Add(new(AndK, 0, 0, maskLo));
                Fail(JeqK, wantLo, onTrue: false);
                break;
            case SeccompOperator.NotEqual:
                // holds if either word differs: equal high words go on to the low word
                block.Add(new(LdAbsW, 0, 0, hiOffset));
                block.Add(new(JeqK, 0, 2, hi)); // differs: skip the low-word test
                block.Add(new(LdAbsW, 0, 0, loOffset));
                Fail(JeqK, lo, onTrue: true);
                break;
            case SeccompOperator.Greater or SeccompOperator.GreaterOrEqual:
                block.Add(new(LdAbsW, 0, 0, hiOffset));
                block.Add(new(JgtK, 3, 0, hi));       // high word above: holds
                Fail(JeqK, hi, onTrue: false);       // high word below: fails
                block.Add(new(LdAbsW, 0, 0, loOffset));
                Fail(c.Operator == SeccompOperator.Greater ? JgtK : JgeK, lo, onTrue: false);
                break;
            case SeccompOperator.Less or SeccompOperator.LessOrEqual:
                block.Add(new(LdAbsW, 0, 0, hiOffset));
                Fail(JgtK, hi, onTrue: true);        // high word above: fails
                block.Add(new(JeqK, 0, 2, hi));      // high word below: holds
                block.Add(new(LdAbsW, 0, 0, loOffset));
                Fail(c.Operator == SeccompOperator.Less ? JgeK : JgtK, lo, onTrue: true);
                break;
        }
    }
}
