namespace DurableQueue.Forwarding;

/// <summary>A snapshot of a forwarder's progress and link.</summary>
/// <param name="Name">The forwarder's name (its queue's name when registered with <c>AddForwarder</c>).</param>
/// <param name="QueueName">The local queue it forwards.</param>
/// <param name="Link">What is known of the link to the remote side.</param>
/// <param name="LinkDownSince">Since when the link is down, or <see langword="null"/> while it is not.</param>
/// <param name="Forwarded">Messages confirmed by the remote and acked locally since the forwarder started.</param>
/// <param name="DeadLettered">Messages the remote refused for good, dead-lettered locally.</param>
/// <param name="Retries">Sends that failed in a way a retry can fix.</param>
/// <param name="InFlight">Messages held now: leased locally, not yet acked.</param>
/// <param name="ForwardedPerSecond">Messages forwarded per second over the last status interval.</param>
/// <param name="Lag">The age of the oldest message not yet forwarded (zero when none waits).</param>
/// <param name="LastError">The last retryable error, or <see langword="null"/>.</param>
/// <param name="LastErrorAt">When the last retryable error happened, or <see langword="null"/>.</param>
public sealed record ForwarderStatus(
    string Name,
    string QueueName,
    LinkState Link,
    DateTimeOffset? LinkDownSince,
    long Forwarded,
    long DeadLettered,
    long Retries,
    int InFlight,
    double ForwardedPerSecond,
    TimeSpan Lag,
    string? LastError,
    DateTimeOffset? LastErrorAt)
{
    /// <summary>Gets since when the link is in its current state (for <see cref="LinkState.Unknown"/>: since the forwarder was created).</summary>
    public DateTimeOffset LinkSince { get; init; }

    /// <summary>Gets when a message was last confirmed by the remote and acked locally, or <see langword="null"/> when none was since the start.</summary>
    public DateTimeOffset? LastForwardedAt { get; init; }

    /// <summary>
    /// Gets a value indicating whether the forwarder holds its sends back now to the pace of the queue's arrivals
    /// (<see cref="ForwarderOptions.PaceToArrivals"/>): the app is enqueuing and the forwarder leaves it room.
    /// </summary>
    public bool Pacing { get; init; }
}
