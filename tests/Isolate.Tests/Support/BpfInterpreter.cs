using Isolate.Security;

namespace Isolate.Tests.Support;

/// <summary>Runs a seccomp BPF program on a struct seccomp_data, as the kernel would, for the
/// instructions SeccompCompiler emits: so filters are checked by behaviour, not by shape.</summary>
public static class BpfInterpreter
{
    public const uint X86_64 = 0xC000003E, I386 = 0x40000003;

    public static uint Run(IReadOnlyList<BpfInstruction> program, int nr, uint arch = X86_64, params ulong[] args)
    {
        var data = new byte[64];
        BitConverter.GetBytes(nr).CopyTo(data, 0);
        BitConverter.GetBytes(arch).CopyTo(data, 4);
        for (int i = 0; i < args.Length; i++)
            BitConverter.GetBytes(args[i]).CopyTo(data, 16 + 8 * i);

        uint a = 0;
        for (int pc = 0; pc < program.Count; pc++)
        {
            var insn = program[pc];
            switch (insn.Code)
            {
                case 0x20: a = BitConverter.ToUInt32(data, (int)insn.K); break;                 // ld [k]
                case 0x54: a &= insn.K; break;                                                  // and #k
                case 0x06: return insn.K;                                                       // ret #k
                case 0x15: pc += a == insn.K ? insn.JumpTrue : insn.JumpFalse; break;           // jeq
                case 0x25: pc += a > insn.K ? insn.JumpTrue : insn.JumpFalse; break;            // jgt
                case 0x35: pc += a >= insn.K ? insn.JumpTrue : insn.JumpFalse; break;           // jge
                case 0x45: pc += (a & insn.K) != 0 ? insn.JumpTrue : insn.JumpFalse; break;     // jset
                default: throw new InvalidOperationException($"unexpected BPF code 0x{insn.Code:x} at {pc}");
            }
        }
        throw new InvalidOperationException("the program ran off its end");
    }
}
