using System.Text.RegularExpressions;

namespace Isolate.Images;

/// <summary>An image name as docker reads one: [REGISTRY/]PATH[:TAG][@DIGEST]. The first
/// component is a registry when it has a '.' or a ':' or is localhost; otherwise the image is
/// on Docker Hub (docker.io), under library/ when the path has one component. The tag is
/// latest unless given (or a digest is).</summary>
public sealed partial record ImageReference(string Registry, string Repository, string? Tag, string? Digest)
{
    public const string DockerHub = "docker.io";

    [GeneratedRegex(@"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*\z")]
    private static partial Regex PathPattern();

    [GeneratedRegex(@"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}\z")]
    private static partial Regex TagPattern();

    [GeneratedRegex(@"^sha256:[a-f0-9]{64}\z")]
    private static partial Regex DigestPattern();

    [GeneratedRegex(@"^(?:[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*|\[[0-9A-Fa-f:]+\])(?::[0-9]+)?\z")]
    private static partial Regex RegistryPattern();

    /// <summary>Parses <paramref name="text"/>; a wrong one is a one-line error naming what is wrong.</summary>
    public static ImageReference Parse(string text) =>
        TryParse(text, out var reference, out string? error) ? reference! : throw new IsolateException(error!);

    public static bool TryParse(string text, out ImageReference? reference, out string? error)
    {
        reference = null;
        error = null;
        string rest = text;
        string? digest = null;
        int at = rest.IndexOf('@');
        if (at >= 0)
        {
            digest = rest[(at + 1)..];
            rest = rest[..at];
            if (!DigestPattern().IsMatch(digest))
            {
                error = $"invalid image reference '{text}': the digest must be sha256: and 64 lowercase hex digits";
                return false;
            }
        }
        string registry = DockerHub;
        int slash = rest.IndexOf('/');
        if (slash > 0 && (rest[..slash].IndexOfAny(['.', ':']) >= 0 || rest[..slash] == "localhost"))
        {
            registry = rest[..slash];
            rest = rest[(slash + 1)..];
            if (!RegistryPattern().IsMatch(registry))
            {
                error = $"invalid image reference '{text}': '{registry}' is not a registry host[:port]";
                return false;
            }
        }
        string? tag = null;
        int colon = rest.LastIndexOf(':');
        if (colon >= 0)
        {
            tag = rest[(colon + 1)..];
            rest = rest[..colon];
            if (!TagPattern().IsMatch(tag))
            {
                error = $"invalid image reference '{text}': the tag '{tag}' may hold letters, digits, '_', '.' and '-' (at most 128)";
                return false;
            }
        }
        if (!PathPattern().IsMatch(rest))
        {
            error = rest.Any(char.IsUpper)
                ? $"invalid image reference '{text}': a repository name must be lowercase"
                : $"invalid image reference '{text}': the name may hold lowercase letters, digits, '/', '.', '_' and '-'";
            return false;
        }
        if (registry == DockerHub && !rest.Contains('/'))
            rest = "library/" + rest;
        reference = new ImageReference(registry, rest, tag ?? (digest is null ? "latest" : null), digest);
        return true;
    }

    /// <summary>Whether `run`'s first operand names an image rather than a command on the host's
    /// root: it has a tag, a digest or a registry, and parses as a reference. A bare word
    /// (`sh`, `busybox`) and any path (`/bin/sh`, `./x:y`) stay commands, as they always were.</summary>
    public static bool LooksLikeImage(string word)
    {
        if (word.Length == 0 || word[0] is '/' or '.' or '-')
            return false;
        int slash = word.IndexOf('/');
        string first = slash < 0 ? "" : word[..slash];
        bool marked = word.Contains('@') || word[(slash + 1)..].Contains(':')
            || first.IndexOfAny(['.', ':']) >= 0 || first == "localhost";
        return marked && TryParse(word, out _, out _);
    }

    /// <summary>The host to talk to: Docker Hub's registry answers at registry-1.docker.io.</summary>
    public string Host => Registry == DockerHub ? "registry-1.docker.io" : Registry;

    /// <summary>The full name, as the store keys it: docker.io/library/debian:12.</summary>
    public string FullName => $"{Registry}/{Repository}";

    /// <summary>The key of a tag in the store, null for a digest-only reference.</summary>
    public string? TagKey => Tag is null ? null : $"{FullName}:{Tag}";

    /// <summary>As docker shows it: debian, user/app, localhost:5000/busybox.</summary>
    public string ShortName => Registry != DockerHub ? FullName
        : Repository.StartsWith("library/", StringComparison.Ordinal) ? Repository["library/".Length..] : Repository;

    public override string ToString() => ShortName + (Tag is null ? "" : ":" + Tag) + (Digest is null ? "" : "@" + Digest);

    /// <summary>The display form of a stored key (docker.io/library/debian:12 -> debian:12).</summary>
    public static string Display(string key) => Parse(key).ToString();
}
