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
            try
            {
                Tokens?.Dispose();
            }
            finally
            {
                Directory.Delete(Dir, recursive: true); // also when the token server's Dispose throws
            }
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
