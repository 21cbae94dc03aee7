using System.Net;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;

namespace Isolate.Images;

/// <summary>How to reach a registry: --tls-verify=false (no certificate check, and plain HTTP
/// where HTTPS fails), --ca-file (a private CA, trusted beside the system's), --creds.</summary>
public sealed record RegistryOptions
{
    public bool TlsVerify { get; init; } = true;
    public string? CaFile { get; init; }
    public (string User, string Password)? Credentials { get; init; }
}

/// <summary>A client of the OCI distribution API (docker's registry API v2): manifests and
/// blobs, with anonymous, basic and bearer-token auth as registries ask for it (a 401 with
/// WWW-Authenticate). Blobs are downloaded into the store's tmp/ and checked against their
/// digest; a download cut off is resumed from where it stopped (Range).</summary>
public sealed class RegistryClient : IBlobSource, IDisposable
{
    private readonly HttpClient _http;
    private readonly ImageReference _image;
    private readonly ImageStore? _store;
    private readonly (string User, string Password)? _credentials;
    private readonly bool _plainHttpAllowed;
    private string _scheme = "https";
    private AuthenticationHeaderValue? _authorization;

    /// <summary>The CA bundles of the common distributions: OpenSSL, linked in, looks only
    /// where Debian's was built to (/usr/lib/ssl), so on another distribution the system's
    /// CAs are named to it, through SSL_CERT_FILE, unless the user has set that or SSL_CERT_DIR.</summary>
    private static readonly string[] CaBundles =
    [
        "/etc/ssl/certs/ca-certificates.crt",   // Debian, Ubuntu, Arch, Gentoo
        "/etc/pki/tls/certs/ca-bundle.crt",     // Fedora, RHEL, CentOS, Amazon Linux
        "/etc/ssl/ca-bundle.pem",               // openSUSE, SLES
        "/etc/ssl/cert.pem",                    // Alpine, macOS-like layouts
    ];

