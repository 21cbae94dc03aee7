using System.Text;

namespace Isolate.Oci;

/// <summary>`isolate features`: what this build supports, in the OCI runtime features
/// format (what `runc features` prints), so an engine can check before it asks.</summary>
public static class OciFeatures
{
    public static string Json(string version)
    {
        static string List(params string[] items) => "[" + string.Join(", ", items.Select(i => $"\"{i}\"")) + "]";
        var json = new StringBuilder();
        json.Append("{\n");
        json.Append("  \"ociVersionMin\": \"1.0.0\",\n");
        json.Append("  \"ociVersionMax\": \"1.2.0\",\n");
        json.Append("  \"hooks\": ").Append(List("prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop")).Append(",\n");
        json.Append("  \"mountOptions\": ").Append(List("bind", "rbind", "ro", "rw", "nosuid", "suid", "nodev", "dev", "noexec", "exec",
            "private", "rprivate", "slave", "rslave", "size", "mode", "uid", "gid", "nr_inodes")).Append(",\n");
        json.Append("  \"linux\": {\n");
        json.Append("    \"namespaces\": ").Append(List("cgroup", "ipc", "mount", "network", "pid", "user", "uts")).Append(",\n");
        json.Append("    \"capabilities\": ").Append(List(Security.Capabilities.Names.Select(n => "CAP_" + n).ToArray())).Append(",\n");
        json.Append("    \"cgroup\": { \"v1\": true, \"v2\": true, \"systemd\": false, \"systemdUser\": false, \"rdma\": false },\n");
        json.Append("    \"seccomp\": {\n");
        json.Append("      \"enabled\": true,\n");
        json.Append("      \"actions\": ").Append(List("SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD",
            "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_LOG", "SCMP_ACT_TRACE", "SCMP_ACT_TRAP")).Append(",\n");
        json.Append("      \"operators\": ").Append(List("SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE", "SCMP_CMP_LT",
            "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE")).Append(",\n");
        json.Append("      \"archs\": ").Append(List("SCMP_ARCH_X86_64")).Append('\n');
        json.Append("    },\n");
        json.Append("    \"apparmor\": { \"enabled\": false },\n");
        json.Append("    \"selinux\": { \"enabled\": false },\n");
        json.Append("    \"intelRdt\": { \"enabled\": false }\n");
        json.Append("  },\n");
        json.Append("  \"annotations\": { \"org.isolate.version\": \"").Append(version).Append("\" }\n");
        json.Append('}');
        return json.ToString();
    }
}
