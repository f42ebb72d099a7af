using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace DurableQueue.Forwarding;

/// <summary>
/// Reports the forwarders' health: degraded while a forwarder's link has been down longer than its
/// <see cref="ForwarderOptions.LinkDownDegradedAfter"/>; the data lists each forwarder's link, lag and last error.
/// </summary>
internal sealed class ForwarderHealthCheck : IHealthCheck
{
    private readonly ForwarderRegistry _registry;

    public ForwarderHealthCheck(ForwarderRegistry registry) => _registry = registry;

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var data = new Dictionary<string, object>(StringComparer.Ordinal);
        var problems = new List<string>();
        foreach (var forwarder in _registry.Forwarders.OrderBy(f => f.Name, StringComparer.Ordinal))
        {
            var status = forwarder.GetStatus();
            var now = forwarder.Now;
            data[$"{status.Name}.link"] = status.Link.ToString();
            data[$"{status.Name}.lag_seconds"] = status.Lag.TotalSeconds;
            data[$"{status.Name}.in_flight"] = status.InFlight;
            data[$"{status.Name}.forwarded"] = status.Forwarded;
            if (status.LastError is { } error)
            {
                data[$"{status.Name}.last_error"] = error;
            }

            if (status.LinkDownSince is { } since && now - since >= forwarder.LinkDownDegradedAfter)
            {
                problems.Add(FormattableString.Invariant($"forwarder '{status.Name}': link down for {(now - since).TotalSeconds:0} s ({status.LastError})"));
            }
        }

        return Task.FromResult(problems.Count == 0
            ? new HealthCheckResult(HealthStatus.Healthy, "Every forwarder's link is up or was down only briefly.", data: data)
            : new HealthCheckResult(HealthStatus.Degraded, string.Join("; ", problems), data: data));
    }
}
