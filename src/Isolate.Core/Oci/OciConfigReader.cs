using System.Text.Json;

namespace Isolate.Oci;

/// <summary>config.json read from a <see cref="JsonDocument"/> into the <see cref="OciConfig"/>
/// model by hand: System.Text.Json's deserializer builds its metadata for all 29 types of the
/// model first, which cost every OCI start about 4 ms of reflection and allocation (bench/run.sh).
/// It reads exactly what the deserializer reads, property by property, and gives up (false) on
/// anything the deserializer would refuse: the loader then asks the deserializer, which says
/// what is wrong, with its line and path. OciConfigReaderTests holds the two to the same
/// results. Written from OciConfig.cs: a property added there is added here.</summary>
internal static partial class OciConfigReader
{
    public static bool TryRead(JsonElement root, out OciConfig? config)
    {
        config = null;
        if (root.ValueKind != JsonValueKind.Object)
            return false;
        try
        {
            config = ReadOciConfig(root);
            return true;
        }
        catch (Mismatch)
        {
            config = null;
            return false;
        }
    }

    /// <summary>A value the deserializer would not take.</summary>
    private sealed class Mismatch : Exception;

    private static Mismatch Fail() => new();

    private static string? String(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.String => e.GetString(),
        JsonValueKind.Null => null,
        _ => throw Fail(),
    };

    private static bool Boolean(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        _ => throw Fail(),
    };

    private static bool? NullableBoolean(JsonElement e) => e.ValueKind == JsonValueKind.Null ? null : Boolean(e);

    private static long Int64(JsonElement e) => e.ValueKind == JsonValueKind.Number && e.TryGetInt64(out long v) ? v : throw Fail();

    private static ulong UInt64(JsonElement e) => e.ValueKind == JsonValueKind.Number && e.TryGetUInt64(out ulong v) ? v : throw Fail();

