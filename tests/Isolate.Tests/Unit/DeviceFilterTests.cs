using Isolate.Cgroups;
using Isolate.Spec;
using Isolate.Tests.Support;

namespace Isolate.Tests.Unit;

/// <summary>The cgroup v2 device program: its exact bytes for small lists, and what it answers
/// (run from its bytes by a small eBPF interpreter, as the kernel would) for the lists users
/// give, compared with what the same list written to v1's devices.allow/deny means.</summary>
public sealed class DeviceFilterTests
{
    private const int Block = DeviceFilter.DevBlock, Char = DeviceFilter.DevChar;
    private const int M = DeviceFilter.AccMknod, R = DeviceFilter.AccRead, W = DeviceFilter.AccWrite;

    private static DeviceRule Deny(char type, long? major, long? minor, string access = "rwm") => new(false, type, major, minor, access);

    private static DeviceRule Allow(char type, long? major, long? minor, string access = "rwm") => new(true, type, major, minor, access);

    private static readonly DeviceRule DenyAll = Deny('a', null, null);

    /// <summary>The prologue every program starts with: type, access, major, minor into R2..R5.</summary>
    private const string Prologue =
        "61 12 00 00 00 00 00 00 " + // r2 = *(u32 *)(r1 + 0)
        "57 02 00 00 ff ff 00 00 " + // r2 &= 0xffff
        "61 13 00 00 00 00 00 00 " + // r3 = *(u32 *)(r1 + 0)
        "77 03 00 00 10 00 00 00 " + // r3 >>= 16
        "61 14 04 00 00 00 00 00 " + // r4 = *(u32 *)(r1 + 4)
        "61 15 08 00 00 00 00 00 ";  // r5 = *(u32 *)(r1 + 8)

    private static string Hex(byte[] program) => string.Join(' ', program.Select(b => b.ToString("x2")));

    [Fact]
    public void Deny_all_then_allow_dev_null_is_the_prologue_then_the_last_rule_first_and_stops_at_the_deny_all()
    {
        byte[] program = DeviceFilter.Build([DenyAll, Allow('c', 1, 3)]);

        Assert.Equal(Prologue +
            "55 02 04 00 02 00 00 00 " + // if r2 != char goto +4
            "55 04 03 00 01 00 00 00 " + // if r4 != 1 goto +3
            "55 05 02 00 03 00 00 00 " + // if r5 != 3 goto +2
            "b7 00 00 00 01 00 00 00 " + // r0 = 1
            "95 00 00 00 00 00 00 00 " + // exit
            "b7 00 00 00 00 00 00 00 " + // deny a: r0 = 0
            "95 00 00 00 00 00 00 00",   // exit: nothing after it (the verifier refuses dead code)
            Hex(program));
    }

    [Fact]
    public void Partial_access_allow_removes_its_bits_and_a_partial_deny_tests_for_any_of_its_bits()
    {
        byte[] program = DeviceFilter.Build([Deny('b', 8, null, "w"), Allow('c', null, null, "r")]);

        Assert.Equal(Prologue +
            "55 02 04 00 02 00 00 00 " + // allow c *:* r: if r2 != char goto +4
            "57 03 00 00 fd ff ff ff " + // r3 &= ~read
            "55 03 02 00 00 00 00 00 " + // if r3 != 0 goto +2
            "b7 00 00 00 01 00 00 00 " + // r0 = 1
            "95 00 00 00 00 00 00 00 " + // exit
            "55 02 06 00 01 00 00 00 " + // deny b 8:* w: if r2 != block goto +6
            "55 04 05 00 08 00 00 00 " + // if r4 != 8 goto +5
            "bf 31 00 00 00 00 00 00 " + // r1 = r3
            "57 01 00 00 04 00 00 00 " + // r1 &= write
            "15 01 02 00 00 00 00 00 " + // if r1 == 0 goto +2
            "b7 00 00 00 00 00 00 00 " + // r0 = 0
            "95 00 00 00 00 00 00 00 " + // exit
            "b7 00 00 00 01 00 00 00 " + // no rule decided: as the parent has it, allow
            "95 00 00 00 00 00 00 00",
            Hex(program));
    }

