using DurableQueue.Forwarding.RabbitMq;

namespace DurableQueue.Forwarding;

/// <summary>Adds the RabbitMQ sink to a forwarder registration.</summary>
public static class RabbitMqForwarderBuilderExtensions
{
    /// <summary>Forwards to a RabbitMQ exchange with publisher confirms: a message is acked locally after the broker's confirm.</summary>
    /// <param name="builder">The forwarder builder.</param>
    /// <param name="configure">Sets the broker, the exchange, the routing key and the other options.</param>
    /// <returns>The forwarder builder.</returns>
    /// <exception cref="ArgumentException">An option is invalid (checked at registration).</exception>
    public static ForwarderBuilder ToRabbitMq(this ForwarderBuilder builder, Action<RabbitMqSinkOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configure);
        var options = new RabbitMqSinkOptions();
        configure(options);
        options.Validate();
        return builder.ToSink(_ => new RabbitMqSink(options));
    }
}
