using System.Collections.Concurrent;
using DurableQueue.Hosting;

namespace DurableQueue.Forwarding;

/// <summary>Lists the forwarders running in this host, for status pages, logs and the health check.</summary>
public sealed class ForwarderRegistry : IForwarderStatusSource
{
    private readonly ConcurrentDictionary<string, Forwarder> _forwarders = new(StringComparer.Ordinal);

    /// <summary>Gets the status of every running forwarder.</summary>
    /// <returns>The statuses, by name.</returns>
    public IReadOnlyList<ForwarderStatus> GetStatuses() => [.. _forwarders.Values.Select(f => f.GetStatus()).OrderBy(s => s.Name, StringComparer.Ordinal)];

    /// <inheritdoc/>
    IReadOnlyList<ForwarderSummary> IForwarderStatusSource.GetForwarderSummaries() =>
    [
        .. GetStatuses().Select(s => new ForwarderSummary(
            s.Name, s.QueueName, s.Link.ToString(), s.LinkSince, s.LastError, s.LastErrorAt, s.Forwarded, s.LastForwardedAt, s.ForwardedPerSecond, s.Lag, s.InFlight,
            s.Pacing)),
    ];

    /// <summary>Gets a running forwarder by name.</summary>
    /// <param name="name">The forwarder's name (its queue's name).</param>
    /// <returns>The forwarder, or <see langword="null"/> when none of that name runs (yet).</returns>
    public Forwarder? Find(string name) => _forwarders.GetValueOrDefault(name);

    internal IEnumerable<Forwarder> Forwarders => _forwarders.Values;

    internal void Add(Forwarder forwarder) => _forwarders[forwarder.Name] = forwarder;

    internal void Remove(Forwarder forwarder) => _forwarders.TryRemove(new KeyValuePair<string, Forwarder>(forwarder.Name, forwarder));
}
