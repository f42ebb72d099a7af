using MQTTnet;

namespace DurableQueue.Forwarding.Mqtt;

/// <summary>Represents the options of an <see cref="MqttSink"/>: the broker, the topic, and which refusals are final.</summary>
public sealed class MqttSinkOptions
{
    /// <summary>Gets or sets the broker's host name or address.</summary>
    /// <value>The default value is <c>localhost</c>.</value>
    public string Host { get; set; } = "localhost";

    /// <summary>Gets or sets the broker's TCP port.</summary>
    /// <value>The default value is 1883.</value>
    public int Port { get; set; } = 1883;

    /// <summary>Gets or sets the topic every message is published to, unless <see cref="TopicSelector"/> is set.</summary>
    /// <value>The default value is <see langword="null"/>; a topic or a selector is required.</value>
    public string? Topic { get; set; }

    /// <summary>Gets or sets a function that picks each message's topic (for example from a header); a message whose topic is invalid is dead-lettered.</summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public Func<OutboundMessage, string>? TopicSelector { get; set; }

    /// <summary>Gets or sets the client id; <see langword="null"/> makes one from the queue name and a random suffix.</summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public string? ClientId { get; set; }

    /// <summary>Gets or sets the user name, or <see langword="null"/> to connect without one.</summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public string? Username { get; set; }

    /// <summary>Gets or sets the password, or <see langword="null"/>.</summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public string? Password { get; set; }

    /// <summary>Gets or sets a value indicating whether the connection uses TLS.</summary>
    /// <value>The default value is <see langword="false"/>.</value>
    public bool UseTls { get; set; }

    /// <summary>Gets or sets the name of the MQTT 5 user property that carries the message id (for receivers to drop duplicates).</summary>
    /// <value>The default value is <c>message-id</c>.</value>
    public string MessageIdProperty { get; set; } = "message-id";

    /// <summary>Gets or sets a value indicating whether the local message's headers travel as MQTT 5 user properties.</summary>
    /// <value>The default value is <see langword="true"/>.</value>
    public bool HeadersAsUserProperties { get; set; } = true;

    /// <summary>Gets or sets a value indicating whether messages are published with the retain flag.</summary>
    /// <value>The default value is <see langword="false"/>.</value>
    public bool Retain { get; set; }

    /// <summary>Gets or sets how long a connect, or the wait for one PUBACK, may take before the send counts as failed (and is retried).</summary>
    /// <value>The default value is 10 seconds.</value>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Gets or sets the keep-alive interval, which also bounds how long a silently dead connection goes unnoticed.</summary>
    /// <value>The default value is 15 seconds.</value>
    public TimeSpan KeepAlive { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>
    /// Gets the PUBACK reason codes that refuse a message for good (it is dead-lettered); any other failure code is
    /// retried.
    /// </summary>
    /// <value>The default set is NotAuthorized, TopicNameInvalid and PayloadFormatInvalid.</value>
    public ISet<MqttClientPublishReasonCode> PermanentReasonCodes { get; } = new HashSet<MqttClientPublishReasonCode>
    {
        MqttClientPublishReasonCode.NotAuthorized,
        MqttClientPublishReasonCode.TopicNameInvalid,
        MqttClientPublishReasonCode.PayloadFormatInvalid,
    };

    /// <summary>Gets or sets a callback that adjusts the MQTTnet client options (TLS details, credentials, ...), or <see langword="null"/>.</summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public Action<MqttClientOptionsBuilder>? ConfigureClient { get; set; }

    internal void Validate()
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(Host, nameof(Host));
        if (Port is < 1 or > 65535)
        {
            throw new ArgumentOutOfRangeException(nameof(Port), Port, "The MQTT port must be from 1 to 65535.");
        }

        if (TopicSelector is null && string.IsNullOrWhiteSpace(Topic))
        {
            throw new ArgumentException("An MQTT sink needs a Topic or a TopicSelector.", nameof(Topic));
        }

        ArgumentException.ThrowIfNullOrWhiteSpace(MessageIdProperty, nameof(MessageIdProperty));
        if (Timeout <= TimeSpan.Zero || KeepAlive < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(Timeout), "The MQTT timeout must be positive and the keep-alive not negative.");
        }
    }
}
