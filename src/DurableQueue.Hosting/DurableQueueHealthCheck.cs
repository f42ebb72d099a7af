using DurableQueue.Hosting.Storage;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace DurableQueue.Hosting;

/// <summary>
/// Reports the queues' health: degraded or unhealthy when the oldest ready message of a queue waited too long (a stalled
/// or overloaded consumer) or when messages were dead-lettered at a high rate lately (and, when configured, when dead
/// letters add up to a count), by the thresholds in <see cref="DurableQueueOptions.Health"/>.
/// </summary>
internal sealed class DurableQueueHealthCheck : IHealthCheck
{
    private readonly JobStore _jobs;
    private readonly DeadLetterHistory _history;

    public DurableQueueHealthCheck(JobStore jobs, DeadLetterHistory history)
    {
        _jobs = jobs;
        _history = history;
    }

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var thresholds = _jobs.Options.Health;
        var worst = HealthStatus.Healthy;
        var data = new Dictionary<string, object>(StringComparer.Ordinal);
        var problems = new List<string>();
        try
        {
            var now = _jobs.Clock.GetUtcNow();
            var queues = new List<(string Name, QueueCounts Counts)>();
            foreach (var name in await _jobs.Store.GetQueueNamesAsync(cancellationToken).ConfigureAwait(false))
            {
                queues.Add((name, await _jobs.GetQueue(name).GetCountsAsync(cancellationToken).ConfigureAwait(false)));
            }

            var recentDeadLetters = _history.Observe(queues.Select(q => (q.Name, q.Counts.DeadLettered)), now, thresholds.DeadLetterWindow);
            foreach (var (name, counts) in queues)
            {
                var age = counts.OldestReadyEnqueuedAt is { } oldest && oldest < now ? now - oldest : TimeSpan.Zero;
                var recent = recentDeadLetters[name];
                data[$"{name}.ready"] = counts.Ready;
                data[$"{name}.dead_lettered"] = counts.DeadLettered;
                data[$"{name}.dead_lettered_recently"] = recent;
                data[$"{name}.oldest_message_age_seconds"] = age.TotalSeconds;

                var status = Rate(age >= thresholds.OldestMessageAgeUnhealthy, age >= thresholds.OldestMessageAgeDegraded && age > TimeSpan.Zero);
                if (status != HealthStatus.Healthy)
                {
                    problems.Add(FormattableString.Invariant($"queue '{name}': oldest ready message waited {age.TotalSeconds:0.#} s"));
                }

                var recentStatus = Rate(recent >= thresholds.NewDeadLettersUnhealthy, recent >= thresholds.NewDeadLettersDegraded);
                if (recentStatus != HealthStatus.Healthy)
                {
                    problems.Add(FormattableString.Invariant(
                        $"queue '{name}': {recent} message(s) dead-lettered in the last {thresholds.DeadLetterWindow.TotalMinutes:0.#} min"));
                }

                var totalStatus = Rate(counts.DeadLettered >= thresholds.DeadLettersUnhealthy, counts.DeadLettered >= thresholds.DeadLettersDegraded);
                if (totalStatus != HealthStatus.Healthy)
                {
                    problems.Add(FormattableString.Invariant($"queue '{name}': {counts.DeadLettered} dead letter(s)"));
                }

                worst = Worst(worst, Worst(status, Worst(recentStatus, totalStatus)));
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