    [Fact]
    public void The_oci_default_list_allows_the_standard_nodes_and_mknod_and_nothing_else()
    {
        var rules = new List<DeviceRule> { DenyAll };
        rules.AddRange(Isolate.Plan.DeviceNodes.DefaultCgroupRules);
        byte[] program = DeviceFilter.Build(rules);

        Assert.Equal(1, Run(program, Char, 1, 3, R | W));      // /dev/null
        Assert.Equal(1, Run(program, Char, 1, 5, R));          // /dev/zero
        Assert.Equal(1, Run(program, Char, 136, 4, R | W));    // a pty
        Assert.Equal(1, Run(program, Char, 10, 200, M));       // mknod of anything: c *:* m
        Assert.Equal(1, Run(program, Block, 8, 0, M));
        Assert.Equal(0, Run(program, Char, 10, 200, R | W));   // /dev/net/tun
        Assert.Equal(0, Run(program, Block, 8, 0, R));         // /dev/sda
        Assert.Equal(0, Run(program, Char, 1, 1, R));          // /dev/mem
    }

    [Fact]
    public void The_last_matching_rule_wins_for_each_access_bit()
    {
        // v1: the later deny takes w away from the earlier allow
        byte[] program = DeviceFilter.Build([DenyAll, Allow('c', 1, 3), Deny('c', 1, 3, "w")]);
        Assert.Equal(1, Run(program, Char, 1, 3, R));
        Assert.Equal(0, Run(program, Char, 1, 3, W));
        Assert.Equal(0, Run(program, Char, 1, 3, R | W)); // O_RDWR asks both at once: one denied bit denies

        // and a later allow gives it back
        program = DeviceFilter.Build([DenyAll, Allow('c', 1, 3), Deny('c', 1, 3, "w"), Allow('c', 1, null, "w")]);
        Assert.Equal(1, Run(program, Char, 1, 3, R | W));
        Assert.Equal(0, Run(program, Char, 1, 5, R));

        // two allows of one device add up, as v1 merges them into one exception
        program = DeviceFilter.Build([DenyAll, Allow('c', 1, 3, "r"), Allow('c', 1, 3, "w")]);
        Assert.Equal(1, Run(program, Char, 1, 3, R | W));
        Assert.Equal(0, Run(program, Char, 1, 3, R | W | M));

        // an allow-all last decides everything; a deny-all last too
        Assert.Equal(1, Run(DeviceFilter.Build([DenyAll, Allow('a', null, null)]), Block, 8, 0, R | W));
        Assert.Equal(0, Run(DeviceFilter.Build([Allow('c', 1, 3), DenyAll]), Char, 1, 3, R));
    }

    [Fact]
    public void Without_a_rule_for_every_device_the_group_starts_as_v1_starts_it_allowing_what_its_parent_allows()
    {
        // docker's --device /dev/sdb:r on v1: only that node's writes are taken away
        byte[] program = DeviceFilter.Build([Deny('b', 8, 16, "rw"), Allow('b', 8, 16, "r")]);

        Assert.Equal(1, Run(program, Block, 8, 16, R));
        Assert.Equal(0, Run(program, Block, 8, 16, W));
        Assert.Equal(0, Run(program, Block, 8, 16, R | W));
        Assert.Equal(1, Run(program, Block, 8, 16, M));
        Assert.Equal(1, Run(program, Char, 1, 3, R | W));
        Assert.Equal(1, Run(program, Block, 8, 17, W));
    }

    [Fact]
    public void Types_and_wildcards_match_as_in_v1()
    {
        byte[] program = DeviceFilter.Build([DenyAll, Allow('b', null, 0, "r"), Allow('c', 4, null, "rw")]);

        Assert.Equal(1, Run(program, Block, 8, 0, R));
        Assert.Equal(0, Run(program, Char, 8, 0, R));       // a block rule says nothing about char devices
        Assert.Equal(0, Run(program, Block, 8, 1, R));
        Assert.Equal(1, Run(program, Char, 4, 64, R | W));
        Assert.Equal(0, Run(program, Char, 4, 64, M));
        Assert.Equal(0, Run(program, Block, 4, 64, R));
    }

