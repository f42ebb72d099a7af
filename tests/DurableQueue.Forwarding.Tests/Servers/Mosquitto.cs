namespace DurableQueue.Forwarding.Tests.Servers;

/// <summary>
/// A private mosquitto broker on 127.0.0.1 and a free port, with its config (and persistence, when asked) in a temp
/// folder. Persistence lets a subscriber's session survive a stop and start of the broker (the link-loss tests).
/// </summary>
internal sealed class Mosquitto : IAsyncDisposable
{
    public const string Binary = "/usr/sbin/mosquitto";

    private readonly string _directory;
    private readonly string _config;
    private ServerProcess? _process;

    private Mosquitto(string directory, string config, int port)
    {
        _directory = directory;
        _config = config;
        Port = port;
    }

    public int Port { get; }

    public bool Running => _process is { HasExited: false };

    /// <summary>Gets the broker's process id (the benchmark reads its CPU time).</summary>
    public int ProcessId => _process?.Id ?? 0;

    /// <param name="persistence">Keep sessions and queued messages across a stop and start.</param>
    /// <param name="denyTopic">A topic filter that anonymous clients may not publish to (the broker answers PUBACK 0x87).</param>
    /// <param name="messageSizeLimit">The largest payload the broker takes (it answers a larger one with PUBACK 0x95), or 0 for none.</param>
    public static async Task<Mosquitto> StartAsync(bool persistence = false, string? denyTopic = null, int messageSizeLimit = 0)
    {
        var directory = Directory.CreateTempSubdirectory("dq-mosquitto-").FullName;
        var port = ServerProcess.FreePort();
        var lines = new List<string>
        {
            $"listener {port} 127.0.0.1",
            "allow_anonymous true",
            $"persistence {(persistence ? "true" : "false")}",
            $"persistence_location {directory}/",
            "log_dest stderr",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_type information",
            "max_queued_messages 0",
            "max_inflight_messages 100",
        };
        if (messageSizeLimit > 0)
        {
            lines.Add($"message_size_limit {messageSizeLimit}");
        }

        if (Environment.UserName == "root")
        {
            // Stay root: the default drops to the 'mosquitto' user, which cannot read a root-owned temp folder.
            lines.Add("user root");
        }

        if (denyTopic is not null)
        {
            var acl = Path.Combine(directory, "acl");
            // Anonymous clients get the rules above any 'user' line: read everything, write all but the denied topics.
            await File.WriteAllTextAsync(acl, $"topic read #\ntopic write ok/#\ntopic write fwd/#\n");
            lines.Add($"acl_file {acl}");
        }

        var config = Path.Combine(directory, "mosquitto.conf");
        await File.WriteAllLinesAsync(config, lines);
        var broker = new Mosquitto(directory, config, port);
        await broker.StartAgainAsync();
        return broker;
    }

    /// <summary>Starts the broker (again) on the same port and config.</summary>
    public async Task StartAgainAsync()
    {
        _process?.Dispose();
        _process = await ServerProcess.StartAsync(Binary, ["-c", _config], " running", TimeSpan.FromSeconds(20));
    }

    /// <summary>Stops the broker as an operator would (SIGTERM): it saves its persistence file and exits.</summary>
    public Task StopAsync() => _process?.StopAsync(TimeSpan.FromSeconds(10)) ?? Task.CompletedTask;

    public async ValueTask DisposeAsync()
    {
        if (_process is not null)
        {
            await _process.StopAsync(TimeSpan.FromSeconds(5));
            _process.Dispose();
        }

        Directory.Delete(_directory, recursive: true);
    }
}
