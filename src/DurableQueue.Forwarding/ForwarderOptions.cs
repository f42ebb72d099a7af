using System.ComponentModel.DataAnnotations;

namespace DurableQueue.Forwarding;

/// <summary>
/// Represents the options of a forwarder: window, batches, ordering, leases, retries, circuit breaker, rate limits and health.
/// </summary>
public sealed class ForwarderOptions
{
    /// <summary>
    /// Gets or sets the most messages held by the forwarder at once: leased from the local queue and not yet acked
    /// locally. It bounds the duplicates a crash can cause, since only these can have reached the remote unacked.
    /// </summary>
    /// <value>The default value is 256.</value>
    [Range(1, 100_000)]
    public int Window { get; set; } = ForwardingDefaults.Window;

    /// <summary>Gets or sets the most messages handed to the sink in one call.</summary>
    /// <value>The default value is 100.</value>
    [Range(1, 10_000)]
    public int MaxBatchSize { get; set; } = ForwardingDefaults.MaxBatchSize;

    /// <summary>Gets or sets the most body bytes handed to the sink in one call (a larger single message goes alone).</summary>
    /// <value>The default value is 1 MiB.</value>
    [Range(1, int.MaxValue)]
    public int MaxBatchBytes { get; set; } = ForwardingDefaults.MaxBatchBytes;

    /// <summary>
    /// Gets or sets how long the forwarder waits before it leases again after a lease found fewer ready messages than
    /// it had room for (it has caught up with the app). Messages that arrive meanwhile go in one lease and one ack
    /// instead of one pair per commit of the app, which leaves the store's writer and the CPU to the app's own
    /// enqueues. A message that arrives while the forwarder waits for new ones is leased at once; only those arriving
    /// within this time after a lease wait for it. <see cref="TimeSpan.Zero"/> leases again at once.
    /// </summary>
    /// <value>The default value is 5 milliseconds.</value>
    [Range(typeof(TimeSpan), "00:00:00", "00:00:01")]
    public TimeSpan Linger { get; set; } = ForwardingDefaults.Linger;

    /// <summary>
    /// Gets or sets the header whose value is a message's ordering key. Messages with the same key reach the remote in
    /// the local queue's order; different keys are sent in parallel. Messages without the header share the key "".
    /// </summary>
    /// <value>The default value is <see langword="null"/>: unless <see cref="OrderingKey"/> is set, every message has the same key (one order for the whole queue).</value>
    public string? OrderingKeyHeader { get; set; }

    /// <summary>Gets or sets a function that computes a message's ordering key; it takes precedence over <see cref="OrderingKeyHeader"/>.</summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public Func<OutboundMessage, string>? OrderingKey { get; set; }

    /// <summary>
    /// Gets or sets how long a lease on a held message lasts; the forwarder renews it while it retries, so a message
    /// waiting for the link never spends an attempt. After a crash, held messages are found again by the next start.
    /// </summary>
    /// <value>The default value is 30 seconds.</value>
    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00")]
    public TimeSpan LeaseDuration { get; set; } = ForwardingDefaults.LeaseDuration;

    /// <summary>Gets or sets the delay before the first resend after a retryable failure; later ones grow exponentially, with jitter.</summary>
    /// <value>The default value is 200 milliseconds.</value>
    [Range(typeof(TimeSpan), "00:00:00.001", "01:00:00")]
    public TimeSpan RetryDelay { get; set; } = ForwardingDefaults.RetryDelay;

    /// <summary>Gets or sets the longest delay between resends.</summary>
    /// <value>The default value is 30 seconds.</value>
    [Range(typeof(TimeSpan), "00:00:00.001", "1.00:00:00")]
    public TimeSpan MaxRetryDelay { get; set; } = ForwardingDefaults.MaxRetryDelay;

    /// <summary>Gets or sets how long the circuit stays open (sends fail fast) after the remote kept failing, before one probe goes through.</summary>
    /// <value>The default value is 5 seconds.</value>
    [Range(typeof(TimeSpan), "00:00:00.500", "1.00:00:00")]
    public TimeSpan BreakDuration { get; set; } = ForwardingDefaults.BreakDuration;

    /// <summary>
    /// Gets or sets the most messages sent per second, or <see langword="null"/> for no limit (a metered link). The
    /// limit is a token bucket refilled every 100 ms on the system clock, holding one second's worth (the largest burst).
    /// </summary>
    /// <value>The default value is <see langword="null"/>.</value>
    [Range(1, int.MaxValue)]
    public int? MessagesPerSecond { get; set; }

    /// <summary>Gets or sets the most body bytes sent per second, or <see langword="null"/> for no limit (a metered link); a token bucket like <see cref="MessagesPerSecond"/>.</summary>
    /// <value>The default value is <see langword="null"/>.</value>
    [Range(1, int.MaxValue)]
    public int? BytesPerSecond { get; set; }

    /// <summary>
    /// Gets or sets how fast the forwarder may send while messages keep arriving in its queue, as a multiple of their
    /// arrival rate, or <see langword="null"/> to send at full speed always. Draining a backlog at full speed takes CPU
    /// and disk that the app's own enqueues need on a small device; with a pace, the forwarder leaves them room while
    /// the app writes (a backlog still shrinks by the pace minus one times the arrival rate) and drains at full speed
    /// in every quarter second without arrivals. The rate counts every process writing to the store, read from the
    /// queue's running totals on the forwarder's clock. Set it where the app enqueues near what the store can write;
    /// at low arrival rates it only slows the drain.
    /// </summary>
    /// <value>The default value is <see langword="null"/>.</value>
    [Range(1.0, 1000.0)]
    public double? PaceToArrivals { get; set; }

    /// <summary>Gets or sets how long the link may be down before the health check reports the forwarder degraded.</summary>
    /// <value>The default value is 1 minute.</value>
    [Range(typeof(TimeSpan), "00:00:00", "3650.00:00:00")]
    public TimeSpan LinkDownDegradedAfter { get; set; } = ForwardingDefaults.LinkDownDegradedAfter;

    /// <summary>Gets or sets the clock; <see langword="null"/> uses the system clock (with <c>AddForwarder</c>: the store's clock).</summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public TimeProvider? TimeProvider { get; set; }

    internal ForwarderOptions Clone() => (ForwarderOptions)MemberwiseClone();

    internal void Validate()
    {
        var results = new List<ValidationResult>();
        if (!Validator.TryValidateObject(this, new ValidationContext(this), results, validateAllProperties: true))
        {
            throw new ArgumentException(
                "The forwarder options are not valid: " + string.Join(" ", results.Select(r => r.ErrorMessage)), "options");
        }

        if (MaxRetryDelay < RetryDelay)
        {
            throw new ArgumentException("The forwarder options are not valid: MaxRetryDelay must not be shorter than RetryDelay.", "options");
        }
    }
}
