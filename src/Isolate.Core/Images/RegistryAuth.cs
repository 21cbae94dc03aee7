using System.Text;
using System.Text.Json;

namespace Isolate.Images;

/// <summary>Registry credentials in docker's config.json format ({"auths": {HOST: {"auth":
/// base64(USER:PASS)}}}): `isolate login` writes $REGISTRY_AUTH_FILE, else
/// $XDG_CONFIG_HOME/isolate/auth.json (default ~/.config/isolate/auth.json); a pull reads
/// that file, then ~/.docker/config.json, as podman reads docker's.</summary>
public static class RegistryAuth
{
    public static string WritePath()
    {
        string? file = Environment.GetEnvironmentVariable("REGISTRY_AUTH_FILE");
        if (!string.IsNullOrEmpty(file))
            return file;
        string? config = Environment.GetEnvironmentVariable("XDG_CONFIG_HOME");
        if (string.IsNullOrEmpty(config))
            config = Path.Combine(Environment.GetEnvironmentVariable("HOME") ?? "/root", ".config");
        return Path.Combine(config, "isolate", "auth.json");
    }

    private static IEnumerable<string> ReadPaths()
    {
        yield return WritePath();
        yield return Path.Combine(Environment.GetEnvironmentVariable("HOME") ?? "/root", ".docker", "config.json");
    }

    /// <summary>Docker Hub's key in docker's file.</summary>
    private static IEnumerable<string> KeysFor(string registry) => registry == ImageReference.DockerHub
        ? ["https://index.docker.io/v1/", "index.docker.io", "docker.io", "registry-1.docker.io"]
        : [registry, "https://" + registry, "http://" + registry];

    public static (string User, string Password)? Find(string registry)
    {
        foreach (string path in ReadPaths())
        {
            var auths = ReadAuths(path);
            foreach (string key in KeysFor(registry))
            {
                if (auths.TryGetValue(key, out string? encoded))
                    return Decode(encoded, path);
            }
        }
        return null;
    }

    private static (string, string) Decode(string encoded, string path)
    {
        string text;
        try
        {
            text = Encoding.UTF8.GetString(Convert.FromBase64String(encoded));
        }
        catch (FormatException)
        {
            throw new IsolateException($"{path}: an \"auth\" value is not base64 of USER:PASSWORD");
        }
        int colon = text.IndexOf(':');
        return colon < 0 ? throw new IsolateException($"{path}: an \"auth\" value is not USER:PASSWORD") : (text[..colon], text[(colon + 1)..]);
    }

    private static Dictionary<string, string> ReadAuths(string path)
    {
        var auths = new Dictionary<string, string>(StringComparer.Ordinal);
        if (!File.Exists(path))
            return auths;
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
            if (doc.RootElement.TryGetProperty("auths", out var entries) && entries.ValueKind == JsonValueKind.Object)
                foreach (var entry in entries.EnumerateObject())
                    if (entry.Value.ValueKind == JsonValueKind.Object && entry.Value.TryGetProperty("auth", out var auth) && auth.GetString() is { Length: > 0 } value)
                        auths[entry.Name] = value;
        }
        catch (JsonException)
        {
            throw new IsolateException($"{path}: not valid JSON (a docker config.json with \"auths\" is expected)");
        }
        return auths;
    }

    /// <summary>Stores (or, with null, removes) the registry's credentials, keeping the
    /// file's other entries; the file is 0600.</summary>
    public static bool Store(string registry, (string User, string Password)? credentials)
    {
        string path = WritePath();
        var auths = ReadAuths(path);
        string key = registry == ImageReference.DockerHub ? "https://index.docker.io/v1/" : registry;
        bool had = auths.Remove(key);
        if (credentials is { } c)
            auths[key] = Convert.ToBase64String(Encoding.UTF8.GetBytes($"{c.User}:{c.Password}"));
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        string temp = path + ".tmp";
        using (var stream = new FileStream(temp, new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write, UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite }))
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteStartObject("auths");
            foreach (var (host, auth) in auths.OrderBy(a => a.Key, StringComparer.Ordinal))
            {
                w.WriteStartObject(host);
                w.WriteString("auth", auth);
                w.WriteEndObject();
            }
            w.WriteEndObject();
            w.WriteEndObject();
        }
        File.Move(temp, path, overwrite: true);
        return had;
    }
}
