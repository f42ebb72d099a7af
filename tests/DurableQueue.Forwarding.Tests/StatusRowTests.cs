using Microsoft.Extensions.Time.Testing;

namespace DurableQueue.Forwarding.Tests;

/// <summary>The status row for other processes: written on the forwarder's clock, never on a message's path (a fake clock).</summary>
public sealed class StatusRowTests
{
    [Fact]
    public async Task StatusRow_IsWrittenOnTheTick_NotPerMessage_AndAgainAfterTheHeartbeat()
    {
        var t0 = new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
        var clock = new FakeTimeProvider(t0);
        await using var store = TempStore.Create();
        var path = store.FilePath;
        await store.Store.DisposeAsync();
        await using var fake = QueueStore.Open(path, new QueueStoreOptions { TimeProvider = clock });
        var queue = fake.GetQueue("telemetry");
        // No linger: the clock stands still while messages go, and a linger waits for it (see LingerTests).
        await using var running = new RunningForwarder(new Forwarder("telemetry", queue, new ConfirmAll(), new ForwarderOptions { TimeProvider = clock, Linger = TimeSpan.Zero }));

        // The first row when the forwarder opens its tables.
        var first = await StatusRow.WaitAsync(path, _ => true, "the first status row");
        Assert.Equal(("Unknown", 0L, t0), (first.Link, first.Forwarded, first.WrittenAt));

        for (var i = 0; i < 50; i++)
        {
            await queue.EnqueueAsync($"reading {i}");
        }

        await Wait.UntilAsync(() => running.Forwarder.GetStatus() is { Forwarded: 50, Link: LinkState.Up }, Wait.Long, "every message forwarded");
        // Fifty messages went through and the clock did not move: the row was not written again.
        Assert.Equal(first, Assert.Single(StatusRow.ReadAll(path)));

        clock.Advance(TimeSpan.FromSeconds(1));
        var next = await StatusRow.WaitAsync(path, r => r.Forwarded == 50, "the row of the next tick");
        Assert.Equal(("Up", t0 + TimeSpan.FromSeconds(1), t0, t0), (next.Link, next.WrittenAt, next.LastForwardedAt, next.LinkSince));

        // Nothing changes for 30 s: the row is written again all the same, so that its age says the app runs.
        clock.Advance(TimeSpan.FromSeconds(30));
        var heartbeat = await StatusRow.WaitAsync(path, r => r.WrittenAt == t0 + TimeSpan.FromSeconds(31), "the heartbeat row");
        Assert.Equal(next with { WrittenAt = heartbeat.WrittenAt }, heartbeat);
    }

    private sealed class ConfirmAll : IMessageSink
    {
        public ValueTask SendAsync(SendBatch batch, CancellationToken cancellationToken)
        {
            for (var i = 0; i < batch.Count; i++)
            {
                batch.Confirm(i);
            }

            return ValueTask.CompletedTask;
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
