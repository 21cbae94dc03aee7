using System.Runtime.InteropServices;
using System.Text;
using Isolate.Interop;
using Isolate.Plan;

namespace Isolate.Runtime;

/// <summary>A <see cref="SpawnPlan"/> flattened into unmanaged memory, laid out as
/// struct isolate_spawn_config. It must stay alive until the child has been
/// cloned (the child reads its own copy-on-write copy afterwards).</summary>
internal sealed unsafe class NativeSpawnConfig : IDisposable
{
    private readonly List<nint> _blocks = [];

    public ShimSpawnConfig* Config { get; }

    public NativeSpawnConfig(SpawnPlan plan)
    {
        var config = Alloc<ShimSpawnConfig>(1);
        config->AbiVersion = Shim.AbiVersion;
        config->Flags = (uint)((plan.LoopbackUp ? ShimSpawnFlags.LoopbackUp : 0) | (plan.NewCgroupNamespace ? ShimSpawnFlags.NewCgroupNamespace : 0)
            | (plan.UserNamespace != null ? ShimSpawnFlags.UserNamespace : 0)
            | (plan.Init ? ShimSpawnFlags.Init : 0) | (plan.Tty ? ShimSpawnFlags.Tty : 0)
            | (plan.ExecFifo != null ? ShimSpawnFlags.Detached : 0)
            | (plan.ExecInto ? ShimSpawnFlags.ExecInto : 0) | (plan.NoParentDeathSignal ? ShimSpawnFlags.NoParentDeathSignal : 0)
            | (plan.ExecFd ? ShimSpawnFlags.ExecFd : 0) | (plan.Scheduler != null ? ShimSpawnFlags.Scheduler : 0)
            | (plan.HeldByParent ? ShimSpawnFlags.HeldByParent : 0));
        config->ExecFifo = Utf8(plan.ExecFifo);
        config->ExecStatus = Utf8(plan.ExecStatus);
        var joins = Alloc<ShimNamespaceJoin>(plan.JoinNamespaces.Count);
        for (int i = 0; i < plan.JoinNamespaces.Count; i++)
            joins[i] = new ShimNamespaceJoin { Path = Utf8(plan.JoinNamespaces[i].Path), NsType = (uint)plan.JoinNamespaces[i].Type };
        config->NsJoins = joins;
        config->NsJoinCount = (uint)plan.JoinNamespaces.Count;
        var sysctls = Alloc<ShimSysctl>(plan.Sysctls.Count);
        for (int i = 0; i < plan.Sysctls.Count; i++)
            sysctls[i] = new ShimSysctl { Path = Utf8(plan.Sysctls[i].Path), Value = Utf8(plan.Sysctls[i].Value) };
        config->Sysctls = sysctls;
        config->SysctlCount = (uint)plan.Sysctls.Count;
        config->TtyRows = plan.TtyRows;
        config->TtyCols = plan.TtyCols;
        var rlimits = Alloc<ShimRlimit>(plan.Rlimits.Count);
        for (int i = 0; i < plan.Rlimits.Count; i++)
            rlimits[i] = new ShimRlimit { Resource = (uint)plan.Rlimits[i].Resource, Soft = plan.Rlimits[i].Soft, Hard = plan.Rlimits[i].Hard };
        config->Rlimits = rlimits;
        config->RlimitCount = (uint)plan.Rlimits.Count;
        config->CloneFlags = (ulong)plan.Namespaces;
        config->Hostname = Utf8(plan.Hostname);
        config->Domainname = Utf8(plan.Domainname);
        config->Umask = plan.Umask;
        config->IoPriority = plan.IoPriority ?? -1;
        if (plan.Scheduler is { } sched)
        {
            config->SchedPolicy = sched.Policy;
            config->SchedNice = sched.Nice;
            config->SchedPriority = sched.Priority;
            config->SchedFlags = sched.Flags;
            config->SchedRuntime = sched.Runtime;
            config->SchedDeadline = sched.Deadline;
            config->SchedPeriod = sched.Period;
        }
        config->Workdir = Utf8(plan.Workdir);
        config->Argv = Utf8Array(plan.Args);
        config->Envp = Utf8Array(plan.Env);
        config->SearchPath = Utf8(plan.SearchPath);

        var security = plan.Security;
        config->Security.CapBounding = security.Capabilities;
        config->Security.CapPermitted = security.OciSets?.Permitted ?? security.Capabilities;
        config->Security.CapEffective = security.OciSets?.Effective ?? security.Capabilities;
        config->Security.CapInheritable = security.OciSets?.Inheritable ?? 0;
        config->Security.CapAmbient = security.OciSets?.Ambient ?? 0;
        config->Security.LastCap = (uint)security.LastCap;
        config->Security.Flags = (uint)((security.NoNewPrivileges ? ShimSecurityFlags.NoNewPrivileges : 0)
            | (security.KeepGroups ? ShimSecurityFlags.KeepGroups : 0)
            | (security.OciSets != null ? ShimSecurityFlags.OciCapabilities : 0)
            | ((security.SeccompFlags & Security.ProcessSecurity.SeccompFilterLog) != 0 ? ShimSecurityFlags.SeccompLog : 0)
            | ((security.SeccompFlags & Security.ProcessSecurity.SeccompFilterSpecAllow) != 0 ? ShimSecurityFlags.SeccompSpecAllow : 0));
        config->Security.Uid = security.User.Uid;
        config->Security.Gid = security.User.Gid;
        var groups = Alloc<uint>(security.User.Groups.Count);
        for (int i = 0; i < security.User.Groups.Count; i++)
            groups[i] = security.User.Groups[i];
        config->Security.Groups = groups;
        config->Security.GroupCount = (uint)security.User.Groups.Count;
        var filter = Alloc<ulong>(security.Seccomp.Count);
        for (int i = 0; i < security.Seccomp.Count; i++)
            filter[i] = security.Seccomp[i].Packed;
        config->Security.Seccomp = filter;
        config->Security.SeccompLength = (uint)security.Seccomp.Count;
        config->Security.PreserveFds = security.PreserveFds;

        var ops = Alloc<ShimMountOp>(plan.Mounts.Count);
        for (int i = 0; i < plan.Mounts.Count; i++)
        {
            MountOp op = plan.Mounts[i];
            ops[i] = new ShimMountOp
            {
                Kind = (uint)op.Kind,
                Flags = (uint)op.Flags,
                Mode = op.Mode,
                Options = (uint)op.Options,
                Dev = op.Device,
                Slot = op.Slot,
                Source = Utf8(op.Source),
                Target = Utf8(op.Target),
                FsType = Utf8(op.FsType),
                Data = op.Content is { } content ? Bytes(content) : Utf8(op.Data),
                Uid = op.Uid,
                Gid = op.Gid,
            };
        }
        config->MountOps = ops;
        config->MountOpCount = (uint)plan.Mounts.Count;
        Config = config;
    }

