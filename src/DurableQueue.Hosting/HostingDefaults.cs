namespace DurableQueue.Hosting;

/// <summary>Every default value of the hosting options, in one place.</summary>
internal static class HostingDefaults
{
    public const string SectionName = "DurableQueue";
    public const int Concurrency = 1;
    public const int MaxConcurrency = 1000;
    public static readonly TimeSpan VisibilityTimeout = TimeSpan.FromSeconds(30);
    public const int MaxAttempts = 5;
    public static readonly TimeSpan RetryBaseDelay = TimeSpan.FromSeconds(1);
    public static readonly TimeSpan RetryMaxDelay = TimeSpan.FromMinutes(5);

    /// <summary>A running handler's lease is renewed when this share of the visibility timeout has passed.</summary>
    public const double LeaseRenewalFraction = 0.8;

    /// <summary>How often a lease renewal loop compares the wall clock with the monotonic clock, to renew at once after a jump or a sleep.</summary>
    public static readonly TimeSpan ClockCheckInterval = TimeSpan.FromSeconds(1);

    /// <summary>How long one receive call waits for a message before the worker loops (it wakes at once on arrivals).</summary>
    public static readonly TimeSpan ReceiveWait = TimeSpan.FromSeconds(30);

    public static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(250);
    public static readonly TimeSpan BusyTimeout = TimeSpan.FromSeconds(30);
    public static readonly TimeSpan JobRetention = TimeSpan.FromDays(1);
    public static readonly TimeSpan CleanupInterval = TimeSpan.FromMinutes(1);
    public static readonly TimeSpan JobPollInterval = TimeSpan.FromSeconds(1);
    public static readonly TimeSpan MonitorInterval = TimeSpan.FromSeconds(15);
    public static readonly TimeSpan SchedulerMaxSleep = TimeSpan.FromMinutes(1);

    public static readonly TimeSpan OldestMessageAgeDegraded = TimeSpan.FromMinutes(1);
    public static readonly TimeSpan OldestMessageAgeUnhealthy = TimeSpan.FromMinutes(10);
    public static readonly TimeSpan DeadLetterWindow = TimeSpan.FromMinutes(5);
    public const long NewDeadLettersDegraded = 5;

    /// <summary>The longest error text (type and message) kept with a failed attempt.</summary>
    public const int MaxErrorLength = 1000;

    /// <summary>A settle during shutdown gets its own short deadline instead of the stopping token.</summary>
    public static readonly TimeSpan SettleTimeout = TimeSpan.FromSeconds(10);
}
