using System.Diagnostics.Metrics;
using DurableQueue.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace DurableQueue.Forwarding;

/// <summary>Runs one forwarder as a hosted service: creates its sink at start, runs it, disposes the sink at stop.</summary>
internal sealed class ForwarderService : BackgroundService
{
    private readonly string _queueName;
    private readonly Func<IServiceProvider, IMessageSink> _sinkFactory;
    private readonly IServiceProvider _services;

    public ForwarderService(string queueName, Func<IServiceProvider, IMessageSink> sinkFactory, IServiceProvider services)
    {
        _queueName = queueName;
        _sinkFactory = sinkFactory;
        _services = services;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var options = _services.GetRequiredService<IOptionsMonitor<ForwarderOptions>>().Get(_queueName).Clone();
        options.TimeProvider ??= _services.GetRequiredService<IOptions<DurableQueueOptions>>().Value.TimeProvider
            ?? _services.GetService<TimeProvider>();
        var store = _services.GetRequiredService<QueueStore>();
        var registry = _services.GetRequiredService<ForwarderRegistry>();
        var sink = _sinkFactory(_services);
        await using (sink.ConfigureAwait(false))
        {
            var forwarder = new Forwarder(
                _queueName, store.GetQueue(_queueName), sink, options,
                _services.GetRequiredService<ILoggerFactory>().CreateLogger("DurableQueue.Forwarding.Forwarder"),
                _services.GetService<IMeterFactory>());
            registry.Add(forwarder);
            try
            {
                await forwarder.RunAsync(stoppingToken).ConfigureAwait(false);
            }
            finally
            {
                registry.Remove(forwarder);
            }
        }
    }
}
