using DurableQueue.Hosting;
using Microsoft.Extensions.Time.Testing;

namespace DurableQueue.Forwarding.Tests;

/// <summary>
/// <see cref="ForwarderOptions.PaceToArrivals"/>: while messages arrive, sends are held to a multiple of their arrival
/// rate; in an interval without arrivals everything goes (all on a fake clock).
/// </summary>
public sealed class PaceTests
{
    private static readonly TimeSpan Interval = ForwardingDefaults.ArrivalInterval;

    [Fact]
    public async Task Pacer_HoldsSendsToTheArrivalsBudget_AndLetsEverythingGoWhenArrivalsStop()
    {
        var clock = new FakeTimeProvider();
        var arrivals = new Arrivals(1000);
        var pacer = arrivals.Pacer(2, clock);

        // The first reading only measures: no limit until the next one.
        await pacer.AcquireAsync(500, CancellationToken.None);
        await pacer.AcquireAsync(500, CancellationToken.None);
        Assert.False(pacer.Paced);

        // 100 arrivals in one interval at pace 2: a budget of 200. A batch goes whole while any is left.
        clock.Advance(Interval);
        arrivals.Set(1100);
        await pacer.AcquireAsync(150, CancellationToken.None);
        Assert.True(pacer.Paced);
        await pacer.AcquireAsync(100, CancellationToken.None);
        var held = pacer.AcquireAsync(10, CancellationToken.None).AsTask();
        Assert.False(held.IsCompleted);
        Assert.True(pacer.Holding);

        // Another 100 arrivals: 200 more, less the 50 the last batch took beyond the budget.
        arrivals.Set(1200);
        clock.Advance(Interval);
        await held.WaitAsync(Wait.Long);
        Assert.False(pacer.Holding);
        await pacer.AcquireAsync(140, CancellationToken.None);
        var heldAgain = pacer.AcquireAsync(1, CancellationToken.None).AsTask();
        Assert.False(heldAgain.IsCompleted);

        // An interval without arrivals: no limit.
        clock.Advance(Interval);
        await heldAgain.WaitAsync(Wait.Long);
        Assert.False(pacer.Paced);
        await pacer.AcquireAsync(100_000, CancellationToken.None);
        await pacer.AcquireAsync(100_000, CancellationToken.None);
    }

    [Fact]
    public async Task Pacer_ReadingLongAfterTheLast_StartsANewMeasurement()
    {
        var clock = new FakeTimeProvider();
        var arrivals = new Arrivals(0);
        var pacer = arrivals.Pacer(2, clock);
        await pacer.AcquireAsync(1, CancellationToken.None);

        // An hour idle, then a burst: the hour says nothing about the rate now, so the burst goes unpaced and is measured from here.
        clock.Advance(TimeSpan.FromHours(1));
        arrivals.Set(5000);
        await pacer.AcquireAsync(5000, CancellationToken.None);
        Assert.False(pacer.Paced);

        // The next interval measures the arrivals since that reading.
        clock.Advance(Interval);
        arrivals.Set(5010);
        await pacer.AcquireAsync(5, CancellationToken.None);
        Assert.True(pacer.Paced);
        await pacer.AcquireAsync(15, CancellationToken.None);
        Assert.False(pacer.AcquireAsync(1, CancellationToken.None).IsCompleted);
    }

    [Fact]
    public async Task Pacer_WaitIsCancelled_AndAFailedReadingDoesNotHoldSendsBack()
    {
        var clock = new FakeTimeProvider();
        var arrivals = new Arrivals(0);
        var pacer = arrivals.Pacer(1, clock);
        await pacer.AcquireAsync(1, CancellationToken.None);
        clock.Advance(Interval);
        arrivals.Set(4);
        await pacer.AcquireAsync(4, CancellationToken.None);

        using var cancel = new CancellationTokenSource();
        var held = pacer.AcquireAsync(1, cancel.Token).AsTask();
        Assert.False(held.IsCompleted);
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => held);
        Assert.False(pacer.Holding);

