using System.Text;

namespace Isolate.Oci;

/// <summary>`isolate features`: what this build supports, in the OCI runtime features
/// format (what `runc features` prints), so an engine can check before it asks. Each list is
/// read from the code that takes the values (the mount option words, the namespace types, the
/// seccomp names and flags), so the two cannot drift; docs/oci-conformance.md has the fields.</summary>
public static class OciFeatures
{
    public static string Json(string version)
    {
        static string List(IEnumerable<string> items) => "[" + string.Join(", ", items.Select(i => $"\"{i}\"")) + "]";
        var json = new StringBuilder();
        json.Append("{\n");
        json.Append("  \"ociVersionMin\": \"1.0.0\",\n");
        json.Append("  \"ociVersionMax\": \"1.2.0\",\n");
        json.Append("  \"hooks\": ").Append(List(OciSpecFields.All.Where(f => f.Path.Count(c => c == '.') == 1
            && f.Path.StartsWith("hooks.", StringComparison.Ordinal) && !f.Path.StartsWith("hooks.*", StringComparison.Ordinal)).Select(f => f.Path[6..]))).Append(",\n");
        json.Append("  \"mountOptions\": ").Append(List(OciBundleLoader.MountOptionWords)).Append(",\n");
        json.Append("  \"linux\": {\n");
        json.Append("    \"namespaces\": ").Append(List(OciBundleLoader.NamespaceTypes.Order(StringComparer.Ordinal))).Append(",\n");
        json.Append("    \"capabilities\": ").Append(List(Security.Capabilities.Names.Select(n => "CAP_" + n))).Append(",\n");
        json.Append("    \"cgroup\": { \"v1\": true, \"v2\": true, \"systemd\": true, \"systemdUser\": false, \"rdma\": false },\n");
        json.Append("    \"seccomp\": {\n");
        json.Append("      \"enabled\": true,\n");
        json.Append("      \"actions\": ").Append(List(Security.SeccompProfile.ActionNames)).Append(",\n");
        json.Append("      \"operators\": ").Append(List(Security.SeccompProfile.OperatorNames)).Append(",\n");
        json.Append("      \"archs\": ").Append(List(["SCMP_ARCH_X86_64"])).Append(",\n");
        json.Append("      \"knownFlags\": ").Append(List(OciBundleLoader.SeccompFlags)).Append(",\n");
        json.Append("      \"supportedFlags\": ").Append(List(OciBundleLoader.SeccompFlags)).Append('\n');
        json.Append("    },\n");
        json.Append("    \"apparmor\": { \"enabled\": false },\n");
        json.Append("    \"selinux\": { \"enabled\": false },\n");
        json.Append("    \"intelRdt\": { \"enabled\": false },\n");
        json.Append("    \"mountExtensions\": { \"idmap\": { \"enabled\": false } }\n");
        json.Append("  },\n");
        json.Append("  \"annotations\": { \"org.isolate.version\": \"").Append(version).Append("\" }\n");
        json.Append('}');
        return json.ToString();
    }
}
