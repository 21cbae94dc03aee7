using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Isolate.Tests.Support;

/// <summary>The host's side of the network tests: its own address, and clients that retry
/// while a container's server is still starting.</summary>
public static class HostNetwork
{
    /// <summary>The host's first IPv4 address on an interface that is up, not loopback and not Isolate's.</summary>
    public static string Address() =>
        System.Net.NetworkInformation.NetworkInterface.GetAllNetworkInterfaces()
            .Where(i => i.OperationalStatus == System.Net.NetworkInformation.OperationalStatus.Up && !i.Name.StartsWith("iso", StringComparison.Ordinal)
                && i.NetworkInterfaceType != System.Net.NetworkInformation.NetworkInterfaceType.Loopback)
            .SelectMany(i => i.GetIPProperties().UnicastAddresses).Select(a => a.Address)
            .First(a => a.AddressFamily == AddressFamily.InterNetwork).ToString();

    /// <summary>GET <paramref name="url"/>, retried for 10 s while the server may not listen yet.</summary>
    public static string HttpGet(string url)
    {
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (true)
        {
            try
            {
                return client.GetStringAsync(url).GetAwaiter().GetResult();
            }
            catch (HttpRequestException) when (DateTime.UtcNow < deadline)
            {
                Thread.Sleep(100);
            }
        }
    }

    /// <summary>Sends a datagram until an answer comes (the server may still be binding), for 10 s.</summary>
    public static string UdpAsk(string address, int port, string text)
    {
        using var client = new UdpClient();
        client.Client.ReceiveTimeout = 500;
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (true)
        {
            client.Send(Encoding.ASCII.GetBytes(text), new IPEndPoint(IPAddress.Parse(address), port));
            try
            {
                IPEndPoint? from = null;
                return Encoding.ASCII.GetString(client.Receive(ref from));
            }
            catch (SocketException) when (DateTime.UtcNow < deadline)
            {
            }
        }
    }

    /// <summary>A UDP port free on the host now.</summary>
    public static int FreeUdpPort()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(IPAddress.Any, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }
}