        // The store cannot be read: sends go on unpaced rather than wait on a rate nobody can measure.
        arrivals.Unreadable = true;
        clock.Advance(Interval);
        await pacer.AcquireAsync(1000, CancellationToken.None);
        Assert.False(pacer.Paced);
    }

    [Fact]
    public async Task Forwarder_WithAPace_HoldsABacklogWhileTheAppEnqueues_AndDrainsItWhenTheAppStops()
    {
        var clock = Clocks.Fake();
        await using var store = TempStore.Create(new QueueStoreOptions { TimeProvider = clock });
        var queue = store.Queue();
        await queue.EnqueueBatchAsync(Enumerable.Range(0, 1000).Select(i => (ReadOnlyMemory<byte>)BitConverter.GetBytes(i)));

        var sink = new GatedSink();
        var options = new ForwarderOptions { PaceToArrivals = 2, MaxBatchSize = 10, TimeProvider = clock };
        await using var running = new RunningForwarder(new Forwarder("telemetry", queue, sink, options));

        // The first batch takes the first reading (the backlog is no arrival) and waits at the sink. Meanwhile an
        // interval passes in which the app enqueues 50 messages: at pace 2, the next interval may send 100.
        await sink.FirstCall.WaitAsync(Wait.Long);
        clock.Advance(Interval);
        await queue.EnqueueBatchAsync(Enumerable.Range(1000, 50).Select(i => (ReadOnlyMemory<byte>)BitConverter.GetBytes(i)));
        sink.Open();

        await Wait.UntilAsync(() => running.Forwarder.GetStatus().Pacing, Wait.Long, "the forwarder to hold back to the arrivals' pace");
        await Wait.UntilAsync(() => running.Forwarder.GetStatus().Forwarded == 110, Wait.Long, "the first batch and the paced 100 to be acked");
        Assert.Equal(110, sink.Sent);

        // Status pages see the pace too: while the clock stands still, the send that waits for it goes on waiting.
        var registry = new ForwarderRegistry();
        registry.Add(running.Forwarder);
        await Wait.UntilAsync(() => running.Forwarder.GetStatus().Pacing, Wait.Long, "the next send to wait for the pace");
        Assert.True(Assert.Single(((IForwarderStatusSource)registry).GetForwarderSummaries()).Pacing);

        // An interval without arrivals: the rest of the backlog goes at full speed.
        clock.Advance(Interval);
        await Wait.UntilAsync(() => running.Forwarder.GetStatus().Forwarded == 1050, Wait.Long, "the whole backlog to be forwarded");
        Assert.False(running.Forwarder.GetStatus().Pacing);
        Assert.False(Assert.Single(((IForwarderStatusSource)registry).GetForwarderSummaries()).Pacing);
        Assert.Equal(1050, sink.Sent);
        Assert.Equal(0, (await queue.GetCountsAsync()).Total);
    }

    /// <summary>A queue's running total of arrivals, as the test sets it, and a pacer that reads it.</summary>
    private sealed class Arrivals(long entered)
    {
        private long _entered = entered;

        /// <summary>Gets or sets a value indicating whether reading the total fails as a busy store does.</summary>
        public bool Unreadable { get; set; }

        public void Set(long entered) => Volatile.Write(ref _entered, entered);

        public ArrivalPacer Pacer(double factor, TimeProvider clock) => new(
            _ => Unreadable ? throw new StorageBusyException("busy") : ValueTask.FromResult(Volatile.Read(ref _entered)), factor, clock, Interval);
    }

    /// <summary>Confirms everything, but holds its first call until opened.</summary>
    private sealed class GatedSink : IMessageSink
    {
        private readonly TaskCompletionSource _first = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _open = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _sent;

        public Task FirstCall => _first.Task;

        public int Sent => Volatile.Read(ref _sent);

        public void Open() => _open.TrySetResult();

        public async ValueTask SendAsync(SendBatch batch, CancellationToken cancellationToken)
        {
            _first.TrySetResult();
            await _open.Task.WaitAsync(cancellationToken);
            for (var i = 0; i < batch.Count; i++)
            {
                batch.Confirm(i);
            }

            Interlocked.Add(ref _sent, batch.Count);
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