    private T* Alloc<T>(int count) where T : unmanaged
    {
        void* block = NativeMemory.AllocZeroed((nuint)Math.Max(count, 1), (nuint)sizeof(T));
        _blocks.Add((nint)block);
        return (T*)block;
    }

    private byte* Bytes(byte[] value)
    {
        byte* block = Alloc<byte>(value.Length);
        value.CopyTo(new Span<byte>(block, value.Length));
        return block;
    }

    private byte* Utf8(string? value)
    {
        if (value is null)
            return null;
        // the loaders name the field (config.json, --env-file); this is the last guard for
        // every string the shim hands the kernel, which would read it only up to the NUL
        if (value.Contains('\0'))
            throw new IsolateException($"'{value.Replace("\0", "\\0", StringComparison.Ordinal)}' holds a NUL byte, which the kernel would read as the end of the string; remove it");
        byte[] encoded = ByteStrings.Encode(value); // the caller's bytes, exactly
        byte* bytes = Alloc<byte>(encoded.Length + 1);
        encoded.CopyTo(new Span<byte>(bytes, encoded.Length));
        return bytes;
    }

    private byte** Utf8Array(IReadOnlyList<string> values)
    {
        byte** array = (byte**)Alloc<nint>(values.Count + 1);
        for (int i = 0; i < values.Count; i++)
            array[i] = Utf8(values[i]);
        return array;
    }

    public void Dispose()
    {
        foreach (nint block in _blocks)
            NativeMemory.Free((void*)block);
        _blocks.Clear();
    }
}
