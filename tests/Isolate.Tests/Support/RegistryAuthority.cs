using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Isolate.Tests.Support;

/// <summary>skopeo's other transports, for files a test loads.</summary>
public static class SkopeoArchive
{
    /// <summary>A `docker save` tar (docker-archive) of the layout's image <paramref name="refName"/>,
    /// tagged with each of <paramref name="tags"/> (none: untagged).</summary>
    public static void DockerArchive(string layout, string refName, string tarFile, params string[] tags)
    {
        var args = new List<string> { "--insecure-policy", "copy", "-q" };
        foreach (string extra in tags.Skip(1))
            args.AddRange(["--additional-tag", extra]);
        args.Add($"oci:{layout}:{refName}");
        args.Add(tags.Length == 0 ? $"docker-archive:{tarFile}" : $"docker-archive:{tarFile}:{tags[0]}");
        var result = Registry.Run(Registry.Skopeo, [.. args]);
        if (result.ExitCode != 0)
            throw new InvalidOperationException($"skopeo {string.Join(' ', args)} failed: {result}");
    }
}

/// <summary>Certificates of a test CA, made in memory: nothing is installed into the host's trust.</summary>
public static class TestCertificates
{
    public static X509Certificate2 NewCa()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=Isolate test CA " + Guid.NewGuid().ToString("N")[..8], key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(2));
    }

    /// <summary>A serving certificate for 127.0.0.1 and localhost, issued by <paramref name="ca"/>.</summary>
    public static X509Certificate2 NewServer(X509Certificate2 ca) =>
        Issue(ca, "CN=localhost", request =>
        {
            var names = new SubjectAlternativeNameBuilder();
            names.AddDnsName("localhost");
            names.AddIpAddress(IPAddress.Loopback);
            request.CertificateExtensions.Add(names.Build());
            request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
            request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        });

    /// <summary>A certificate whose key signs tokens, issued by <paramref name="ca"/>.</summary>
    public static X509Certificate2 NewSigner(X509Certificate2 ca) =>
        Issue(ca, "CN=Isolate test token signer", request =>
            request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true)));

    private static X509Certificate2 Issue(X509Certificate2 ca, string subject, Action<CertificateRequest> extend)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(ca, true, false));
        extend(request);
        byte[] serial = RandomNumberGenerator.GetBytes(12);
        serial[0] &= 0x7f;
        using var issued = request.Create(ca, DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1), serial);
        return issued.CopyWithPrivateKey(key);
    }
}

/// <summary>A token server of the Docker registry token protocol, in the test process: GET
/// /token?service=S&amp;scope=repository:NAME:ACTIONS with basic auth of the one user gets a JWT
/// (ES256) that grants what was asked; without credentials, a token that grants nothing (as
/// Docker Hub's anonymous tokens do for a private repository); with wrong ones, 401. The JWT's
/// header carries the signer's certificate (x5c), which chains to the CA that the registry's
/// rootcertbundle holds.</summary>
public sealed class TokenServer : IDisposable
{
    public const string Service = "isolate-test-registry";
    public const string Issuer = "isolate-test-token-server";

    private readonly HttpListener _listener = new();
    private readonly X509Certificate2 _signer;
    private readonly ECDsa _key;
    private readonly string _user;
    private readonly string _password;
    private readonly Task _serving;
    private int _issued;
    private int _refused;

    public TokenServer(X509Certificate2 ca, string user, string password)
    {
        _signer = TestCertificates.NewSigner(ca);
        _key = _signer.GetECDsaPrivateKey()!;
        _user = user;
        _password = password;
        int port = Registry.FreeTcpPort();
        Realm = $"http://127.0.0.1:{port}/token";
        _listener.Prefixes.Add($"http://127.0.0.1:{port}/");
        _listener.Start();
        _serving = Task.Run(Serve);
    }

    public string Realm { get; }

    /// <summary>Tokens issued to the user (with credentials).</summary>
    public int Issued => Volatile.Read(ref _issued);

