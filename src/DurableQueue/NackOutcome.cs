namespace DurableQueue;

/// <summary>
/// Specifies what a nack did with the message.
/// </summary>
public enum NackOutcome
{
    /// <summary>The message will be delivered again after the retry delay.</summary>
    Retrying = 0,

    /// <summary>That was the last allowed attempt: the message moved to the dead-letter store.</summary>
    DeadLettered = 1,
}
