[assembly: System.Runtime.CompilerServices.InternalsVisibleTo("Isolate.Tests")]
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
