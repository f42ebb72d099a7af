using DurableQueue.Hosting.Diagnostics;
using DurableQueue.Hosting.Storage;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace DurableQueue.Hosting;

/// <summary>Removes finished jobs past their retention time, and refreshes the queue counts reported as metrics (and sampled for the health check).</summary>
internal sealed class MaintenanceService : BackgroundService
{
    private readonly JobStore _jobs;
    private readonly HostingTelemetry _telemetry;
    private readonly DeadLetterHistory _history;
    private readonly ILogger _logger;

    public MaintenanceService(JobStore jobs, HostingTelemetry telemetry, DeadLetterHistory history, ILogger<MaintenanceService> logger)
    {
        _jobs = jobs;
        _telemetry = telemetry;
        _history = history;
        _logger = logger;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await _jobs.EnsureReadyAsync(stoppingToken).ConfigureAwait(false);
            await Task.WhenAll(
                EveryAsync(_jobs.Options.CleanupInterval, CleanupAsync, stoppingToken),
                EveryAsync(_jobs.Options.MonitorInterval, RefreshAsync, stoppingToken)).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private async Task EveryAsync(TimeSpan interval, Func<CancellationToken, ValueTask> work, CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await work(stoppingToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
            {
                Log.MaintenanceFailed(_logger, ex);
            }

            await Task.Delay(interval, _jobs.Clock, stoppingToken).ConfigureAwait(false);
        }
    }

    private async ValueTask CleanupAsync(CancellationToken cancellationToken)
    {
        var removed = await _jobs.CleanupAsync(cancellationToken).ConfigureAwait(false);
        if (removed > 0)
        {
            Log.JobsCleanedUp(_logger, removed);
        }
    }

    /// <summary>Reads every queue's counts for the observable instruments (queue depth by state, oldest-message age).</summary>
    internal async ValueTask RefreshAsync(CancellationToken cancellationToken)
    {
        var store = _jobs.Store;
        var names = await store.GetQueueNamesAsync(cancellationToken).ConfigureAwait(false);
        var now = _jobs.Clock.GetUtcNow();
        var snapshot = new List<QueueSnapshot>(names.Count);
        foreach (var name in names)
        {
            var counts = await _jobs.GetQueue(name).GetCountsAsync(cancellationToken).ConfigureAwait(false);
            var age = counts.OldestReadyEnqueuedAt is { } oldest && oldest < now ? now - oldest : TimeSpan.Zero;
            snapshot.Add(new QueueSnapshot(name, counts, age));
        }

        // Samples between health probes, so that the health check sees dead letters that came and went meanwhile.
        _history.Observe(snapshot.Select(q => (q.Name, q.Counts.DeadLettered)), now, _jobs.Options.Health.DeadLetterWindow);

        _telemetry.Publish(snapshot);
    }
}
