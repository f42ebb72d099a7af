using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using DurableQueue;
using Microsoft.Extensions.Hosting;
using MQTTnet;
using MQTTnet.Protocol;

namespace EdgeGateway;

internal sealed record Settings((string Host, int Port)? Broker, int Seconds)
{
    public static Settings Parse(string[] args)
    {
        (string, int)? broker = null;
        var seconds = 20;
        for (var i = 0; i + 1 < args.Length; i++)
        {
            if (args[i] == "--broker")
            {
                var parts = args[i + 1].Split(':');
                broker = (parts[0], parts.Length > 1 ? int.Parse(parts[1], CultureInfo.InvariantCulture) : 1883);
            }
            else if (args[i] == "--seconds")
            {
                seconds = int.Parse(args[i + 1], CultureInfo.InvariantCulture);
            }
        }

        return new Settings(broker, seconds);
    }
}

/// <summary>Four devices record a reading every 250 ms each, into the local queue: no network involved.</summary>
internal sealed class Sensors(QueueStore store) : BackgroundService
{
    private static int s_recorded;

    public static int Recorded => Volatile.Read(ref s_recorded);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var queue = store.GetQueue("readings");
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(250));
        var sequence = 0;
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            sequence++;
            for (var device = 1; device <= 4; device++)
            {
                var reading = string.Create(CultureInfo.InvariantCulture, $"{{\"seq\":{sequence},\"celsius\":{20 + Random.Shared.NextDouble() * 5:0.00}}}");
                await queue.EnqueueAsync(reading, new EnqueueOptions { Headers = new Dictionary<string, string> { ["device"] = $"sensor-{device}" } }, stoppingToken);
                Interlocked.Increment(ref s_recorded);
            }
        }
    }
}

/// <summary>The central side: a subscriber that counts the readings it gets, dropping duplicates by message id.</summary>
internal sealed class CentralSystem : IAsyncDisposable
{
    private readonly IMqttClient _client;
    private readonly HashSet<string> _seen = [];
    private int _duplicates;

    private CentralSystem(IMqttClient client) => _client = client;

    public int Distinct
    {
        get
        {
            lock (_seen)
            {
                return _seen.Count;
            }
        }
    }

    public int Duplicates => Volatile.Read(ref _duplicates);

    public static async Task<CentralSystem?> TryConnectAsync(string host, int port)
    {
        var client = new MqttClientFactory().CreateMqttClient();
        var central = new CentralSystem(client);
        client.ApplicationMessageReceivedAsync += e =>
        {
            var id = e.ApplicationMessage.UserProperties?.FirstOrDefault(p => p.Name == "message-id") is { } p ? Encoding.UTF8.GetString(p.ValueBuffer.Span) : "";
            lock (central._seen)
            {
                if (!central._seen.Add(id))
                {
                    central._duplicates++;
                }
            }

            return Task.CompletedTask;
        };
        try
        {
            // A persistent session: the broker keeps the subscription, and what arrives meanwhile, while we are away.
            var options = new MqttClientOptionsBuilder().WithTcpServer(host, port).WithProtocolVersion(MQTTnet.Formatter.MqttProtocolVersion.V500)
                .WithClientId("central-" + Environment.ProcessId).WithCleanStart(false).WithSessionExpiryInterval(600).WithTimeout(TimeSpan.FromSeconds(2)).Build();
            await client.ConnectAsync(options);
            await client.SubscribeAsync(new MqttClientSubscribeOptionsBuilder().WithTopicFilter("plant/#", MqttQualityOfServiceLevel.AtLeastOnce).Build());
            client.DisconnectedAsync += async _ =>
            {
                // Reconnect while the broker comes back (the demo restarts it).
                for (var i = 0; i < 100 && !client.IsConnected; i++)
                {
                    try
                    {
                        await Task.Delay(200);
                        await client.ConnectAsync(options);
                    }
                    catch (Exception ex) when (ex is MQTTnet.Exceptions.MqttCommunicationException or OperationCanceledException or InvalidOperationException)
                    {
                    }
                }
            };
            return central;
        }
        catch (Exception ex) when (ex is MQTTnet.Exceptions.MqttCommunicationException or OperationCanceledException)
        {
            Console.WriteLine($"The central subscriber could not connect to {host}:{port} ({ex.Message}); the gateway records offline.");
            client.Dispose();
            return null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (_client.IsConnected)
            {
                await _client.DisconnectAsync(new MqttClientDisconnectOptionsBuilder().Build());
            }
        }
        catch (MQTTnet.Exceptions.MqttCommunicationException)
        {
        }

        _client.Dispose();
    }
}

/// <summary>A private mosquitto on a free loopback port, when mosquitto is installed (persistence on, so it keeps the central session across its restart).</summary>
internal sealed class LocalBroker : IAsyncDisposable
{
    private readonly string _directory;
    private readonly string _config;
    private Process? _process;

    private LocalBroker(string directory, string config, int port)
    {
        _directory = directory;
        _config = config;
        Port = port;
    }

    public int Port { get; }

    public static async Task<LocalBroker?> TryStartAsync()
    {
        var binary = new[] { "/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto", "/opt/homebrew/sbin/mosquitto" }.FirstOrDefault(File.Exists);
        if (binary is null)
        {
            return null;
        }

        var directory = Directory.CreateTempSubdirectory("edge-gateway-broker-").FullName;
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        var config = Path.Combine(directory, "mosquitto.conf");
        var lines = new List<string> { $"listener {port} 127.0.0.1", "allow_anonymous true", "persistence true", $"persistence_location {directory}/", "log_dest stderr" };
        if (Environment.UserName == "root")
        {
            lines.Add("user root");
        }

        await File.WriteAllLinesAsync(config, lines);
        var broker = new LocalBroker(directory, config, port) { };
        broker._binary = binary;
        if (!await broker.StartAgainAsync())
        {
            await broker.DisposeAsync();
            return null;
        }

        Console.WriteLine($"Started a private mosquitto on 127.0.0.1:{port} (it stops with the sample).");
        return broker;
    }

    private string _binary = "";

    public async Task<bool> StartAgainAsync()
    {
        if (_process is { HasExited: false })
        {
            // Running already: a second broker could not take the port, and the first would be left behind.
            return true;
        }

        _process?.Dispose();
        var info = new ProcessStartInfo(_binary, ["-c", _config]) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        var process = Process.Start(info)!;
        var ready = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data?.Contains(" running", StringComparison.Ordinal) == true)
            {
                ready.TrySetResult(true);
            }
        };
        process.EnableRaisingEvents = true;
        process.Exited += (_, _) => ready.TrySetResult(false);
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        _process = process;
        return await ready.Task.WaitAsync(TimeSpan.FromSeconds(10)).ContinueWith(t => t.IsCompletedSuccessfully && t.Result, TaskScheduler.Default);
    }

    public async Task StopAsync()
    {
        if (_process is { HasExited: false } process)
        {
            using (var term = Process.Start("kill", ["-TERM", process.Id.ToString(CultureInfo.InvariantCulture)]))
            {
                await term.WaitForExitAsync();
            }

            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            try
            {
                await process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill();
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _process?.Dispose();
        Directory.Delete(_directory, recursive: true);
    }
}
