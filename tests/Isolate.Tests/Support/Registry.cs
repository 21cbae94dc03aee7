using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Isolate.Tests.Support;

/// <summary>How a test registry is reached and who may use it.</summary>
public enum RegistryMode
{
    /// <summary>Plain HTTP, anyone may pull and push.</summary>
    Plain,

    /// <summary>HTTPS with a certificate of the test's own CA (<see cref="Registry.CaFile"/>).</summary>
    Tls,

    /// <summary>Plain HTTP; the registry wants a bearer token from the test's token server.</summary>
    Token,

    /// <summary>Plain HTTP with basic auth (an htpasswd file).</summary>
    Basic,
}

/// <summary>A real registry for a test: Debian's docker-registry (distribution 2.8) on a free
/// loopback port, storing in a directory of its own. Started by <see cref="Start"/>, ready once
/// /v2/ answers; killed and removed on Dispose. Its access log (stdout) is kept, so a test can
/// count the GETs a blob got.</summary>
public sealed partial class Registry : IDisposable
{
    public const string Program = "/usr/bin/docker-registry";
    public const string Skopeo = "/usr/bin/skopeo";
    public const string Htpasswd = "/usr/bin/htpasswd";

    private readonly Process _process;
    private readonly List<string> _log = [];

    public RegistryMode Mode { get; }

    /// <summary>The registry's own directory: config, storage, certificates.</summary>
    public string Dir { get; }

    public int Port { get; }

    /// <summary>host:port, as an image reference names it.</summary>
    public string Host => $"127.0.0.1:{Port}";

    public string User { get; } = "tester";

    public string Password { get; } = "s3cret-" + Guid.NewGuid().ToString("N")[..8];

    /// <summary>The test CA's certificate (PEM), for --ca-file: the registry's serving certificate
    /// (TLS) and the token signer's (Token) are issued by it.</summary>
    public string CaFile => Path.Combine(Dir, "certs", "ca.crt");

    /// <summary>A directory with ca.crt in it, for skopeo's --dest-cert-dir.</summary>
    public string CertDir => Path.Combine(Dir, "certs");

    public TokenServer? Tokens { get; }

    public bool NeedsCredentials => Mode is RegistryMode.Token or RegistryMode.Basic;