    /// <summary>Requests refused for wrong credentials.</summary>
    public int Refused => Volatile.Read(ref _refused);

    private async Task Serve()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }
            try
            {
                Answer(context);
            }
            catch (Exception e) when (e is HttpListenerException or IOException)
            {
            }
        }
    }

    private void Answer(HttpListenerContext context)
    {
        var response = context.Response;
        string? authorization = context.Request.Headers["Authorization"];
        string[] scopes = (context.Request.QueryString.GetValues("scope") ?? [])
            .SelectMany(s => s.Split(' ', StringSplitOptions.RemoveEmptyEntries)).ToArray();
        string? token = null;
        if (authorization == null)
        {
            token = Issue([]); // anonymous: a token, but it grants nothing
        }
        else if (authorization.StartsWith("Basic ", StringComparison.Ordinal)
                 && Encoding.UTF8.GetString(Convert.FromBase64String(authorization[6..].Trim())) == $"{_user}:{_password}")
        {
            token = Issue(scopes);
            Interlocked.Increment(ref _issued);
        }
        byte[] body;
        if (token == null)
        {
            Interlocked.Increment(ref _refused);
            response.StatusCode = 401;
            body = Encoding.UTF8.GetBytes("{\"details\":\"incorrect username or password\"}");
        }
        else
        {
            response.StatusCode = 200;
            body = Encoding.UTF8.GetBytes(new JsonObject
            {
                ["token"] = token,
                ["access_token"] = token,
                ["expires_in"] = 300,
                ["issued_at"] = DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ"),
            }.ToJsonString());
        }
        response.ContentType = "application/json";
        response.ContentLength64 = body.Length;
        response.OutputStream.Write(body);
        response.Close();
    }

    /// <summary>A signed token granting <paramref name="scopes"/> ("repository:NAME:pull,push").</summary>
    public string Issue(IEnumerable<string> scopes)
    {
        var access = new JsonArray();
        foreach (string scope in scopes)
        {
            string[] parts = scope.Split(':');
            if (parts.Length < 3)
                continue;
            string name = string.Join(':', parts[1..^1]);
            access.Add(new JsonObject
            {
                ["type"] = parts[0],
                ["name"] = name,
                ["actions"] = new JsonArray(parts[^1].Split(',').Select(a => (JsonNode?)a).ToArray()),
            });
        }
        long now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var header = new JsonObject
        {
            ["typ"] = "JWT",
            ["alg"] = "ES256",
            ["x5c"] = new JsonArray(Convert.ToBase64String(_signer.RawData)),
        };
        var claims = new JsonObject
        {
            ["iss"] = Issuer,
            ["sub"] = _user,
            ["aud"] = Service,
            ["exp"] = now + 300,
            ["nbf"] = now - 30,
            ["iat"] = now,
            ["jti"] = Guid.NewGuid().ToString("N"),
            ["access"] = access,
        };
        string signingInput = Base64Url(Encoding.UTF8.GetBytes(header.ToJsonString())) + "." + Base64Url(Encoding.UTF8.GetBytes(claims.ToJsonString()));
        // JWS ES256: r||s, 32 bytes each (IEEE P1363), which is .NET's default for ECDsa
        byte[] signature = _key.SignData(Encoding.ASCII.GetBytes(signingInput), HashAlgorithmName.SHA256);
        return signingInput + "." + Base64Url(signature);
    }

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    public void Dispose()
    {
        // Close alone: after a Stop, .NET's managed HttpListener.Close binds the port again to
        // remove its prefix, which fails (address in use) while the connections it served are
        // in TIME_WAIT; Close stops the listener and ends the pending GetContextAsync itself.
        _listener.Close();
        try
        {
            _serving.Wait(TimeSpan.FromSeconds(5));
        }
        catch (AggregateException)
        {
        }
        _key.Dispose();
        _signer.Dispose();
    }
}
