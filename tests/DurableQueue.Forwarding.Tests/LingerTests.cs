namespace DurableQueue.Forwarding.Tests;

/// <summary>
/// <see cref="ForwarderOptions.Linger"/>: once the forwarder has caught up, the next messages gather for a moment and
/// go in one lease (on a fake clock, which stands still unless the test moves it).
/// </summary>
public sealed class LingerTests
{
    [Fact]
    public async Task CaughtUp_MessagesArrivingWithinTheLinger_WaitForIt_AndGoInOneLease()
    {
        var clock = Clocks.Fake();
        await using var store = TempStore.Create(new QueueStoreOptions { TimeProvider = clock });
        var queue = store.Queue();
        var sink = new RecordingSink();
        await using var running = new RunningForwarder(new Forwarder("telemetry", queue, sink, new ForwarderOptions { TimeProvider = clock }));

        // A message to a forwarder that waits for one goes at once.
        await queue.EnqueueAsync("first");
        await Wait.UntilAsync(() => running.Forwarder.GetStatus().Forwarded == 1, Wait.Long, "the first message to be forwarded");

        // That lease found one message with room for more: until the linger is over, nothing more is leased.
        for (var i = 0; i < 10; i++)
        {
            await queue.EnqueueAsync($"next {i}");
        }

        Assert.Equal(10, (await queue.GetCountsAsync()).Ready);
        clock.Advance(ForwardingDefaults.Linger);
        await Wait.UntilAsync(() => running.Forwarder.GetStatus().Forwarded == 11, Wait.Long, "the ten to be forwarded");
        Assert.Equal([1, 10], sink.BatchSizes);
    }

    [Fact]
    public async Task LingerZero_LeasesAgainAtOnce()
    {
        var clock = Clocks.Fake();
        await using var store = TempStore.Create(new QueueStoreOptions { TimeProvider = clock });
        var queue = store.Queue();
        var sink = new RecordingSink();
        var options = new ForwarderOptions { TimeProvider = clock, Linger = TimeSpan.Zero };
        await using var running = new RunningForwarder(new Forwarder("telemetry", queue, sink, options));

        // The clock never moves: every message still goes.
        for (var i = 0; i < 10; i++)
        {
            await queue.EnqueueAsync($"reading {i}");
            await Wait.UntilAsync(() => running.Forwarder.GetStatus().Forwarded == i + 1, Wait.Long, $"message {i} to be forwarded");
        }

        Assert.Equal(10, sink.BatchSizes.Sum());
    }

    /// <summary>Confirms everything and records the size of each batch.</summary>
    private sealed class RecordingSink : IMessageSink
    {
        private readonly Lock _gate = new();
        private readonly List<int> _sizes = [];

        public int[] BatchSizes
        {
            get
            {
                lock (_gate)
                {
                    return [.. _sizes];
                }
            }
        }

        public ValueTask SendAsync(SendBatch batch, CancellationToken cancellationToken)
        {
            lock (_gate)
            {
                _sizes.Add(batch.Count);
            }

            for (var i = 0; i < batch.Count; i++)
            {
                batch.Confirm(i);
            }

            return ValueTask.CompletedTask;
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
