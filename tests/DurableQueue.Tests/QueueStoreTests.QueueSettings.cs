using Dapper;
using DurableQueue.BackPressure;

namespace DurableQueue.Tests;

/// <summary>
/// A queue's settings live in the file: an app that opens a queue with explicit options stores them, and every store
/// that opens the queue without options (another process, the dq tool) uses them. Explicit options that differ from
/// the stored ones win for the store that passed them, which stores them and reports the difference.
/// </summary>
public sealed partial class QueueStoreTests
{
    private static QueueOptions Configured => new()
    {
        VisibilityTimeout = TimeSpan.FromSeconds(10),
        MaxAttempts = 3,
        MaxMessages = 2,
        MaxBytes = 1000,
        FullMode = QueueFullMode.Reject,
    };

    [Fact]
    public async Task GetQueue_WithoutOptions_UsesTheSettingsAnotherStoreStoredInTheFile()
    {
        await using var t = TestStore.Create();
        var app = t.Store.GetQueue("orders", Configured);
        await app.EnqueueAsync("from the app");

        var tool = t.OpenSecond().GetQueue("orders");
        var id = await tool.EnqueueAsync("from a tool");

        Assert.Equal(3, tool.MaxAttempts);
        Assert.Equal(TimeSpan.FromSeconds(10), tool.VisibilityTimeout);
        Assert.Equal(3, (await tool.GetMessageAsync(id))!.MaxAttempts);
        // The bound is the stored one too: a third message does not fit.
        await Assert.ThrowsAsync<QueueFullException>(async () => await tool.EnqueueAsync("third"));
        var message = Assert.Single(await tool.ReceiveAsync());
        Assert.Equal(t.Clock.GetUtcNow() + TimeSpan.FromSeconds(10), message.LeaseExpiresAt);
    }

    [Fact]
    public async Task GetQueue_WithoutOptionsAndNothingStored_UsesTheDefaultsAndStoresNothing()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("plain");
        await queue.EnqueueAsync("x");

        Assert.Equal(5, queue.MaxAttempts);
        Assert.Equal(TimeSpan.FromSeconds(30), queue.VisibilityTimeout);
        using var raw = t.OpenRaw();
        Assert.Equal(0, raw.ExecuteScalar<long>("SELECT count(*) FROM dq_queue_settings;"));
        Assert.Null(Assert.Single((await t.Store.GetStatisticsAsync()).Queues).Settings);
    }

    [Fact]
    public async Task GetQueue_ExplicitOptionsDifferFromStored_WinLocallyAreStoredAndRaiseQueueSettingsConflict()
    {
        await using var t = TestStore.Create();
        var first = t.Store.GetQueue("orders", Configured);
        await first.EnqueueAsync("a");
        var second = t.OpenSecond();
        var reports = new List<QueueSettingsConflictEventArgs>();
        second.QueueSettingsConflict += (_, e) => reports.Add(e);

        var mine = second.GetQueue("orders", new QueueOptions { MaxAttempts = 7 });
        // Raised by GetQueue itself, before it returns.
        var report = Assert.Single(reports);
        var id = await mine.EnqueueAsync("b");

        Assert.Equal("orders", report.QueueName);
        Assert.Equal(3, report.StoredOptions.MaxAttempts);
        Assert.Equal(7, report.Options.MaxAttempts);
        Assert.Contains("MaxAttempts 3 -> 7", report.Differences, StringComparison.Ordinal);
        Assert.Contains("VisibilityTimeout", report.Differences, StringComparison.Ordinal);
        Assert.Equal(7, (await mine.GetMessageAsync(id))!.MaxAttempts);
        // The first store keeps the options it opened the queue with; a store opened later finds the new ones.
        Assert.Equal(3, first.MaxAttempts);
        Assert.Equal(TimeSpan.FromSeconds(10), first.VisibilityTimeout);
        Assert.Equal(7, t.OpenSecond().GetQueue("orders").MaxAttempts);
        var settings = Assert.Single((await t.Store.GetStatisticsAsync()).Queues).Settings;
        Assert.Equal(7, settings!.MaxAttempts);
        Assert.Null(settings.MaxMessages);
    }

    [Fact]
    public async Task GetQueue_ExplicitOptionsSameAsStored_RaisesNothing()
    {
        await using var t = TestStore.Create();
        await t.Store.GetQueue("orders", Configured).EnqueueAsync("a");
        var second = t.OpenSecond();
        var conflicts = 0;
        second.QueueSettingsConflict += (_, _) => conflicts++;

        var queue = second.GetQueue("orders", Configured);

        // The event would have been raised by GetQueue itself, before it returned.
        Assert.Equal(0, conflicts);
        Assert.Equal(3, queue.MaxAttempts);
        await queue.EnqueueAsync("b");
    }

    [Fact]
    public async Task Statistics_ShowEachQueuesStoredSettings()
    {
        await using var t = TestStore.Create();
        await t.Store.GetQueue("orders", Configured).EnqueueAsync("a");

        var stats = await t.Store.GetStatisticsAsync();
        var shown = new List<QueueOptions?> { Assert.Single(stats.Queues).Settings };
#if !POSTGRES // An inspection of the file, without the store.
        using var inspector = QueueStore.Inspect(t.Path);
        shown.Add(Assert.Single((await inspector.GetStatisticsAsync()).Queues).Settings);
#endif

        foreach (var settings in shown)
        {
            Assert.NotNull(settings);
            Assert.Equal(TimeSpan.FromSeconds(10), settings.VisibilityTimeout);
            Assert.Equal(3, settings.MaxAttempts);
            Assert.Equal(2, settings.MaxMessages);
            Assert.Equal(1000, settings.MaxBytes);
            Assert.Equal(QueueFullMode.Reject, settings.FullMode);
            Assert.Null(settings.FullWaitTimeout);
        }
    }
}
