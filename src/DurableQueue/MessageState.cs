namespace DurableQueue;

/// <summary>
/// Specifies where a message stands in its queue.
/// </summary>
public enum MessageState
{
    /// <summary>The message can be received now.</summary>
    Ready = 0,

    /// <summary>The message becomes ready later: it was enqueued with a delay, or nacked with one.</summary>
    Delayed = 1,

    /// <summary>The message is held by a consumer under a lease that has not expired.</summary>
    Leased = 2,
}