    [Fact]
    public void A_type_a_rule_is_every_device_whatever_numbers_it_gives()
    {
        // v1 reads "a 1:3 rwm" as "a": every device; so does the program
        byte[] program = DeviceFilter.Build([Allow('c', 1, 3), Deny('a', 1, 3)]);

        Assert.Equal(0, Run(program, Char, 1, 3, R));
        Assert.Equal(0, Run(program, Block, 8, 0, R));
    }

    [Fact]
    public void A_device_number_no_kernel_has_matches_nothing_and_an_empty_access_is_no_rule()
    {
        byte[] program = DeviceFilter.Build([DenyAll, Allow('c', 1L << 33, 3), Allow('c', 1, 3, "")]);

        Assert.Equal(0, Run(program, Char, 1, 3, R));
        Assert.Equal(Prologue + "b7 00 00 00 00 00 00 00 95 00 00 00 00 00 00 00", Hex(program));
    }

    [Fact]
    public void V2_driver_attaches_the_program_for_the_rules_and_an_update_without_rules_leaves_it()
    {
        using var fs = new FakeCgroupFilesystem(_ => ["cgroup.procs", "cgroup.controllers", "cgroup.subtree_control", "pids.max"]);
        fs.Seed("", ("cgroup.controllers", "memory pids\n"), ("cgroup.subtree_control", ""));
        DeviceRule[] rules = [DenyAll, Allow('c', 1, 3)];

        var cgroup = CgroupV2.Create(fs, fs.Root, "isolate", "c1", new ResourceLimits { DeviceRules = rules }, _ => { });
        cgroup.Update(new ResourceLimits { PidsLimit = 5 }, _ => { });
        cgroup.Update(new ResourceLimits { DeviceRules = [DenyAll] }, _ => { });

        Assert.Equal(2, fs.DevicePrograms.Count);
        Assert.Equal("isolate/c1", fs.DevicePrograms[0].Path);
        Assert.Equal(DeviceFilter.Build(rules), fs.DevicePrograms[0].Program);
        Assert.Equal(DeviceFilter.Build([DenyAll]), fs.DevicePrograms[1].Program);
    }

    /// <summary>Runs the program from its bytes on a struct bpf_cgroup_dev_ctx, for the
    /// instructions DeviceFilter emits; anything else is a test failure.</summary>
    private static long Run(byte[] program, int type, uint major, uint minor, int access)
    {
        var ctx = new byte[12];
        BitConverter.GetBytes((uint)((access << 16) | type)).CopyTo(ctx, 0);
        BitConverter.GetBytes(major).CopyTo(ctx, 4);
        BitConverter.GetBytes(minor).CopyTo(ctx, 8);

        var reg = new long[11];
        bool ctxInR1 = true;
        for (int pc = 0; pc < program.Length / 8; pc++)
        {
            var insn = program.AsSpan(pc * 8, 8);
            int dst = insn[1] & 0xf, src = insn[1] >> 4;
            short off = BitConverter.ToInt16(insn[2..4]);
            long imm = BitConverter.ToInt32(insn[4..8]); // sign-extended, as the kernel does for 64-bit operations
            switch (insn[0])
            {
                case 0x61:
                    Assert.True(src == 1 && ctxInR1 && off is 0 or 4 or 8, $"load from r{src}+{off} at {pc}");
                    reg[dst] = BitConverter.ToUInt32(ctx, off);
                    break;
                case 0x57: reg[dst] &= imm; break;
                case 0x77: reg[dst] = (long)((ulong)reg[dst] >> (int)imm); break;
                case 0xb7: reg[dst] = imm; break;
                case 0xbf: reg[dst] = reg[src]; break;
                case 0x15: pc += reg[dst] == imm ? off : 0; break;
                case 0x55: pc += reg[dst] != imm ? off : 0; break;
                case 0x95:
                    Assert.True(reg[0] is 0 or 1, $"returns {reg[0]}");
                    return reg[0];
                default: throw new Xunit.Sdk.XunitException($"unexpected eBPF code 0x{insn[0]:x2} at {pc}");
            }
            if (dst == 1 && insn[0] != 0x55 && insn[0] != 0x15)
                ctxInR1 = false;
        }
        throw new Xunit.Sdk.XunitException("the program ran off its end");
    }
}
