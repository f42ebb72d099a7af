using RabbitMQ.Client;

namespace DurableQueue.Forwarding.RabbitMq;

/// <summary>Represents the options of a <see cref="RabbitMqSink"/>: the broker, the exchange and the routing key.</summary>
public sealed class RabbitMqSinkOptions
{
    /// <summary>Gets or sets the broker's host name or address.</summary>
    /// <value>The default value is <c>localhost</c>.</value>
    public string HostName { get; set; } = "localhost";

    /// <summary>Gets or sets the broker's AMQP port.</summary>
    /// <value>The default value is 5672.</value>
    public int Port { get; set; } = 5672;

    /// <summary>Gets or sets the virtual host.</summary>
    /// <value>The default value is <c>/</c>.</value>
    public string VirtualHost { get; set; } = "/";

    /// <summary>Gets or sets the user name.</summary>
    /// <value>The default value is <c>guest</c>.</value>
    public string UserName { get; set; } = "guest";

    /// <summary>Gets or sets the password.</summary>
    /// <value>The default value is <c>guest</c>.</value>
    public string Password { get; set; } = "guest";

    /// <summary>Gets or sets the exchange to publish to; "" is the default exchange (the routing key names a queue).</summary>
    /// <value>The default value is "".</value>
    public string Exchange { get; set; } = "";

    /// <summary>Gets or sets the routing key of every message, unless <see cref="RoutingKeySelector"/> is set.</summary>
    /// <value>The default value is <see langword="null"/>; a routing key or a selector is required.</value>
    public string? RoutingKey { get; set; }

    /// <summary>Gets or sets a function that picks each message's routing key (for example from a header).</summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public Func<OutboundMessage, string>? RoutingKeySelector { get; set; }

    /// <summary>
    /// Gets or sets a value indicating whether messages are published as mandatory: a message no queue is bound for
    /// comes back from the broker and is dead-lettered locally (a refusal for good) instead of being dropped.
    /// </summary>
    /// <value>The default value is <see langword="true"/>.</value>
    public bool Mandatory { get; set; } = true;

    /// <summary>Gets or sets a value indicating whether messages are persistent (delivery mode 2), so that a durable queue keeps them across a broker restart.</summary>
    /// <value>The default value is <see langword="true"/>.</value>
    public bool Persistent { get; set; } = true;

    /// <summary>Gets or sets how long a connect, or the wait for one publisher confirm, may take before the send counts as failed (and is retried).</summary>
    /// <value>The default value is 10 seconds.</value>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Gets or sets a callback that adjusts the client's connection factory (TLS, heartbeats, ...), or <see langword="null"/>.</summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public Action<ConnectionFactory>? ConfigureFactory { get; set; }

    internal void Validate()
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(HostName, nameof(HostName));
        if (Port is < 1 or > 65535)
        {
            throw new ArgumentOutOfRangeException(nameof(Port), Port, "The AMQP port must be from 1 to 65535.");
        }

        ArgumentNullException.ThrowIfNull(Exchange, nameof(Exchange));
        if (RoutingKeySelector is null && RoutingKey is null)
        {
            throw new ArgumentException("A RabbitMQ sink needs a RoutingKey or a RoutingKeySelector.", nameof(RoutingKey));
        }

        if (Timeout <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(Timeout), Timeout, "The RabbitMQ timeout must be positive.");
        }
    }

    internal RabbitMqSinkOptions Clone() => (RabbitMqSinkOptions)MemberwiseClone();
}
