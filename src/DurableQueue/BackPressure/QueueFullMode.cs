namespace DurableQueue;

/// <summary>
/// Specifies what an enqueue does when a bounded queue has no room (see <see cref="QueueOptions.MaxMessages"/> and
/// <see cref="QueueOptions.MaxBytes"/>).
/// </summary>
public enum QueueFullMode
{
    /// <summary>The enqueue waits for room, in arrival order, until it is cancelled or <see cref="QueueOptions.FullWaitTimeout"/> passes.</summary>
    Wait = 0,

    /// <summary>The enqueue fails at once with a <see cref="QueueFullException"/> carrying a retry-after estimate.</summary>
    Reject = 1,

    /// <summary>The oldest ready messages are deleted to make room (never leased or delayed ones); every drop is counted and reported.</summary>
    DropOldest = 2,
}
