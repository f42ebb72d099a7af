namespace DurableQueue;

/// <summary>
/// The reasons the store records when it dead-letters a message by itself.
/// </summary>
public static class DeadLetterReasons
{
    /// <summary>The message was nacked on its last allowed attempt.</summary>
    public const string LastAttemptFailed = "The last allowed attempt failed.";

    /// <summary>The lease of the last allowed attempt expired without a settle.</summary>
    public const string LastLeaseExpired = "The lease of the last allowed attempt expired.";
}
