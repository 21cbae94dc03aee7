[assembly: System.Runtime.CompilerServices.InternalsVisibleTo("Isolate.Tests")]
