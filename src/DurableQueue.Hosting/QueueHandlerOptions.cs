using System.ComponentModel.DataAnnotations;

namespace DurableQueue.Hosting;

/// <summary>
/// Represents the options of the handler of one queue, bound from the <c>DurableQueue:Queues:{queue}</c> configuration
/// section and validated when the host starts.
/// </summary>
public sealed class QueueHandlerOptions
{
    /// <summary>Gets or sets how many messages of the queue are handled at the same time.</summary>
    /// <value>The default value is 1. The value must be between 1 and 1000.</value>
    [Range(1, HostingDefaults.MaxConcurrency)]
    public int Concurrency { get; set; } = HostingDefaults.Concurrency;

    /// <summary>
    /// Gets or sets how long a received message stays invisible to other consumers. While the handler runs, the lease is
    /// renewed each time 80 % of this time has passed, so it bounds how long a crashed worker holds a message.
    /// </summary>
    /// <value>The default value is 30 seconds.</value>
    [Range(typeof(TimeSpan), "00:00:00.010", "7.00:00:00")]
    public TimeSpan VisibilityTimeout { get; set; } = HostingDefaults.VisibilityTimeout;

    /// <summary>Gets or sets how many times a message is delivered before it moves to the dead-letter store.</summary>
    /// <value>The default value is 5.</value>
    [Range(1, 1_000_000)]
    public int MaxAttempts { get; set; } = HostingDefaults.MaxAttempts;

    /// <summary>
    /// Gets or sets the delay before the first retry; each further retry doubles it, up to <see cref="RetryMaxDelay"/>,
    /// and the actual delay is drawn at random between zero and that value (full jitter).
    /// </summary>
    /// <value>The default value is 1 second.</value>
    [Range(typeof(TimeSpan), "00:00:00", "1.00:00:00")]
    public TimeSpan RetryBaseDelay { get; set; } = HostingDefaults.RetryBaseDelay;

    /// <summary>Gets or sets the cap of the retry delay.</summary>
    /// <value>The default value is 5 minutes.</value>
    [Range(typeof(TimeSpan), "00:00:00", "7.00:00:00")]
    public TimeSpan RetryMaxDelay { get; set; } = HostingDefaults.RetryMaxDelay;

    internal QueueHandlerOptions Clone() => (QueueHandlerOptions)MemberwiseClone();

    internal QueueOptions ToQueueOptions() => new() { VisibilityTimeout = VisibilityTimeout, MaxAttempts = MaxAttempts };
}