    private Registry(RegistryMode mode, string dir)
    {
        Mode = mode;
        Dir = dir;
        Port = FreeTcpPort();
        Directory.CreateDirectory(CertDir);
        var ca = mode is RegistryMode.Tls or RegistryMode.Token ? TestCertificates.NewCa() : null;
        if (ca != null)
            File.WriteAllText(CaFile, ca.ExportCertificatePem());

        var config = new StringBuilder();
        config.Append($$"""
            version: 0.1
            log:
              level: info
              formatter: text
              accesslog:
                disabled: false
            storage:
              filesystem:
                rootdirectory: {{Path.Combine(dir, "data")}}
              delete:
                enabled: true
              maintenance:
                uploadpurging:
                  enabled: false
            http:
              addr: 127.0.0.1:{{Port}}
              secret: {{Guid.NewGuid():N}}

            """);
        if (mode == RegistryMode.Tls)
        {
            using var server = TestCertificates.NewServer(ca!);
            File.WriteAllText(Path.Combine(dir, "server.crt"), server.ExportCertificatePem());
            File.WriteAllText(Path.Combine(dir, "server.key"), server.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem());
            config.Append($"""
                  tls:
                    certificate: {Path.Combine(dir, "server.crt")}
                    key: {Path.Combine(dir, "server.key")}

                """);
        }
        if (mode == RegistryMode.Token)
        {
            Tokens = new TokenServer(ca!, User, Password);
            config.Append($"""
                auth:
                  token:
                    realm: {Tokens.Realm}
                    service: {TokenServer.Service}
                    issuer: {TokenServer.Issuer}
                    rootcertbundle: {CaFile}

                """);
        }
        if (mode == RegistryMode.Basic)
        {
            var htpasswd = Run(Htpasswd, "-Bbn", User, Password);
            if (htpasswd.ExitCode != 0)
                throw new InvalidOperationException("htpasswd failed: " + htpasswd);
            File.WriteAllText(Path.Combine(dir, "htpasswd"), htpasswd.Stdout.Trim() + "\n");
            config.Append($"""
                auth:
                  htpasswd:
                    realm: isolate-test
                    path: {Path.Combine(dir, "htpasswd")}

                """);
        }
        ca?.Dispose();
        string configFile = Path.Combine(dir, "config.yml");
        File.WriteAllText(configFile, config.ToString());

        var info = new ProcessStartInfo(Program, ["serve", configFile])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        _process = Process.Start(info)!;
        _process.OutputDataReceived += (_, e) => Record(e.Data);
        _process.ErrorDataReceived += (_, e) => Record(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        WaitUntilServing();
    }

    /// <summary>Starts a registry in its own temp directory; <paramref name="own"/> marks that
    /// directory as the test's (ContainerTest.Own), so the registry process is known as the test's.</summary>
    public static Registry Start(RegistryMode mode = RegistryMode.Plain, Func<string, string>? own = null)
    {
        string dir = Directory.CreateTempSubdirectory("isolate-test-registry-").FullName;
        own?.Invoke(dir);
        try
        {
            return new Registry(mode, dir);
        }
        catch
        {
            Directory.Delete(dir, recursive: true);
            throw;
        }
    }

    private void Record(string? line)
    {
        if (line == null)
            return;
        lock (_log)
            _log.Add(line);
    }

    /// <summary>Everything the registry printed so far (its log and access log).</summary>
    public string Log
    {
        get
        {
            lock (_log)
                return string.Join('\n', _log);
        }
    }

    /// <summary>The access log's requests so far: "METHOD PATH STATUS".</summary>
    public IReadOnlyList<string> Requests
    {
        get
        {
            lock (_log)
                return _log.Select(l => AccessLine().Match(l)).Where(m => m.Success)
                    .Select(m => $"{m.Groups[1].Value} {m.Groups[2].Value} {m.Groups[3].Value}").ToList();
        }
    }

    // combined log format: 127.0.0.1 - - [date] "GET /v2/ HTTP/1.1" 200 2 "" "agent"
    [GeneratedRegex("\"([A-Z]+) (\\S+) HTTP/[0-9.]+\" (\\d{3}) ")]
    private static partial Regex AccessLine();

    /// <summary>How many GETs of the blob <paramref name="digest"/> the registry answered with its
    /// content (200 whole, 206 a range).</summary>
    public int BlobDownloads(string digest) =>
        Requests.Count(r => r.StartsWith("GET ", StringComparison.Ordinal) && r.Contains($"/blobs/{digest} ", StringComparison.Ordinal)
            && (r.EndsWith(" 200", StringComparison.Ordinal) || r.EndsWith(" 206", StringComparison.Ordinal)));

    /// <summary>Where the registry keeps a blob's bytes: a test that corrupts it makes the
    /// registry serve content that does not match its digest.</summary>
    public string BlobFile(string digest)
    {
        string hex = OciDigest.Hex(digest);
        return Path.Combine(Dir, "data", "docker", "registry", "v2", "blobs", "sha256", hex[..2], hex, "data");
    }

    private void WaitUntilServing()
    {
        using var client = Client();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (true)
        {
            if (_process.HasExited)
                throw new InvalidOperationException($"docker-registry exited ({_process.ExitCode}):\n{Log}");
            try
            {
                var response = client.GetAsync($"{Scheme}://{Host}/v2/").GetAwaiter().GetResult();
                if (response.StatusCode is HttpStatusCode.OK or HttpStatusCode.Unauthorized)
                    return;
            }
            catch (HttpRequestException) when (DateTime.UtcNow < deadline)
            {
            }
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"docker-registry never answered on {Host}:\n{Log}");
            Thread.Sleep(30);
        }
    }

    public string Scheme => Mode == RegistryMode.Tls ? "https" : "http";

