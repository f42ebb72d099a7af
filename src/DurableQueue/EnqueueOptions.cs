using DurableQueue.Internal;

namespace DurableQueue;

/// <summary>
/// Represents the options of one enqueued message.
/// </summary>
public sealed class EnqueueOptions
{
    /// <summary>The most urgent priority.</summary>
    public const int HighestPriority = Defaults.MinPriority;

    /// <summary>The least urgent priority.</summary>
    public const int LowestPriority = Defaults.MaxPriority;

    /// <summary>The priority of a message whose options do not set one.</summary>
    public const int DefaultPriority = Defaults.Priority;

    /// <summary>
    /// Gets or sets the priority, from 0 (most urgent, delivered first) to 9 (least urgent).
    /// </summary>
    /// <value>The default value is 4.</value>
    public int Priority { get; set; } = DefaultPriority;

    /// <summary>
    /// Gets or sets how long after the commit the message becomes visible to consumers.
    /// </summary>
    /// <value>The default value is <see langword="null"/>: visible at once. Set this or <see cref="NotBefore"/>, not both.</value>
    public TimeSpan? Delay { get; set; }

    /// <summary>
    /// Gets or sets the earliest time at which the message becomes visible to consumers.
    /// </summary>
    /// <value>The default value is <see langword="null"/>: visible at once. Set this or <see cref="Delay"/>, not both: an enqueue with both is refused with an <see cref="ArgumentException"/>.</value>
    public DateTimeOffset? NotBefore { get; set; }

    /// <summary>
    /// Gets or sets how many times the message is delivered before it moves to the dead-letter store.
    /// </summary>
    /// <value>The default value is <see langword="null"/>: the queue's <see cref="QueueOptions.MaxAttempts"/>.</value>
    public int? MaxAttempts { get; set; }

    /// <summary>
    /// Gets or sets a key that makes the enqueue idempotent: while a message with the same key is in the
    /// queue (ready, delayed or leased), enqueueing another one returns the existing message's id and adds nothing.
    /// </summary>
    /// <value>The default value is <see langword="null"/>: no deduplication.</value>
    public string? DeduplicationKey { get; set; }

    /// <summary>
    /// Gets or sets headers stored with the message and handed back on receive.
    /// </summary>
    /// <value>The default value is <see langword="null"/>: no headers. Keys and values must not be <see langword="null"/>: an enqueue with a null value is refused with an <see cref="ArgumentException"/>.</value>
    public IReadOnlyDictionary<string, string>? Headers { get; set; }
}
