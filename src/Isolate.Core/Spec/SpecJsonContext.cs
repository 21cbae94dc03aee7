using System.Text.Json.Serialization;

namespace Isolate.Spec;

/// <summary>A launched container's spec as it is kept beside its state (spec.json): written
/// by the face that made it, read by run -d's monitor and by exec. Tuples need fields.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, IncludeFields = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ContainerSpec))]
internal sealed partial class SpecJsonContext : JsonSerializerContext;
