namespace DurableQueue.Internal;

/// <summary>Every default value of the options, in one place.</summary>
internal static class Defaults
{
    public const int MaxMessageBytes = 1024 * 1024;
    public const int MaxMessageBytesLimit = 256 * 1024 * 1024;
    public static readonly TimeSpan BusyTimeout = TimeSpan.FromSeconds(30);
    public static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(250);
    public static readonly TimeSpan MaintenanceInterval = TimeSpan.FromSeconds(30);
    public const long JournalSizeLimitBytes = 64L * 1024 * 1024;
    public const int WalAutoCheckpointPages = 1000;
    public const int MaxWriteBatch = 512;
    public const long MemoryBudgetBytes = 64L * 1024 * 1024;
    public const int MemoryTierMaxMessageBytes = 64 * 1024;

    public static readonly TimeSpan VisibilityTimeout = TimeSpan.FromSeconds(30);
    public const int MaxAttempts = 5;
    public const int MaxAttemptsLimit = 1_000_000;

    public const int Priority = 4;
    public const int MinPriority = 0;
    public const int MaxPriority = 9;

    public const int MaxReceiveBatch = 1000;
    public const int MaxQueueNameLength = 128;
    public const int MaxDeduplicationKeyLength = 512;
    public const int PurgeChunk = 5000;
}
