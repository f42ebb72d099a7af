using DurableQueue.Forwarding.Mqtt;

namespace DurableQueue.Forwarding;

/// <summary>Adds the MQTT sink to a forwarder registration.</summary>
public static class MqttForwarderBuilderExtensions
{
    /// <summary>Forwards to an MQTT 5 broker with QoS 1: a message is acked locally after its PUBACK.</summary>
    /// <param name="builder">The forwarder builder.</param>
    /// <param name="configure">Sets the broker, the topic and the other options.</param>
    /// <returns>The forwarder builder.</returns>
    /// <exception cref="ArgumentException">An option is invalid (checked at registration).</exception>
    public static ForwarderBuilder ToMqtt(this ForwarderBuilder builder, Action<MqttSinkOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configure);
        var options = new MqttSinkOptions();
        configure(options);
        options.ClientId ??= $"dq-{builder.QueueName}-{Guid.NewGuid():N}"[..(12 + builder.QueueName.Length)];
        options.Validate();
        return builder.ToSink(_ => new MqttSink(options));
    }
}
