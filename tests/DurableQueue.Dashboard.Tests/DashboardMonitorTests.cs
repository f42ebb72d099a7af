using DurableQueue.Dashboard.Internal;
using Microsoft.Extensions.Time.Testing;

namespace DurableQueue.Dashboard.Tests;

/// <summary>The shared readings behind every open page, the rates from running totals, and the sampled history.</summary>
public sealed class DashboardMonitorTests : IAsyncLifetime
{
    private readonly string _path = TempFiles.NewDatabasePath();
    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2026, 3, 1, 12, 0, 0, TimeSpan.Zero));
    private QueueStore _store = null!;

    public Task InitializeAsync()
    {
        _store = QueueStore.Open(_path, new QueueStoreOptions { TimeProvider = _clock });
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _store.DisposeAsync();
        TempFiles.Delete(_path);
    }

    private DashboardMonitor NewMonitor(Action<DashboardOptions>? configure = null)
    {
        var options = new DashboardOptions { RefreshInterval = TimeSpan.FromSeconds(2), SampleInterval = TimeSpan.FromSeconds(10) };
        configure?.Invoke(options);
        options.Validate();
        return new DashboardMonitor(_store, options, _clock);
    }

    [Fact]
    public async Task GetSnapshotAsync_ManyPagesAtOnce_ReadTheStoreOnce()
    {
        var monitor = NewMonitor();
        await _store.GetQueue("orders").EnqueueAsync("x");

        var snapshots = await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => monitor.GetSnapshotAsync(default)));
        Assert.Equal(1, monitor.Reads);
        Assert.All(snapshots, s => Assert.Same(snapshots[0], s));

        // Younger than half the refresh interval: shared; older: read again.
        _clock.Advance(TimeSpan.FromMilliseconds(999));
        await monitor.GetSnapshotAsync(default);
        Assert.Equal(1, monitor.Reads);
        _clock.Advance(TimeSpan.FromMilliseconds(1));
        await _store.GetQueue("orders").EnqueueAsync("y");
        var fresh = await monitor.GetSnapshotAsync(default);
        Assert.Equal(2, monitor.Reads);
        Assert.Equal(2, fresh.Statistics.Queues.Single().Counts.Ready);

        // A write action of the dashboard makes the next request read again at once.
        monitor.Invalidate();
        await monitor.GetSnapshotAsync(default);
        Assert.Equal(3, monitor.Reads);
    }

    [Fact]
    public async Task RatesOf_ComeFromTheRunningTotalsOverTheLastMinute()
    {
        var monitor = NewMonitor();
        var orders = _store.GetQueue("orders");
        await orders.EnqueueAsync("first");
        await monitor.GetSnapshotAsync(default);
        Assert.Equal((null, null), monitor.RatesOf("orders"));

        // 20 in and 10 out over 10 seconds.
        await orders.EnqueueBatchAsync(Enumerable.Range(0, 20).Select(i => new ReadOnlyMemory<byte>([(byte)i])));
        foreach (var message in await orders.ReceiveAsync(10))
        {
            await orders.AckAsync(message);
        }

        _clock.Advance(TimeSpan.FromSeconds(10));
        await monitor.GetSnapshotAsync(default);
        Assert.Equal((2.0, 1.0), monitor.RatesOf("orders"));
        Assert.Equal((null, null), monitor.RatesOf("unknown"));

        // A minute later with nothing happening, the window has moved past the burst.
        _clock.Advance(TimeSpan.FromSeconds(61));
        await monitor.GetSnapshotAsync(default);
        _clock.Advance(TimeSpan.FromSeconds(10));
        await monitor.GetSnapshotAsync(default);
        Assert.Equal((0.0, 0.0), monitor.RatesOf("orders"));
    }

    [Fact]
    public async Task RunAsync_SamplesEveryIntervalAndKeepsOnlyTheHistoryLength()
    {
        var monitor = NewMonitor(o => o.HistoryLength = TimeSpan.FromMinutes(1));
        var orders = _store.GetQueue("orders");
        var sampled = System.Threading.Channels.Channel.CreateUnbounded<bool>();
        monitor.Sampled += () => sampled.Writer.TryWrite(true);
        using var stop = new CancellationTokenSource();
        var sampler = monitor.RunAsync(stop.Token);

        // The first sample is taken at once; each later one when the clock reaches the next interval.
        await sampled.Reader.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Single(monitor.HistorySince(0));
        for (var i = 1; i <= 8; i++)
        {
            await orders.EnqueueAsync("m");
            _clock.Advance(TimeSpan.FromSeconds(10));
            await sampled.Reader.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(20));
            var history = monitor.HistorySince(0);
            Assert.Equal(Math.Min(i + 1, 7), history.Count);
            Assert.Equal(i, history[^1].Q["orders"][0]);
        }

        var kept = monitor.HistorySince(0);
        // One minute at 10-second intervals: seven samples, the oldest exactly a minute back.
        Assert.Equal(7, kept.Count);
        Assert.Equal(TimeSpan.FromMinutes(1), TimeSpan.FromMilliseconds(kept[^1].T - kept[0].T));
        Assert.Equal([2L, 3, 4, 5, 6, 7, 8], kept.Select(p => p.Q["orders"][0]));
        Assert.Equal(3, monitor.HistorySince(kept[^4].T).Count);

        await stop.CancelAsync();
        await sampler.WaitAsync(TimeSpan.FromSeconds(20));
    }

    [Fact]
    public void Options_OutOfRangeOrUnsafe_AreRefusedWithTheirName()
    {
        Assert.Equal("RefreshInterval", Assert.Throws<ArgumentOutOfRangeException>(() => Valid(o => o.RefreshInterval = TimeSpan.Zero)).ParamName);
        Assert.Equal("SampleInterval", Assert.Throws<ArgumentOutOfRangeException>(() => Valid(o => o.SampleInterval = TimeSpan.FromHours(1))).ParamName);
        Assert.Equal("PageSize", Assert.Throws<ArgumentOutOfRangeException>(() => Valid(o => o.PageSize = 0)).ParamName);
        Assert.Equal("MaxBodyBytes", Assert.Throws<ArgumentOutOfRangeException>(() => Valid(o => o.MaxBodyBytes = 1)).ParamName);
        Assert.Equal("HistoryLength", Assert.Throws<ArgumentException>(() => Valid(o => o.SampleInterval = TimeSpan.FromMilliseconds(100))).ParamName);
        Assert.Equal("Title", Assert.Throws<ArgumentException>(() => Valid(o => o.Title = " ")).ParamName);
        var noPolicy = Assert.Throws<InvalidOperationException>(() => Valid(o => o.EnableWriteActions = true));
        Assert.Contains("AuthorizationPolicy", noPolicy.Message, StringComparison.Ordinal);
        Valid(o => (o.EnableWriteActions, o.AuthorizationPolicy) = (true, "admins"));

        var defaults = new DashboardOptions();
        Assert.Equal(
            (null, false, false, 65536, TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(10), TimeSpan.FromHours(1), 50, "DurableQueue"),
            (defaults.AuthorizationPolicy, defaults.EnableWriteActions, defaults.ShowMessageBodies, defaults.MaxBodyBytes, defaults.RefreshInterval,
                defaults.SampleInterval, defaults.HistoryLength, defaults.PageSize, defaults.Title));

        static void Valid(Action<DashboardOptions> configure)
        {
            var options = new DashboardOptions();
            configure(options);
            options.Validate();
        }
    }
}
