namespace DurableQueue;

/// <summary>
/// A snapshot of a queue's capacity and of how its producers were held back, for metrics and health checks.
/// </summary>
/// <remarks>
/// The used counts are read from the file (exact, all processes); the other counters are this process's, since the
/// store opened, and never decrease.
/// </remarks>
/// <param name="MaxMessages">The queue's bound on messages, or <see langword="null"/> when unbounded.</param>
/// <param name="MaxBytes">The queue's bound on body bytes, or <see langword="null"/> when unbounded.</param>
/// <param name="FullMode">What an enqueue does when the queue is full.</param>
/// <param name="Messages">The live messages (ready, delayed and leased) now.</param>
/// <param name="Bytes">The sum of their body sizes now.</param>
/// <param name="DeadLetters">The queue's dead letters now (not counted against the bounds).</param>
/// <param name="Rejected">Enqueues that failed or returned empty-handed because the queue was full (including timed-out waits).</param>
/// <param name="Waited">Enqueues that had to wait for room.</param>
/// <param name="Waiting">Enqueues waiting for room now.</param>
/// <param name="Dropped">Messages deleted by <see cref="QueueFullMode.DropOldest"/>.</param>
/// <param name="WaitTime">The total time enqueues spent waiting for room.</param>
/// <param name="DrainRate">The recent rate at which messages left the queue (acked, dead-lettered, purged, dropped), in messages per second, or <see langword="null"/> while unknown.</param>
public sealed record BackPressureStats(
    long? MaxMessages,
    long? MaxBytes,
    QueueFullMode FullMode,
    long Messages,
    long Bytes,
    long DeadLetters,
    long Rejected,
    long Waited,
    int Waiting,
    long Dropped,
    TimeSpan WaitTime,
    double? DrainRate);