    private static int Int32(JsonElement e) => e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out int v) ? v : throw Fail();

    private static uint UInt32(JsonElement e) => e.ValueKind == JsonValueKind.Number && e.TryGetUInt32(out uint v) ? v : throw Fail();

    private static ushort UInt16(JsonElement e) => e.ValueKind == JsonValueKind.Number && e.TryGetUInt16(out ushort v) ? v : throw Fail();

    private static long? NullableInt64(JsonElement e) => e.ValueKind == JsonValueKind.Null ? null : Int64(e);

    private static ulong? NullableUInt64(JsonElement e) => e.ValueKind == JsonValueKind.Null ? null : UInt64(e);

    private static int? NullableInt32(JsonElement e) => e.ValueKind == JsonValueKind.Null ? null : Int32(e);

    private static uint? NullableUInt32(JsonElement e) => e.ValueKind == JsonValueKind.Null ? null : UInt32(e);

    private static ushort? NullableUInt16(JsonElement e) => e.ValueKind == JsonValueKind.Null ? null : UInt16(e);

    private static JsonElement Element(JsonElement e) => e.Clone();

    private static List<T>? List<T>(JsonElement e, Func<JsonElement, T> item)
    {
        if (e.ValueKind == JsonValueKind.Null)
            return null;
        if (e.ValueKind != JsonValueKind.Array)
            throw Fail();
        var list = new List<T>(e.GetArrayLength());
        foreach (var value in e.EnumerateArray())
            list.Add(item(value));
        return list;
    }

    private static Dictionary<string, T>? Map<T>(JsonElement e, Func<JsonElement, T> item)
    {
        if (e.ValueKind == JsonValueKind.Null)
            return null;
        if (e.ValueKind != JsonValueKind.Object)
            throw Fail();
        var map = new Dictionary<string, T>();
        foreach (var property in e.EnumerateObject())
            map[property.Name] = item(property.Value);
        return map;
    }

    /// <summary>An object's properties, each handed to <paramref name="set"/>, which leaves
    /// names it does not know alone, as the deserializer does (OciSpecFields refuses them).</summary>
    private static T Fields<T>(JsonElement e, Action<T, JsonProperty> set) where T : new()
    {
        var read = new T();
        foreach (var property in e.EnumerateObject())
            set(read, property);
        return read;
    }

    /// <summary>An object property's value: null, or an object read by <paramref name="read"/>.</summary>
    private static T? Object<T>(JsonElement e, Func<JsonElement, T> read) where T : class => e.ValueKind switch
    {
        JsonValueKind.Null => null,
        JsonValueKind.Object => read(e),
        _ => throw Fail(),
    };

    private static OciConfig ReadOciConfig(JsonElement e) => Fields<OciConfig>(e, static (read, property) =>
    {
        switch (property.Name)
        {
            case "ociVersion": read.OciVersion = String(property.Value); break;
            case "process": read.Process = Object(property.Value, ReadOciProcess); break;
            case "root": read.Root = Object(property.Value, ReadOciRoot); break;
            case "hostname": read.Hostname = String(property.Value); break;
            case "domainname": read.Domainname = String(property.Value); break;
            case "mounts": read.Mounts = List(property.Value, item => Object(item, ReadOciMount)!); break;
            case "hooks": read.Hooks = Object(property.Value, ReadOciHooksConfig); break;
            case "annotations": read.Annotations = Map(property.Value, item => String(item)!); break;
            case "linux": read.Linux = Object(property.Value, ReadOciLinux); break;
        }
    });

    private static OciRoot ReadOciRoot(JsonElement e) => Fields<OciRoot>(e, static (read, property) =>
    {
        switch (property.Name)
        {
            case "path": read.Path = String(property.Value); break;
            case "readonly": read.Readonly = NullableBoolean(property.Value); break;
        }
    });

    private static OciMount ReadOciMount(JsonElement e) => Fields<OciMount>(e, static (read, property) =>
    {
        switch (property.Name)
        {
            case "destination": read.Destination = String(property.Value); break;
            case "type": read.Type = String(property.Value); break;
            case "source": read.Source = String(property.Value); break;
            case "options": read.Options = List(property.Value, item => String(item)!); break;
        }
    });

    private static OciProcess ReadOciProcess(JsonElement e) => Fields<OciProcess>(e, static (read, property) =>
    {
        switch (property.Name)
        {
            case "terminal": read.Terminal = NullableBoolean(property.Value); break;
            case "consoleSize": read.ConsoleSize = Object(property.Value, ReadOciConsoleSize); break;
            case "user": read.User = Object(property.Value, ReadOciUser); break;
            case "args": read.Args = List(property.Value, item => String(item)!); break;
            case "env": read.Env = List(property.Value, item => String(item)!); break;
            case "cwd": read.Cwd = String(property.Value); break;
            case "capabilities": read.Capabilities = Object(property.Value, ReadOciCapabilities); break;
            case "rlimits": read.Rlimits = List(property.Value, item => Object(item, ReadOciRlimit)!); break;
            case "noNewPrivileges": read.NoNewPrivileges = NullableBoolean(property.Value); break;
            case "oomScoreAdj": read.OomScoreAdj = NullableInt32(property.Value); break;
            case "ioPriority": read.IoPriority = Object(property.Value, ReadOciIoPriority); break;
            case "scheduler": read.Scheduler = Object(property.Value, ReadOciScheduler); break;
        }
    });

    private static OciIoPriority ReadOciIoPriority(JsonElement e) => Fields<OciIoPriority>(e, static (read, property) =>
    {
        switch (property.Name)
        {
            case "class": read.Class = String(property.Value); break;
            case "priority": read.Priority = NullableInt32(property.Value); break;
        }
    });

    private static OciScheduler ReadOciScheduler(JsonElement e) => Fields<OciScheduler>(e, static (read, property) =>
    {
        switch (property.Name)
        {
            case "policy": read.Policy = String(property.Value); break;
            case "nice": read.Nice = NullableInt32(property.Value); break;
            case "priority": read.Priority = NullableInt32(property.Value); break;
            case "flags": read.Flags = List(property.Value, item => String(item)!); break;
            case "runtime": read.Runtime = NullableUInt64(property.Value); break;
            case "deadline": read.Deadline = NullableUInt64(property.Value); break;
            case "period": read.Period = NullableUInt64(property.Value); break;
        }
    });

    private static OciConsoleSize ReadOciConsoleSize(JsonElement e) => Fields<OciConsoleSize>(e, static (read, property) =>
    {
        switch (property.Name)
        {
            case "height": read.Height = UInt32(property.Value); break;
            case "width": read.Width = UInt32(property.Value); break;
        }
    });

    private static OciUser ReadOciUser(JsonElement e) => Fields<OciUser>(e, static (read, property) =>
    {
        switch (property.Name)
        {
            case "uid": read.Uid = NullableUInt32(property.Value); break;
            case "gid": read.Gid = NullableUInt32(property.Value); break;
            case "umask": read.Umask = NullableUInt32(property.Value); break;
            case "additionalGids": read.AdditionalGids = List(property.Value, UInt32); break;
        }
    });

    private static OciCapabilities ReadOciCapabilities(JsonElement e) => Fields<OciCapabilities>(e, static (read, property) =>
    {
        switch (property.Name)
        {
            case "bounding": read.Bounding = List(property.Value, item => String(item)!); break;
            case "effective": read.Effective = List(property.Value, item => String(item)!); break;
            case "inheritable": read.Inheritable = List(property.Value, item => String(item)!); break;
            case "permitted": read.Permitted = List(property.Value, item => String(item)!); break;
            case "ambient": read.Ambient = List(property.Value, item => String(item)!); break;
        }
    });

    private static OciRlimit ReadOciRlimit(JsonElement e) => Fields<OciRlimit>(e, static (read, property) =>
    {
        switch (property.Name)
        {
            case "type": read.Type = String(property.Value); break;
            case "hard": read.Hard = NullableUInt64(property.Value); break;
            case "soft": read.Soft = NullableUInt64(property.Value); break;
        }
    });

    private static OciHooksConfig ReadOciHooksConfig(JsonElement e) => Fields<OciHooksConfig>(e, static (read, property) =>
    {
        switch (property.Name)
        {
            case "prestart": read.Prestart = List(property.Value, item => Object(item, ReadOciHookConfig)!); break;
            case "createRuntime": read.CreateRuntime = List(property.Value, item => Object(item, ReadOciHookConfig)!); break;
            case "createContainer": read.CreateContainer = List(property.Value, item => Object(item, ReadOciHookConfig)!); break;
            case "startContainer": read.StartContainer = List(property.Value, item => Object(item, ReadOciHookConfig)!); break;
            case "poststart": read.Poststart = List(property.Value, item => Object(item, ReadOciHookConfig)!); break;
            case "poststop": read.Poststop = List(property.Value, item => Object(item, ReadOciHookConfig)!); break;
        }
    });

    private static OciHookConfig ReadOciHookConfig(JsonElement e) => Fields<OciHookConfig>(e, static (read, property) =>
    {
        switch (property.Name)
        {
            case "path": read.Path = String(property.Value); break;
            case "args": read.Args = List(property.Value, item => String(item)!); break;
            case "env": read.Env = List(property.Value, item => String(item)!); break;
            case "timeout": read.Timeout = NullableInt32(property.Value); break;
        }
    });
}
