using DurableQueue.Hosting.Diagnostics;
using DurableQueue.Hosting.Storage;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace DurableQueue.Hosting;

/// <summary>
/// Fires recurring (cron) jobs. Each schedule's next occurrence lives in <c>dq_schedules</c>; an occurrence is claimed
/// by moving <c>next_at</c> forward in the same unit of work that enqueues its job, under the file's write lock, so it
/// fires once however many processes share the file, and survives restarts.
/// </summary>
internal sealed class RecurringJobScheduler : BackgroundService
{
    /// <summary>An occurrence due by less than this when a process starts is on time, not missed.</summary>
    private static readonly TimeSpan s_missedGrace = TimeSpan.FromSeconds(30);

    private readonly HandlerCatalog _catalog;
    private readonly JobStore _jobs;
    private readonly HostingTelemetry _telemetry;
    private readonly ILogger _logger;
    private TaskCompletionSource _passSignal = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _lastPassAt = long.MinValue;

    public RecurringJobScheduler(HandlerCatalog catalog, JobStore jobs, HostingTelemetry telemetry, ILogger<RecurringJobScheduler> logger)
    {
        _catalog = catalog;
        _jobs = jobs;
        _telemetry = telemetry;
        _logger = logger;
    }

    private TimeProvider Clock => _jobs.Clock;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (_catalog.RecurringJobs.Count == 0)
        {
            return;
        }

        try
        {
            await _jobs.EnsureReadyAsync(stoppingToken).ConfigureAwait(false);
            var startup = true;
            while (!stoppingToken.IsCancellationRequested)
            {
                var passAt = Clock.GetUtcNow().ToUnixTimeMilliseconds();
                var earliest = long.MaxValue;
                foreach (var job in _catalog.RecurringJobs)
                {
                    earliest = Math.Min(earliest, await RunAsync(job, startup, stoppingToken).ConfigureAwait(false));
                }

                startup = false;
                CompletePass(passAt);

                var wait = earliest == long.MaxValue
                    ? HostingDefaults.SchedulerMaxSleep
                    : TimeSpan.FromMilliseconds(Math.Max(0, earliest - Clock.GetUtcNow().ToUnixTimeMilliseconds()));
                if (wait > HostingDefaults.SchedulerMaxSleep)
                {
                    wait = HostingDefaults.SchedulerMaxSleep;
                }

                await Task.Delay(wait, Clock, stoppingToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>Claims and fires the schedule's due occurrence, if any; returns the next occurrence (unix ms).</summary>
    private async ValueTask<long> RunAsync(RecurringJob job, bool startup, CancellationToken cancellationToken)
    {
        try
        {
            _jobs.GetQueue(job.QueueName);
            var runMissed = _jobs.Options.RunMissedRecurringJobs;
            var (next, fired) = await _jobs.Store.ExecuteAsync(tx => Claim(tx, job, startup, runMissed), cancellationToken).ConfigureAwait(false);
            switch (fired)
            {
                case { Skipped: true }:
                    Log.RecurringJobMissed(_logger, job.Name, fired.Value.Occurrence);
                    break;
                case { } f:
                    _telemetry.Count(_telemetry.SentMessages, job.QueueName);
                    Log.RecurringJobFired(_logger, job.Name, f.Occurrence, f.Id.Value);
                    break;
            }

            return next;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception ex)
        {
            Log.RecurringJobFailed(_logger, ex, job.Name);
            // Look again soon rather than never.
            return Clock.GetUtcNow().ToUnixTimeMilliseconds() + (long)HostingDefaults.SchedulerMaxSleep.TotalMilliseconds;
        }
    }

    private static (long Next, Fired? Fired) Claim(QueueTransaction tx, RecurringJob job, bool startup, bool runMissed)
    {
        var connection = tx.Connection;
        var now = tx.Now.ToUnixTimeMilliseconds();
        string? cron = null;
        long dueAt = 0;
        using (var command = connection.Command(JobSql.ReadSchedule, ("@name", job.Name)))
        using (var reader = command.ExecuteReader())
        {
            if (reader.Read())
            {
                cron = reader.GetString(0);
                dueAt = reader.GetInt64(1);
            }
        }

        if (cron is null || !string.Equals(cron, job.Cron, StringComparison.Ordinal))
        {
            // First registration, or the expression changed: start from the next occurrence after now.
            var first = job.NextAfter(now);
            var sql = cron is null ? JobSql.InsertSchedule : JobSql.ResetSchedule;
            connection.Execute(sql, ("@name", job.Name), ("@cron", job.Cron), ("@queue", job.QueueName), ("@next", first), ("@now", now));
            return (first, null);
        }

        if (dueAt > now)
        {
            return (dueAt, null);
        }

        // Several occurrences may have passed while nothing ran: fire (at most) one, then jump past now.
        var occurrence = DateTimeOffset.FromUnixTimeMilliseconds(dueAt);
        var next = job.NextAfter(now);
        var missed = startup && now - dueAt > (long)s_missedGrace.TotalMilliseconds;
        Fired fired;
        if (missed && !runMissed)
        {
            fired = new Fired(occurrence, default, Skipped: true);
        }
        else
        {
            var headers = new Dictionary<string, string>(StringComparer.Ordinal)
            {
                [TelemetryNames.JobHeader] = "1",
                [TelemetryNames.ScheduleHeader] = job.Name,
                [TelemetryNames.OccurrenceHeader] = occurrence.ToString("O", System.Globalization.CultureInfo.InvariantCulture),
            };
            using var activity = HostingTelemetry.StartSend(job.QueueName, headers);
            var id = tx.Enqueue(job.QueueName, job.Options.Body, new EnqueueOptions
            {
                Priority = job.Options.Priority,
                MaxAttempts = job.Options.MaxAttempts,
                DeduplicationKey = FormattableString.Invariant($"cron:{job.Name}:{dueAt}"),
                Headers = headers,
            });
            JobStore.InsertJob(connection, id, job.QueueName, now, dueAt);
            fired = new Fired(occurrence, id, Skipped: false);
        }

        // The guard on the old value is belt and braces: the unit of work already holds the write lock.
        if (connection.Execute(JobSql.AdvanceSchedule, ("@name", job.Name), ("@next", next), ("@fired", dueAt), ("@now", now), ("@old", dueAt)) != 1)
        {
            throw new InvalidOperationException("The schedule row changed during its own claim.");
        }

        return (next, fired);
    }

    private void CompletePass(long passAt)
    {
        Volatile.Write(ref _lastPassAt, passAt);
        Interlocked.Exchange(ref _passSignal, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
    }

    /// <summary>Waits until a pass that started at or after <paramref name="atLeast"/> has finished (for tests).</summary>
    internal async Task WaitForPassAsync(DateTimeOffset atLeast, CancellationToken cancellationToken)
    {
        while (true)
        {
            var signal = Volatile.Read(ref _passSignal);
            if (Volatile.Read(ref _lastPassAt) >= atLeast.ToUnixTimeMilliseconds())
            {
                return;
            }

            await signal.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private readonly record struct Fired(DateTimeOffset Occurrence, MessageId Id, bool Skipped);
}
