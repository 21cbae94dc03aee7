using System.Text;
using System.Text.Json;
using Isolate.Security;

namespace Isolate.Spec;

/// <summary>A launched container's spec as it is kept beside its state (spec.json): written by
/// the face that made it, read by run -d's monitor and by exec. Written and read by hand over
/// Utf8JsonWriter and JsonDocument: source-generated metadata for these records (their lists of
/// value types above all) cost 600 KB of binary and 45 page faults on every start, used or not.
/// SpecJsonTests checks that every property of the model makes the round trip. This file writes;
/// SpecJson.Read.cs reads.</summary>
public static partial class SpecJson
{
    public static string Write(ContainerSpec spec)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            Text(w, "id", spec.Id);
            Text(w, "rootfs", spec.Rootfs);
            Strings(w, "lowerLayers", spec.LowerLayers);
            Text(w, "image", spec.Image);
            Text(w, "hostname", spec.Hostname);
            w.WritePropertyName("process");
            WriteProcess(w, spec.Process);
            w.WriteNumber("network", (int)spec.Network);
            if (spec.NetworkOptions.Any)
            {
                w.WriteStartObject("networkOptions");
                Strings(w, "ports", [.. spec.NetworkOptions.Ports.Select(p => p.Canonical)]);
                Strings(w, "dns", spec.NetworkOptions.Dns);
                Strings(w, "dnsSearch", spec.NetworkOptions.DnsSearch);
                Strings(w, "addHosts", spec.NetworkOptions.AddHosts);
                Text(w, "subnet", spec.NetworkOptions.Subnet);
                w.WriteEndObject();
            }
            w.WriteStartArray("volumes");
            foreach (var v in spec.Volumes)
            {
                w.WriteStartObject();
                Text(w, "source", v.Source);
                Text(w, "destination", v.Destination);
                w.WriteBoolean("readOnly", v.ReadOnly);
                w.WriteBoolean("sourceIsFile", v.SourceIsFile);
                w.WriteNumber("flags", (uint)v.Flags);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartArray("tmpfs");
            foreach (var t in spec.Tmpfs)
            {
                w.WriteStartObject();
                Text(w, "destination", t.Destination);
                Text(w, "data", t.Data);
                w.WriteBoolean("readOnly", t.ReadOnly);
                w.WriteBoolean("noExec", t.NoExec);
                w.WriteBoolean("noSuid", t.NoSuid);
                w.WriteBoolean("noDev", t.NoDev);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            if (spec.Mounts is { } mounts)
            {
                w.WriteStartArray("mounts");
                foreach (var m in mounts)
                {
                    w.WriteStartObject();
                    Text(w, "type", m.Type);
                    Text(w, "source", m.Source);
                    Text(w, "destination", m.Destination);
                    w.WriteNumber("flags", (uint)m.Flags);
                    w.WriteStartArray("propagation");
                    foreach (var p in m.Propagation)
                        w.WriteNumberValue((uint)p);
                    w.WriteEndArray();
                    Text(w, "data", m.Data);
                    w.WriteBoolean("sourceIsFile", m.SourceIsFile);
                    w.WriteBoolean("copyUp", m.CopyUp);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
            }
            w.WriteNumber("rootPropagation", (uint)spec.RootPropagation);
            w.WriteBoolean("readOnlyRoot", spec.ReadOnlyRoot);
            w.WriteNumber("rootfsWrites", (int)spec.RootfsWrites);
            Text(w, "keepChangesDir", spec.KeepChangesDir);
            Text(w, "layerRoot", spec.LayerRoot);
            Number(w, "storageSizeBytes", spec.StorageSizeBytes);
            Text(w, "layerDir", spec.LayerDir);
            w.WriteBoolean("privileged", spec.Privileged);
            Strings(w, "maskedPaths", spec.MaskedPaths);
            Strings(w, "readOnlyPaths", spec.ReadOnlyPaths);
            var r = spec.Resources;
            w.WriteStartObject("resources");
            Number(w, "memoryBytes", r.MemoryBytes);
            Number(w, "memorySwapBytes", r.MemorySwapBytes);
            Number(w, "cpuQuotaMicros", r.CpuQuotaMicros);
            w.WriteNumber("cpuPeriodMicros", r.CpuPeriodMicros);
            Number(w, "cpuShares", r.CpuShares);
            Text(w, "cpusetCpus", r.CpusetCpus);
            Number(w, "pidsLimit", r.PidsLimit);
            Number(w, "ioWeight", r.IoWeight);
            Number(w, "memoryReservationBytes", r.MemoryReservationBytes);
            Number(w, "memorySwappiness", r.MemorySwappiness);
            if (r.OomKillDisable is { } oomKillDisable)
                w.WriteBoolean("oomKillDisable", oomKillDisable);
            Number(w, "kernelTcpBytes", r.KernelTcpBytes);
            w.WriteBoolean("cpuPeriodGiven", r.CpuPeriodGiven);
            Text(w, "cpusetMems", r.CpusetMems);
            w.WriteStartArray("hugepageLimits");
            foreach (var h in r.HugepageLimits)
            {
                w.WriteStartObject();
                Text(w, "pageSize", h.PageSize);
                w.WriteNumber("bytes", h.Bytes);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartArray("deviceRules");
            foreach (var d in r.DeviceRules)
            {
                w.WriteStartObject();
                w.WriteBoolean("allow", d.Allow);
                Text(w, "type", d.Type.ToString());
                Number(w, "major", d.Major);
                Number(w, "minor", d.Minor);
                Text(w, "access", d.Access);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartArray("ioThrottles");
            foreach (var t in r.IoThrottles)
            {
                w.WriteStartObject();
                Text(w, "kind", t.Kind);
                w.WriteNumber("major", t.Major);
                w.WriteNumber("minor", t.Minor);
                w.WriteNumber("rate", t.Rate);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
            w.WriteStartArray("devices");
            foreach (var d in spec.Devices)
            {
                w.WriteStartObject();
                Text(w, "path", d.Path);
                Text(w, "type", d.Type.ToString());
                w.WriteNumber("major", d.Major);
                w.WriteNumber("minor", d.Minor);
                w.WriteNumber("fileMode", d.FileMode);
                w.WriteNumber("uid", d.Uid);
                w.WriteNumber("gid", d.Gid);
                Text(w, "hostPath", d.HostPath);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartArray("links");
            foreach (var link in spec.Links)
            {
                w.WriteStartObject();
                Text(w, "path", link.Path);
                Text(w, "target", link.Target);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            Strings(w, "libraryDirs", spec.LibraryDirs);
            w.WriteBoolean("cgroups", spec.Cgroups);
            Text(w, "cgroupParent", spec.CgroupParent);
            Text(w, "cgroupName", spec.CgroupName);
            if (spec.SystemdSlice != null)
                Text(w, "systemdSlice", spec.SystemdSlice);
            if (spec.UserNamespace is { } userns)
            {
                w.WriteStartObject("userNamespace");
                Mappings(w, "uidMap", userns.UidMap);
                Mappings(w, "gidMap", userns.GidMap);
                w.WriteBoolean("rootless", userns.Rootless);
                w.WriteEndObject();
            }
            Number(w, "oomScoreAdj", spec.OomScoreAdj);
            w.WriteBoolean("init", spec.Init);
            w.WriteNumber("stopSignal", spec.StopSignal);
            w.WriteNumber("stopTimeoutTicks", spec.StopTimeout.Ticks);
            Number(w, "timeoutTicks", spec.Timeout?.Ticks);
            Text(w, "pidFile", spec.PidFile);
            w.WriteBoolean("dieWithParent", spec.DieWithParent);
            w.WriteStartArray("joinNamespaces");
            foreach (var (type, path) in spec.JoinNamespaces)
            {
                w.WriteStartObject();
                Text(w, "type", type);
                Text(w, "path", path);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartObject("sysctls");
            foreach (var (key, value) in spec.Sysctls)
                Text(w, key, value);
            w.WriteEndObject();
            Text(w, "domainname", spec.Domainname);
            Strings(w, "hostNamespaces", spec.HostNamespaces);
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    private static void WriteProcess(Utf8JsonWriter w, ProcessSpec p)
    {
        w.WriteStartObject();
        Strings(w, "args", p.Args);
        Strings(w, "env", p.Env);
        Text(w, "workdir", p.Workdir);
        var s = p.Security;
        w.WriteStartObject("security");
        w.WriteNumber("capabilities", s.Capabilities);
        w.WriteBoolean("noNewPrivileges", s.NoNewPrivileges);
        w.WriteStartArray("seccomp");
        foreach (var insn in s.Seccomp)
            w.WriteNumberValue(insn.Packed);
        w.WriteEndArray();
        if (s.SeccompFlags != 0)
            w.WriteNumber("seccompFlags", s.SeccompFlags);
        w.WriteStartObject("user");
        w.WriteNumber("uid", s.User.Uid);
        w.WriteNumber("gid", s.User.Gid);
        w.WriteStartArray("groups");
        foreach (uint g in s.User.Groups)
            w.WriteNumberValue(g);
        w.WriteEndArray();
        Text(w, "home", s.User.Home);
        w.WriteEndObject();
        w.WriteNumber("preserveFds", s.PreserveFds);
        w.WriteNumber("lastCap", s.LastCap);
        if (s.OciSets is { } sets)
        {
            w.WriteStartObject("ociSets");
            w.WriteNumber("effective", sets.Effective);
            w.WriteNumber("permitted", sets.Permitted);
            w.WriteNumber("inheritable", sets.Inheritable);
            w.WriteNumber("ambient", sets.Ambient);
            w.WriteEndObject();
        }
        w.WriteBoolean("keepGroups", s.KeepGroups);
        w.WriteEndObject();
        w.WriteStartArray("rlimits");
        foreach (var l in p.Rlimits)
        {
            w.WriteStartObject();
            Text(w, "name", l.Name);
            w.WriteNumber("resource", l.Resource);
            w.WriteNumber("soft", l.Soft);
            w.WriteNumber("hard", l.Hard);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteBoolean("tty", p.Tty);
        w.WriteBoolean("interactive", p.Interactive);
        w.WriteNumber("umask", p.Umask);
        Number(w, "ioPriority", p.IoPriority);
        if (p.Scheduler is { } sched)
        {
            w.WriteStartObject("scheduler");
            w.WriteNumber("policy", sched.Policy);
            w.WriteNumber("nice", sched.Nice);
            w.WriteNumber("priority", sched.Priority);
            w.WriteNumber("flags", sched.Flags);
            w.WriteNumber("runtime", sched.Runtime);
            w.WriteNumber("deadline", sched.Deadline);
            w.WriteNumber("period", sched.Period);
            w.WriteEndObject();
        }
        w.WriteEndObject();
    }

    private static void Strings(Utf8JsonWriter w, string name, IReadOnlyList<string>? values)
    {
        if (values is null)
            return; // absent reads back as null: "the defaults"
        w.WriteStartArray(name);
        foreach (string v in values)
            TextValue(w, v);
        w.WriteEndArray();
    }

    private static void Number(Utf8JsonWriter w, string name, long? value)
    {
        if (value is { } v)
            w.WriteNumber(name, v);
    }

    private static void Mappings(Utf8JsonWriter w, string name, IReadOnlyList<IdMapping> map)
    {
        w.WriteStartArray(name);
        foreach (var m in map)
        {
            w.WriteStartArray();
            w.WriteNumberValue(m.ContainerId);
            w.WriteNumberValue(m.HostId);
            w.WriteNumberValue(m.Count);
            w.WriteEndArray();
        }
        w.WriteEndArray();
    }

    /// <summary>A string, or where it carries bytes that are not UTF-8 (which JSON cannot hold)
    /// {"bytes": base64}: arguments, environment values and paths are bytes to Linux.</summary>
    private static void Text(Utf8JsonWriter w, string name, string? value)
    {
        w.WritePropertyName(name);
        TextValue(w, value);
    }

    private static void TextValue(Utf8JsonWriter w, string? value)
    {
        if (value is null)
            w.WriteNullValue();
        else if (!Interop.ByteStrings.HasRawBytes(value))
            w.WriteStringValue(value);
        else
        {
            w.WriteStartObject();
            w.WriteBase64String("bytes", Interop.ByteStrings.Encode(value));
            w.WriteEndObject();
        }
    }
}
