namespace DurableQueue.Hosting;

/// <summary>
/// Lists the forwarders (store and forward) running in this host, for status pages such as the dashboard; the
/// forwarding package registers it with its first forwarder. Pages that find none in the services show no forwarders.
/// </summary>
public interface IForwarderStatusSource
{
    /// <summary>Gets a snapshot of every running forwarder, by name.</summary>
    /// <returns>The forwarders' statuses; empty when none runs.</returns>
    IReadOnlyList<ForwarderSummary> GetForwarderSummaries();
}

/// <summary>What a status page shows of one forwarder.</summary>
/// <param name="Name">The forwarder's name.</param>
/// <param name="QueueName">The local queue it forwards.</param>
/// <param name="Link">The link to the remote side: <c>Unknown</c> (nothing sent yet), <c>Up</c> or <c>Down</c>.</param>
/// <param name="LinkSince">Since when the link is in that state.</param>
/// <param name="LastError">The last retryable error, or <see langword="null"/>.</param>
/// <param name="LastErrorAt">When the last retryable error happened, or <see langword="null"/>.</param>
/// <param name="Forwarded">Messages confirmed by the remote and acked locally since the forwarder started.</param>
/// <param name="LastForwardedAt">When a message was last forwarded, or <see langword="null"/>.</param>
/// <param name="ForwardedPerSecond">Messages forwarded per second, recently.</param>
/// <param name="Lag">The age of the oldest message not yet forwarded (zero when none waits).</param>
/// <param name="InFlight">Messages held now: sent or about to be, not yet acked locally.</param>
/// <param name="Pacing">Whether a send waits now for the pace of the queue's arrivals (the forwarder leaves the app room).</param>
public sealed record ForwarderSummary(
    string Name,
    string QueueName,
    string Link,
    DateTimeOffset LinkSince,
    string? LastError,
    DateTimeOffset? LastErrorAt,
    long Forwarded,
    DateTimeOffset? LastForwardedAt,
    double ForwardedPerSecond,
    TimeSpan Lag,
    int InFlight,
    bool Pacing = false);
