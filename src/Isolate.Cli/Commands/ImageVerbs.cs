using System.Text;
using System.Text.Json;
using CommandLine;
using Isolate.Images;
using Isolate.Runtime;

namespace Isolate.Cli.Commands;

[Verb("pull", HelpText = "Pull an image from a registry into the store (isolate pull localhost:5000/busybox). Prints its id.")]
public sealed class PullOptions
{
    [Value(0, MetaName = "IMAGE", Required = true, HelpText = "[REGISTRY/]NAME[:TAG|@DIGEST]; no registry: docker.io.")]
    public string Reference { get; set; } = "";

    [Option("tls-verify", MetaValue = "BOOL", HelpText = "false: skip the certificate check, and allow plain HTTP (default true; a registry on localhost may always answer in plain HTTP).")]
    public string? TlsVerify { get; set; }

    [Option("ca-file", MetaValue = "FILE", HelpText = "Trust the registry's certificate if this PEM CA signed it.")]
    public string? CaFile { get; set; }

    [Option("creds", MetaValue = "USER:PASSWORD", HelpText = "Credentials for this pull (default: those isolate login stored, then ~/.docker/config.json).")]
    public string? Creds { get; set; }

    [Option('q', "quiet", HelpText = "No progress; only the image id.")]
    public bool Quiet { get; set; }
}

[Verb("load", HelpText = "Load images from a docker save archive, an OCI archive or an OCI layout directory.")]
public sealed class LoadOptions
{
    [Option('i', "input", MetaValue = "FILE", Required = true, HelpText = "The archive (tar, or tar.gz) or OCI layout directory.")]
    public string Input { get; set; } = "";

    [Option('q', "quiet", HelpText = "No progress.")]
    public bool Quiet { get; set; }

    [Value(0, MetaName = "NAME", HelpText = "The repository for an OCI image whose ref.name is a tag alone, or that has none.")]
    public string? Name { get; set; }
}

[Verb("images", HelpText = "List the images in the store (also: isolate image ls). isolate image inspect IMAGE prints one as JSON; isolate image prune removes untagged images and unused layers.")]
public sealed class ImagesOptions
{
    [Option('q', "quiet", HelpText = "Only the image ids.")]
    public bool Quiet { get; set; }

    [Option("format", MetaValue = "FORMAT", HelpText = "table (default) or json.")]
    public string? Format { get; set; }

    [Option("no-trunc", HelpText = "Full image ids.")]
    public bool NoTrunc { get; set; }
}

[Verb("rmi", HelpText = "Remove images (also: isolate image rm): untag, and delete an image and its unshared layers once no tag names it.")]
public sealed class RmiOptions
{
    [Option('f', "force", HelpText = "Remove an image by id even when several tags name it.")]
    public bool Force { get; set; }

    [Value(0, MetaName = "IMAGE", Min = 1, HelpText = "A name[:tag], or an image id (or a prefix of one).")]
    public IEnumerable<string> Images { get; set; } = [];
}

[Verb("image-inspect", Hidden = true, HelpText = "Print images' configuration as JSON (isolate image inspect IMAGE).")]
public sealed class ImageInspectOptions
{
    [Value(0, MetaName = "IMAGE", Min = 1)]
    public IEnumerable<string> Images { get; set; } = [];
}

[Verb("image-prune", Hidden = true, HelpText = "Remove untagged images and whatever no image uses (isolate image prune).")]
public sealed class ImagePruneOptions
{
    [Option('f', "force", HelpText = "Accepted for docker's habit: prune never asks.")]
    public bool Force { get; set; }
}

[Verb("login", HelpText = "Check credentials against a registry and store them for pull (docker's config.json format).")]
public sealed class LoginOptions
{
    [Value(0, MetaName = "REGISTRY", Required = true)]
    public string Registry { get; set; } = "";

    [Option('u', "username", MetaValue = "USER")]
    public string? User { get; set; }

    [Option('p', "password", MetaValue = "PASSWORD", HelpText = "The password (visible to other users in ps: prefer --password-stdin).")]
    public string? Password { get; set; }

    [Option("password-stdin", HelpText = "Read the password from stdin.")]
    public bool PasswordStdin { get; set; }

    [Option("tls-verify", MetaValue = "BOOL")]
    public string? TlsVerify { get; set; }

    [Option("ca-file", MetaValue = "FILE")]
    public string? CaFile { get; set; }
}

[Verb("logout", HelpText = "Remove a registry's stored credentials.")]
public sealed class LogoutOptions
{
    [Value(0, MetaName = "REGISTRY", Required = true)]
    public string Registry { get; set; } = "";
}

