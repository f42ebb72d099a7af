namespace DurableQueue.Forwarding.Tests.Servers;

/// <summary>One private RabbitMQ node for the test run (a collection fixture); a node that cannot start fails the tests with the reason.</summary>
public sealed class RabbitMqNode : IAsyncLifetime
{
    private RabbitMqServer? _server;

    public int Port => Server.Port;

    private RabbitMqServer Server => _server ?? throw new InvalidOperationException("The RabbitMQ node did not start.");

    public async Task InitializeAsync() => _server = await RabbitMqServer.StartNewAsync();

    public Task StartAsync() => Server.StartAsync();

    public Task StopAsync() => Server.StopAsync();

    public async Task DisposeAsync()
    {
        if (_server is null)
        {
            return;
        }

        await _server.DisposeAsync();
        Assert.True(_server.Leftovers.Count == 0, $"Erlang processes of the test node are still running: {string.Join(", ", _server.Leftovers)}");
    }
}

[CollectionDefinition(Name)]
public sealed class RabbitMqCollection : ICollectionFixture<RabbitMqNode>
{
    public const string Name = "RabbitMQ node";
}
