using Microsoft.Extensions.DependencyInjection;

namespace DurableQueue.Forwarding;

/// <summary>
/// Configures one forwarder registered with <c>AddForwarder</c>: its options and its sink (the transport packages add
/// <c>ToMqtt</c>, <c>ToRabbitMq</c> and <c>ToHttp</c>).
/// </summary>
public sealed class ForwarderBuilder
{
    internal ForwarderBuilder(IServiceCollection services, string queueName)
    {
        Services = services;
        QueueName = queueName;
    }

    /// <summary>Gets the service collection.</summary>
    public IServiceCollection Services { get; }

    /// <summary>Gets the name of the forwarded queue (and of the forwarder).</summary>
    public string QueueName { get; }

    internal Func<IServiceProvider, IMessageSink>? SinkFactory { get; private set; }

    /// <summary>Sets the forwarder's options, after those bound from <c>DurableQueue:Forwarders:{queue}</c>.</summary>
    /// <param name="configure">Sets the options.</param>
    /// <returns>This builder.</returns>
    public ForwarderBuilder Configure(Action<ForwarderOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        Services.Configure(QueueName, configure);
        return this;
    }

    /// <summary>Sends to a sink made by a factory; the forwarder's hosted service creates it at start and disposes it at stop.</summary>
    /// <param name="factory">Creates the sink from the container.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">A sink is set already.</exception>
    public ForwarderBuilder ToSink(Func<IServiceProvider, IMessageSink> factory)
    {
        ArgumentNullException.ThrowIfNull(factory);
        if (SinkFactory is not null)
        {
            throw new InvalidOperationException($"The forwarder of queue '{QueueName}' has a sink already; a forwarder sends to one sink.");
        }

        SinkFactory = factory;
        return this;
    }

    /// <summary>Sends to a sink of a type created from the container (with its constructor's services).</summary>
    /// <typeparam name="TSink">The sink type.</typeparam>
    /// <returns>This builder.</returns>
    public ForwarderBuilder ToSink<TSink>()
        where TSink : class, IMessageSink =>
        ToSink(static sp => ActivatorUtilities.CreateInstance<TSink>(sp));
}