/// <summary>The image commands: the store (Images/ImageStore) and its ways in (pull, load).</summary>
internal static class ImageVerbs
{
    /// <summary>A file error in the store (a full disk, a directory another user owns) as the
    /// one line it is, not an internal error.</summary>
    public static Func<T, GlobalOptions, int> Guarded<T>(Func<T, GlobalOptions, int> verb) => (options, globals) =>
    {
        try
        {
            return verb(options, globals);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw StoreError(globals, e);
        }
    };

    /// <summary>"image store DIR: [FILE: ]strerror".</summary>
    internal static IsolateException StoreError(GlobalOptions globals, Exception e) =>
        new($"image store {globals.Storage ?? ImageStore.DefaultRoot()}: "
            + (e is FileNotFoundException { FileName: { Length: > 0 } file } ? file + ": " : "") + ErrorText.Of(e));

    public static RegistryOptions RegistryOptionsFrom(string? tlsVerify, string? caFile, string? creds) => new()
    {
        TlsVerify = tlsVerify switch
        {
            null or "true" => true,
            "false" => false,
            _ => throw new IsolateException($"invalid --tls-verify '{tlsVerify}': use true or false"),
        },
        CaFile = caFile,
        Credentials = creds is null ? null
            : creds.IndexOf(':') is > 0 and var colon ? (creds[..colon], creds[(colon + 1)..])
            : throw new IsolateException("invalid --creds: give USER:PASSWORD"),
    };

    public static IProgress Progress(bool quiet) =>
        new StderrProgress(text => HostTerminal.Write(2, text), HostTerminal.IsTerminal(2), quiet);

    public static int Pull(PullOptions options, GlobalOptions globals)
    {
        var reference = ImageReference.Parse(options.Reference);
        var store = ImageStore.Open(globals.Storage);
        var image = ImagePull.Pull(store, reference, RegistryOptionsFrom(options.TlsVerify, options.CaFile, options.Creds), Progress(options.Quiet));
        if (!options.Quiet)
            Output.Error($"{reference}: pulled, image {image.Id[..12]}");
        Output.Out(image.Id + "\n");
        return 0;
    }

    public static int Load(LoadOptions options, GlobalOptions globals)
    {
        var store = ImageStore.Open(globals.Storage);
        foreach (string line in ImageArchive.Load(store, options.Input, options.Name, Progress(options.Quiet)))
            Output.Out(line + "\n");
        return 0;
    }

