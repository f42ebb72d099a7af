namespace DurableQueue;

/// <summary>
/// Specifies which bound of a queue an enqueue did not fit.
/// </summary>
public enum QueueLimit
{
    /// <summary>The number of messages, <see cref="QueueOptions.MaxMessages"/>.</summary>
    MaxMessages = 0,

    /// <summary>The total body size, <see cref="QueueOptions.MaxBytes"/>.</summary>
    MaxBytes = 1,
}
