namespace DurableQueue.Forwarding;

/// <summary>Every default value of the forwarding options, in one place.</summary>
internal static class ForwardingDefaults
{
    public const int Window = 256;
    public const int MaxBatchSize = 100;
    public const int MaxBatchBytes = 1024 * 1024;
    public static readonly TimeSpan Linger = TimeSpan.FromMilliseconds(5);
    public static readonly TimeSpan LeaseDuration = TimeSpan.FromSeconds(30);
    public static readonly TimeSpan RetryDelay = TimeSpan.FromMilliseconds(200);
    public static readonly TimeSpan MaxRetryDelay = TimeSpan.FromSeconds(30);
    public static readonly TimeSpan BreakDuration = TimeSpan.FromSeconds(5);
    public static readonly TimeSpan LinkDownDegradedAfter = TimeSpan.FromMinutes(1);

    /// <summary>How long one receive waits before the loop looks again (it wakes at once on arrivals).</summary>
    public static readonly TimeSpan ReceiveWait = TimeSpan.FromSeconds(30);

    /// <summary>The status (rate, lag) and the lease renewals run at this interval at most.</summary>
    public static readonly TimeSpan MaxTickInterval = TimeSpan.FromSeconds(5);

    /// <summary>The status row in the store is written at most this often (and only when something changed).</summary>
    public static readonly TimeSpan StatusInterval = TimeSpan.FromSeconds(1);

    /// <summary>An unchanged status row is written again after this long, so that a reader can tell a running forwarder from a stopped app.</summary>
    public static readonly TimeSpan StatusHeartbeat = TimeSpan.FromSeconds(30);

    /// <summary>How long one measurement of the queue's arrival rate lasts (<see cref="ForwarderOptions.PaceToArrivals"/>).</summary>
    public static readonly TimeSpan ArrivalInterval = TimeSpan.FromMilliseconds(250);

    /// <summary>How long to wait before a write that found the file busy is tried again.</summary>
    public static readonly TimeSpan BusyRetryDelay = TimeSpan.FromMilliseconds(250);

    /// <summary>The most messages leased or acked in one write, so that the app's enqueues are not held up for long.</summary>
    public const int LocalChunk = 256;

    /// <summary>
    /// The most batches of one ordering key handed to a pipelining sink (one that marks batches written) before the
    /// oldest of them is confirmed.
    /// </summary>
    public const int FlightsPerLane = 4;

    /// <summary>
    /// The most batches on their way beyond each key's first, over all keys together: with many keys, each key's first
    /// batch already keeps the connection busy.
    /// </summary>
    public const int ExtraFlights = FlightsPerLane - 1;

    /// <summary>The page size of the start-up scan for messages a previous run held.</summary>
    public const int ScanPage = 1000;

    /// <summary>The longest error text kept in the status and in dead letters.</summary>
    public const int MaxErrorLength = 1000;

    /// <summary>A settle during shutdown gets its own deadline instead of the stopping token.</summary>
    public static readonly TimeSpan SettleTimeout = TimeSpan.FromSeconds(10);
}