    private static void UseSystemCas()
    {
        if (!string.IsNullOrEmpty(Environment.GetEnvironmentVariable("SSL_CERT_FILE"))
            || !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("SSL_CERT_DIR")))
            return;
        if (CaBundles.FirstOrDefault(File.Exists) is { } bundle)
            Interop.LayerCalls.SetEnv("SSL_CERT_FILE", bundle, 0);
    }

    /// <param name="store">Where blobs are downloaded to; null for a client that fetches none (login).</param>
    public RegistryClient(ImageStore? store, ImageReference image, RegistryOptions options)
    {
        UseSystemCas();
        _store = store;
        _image = image;
        _credentials = options.Credentials ?? RegistryAuth.Find(image.Registry);
        // docker's rule: a loopback registry may speak plain HTTP; others only when told
        _plainHttpAllowed = !options.TlsVerify || IsLoopback(image.Host);
        var handler = new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(30), AutomaticDecompression = DecompressionMethods.None };
        if (!options.TlsVerify)
        {
            handler.SslOptions.RemoteCertificateValidationCallback = (_, _, _, _) => true;
        }
        else if (options.CaFile != null)
        {
            var ca = LoadCertificates(options.CaFile);
            handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, chain, errors) =>
            {
                if (errors == SslPolicyErrors.None)
                    return true;
                if (certificate is null || (errors & ~SslPolicyErrors.RemoteCertificateChainErrors) != 0)
                    return false;
                using var custom = new X509Chain();
                custom.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                custom.ChainPolicy.CustomTrustStore.AddRange(ca);
                custom.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                return custom.Build(new X509Certificate2(certificate));
            };
        }
        _http = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
        _http.DefaultRequestHeaders.UserAgent.ParseAdd("isolate");
    }

    private static X509Certificate2Collection LoadCertificates(string path)
    {
        var certificates = new X509Certificate2Collection();
        try
        {
            certificates.ImportFromPemFile(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or CryptographicException)
        {
            throw new IsolateException($"--ca-file {path}: {ErrorText.Of(e)}");
        }
        return certificates.Count > 0 ? certificates : throw new IsolateException($"--ca-file {path}: no PEM certificate in it");
    }

    private static bool IsLoopback(string host)
    {
        string name = host.StartsWith('[') ? host[1..host.IndexOf(']')] : host.Split(':')[0];
        return name == "localhost" || (IPAddress.TryParse(name, out var address) && IPAddress.IsLoopback(address));
    }

    private string Url(string path) => $"{_scheme}://{_image.Host}/v2/{_image.Repository}/{path}";

    /// <summary>`isolate login`: the registry's /v2/ with the credentials, which must be accepted.</summary>
    public void CheckLogin()
    {
        using var response = Send(HttpMethod.Get, $"{_scheme}://{_image.Host}/v2/", null, null, allowPlainFallback: true);
        if (response.StatusCode == HttpStatusCode.Unauthorized)
            throw new IsolateException($"login to {_image.Registry}: the registry refused the user name or password");
        Ensure(response, "login");
    }

    /// <summary>The manifest <paramref name="reference"/> (a tag or digest) names: its bytes,
    /// media type and digest (a digest reference is checked against the bytes).</summary>
    public (byte[] Bytes, string? MediaType, string Digest) Manifest(string reference)
    {
        using var response = Send(HttpMethod.Get, Url($"manifests/{reference}"), ImageManifest.Accept, null, allowPlainFallback: true);
        if (response.StatusCode == HttpStatusCode.NotFound)
            throw new IsolateException($"pull {_image}: the registry {_image.Registry} has no manifest {reference} for {_image.Repository}");
        Ensure(response, $"pull {_image}");
        byte[] bytes;
        try
        {
            bytes = response.Content.ReadAsByteArrayAsync().GetAwaiter().GetResult();
        }
        catch (Exception e) when (e is IOException or HttpRequestException)
        {
            throw new IsolateException($"pull {_image}: the registry {_image.Registry} broke off the manifest ({ErrorText.Of(e.InnerException ?? e)})");
        }
        if (bytes.Length > 4 << 20)
            throw new IsolateException($"pull {_image}: a manifest of {bytes.Length} bytes: refused (at most 4 MiB)");
        string digest = ImageStore.DigestOf(bytes);
        if (reference.StartsWith("sha256:", StringComparison.Ordinal) && digest != reference)
            throw new IsolateException($"pull {_image}: the registry sent a manifest whose digest is {digest}, not {reference}: refused");
        return (bytes, response.Content.Headers.ContentType?.MediaType, digest);
    }

    /// <summary>Downloads a blob to tmp/HEX.partial (resuming what is there), checks its
    /// digest, and returns it open; one downloader per blob at a time.</summary>
    public Stream Open(Descriptor blob, Action<long, long>? progress)
    {
        string hex = ImageStore.Hex(blob.Digest);
        var store = _store ?? throw new InvalidOperationException("a registry client without a store fetches no blobs");
        string partial = Path.Combine(store.Root, "tmp", hex + ".partial");
        string done = Path.Combine(store.Root, "tmp", hex + ".blob");
        using (store.LockItem(hex + ".download"))
        {
            if (!File.Exists(done))
            {
                Download(blob, partial, progress);
                File.Move(partial, done, overwrite: true);
            }
            // opened under the lock: another pull that has the same blob (a config) may be done
            // with it and remove it the moment the lock goes; an open file outlives that
            return File.OpenRead(done);
        }
    }

    public void Done(Descriptor blob)
    {
        string hex = ImageStore.Hex(blob.Digest);
        if (_store != null)
            File.Delete(Path.Combine(_store.Root, "tmp", hex + ".blob"));
    }

    private void Download(Descriptor blob, string partial, Action<long, long>? progress)
    {
        for (int attempt = 1; ; attempt++)
        {
            long have = File.Exists(partial) ? new FileInfo(partial).Length : 0;
            using var response = Send(HttpMethod.Get, Url($"blobs/{blob.Digest}"), null, have > 0 ? have : null, allowPlainFallback: true);
            if (response.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable && have > 0)
            {
                File.Delete(partial); // the partial file is longer than the blob: start again
                continue;
            }
            Ensure(response, $"pull {_image}: blob {blob.Digest}");
            bool resumed = response.StatusCode == HttpStatusCode.PartialContent;
            long total = blob.Size > 0 ? blob.Size : (response.Content.Headers.ContentLength ?? -1) + (resumed ? have : 0);
            using (var file = new FileStream(partial, resumed ? FileMode.Append : FileMode.Create, FileAccess.Write))
            using (var body = response.Content.ReadAsStream())
            {
                long written = resumed ? have : 0;
                byte[] buffer = new byte[1 << 16];
                int got;
                var last = DateTime.MinValue;
                try
                {
                    while ((got = body.Read(buffer)) > 0)
                    {
                        file.Write(buffer, 0, got);
                        written += got;
                        if (blob.Size > 0 && written > blob.Size)
                            throw new IsolateException($"pull {_image}: blob {blob.Digest} is longer than the {blob.Size} bytes its manifest gives: refused");
                        if (progress != null && DateTime.UtcNow - last > TimeSpan.FromMilliseconds(200))
                        {
                            progress(written, total);
                            last = DateTime.UtcNow;
                        }
                    }
                }
                catch (Exception e) when (e is IOException or HttpRequestException)
                {
                    if (attempt < 3)
                        continue; // cut off: resume from what arrived
                    throw new IsolateException($"pull {_image}: blob {blob.Digest}: the download broke off {attempt} times ({ErrorText.Of(e.InnerException ?? e)}); pull again to resume it");
                }
                progress?.Invoke(written, total);
            }
            using var check = File.OpenRead(partial);
            string digest = ImageImport.DigestOf(check);
            if (digest != blob.Digest)
            {
                File.Delete(partial);
                throw new IsolateException($"pull {_image}: blob {blob.Digest} arrived with the digest {digest}: refused");
            }
            return;
        }
    }

    private HttpResponseMessage Send(HttpMethod method, string url, string? accept, long? rangeFrom, bool allowPlainFallback)
    {
        for (int round = 0; ; round++)
        {
            using var request = new HttpRequestMessage(method, url);
            if (accept != null)
                request.Headers.Accept.ParseAdd(accept);
            if (rangeFrom is { } from)
                request.Headers.Range = new RangeHeaderValue(from, null);
            if (_authorization != null)
                request.Headers.Authorization = _authorization;
            HttpResponseMessage response;
            try
            {
                response = _http.Send(request, HttpCompletionOption.ResponseHeadersRead);
            }
            catch (HttpRequestException e) when (allowPlainFallback && _scheme == "https" && _plainHttpAllowed && IsTlsFailure(e))
            {
                _scheme = "http";
                url = "http" + url["https".Length..];
                continue;
            }
            catch (HttpRequestException e)
            {
                throw new IsolateException($"registry {_image.Registry}: {Describe(e)}"
                    + (IsTlsFailure(e) ? "; for a registry with a private CA give --ca-file FILE, or --tls-verify=false to skip the check" : ""));
            }
            if (response.StatusCode == HttpStatusCode.Unauthorized && round < 2 && Authenticate(response))
            {
                response.Dispose();
                continue;
            }
            return response;
        }
    }

    private static bool IsTlsFailure(HttpRequestException e) =>
        e.InnerException is AuthenticationException || e.HttpRequestError == HttpRequestError.SecureConnectionError
        || (e.InnerException is IOException && e.HttpRequestError is HttpRequestError.InvalidResponse or HttpRequestError.ResponseEnded);

    private static string Describe(HttpRequestException e)
    {
        Exception inner = e;
        while (inner.InnerException != null)
            inner = inner.InnerException;
        return e.HttpRequestError switch
        {
            HttpRequestError.ConnectionError => "cannot connect" + (inner is System.Net.Sockets.SocketException s ? $" ({s.SocketErrorCode})" : ""),
            HttpRequestError.NameResolutionError => "its name does not resolve",
            HttpRequestError.SecureConnectionError => "the TLS handshake failed (" + ErrorText.Of(inner) + ")",
            _ => ErrorText.Of(inner),
        };
    }

    /// <summary>Answers a 401: Basic with the credentials, or Bearer with a token from the
    /// realm the challenge names (sent the credentials where there are any). False: nothing
    /// more to try.</summary>
    private bool Authenticate(HttpResponseMessage response)
    {
        var challenge = response.Headers.WwwAuthenticate.FirstOrDefault();
        if (challenge is null)
            return false;
        if (challenge.Scheme.Equals("Basic", StringComparison.OrdinalIgnoreCase))
        {
            if (_credentials is not { } c || _authorization?.Scheme == "Basic")
                throw NeedsLogin();
            _authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{c.User}:{c.Password}")));
            return true;
        }
        if (!challenge.Scheme.Equals("Bearer", StringComparison.OrdinalIgnoreCase))
            return false;
        if (_authorization?.Scheme == "Bearer" && _credentials is null)
            throw NeedsLogin();
        var parameters = ParseChallenge(challenge.Parameter ?? "");
        if (!parameters.TryGetValue("realm", out string? realm))
            return false;
        var query = new List<string>();
        if (parameters.TryGetValue("service", out string? service))
            query.Add("service=" + Uri.EscapeDataString(service));
        query.Add("scope=" + Uri.EscapeDataString(parameters.TryGetValue("scope", out string? scope) ? scope : $"repository:{_image.Repository}:pull"));
        using var request = new HttpRequestMessage(HttpMethod.Get, realm + (realm.Contains('?') ? "&" : "?") + string.Join('&', query));
        if (_credentials is { } creds)
            request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{creds.User}:{creds.Password}")));
        HttpResponseMessage tokenResponse;
        try
        {
            tokenResponse = _http.Send(request);
        }
        catch (HttpRequestException e)
        {
            throw new IsolateException($"registry {_image.Registry}: its token service {realm}: {Describe(e)}");
        }
        using (tokenResponse)
        {
            if (tokenResponse.StatusCode == HttpStatusCode.Unauthorized)
                throw NeedsLogin();
            Ensure(tokenResponse, $"registry {_image.Registry}: token service {realm}");
            using var doc = JsonDocument.Parse(tokenResponse.Content.ReadAsStream());
            string? token = doc.RootElement.TryGetProperty("token", out var t) ? t.GetString()
                : doc.RootElement.TryGetProperty("access_token", out var a) ? a.GetString() : null;
            if (string.IsNullOrEmpty(token))
                throw new IsolateException($"registry {_image.Registry}: its token service {realm} answered with no token");
            _authorization = new AuthenticationHeaderValue("Bearer", token);
            return true;
        }
    }

    private IsolateException NeedsLogin() => new(_credentials is null
        ? $"registry {_image.Registry}: authentication required; run isolate login {_image.Registry}, or give --creds USER:PASSWORD"
        : $"registry {_image.Registry}: the user name or password was refused (isolate login {_image.Registry} to store new ones)");

    /// <summary>key="value", key="value" (values may hold commas).</summary>
    private static Dictionary<string, string> ParseChallenge(string text)
    {
        var result = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        int i = 0;
        while (i < text.Length)
        {
            while (i < text.Length && (text[i] == ',' || text[i] == ' '))
                i++;
            int equals = text.IndexOf('=', i);
            if (equals < 0)
                break;
            string key = text[i..equals].Trim();
            i = equals + 1;
            string value;
            if (i < text.Length && text[i] == '"')
            {
                int close = text.IndexOf('"', i + 1);
                if (close < 0)
                    close = text.Length;
                value = text[(i + 1)..close];
                i = close + 1;
            }
            else
            {
                int comma = text.IndexOf(',', i);
                if (comma < 0)
                    comma = text.Length;
                value = text[i..comma].Trim();
                i = comma;
            }
            result[key] = value;
        }
        return result;
    }

    private void Ensure(HttpResponseMessage response, string what)
    {
        if (response.IsSuccessStatusCode)
            return;
        if (response.StatusCode == HttpStatusCode.Unauthorized)
            throw NeedsLogin();
        string body = "";
        try
        {
            using var doc = JsonDocument.Parse(response.Content.ReadAsStream());
            if (doc.RootElement.TryGetProperty("errors", out var errors) && errors.GetArrayLength() > 0
                && errors[0].TryGetProperty("message", out var message))
                body = ": " + message.GetString();
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or IOException)
        {
        }
        throw new IsolateException($"{what}: the registry answered {(int)response.StatusCode} {response.ReasonPhrase}{body}");
    }

    public void Dispose() => _http.Dispose();
}
