namespace DurableQueue.Dashboard.Internal;

/// <summary>
/// Reads the store for every open page of one dashboard, and samples queue depths in the background for the chart.
/// </summary>
/// <remarks>
/// All pages share one reading (a <see cref="Snapshot"/>) while it is younger than half the refresh interval, and
/// concurrent requests for a new one wait for the same read, so the cost to the store does not grow with the number of
/// open pages. A reading is one <see cref="QueueStore.GetStatisticsAsync"/>, one <see cref="QueueStore.GetQueueTotalsAsync"/>,
/// and one capacity row per bounded queue this process opened.
/// </remarks>
internal sealed class DashboardMonitor
{
    private readonly QueueStore _store;
    private readonly TimeProvider _clock;
    private readonly TimeSpan _maxAge;
    private readonly TimeSpan _sampleInterval;
    private readonly TimeSpan _historyLength;
    private readonly Lock _lock = new();
    private readonly LinkedList<HistoryPoint> _history = new();
    private readonly LinkedList<(long At, Snapshot Snapshot)> _rateWindow = new();
    private Snapshot? _latest;
    private Task<Snapshot>? _reading;
    private static long s_totalReads;
    private long _reads;
    private long _generation;

    public DashboardMonitor(QueueStore store, DashboardOptions options, TimeProvider clock)
    {
        _store = store;
        _clock = clock;
        _maxAge = options.RefreshInterval / 2;
        _sampleInterval = options.SampleInterval;
        _historyLength = options.HistoryLength;
    }

    /// <summary>Occurs after the sampler recorded a sample or skipped one (for tests).</summary>
    internal event Action? Sampled;

    /// <summary>Gets how many times the store was read (for tests and benchmarks).</summary>
    public long Reads => Interlocked.Read(ref _reads);

    /// <summary>Returns the readings of every dashboard of the process since the last call, and starts again from zero (for benchmarks).</summary>
    internal static long TakeTotalReads() => Interlocked.Exchange(ref s_totalReads, 0);

    public long NowMs => _clock.GetUtcNow().ToUnixTimeMilliseconds();

    /// <summary>Gets the latest reading, reading the store again when it is too old; concurrent callers share one read.</summary>
    public Task<Snapshot> GetSnapshotAsync(CancellationToken cancellationToken)
    {
        Task<Snapshot> reading;
        lock (_lock)
        {
            if (_latest is { } latest && _clock.GetUtcNow() - latest.TakenAt < _maxAge)
            {
                return Task.FromResult(latest);
            }

            // The read is shared, so one caller's cancellation must not cancel it for the others.
            _reading ??= ReadAsync();
            reading = _reading;
        }

        return reading.WaitAsync(cancellationToken);
    }

    /// <summary>Forgets the latest reading after a write action of the dashboard, so the next request reads the store again.</summary>
    public void Invalidate()
    {
        lock (_lock)
        {
            _generation++;
            _latest = null;
            _reading = null;
        }
    }

    /// <summary>Gets the history samples taken after <paramref name="sinceMs"/>, oldest first.</summary>
    public List<HistoryPoint> HistorySince(long sinceMs)
    {
        lock (_lock)
        {
            return _history.Where(p => p.T > sinceMs).ToList();
        }
    }

    /// <summary>Gets the rates of a queue from the running totals over about the last minute, or null while unknown.</summary>
    public (double? Entered, double? Left) RatesOf(string queueName)
    {
        lock (_lock)
        {
            if (_rateWindow.Count < 2)
            {
                return (null, null);
            }

            var (firstAt, first) = _rateWindow.First!.Value;
            var (lastAt, last) = _rateWindow.Last!.Value;
            var seconds = (lastAt - firstAt) / 1000.0;
            if (seconds < 0.5 || !first.Totals.TryGetValue(queueName, out var from) || !last.Totals.TryGetValue(queueName, out var to))
            {
                return (null, null);
            }

            return (Math.Max(0, to.Entered - from.Entered) / seconds, Math.Max(0, to.Left - from.Left) / seconds);
        }
    }