    /// <summary>An HTTP client that trusts the test CA (only that, for this registry).</summary>
    public HttpClient Client()
    {
        var handler = new HttpClientHandler
        {
            ServerCertificateCustomValidationCallback = (_, cert, _, _) =>
                cert != null && Mode == RegistryMode.Tls && ChainsToCa(cert),
        };
        return new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(10) };
    }

    private bool ChainsToCa(X509Certificate2 cert)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.CustomTrustStore.Add(X509Certificate2.CreateFromPem(File.ReadAllText(CaFile)));
        return chain.Build(cert);
    }

    /// <summary>The options skopeo needs to write here: TLS off or the CA, and the credentials.</summary>
    private List<string> DestinationOptions()
    {
        var options = new List<string>();
        if (Mode == RegistryMode.Tls)
            options.AddRange(["--dest-cert-dir", CertDir]);
        else
            options.Add("--dest-tls-verify=false");
        if (NeedsCredentials)
            options.AddRange(["--dest-creds", $"{User}:{Password}"]);
        return options;
    }

    /// <summary>skopeo copy oci:LAYOUT:REF docker://HOST/NAME. <paramref name="all"/>: a
    /// multi-platform index with every image it names; <paramref name="format"/>: "v2s2" to
    /// store Docker's manifest format instead of OCI's.</summary>
    public void Push(string layout, string refName, string nameAndTag, bool all = false, string? format = null)
    {
        var args = new List<string> { "--insecure-policy", "copy", "-q" };
        args.AddRange(DestinationOptions());
        if (all)
            args.Add("--all");
        if (format != null)
            args.AddRange(["--format", format]);
        args.AddRange([$"oci:{layout}:{refName}", $"docker://{Host}/{nameAndTag}"]);
        var result = Run(Skopeo, [.. args]);
        if (result.ExitCode != 0)
            throw new InvalidOperationException($"skopeo {string.Join(' ', args)} failed: {result}\nregistry log:\n{Log}");
    }

    /// <summary>GET /v2/NAME/manifests/REF: what the registry serves (body and Docker-Content-Digest).</summary>
    public (string Body, string? Digest, string? MediaType) Manifest(string name, string reference)
    {
        using var client = Client();
        var request = new HttpRequestMessage(HttpMethod.Get, $"{Scheme}://{Host}/v2/{name}/manifests/{reference}");
        foreach (string type in new[]
                 {
                     "application/vnd.oci.image.index.v1+json", "application/vnd.oci.image.manifest.v1+json",
                     "application/vnd.docker.distribution.manifest.list.v2+json", "application/vnd.docker.distribution.manifest.v2+json",
                 })
            request.Headers.Accept.Add(new System.Net.Http.Headers.MediaTypeWithQualityHeaderValue(type));
        if (Mode == RegistryMode.Basic)
            request.Headers.Authorization = new("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{User}:{Password}")));
        if (Mode == RegistryMode.Token)
            request.Headers.Authorization = new("Bearer", Tokens!.Issue([$"repository:{name}:pull"]));
        var response = client.Send(request);
        string body = response.Content.ReadAsStringAsync().GetAwaiter().GetResult();
        if (!response.IsSuccessStatusCode)
            throw new InvalidOperationException($"GET manifest {name}:{reference}: {(int)response.StatusCode} {body}");
        return (body, response.Headers.TryGetValues("Docker-Content-Digest", out var d) ? d.First() : null,
            response.Content.Headers.ContentType?.MediaType);
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
                _process.Kill(entireProcessTree: true);
            _process.WaitForExit();
        }
        finally
        {
            _process.Dispose();
            Tokens?.Dispose();
            Directory.Delete(Dir, recursive: true);
        }
    }

    public static int FreeTcpPort()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }

    /// <summary>Runs a host program to its end (60 s at most).</summary>
    public static RunResult Run(string program, params string[] args)
    {
        var info = new ProcessStartInfo(program, args)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        return IsolateBinary.RunToEnd(info, TimeSpan.FromSeconds(60));
    }
}

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
        _listener.Stop();
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
