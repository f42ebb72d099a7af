namespace DurableQueue;

/// <summary>
/// Counts the messages of one queue by state.
/// </summary>
/// <param name="Ready">Messages that can be received now (including those whose lease expired).</param>
/// <param name="Delayed">Messages that become ready later.</param>
/// <param name="Leased">Messages held under a lease that has not expired.</param>
/// <param name="DeadLettered">Messages in the queue's dead-letter store.</param>
/// <param name="OldestReadyEnqueuedAt">The enqueue time of the oldest ready message, or <see langword="null"/> when none is ready.</param>
public readonly record struct QueueCounts(long Ready, long Delayed, long Leased, long DeadLettered, DateTimeOffset? OldestReadyEnqueuedAt)
{
    /// <summary>Gets the number of messages in the queue that are not dead-lettered.</summary>
    public long Total => Ready + Delayed + Leased;
}
