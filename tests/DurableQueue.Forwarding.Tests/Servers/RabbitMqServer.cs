using System.Globalization;

namespace DurableQueue.Forwarding.Tests.Servers;

/// <summary>
/// A private RabbitMQ node for the whole test run (it takes seconds to start): its own node name, AMQP, distribution
/// and epmd ports on 127.0.0.1, its data, logs and config in a temp folder. It runs as the current user (root in CI)
/// by starting the server script itself rather than the wrapper that switches to the 'rabbitmq' user. The epmd it
/// needs is started here too, as a child, so that stopping leaves no Erlang process behind.
/// </summary>
internal sealed class RabbitMqServer : IAsyncDisposable
{
    private const string Server = "/usr/lib/rabbitmq/bin/rabbitmq-server";
    private const string Epmd = "/usr/bin/epmd";

    private readonly string _directory = Directory.CreateTempSubdirectory("dq-rabbitmq-").FullName;
    private readonly string _nodeName = $"dq{Guid.NewGuid():N}"[..14] + "@localhost";
    private Dictionary<string, string> _environment = [];
    private ServerProcess? _epmd;
    private ServerProcess? _server;

    public int Port { get; } = ServerProcess.FreePort();

    public static async Task<RabbitMqServer> StartNewAsync()
    {
        var server = new RabbitMqServer();
        try
        {
            await server.InitializeAsync();
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    private async Task InitializeAsync()
    {
        var epmdPort = ServerProcess.FreePort();
        var distPort = ServerProcess.FreePort();
        Directory.CreateDirectory(Path.Combine(_directory, "mnesia"));
        Directory.CreateDirectory(Path.Combine(_directory, "log"));
        await File.WriteAllTextAsync(Path.Combine(_directory, "rabbitmq.conf"), $"listeners.tcp.default = 127.0.0.1:{Port}\n");
        await File.WriteAllTextAsync(Path.Combine(_directory, "enabled_plugins"), "[].\n");
        await File.WriteAllTextAsync(Path.Combine(_directory, "rabbitmq-env.conf"), "");
        _environment = new Dictionary<string, string>
        {
            ["HOME"] = _directory,
            ["RABBITMQ_NODENAME"] = _nodeName,
            ["RABBITMQ_NODE_IP_ADDRESS"] = "127.0.0.1",
            ["RABBITMQ_NODE_PORT"] = Port.ToString(CultureInfo.InvariantCulture),
            ["RABBITMQ_DIST_PORT"] = distPort.ToString(CultureInfo.InvariantCulture),
            ["RABBITMQ_MNESIA_BASE"] = Path.Combine(_directory, "mnesia"),
            ["RABBITMQ_LOG_BASE"] = Path.Combine(_directory, "log"),
            ["RABBITMQ_CONFIG_FILE"] = Path.Combine(_directory, "rabbitmq"),
            ["RABBITMQ_ENABLED_PLUGINS_FILE"] = Path.Combine(_directory, "enabled_plugins"),
            ["RABBITMQ_CONF_ENV_FILE"] = Path.Combine(_directory, "rabbitmq-env.conf"),
            // Distribution on loopback only.
            ["RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS"] = "-kernel inet_dist_use_interface {127,0,0,1}",
            ["ERL_EPMD_ADDRESS"] = "127.0.0.1",
            ["ERL_EPMD_PORT"] = epmdPort.ToString(CultureInfo.InvariantCulture),
        };
        _epmd = await ServerProcess.StartAsync(
            Epmd, ["-port", epmdPort.ToString(CultureInfo.InvariantCulture), "-address", "127.0.0.1", "-d"], "epmd running", TimeSpan.FromSeconds(20), _environment);
        await StartAsync();
    }

    /// <summary>Starts the node (again, with the same data: durable queues and persistent messages survive).</summary>
    public async Task StartAsync()
    {
        _server?.Dispose();
        _server = await ServerProcess.StartAsync(Server, [], "Starting broker... completed", TimeSpan.FromSeconds(90), _environment, _directory);
    }

    /// <summary>Stops the node as an operator would (SIGTERM: the script asks the VM to shut down cleanly).</summary>
    public Task StopAsync() => _server?.StopAsync(TimeSpan.FromSeconds(60)) ?? Task.CompletedTask;

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _server?.Dispose();
        if (_epmd is not null)
        {
            await _epmd.StopAsync(TimeSpan.FromSeconds(10));
            _epmd.Dispose();
        }

        Leftovers = ErlangProcessesOf(_nodeName);
        Directory.Delete(_directory, recursive: true);
    }

    /// <summary>After dispose: the Erlang processes of this node still running (none, when all went well).</summary>
    public IReadOnlyList<int> Leftovers { get; private set; } = [];

    /// <summary>Gets the node's processes now (the benchmark reads their CPU time).</summary>
    public IReadOnlyList<int> ProcessIds => ErlangProcessesOf(_nodeName);

    /// <summary>The Erlang processes (beam, epmd, helpers) whose command line names this node or this node's folder.</summary>
    private List<int> ErlangProcessesOf(string nodeName)
    {
        var found = new List<int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), CultureInfo.InvariantCulture, out var pid))
            {
                continue;
            }

            try
            {
                var commandLine = File.ReadAllText(Path.Combine(dir, "cmdline")).Replace('\0', ' ');
                if (commandLine.Contains(nodeName.Split('@')[0], StringComparison.Ordinal) || commandLine.Contains(_directory, StringComparison.Ordinal))
                {
                    found.Add(pid);
                }
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }

        return found;
    }
}
