using CommandLine;
using Isolate.Network;
using Isolate.State;

namespace Isolate.Cli.Commands;

[Verb("port", HelpText = "List a running container's published ports (-p), as docker port: 80/tcp -> 0.0.0.0:8080.")]
public sealed class PortOptions
{
    [Value(0, MetaName = "NAME", Required = true)]
    public string Id { get; set; } = "";

    [Value(1, MetaName = "PORT[/PROTO]", HelpText = "Only this container port: print where it is published.")]
    public string? Port { get; set; }
}

internal static class PortVerb
{
    public static int Execute(PortOptions options, GlobalOptions globals)
    {
        using (var held = globals.Store.Open(options.Id))
        {
            var state = globals.Store.Read(held);
            if (StateStore.Status(held, state) != ContainerStatus.Running)
                throw new IsolateException($"port: container {options.Id} is not running");
        }
        var ports = ContainerNetwork.PublishedBy(options.Id);
        if (options.Port is { } wanted)
        {
            string protocol = wanted.Contains('/') ? wanted[(wanted.IndexOf('/') + 1)..] : "tcp";
            string number = wanted.Contains('/') ? wanted[..wanted.IndexOf('/')] : wanted;
            var matches = ports.Where(p => p.ContainerPort.ToString(System.Globalization.CultureInfo.InvariantCulture) == number && p.Protocol == protocol).ToList();
            if (matches.Count == 0)
                throw new IsolateException($"port: container {options.Id} does not publish {number}/{protocol}");
            Output.Out(string.Concat(matches.Select(p => $"{(p.HostIp.Length == 0 ? "0.0.0.0" : p.HostIp)}:{p.HostPort}\n")));
            return 0;
        }
        Output.Out(string.Concat(ports.Select(p => p + "\n")));
        return 0;
    }
}
