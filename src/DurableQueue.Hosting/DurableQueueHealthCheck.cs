using DurableQueue.Hosting.Storage;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace DurableQueue.Hosting;

/// <summary>
/// Reports the queues' health: degraded or unhealthy when the oldest ready message of a queue waited too long (a stalled
/// or overloaded consumer) or when dead letters pile up, by the thresholds in <see cref="DurableQueueOptions.Health"/>.
/// </summary>
internal sealed class DurableQueueHealthCheck : IHealthCheck
{
    private readonly JobStore _jobs;

    public DurableQueueHealthCheck(JobStore jobs) => _jobs = jobs;

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var thresholds = _jobs.Options.Health;
        var worst = HealthStatus.Healthy;
        var data = new Dictionary<string, object>(StringComparer.Ordinal);
        var problems = new List<string>();
        try
        {
            var now = _jobs.Clock.GetUtcNow();
            foreach (var name in await _jobs.Store.GetQueueNamesAsync(cancellationToken).ConfigureAwait(false))
            {
                var counts = await _jobs.GetQueue(name).GetCountsAsync(cancellationToken).ConfigureAwait(false);
                var age = counts.OldestReadyEnqueuedAt is { } oldest && oldest < now ? now - oldest : TimeSpan.Zero;
                data[$"{name}.ready"] = counts.Ready;
                data[$"{name}.dead_lettered"] = counts.DeadLettered;
                data[$"{name}.oldest_message_age_seconds"] = age.TotalSeconds;

                var status = Rate(age >= thresholds.OldestMessageAgeUnhealthy, age >= thresholds.OldestMessageAgeDegraded && age > TimeSpan.Zero);
                if (status != HealthStatus.Healthy)
                {
                    problems.Add(FormattableString.Invariant($"queue '{name}': oldest ready message waited {age.TotalSeconds:0.#} s"));
                }

                var deadStatus = Rate(counts.DeadLettered >= thresholds.DeadLettersUnhealthy, counts.DeadLettered >= thresholds.DeadLettersDegraded);
                if (deadStatus != HealthStatus.Healthy)
                {
                    problems.Add(FormattableString.Invariant($"queue '{name}': {counts.DeadLettered} dead letter(s)"));
                }

                worst = Worst(worst, Worst(status, deadStatus));
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            return new HealthCheckResult(context.Registration.FailureStatus, "The queue store could not be read.", ex);
        }

        if (worst == HealthStatus.Unhealthy)
        {
            worst = context.Registration.FailureStatus;
        }

        var description = problems.Count == 0 ? "All queues are within their thresholds." : string.Join("; ", problems);
        return new HealthCheckResult(worst, description, data: data);
    }

    private static HealthStatus Rate(bool unhealthy, bool degraded) =>
        unhealthy ? HealthStatus.Unhealthy : degraded ? HealthStatus.Degraded : HealthStatus.Healthy;

    private static HealthStatus Worst(HealthStatus a, HealthStatus b) => a < b ? a : b;
}