    /// <summary>Samples the depths every sample interval until stopped; a failed read is skipped, not fatal.</summary>
    public async Task RunAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(_sampleInterval, _clock);
        try
        {
            do
            {
                try
                {
                    Record(await GetSnapshotAsync(stoppingToken).ConfigureAwait(false));
                }
                catch (ObjectDisposedException)
                {
                    // The app is shutting down and closed the store first.
                    return;
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    // A busy or failing read leaves a gap in the chart; the next tick tries again.
                }

                Sampled?.Invoke();
            }
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private void Record(Snapshot snapshot)
    {
        var at = snapshot.TakenAt.ToUnixTimeMilliseconds();
        var depths = new Dictionary<string, long[]>(StringComparer.Ordinal);
        foreach (var queue in snapshot.Statistics.Queues)
        {
            var c = queue.Counts;
            depths[queue.Name] = [c.Ready, c.Delayed, c.Leased, c.DeadLettered];
        }

        lock (_lock)
        {
            if (_history.Last is { } last && last.Value.T >= at)
            {
                return;
            }

            _history.AddLast(new HistoryPoint(at, depths));
            var horizon = at - (long)_historyLength.TotalMilliseconds;
            while (_history.First is { } first && first.Value.T < horizon)
            {
                _history.RemoveFirst();
            }
        }
    }

    private async Task<Snapshot> ReadAsync()
    {
        long generation;
        lock (_lock)
        {
            generation = _generation;
        }

        try
        {
            // Off the caller's stack: a synchronous store read must not run under the lock.
            await Task.Yield();
            Interlocked.Increment(ref _reads);
            Interlocked.Increment(ref s_totalReads);
            var statistics = await _store.GetStatisticsAsync().ConfigureAwait(false);
            var totals = await _store.GetQueueTotalsAsync().ConfigureAwait(false);
            var capacities = new Dictionary<string, BackPressureStats>(StringComparer.Ordinal);
            foreach (var queue in statistics.Queues)
            {
                if (_store.TryGetOpenQueue(queue.Name, out var handle) && (handle.MaxMessages is not null || handle.MaxBytes is not null))
                {
                    capacities[queue.Name] = handle.GetBackPressureStats();
                }
            }

            var snapshot = new Snapshot(_clock.GetUtcNow(), statistics, totals.ToDictionary(t => t.Name, StringComparer.Ordinal), capacities);
            lock (_lock)
            {
                if (generation != _generation)
                {
                    // A write action of the dashboard ran meanwhile: hand this reading to its callers, keep it for no one else.
                    return snapshot;
                }

                _latest = snapshot;
                _reading = null;
                var at = snapshot.TakenAt.ToUnixTimeMilliseconds();
                _rateWindow.AddLast((at, snapshot));
                var horizon = at - (long)DashboardDefaults.RateWindow.TotalMilliseconds;
                while (_rateWindow.Count > 2 && _rateWindow.First!.Next!.Value.At <= horizon)
                {
                    _rateWindow.RemoveFirst();
                }
            }

            return snapshot;
        }
        catch
        {
            lock (_lock)
            {
                if (generation == _generation)
                {
                    _reading = null;
                }
            }

            throw;
        }
    }
}

/// <summary>One reading of the store, shared by every page open at the time.</summary>
internal sealed record Snapshot(
    DateTimeOffset TakenAt,
    StoreStatistics Statistics,
    IReadOnlyDictionary<string, QueueTotals> Totals,
    IReadOnlyDictionary<string, BackPressureStats> Capacities);

/// <summary>One sample of the chart: per queue, ready, delayed, leased and dead-lettered counts.</summary>
internal sealed record HistoryPoint(long T, Dictionary<string, long[]> Q);