    public static int Images(ImagesOptions options, GlobalOptions globals)
    {
        var store = ImageStore.Open(globals.Storage);
        var images = store.List();
        if (options.Format is not (null or "table" or "json"))
            throw new IsolateException($"invalid --format '{options.Format}': use table or json");
        var rows = images.SelectMany(i => i.Tags.Count == 0
            ? [("<none>", "<none>", i)]
            : i.Tags.Select(t => SplitTag(t)).Select(t => (t.Repository, t.Tag, i))).ToList();
        if (options.Quiet)
        {
            foreach (var id in rows.Select(r => r.i.Id).Distinct())
                Output.Out((options.NoTrunc ? id : id[..12]) + "\n");
            return 0;
        }
        if (options.Format == "json")
        {
            Output.Out(Json(w =>
            {
                w.WriteStartArray();
                foreach (var (repository, tag, image) in rows)
                {
                    w.WriteStartObject();
                    w.WriteString("Repository", repository);
                    w.WriteString("Tag", tag);
                    w.WriteString("Id", "sha256:" + image.Id);
                    w.WriteString("Created", image.Config.Created);
                    w.WriteNumber("Size", image.Record.Size);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
            }));
            return 0;
        }
        var now = DateTime.UtcNow;
        var table = new List<string[]> { new[] { "REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE" } };
        table.AddRange(rows.Select(r => new[] { r.Item1, r.Item2, options.NoTrunc ? "sha256:" + r.i.Id : r.i.Id[..12], (Isolate.Containers.DetachedVerbs.Since(r.i.Config.Created, now) is { } age ? age + " ago" : ""), ImageImport.Human(r.i.Record.Size) }));
        int[] widths = [.. Enumerable.Range(0, 5).Select(c => table.Max(row => row[c].Length))];
        var text = new StringBuilder();
        foreach (var row in table)
            text.Append(string.Join("   ", row.Select((cell, c) => c == 4 ? cell : cell.PadRight(widths[c])))).Append('\n');
        Output.Out(text.ToString());
        return 0;
    }

    private static (string Repository, string Tag) SplitTag(string key)
    {
        var reference = ImageReference.Parse(key);
        return (reference.ShortName, reference.Tag ?? "<none>");
    }

    public static int Remove(RmiOptions options, GlobalOptions globals)
    {
        var store = ImageStore.Open(globals.Storage);
        int status = 0;
        foreach (string name in options.Images)
        {
            try
            {
                foreach (string line in store.Remove(name, options.Force))
                    Output.Out(line + "\n");
            }
            catch (IsolateException e)
            {
                Output.Error("isolate: " + e.Message);
                status = e.ExitCode;
            }
        }
        return status;
    }

    public static int Prune(ImagePruneOptions options, GlobalOptions globals)
    {
        _ = options.Force;
        var store = ImageStore.Open(globals.Storage);
        var (lines, reclaimed) = store.Prune();
        foreach (string line in lines)
            Output.Out(line + "\n");
        Output.Out($"Total reclaimed space: {ImageImport.Human(reclaimed)}\n");
        return 0;
    }

    public static int Inspect(ImageInspectOptions options, GlobalOptions globals)
    {
        var store = ImageStore.Open(globals.Storage);
        var images = options.Images.Select(name => store.Find(name) ?? throw new IsolateException($"no such image: {name}")).ToList();
        Output.Out(Json(w =>
        {
            w.WriteStartArray();
            foreach (var image in images)
                WriteInspect(w, image);
            w.WriteEndArray();
        }));
        return 0;
    }

    private static void WriteInspect(Utf8JsonWriter w, StoredImage image)
    {
        var c = image.Config;
        w.WriteStartObject();
        w.WriteString("Id", "sha256:" + image.Id);
        Strings(w, "RepoTags", [.. image.Tags.Select(ImageReference.Display)]);
        Strings(w, "RepoDigests", [.. image.Record.RepoDigests.Select(d => ImageReference.Display(d))]);
        w.WriteString("Created", c.Created);
        w.WriteString("Architecture", c.Architecture);
        w.WriteString("Os", c.Os);
        if (c.Variant != null)
            w.WriteString("Variant", c.Variant);
        w.WriteNumber("Size", image.Record.Size);
        w.WriteStartObject("Config");
        Strings(w, "Env", c.Env);
        Strings(w, "Cmd", c.Cmd);
        Strings(w, "Entrypoint", c.Entrypoint);
        w.WriteString("WorkingDir", c.WorkingDir ?? "");
        w.WriteString("User", c.User ?? "");
        w.WriteStartObject("ExposedPorts");
        foreach (string port in c.ExposedPorts)
        {
            w.WriteStartObject(port);
            w.WriteEndObject();
        }
        w.WriteEndObject();
        if (c.StopSignal != null)
            w.WriteString("StopSignal", c.StopSignal);
        w.WriteStartObject("Labels");
        foreach (var (key, value) in c.Labels)
            w.WriteString(key, value);
        w.WriteEndObject();
        w.WriteEndObject();
        w.WriteStartObject("RootFS");
        w.WriteString("Type", "layers");
        Strings(w, "Layers", c.DiffIds);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    public static int Login(LoginOptions options, GlobalOptions globals)
    {
        string registry = Registry(options.Registry);
        string user = options.User ?? throw new IsolateException("login: give the user name with -u USER");
        string? password = options.Password;
        if (options.PasswordStdin)
        {
            if (password != null)
                throw new IsolateException("login: --password and --password-stdin: give one");
            password = Console.In.ReadToEnd().TrimEnd('\n', '\r');
        }
        if (string.IsNullOrEmpty(password))
            throw new IsolateException("login: give the password with --password-stdin (or -p PASSWORD)");
        var reference = new ImageReference(registry, "library/login", "latest", null);
        _ = globals; // login fetches no blob: it makes no store
        using (var client = new RegistryClient(null, reference, RegistryOptionsFrom(options.TlsVerify, options.CaFile, $"{user}:{password}")))
            client.CheckLogin();
        RegistryAuth.Store(registry, (user, password));
        Output.Out("Login Succeeded!\n");
        return 0;
    }

    public static int Logout(LogoutOptions options, GlobalOptions globals)
    {
        _ = globals;
        string registry = Registry(options.Registry);
        if (!RegistryAuth.Store(registry, null))
            throw new IsolateException($"logout: not logged in to {registry} (in {RegistryAuth.WritePath()})");
        Output.Out($"Removed login credentials for {registry}\n");
        return 0;
    }

    /// <summary>A registry as login takes it: HOST[:PORT], with https:// and a path dropped.</summary>
    private static string Registry(string text)
    {
        string host = text.Contains("://", StringComparison.Ordinal) ? text[(text.IndexOf("://", StringComparison.Ordinal) + 3)..] : text;
        host = host.Split('/')[0];
        if (host is "docker.io" or "index.docker.io" or "registry-1.docker.io")
            return ImageReference.DockerHub;
        return host.Length > 0 ? host : throw new IsolateException($"login: '{text}' names no registry host");
    }

    private static void Strings(Utf8JsonWriter w, string name, IEnumerable<string> values)
    {
        w.WriteStartArray(name);
        foreach (string v in values)
            w.WriteStringValue(v);
        w.WriteEndArray();
    }

    private static string Json(Action<Utf8JsonWriter> write)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
            write(w);
        return Encoding.UTF8.GetString(buffer.ToArray()) + "\n";
    }
}
