using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace DurableQueue.Hosting.Tests;

/// <summary>
/// Lease renewal when the wall clock and the monotonic clock part: a clock set forward or a machine that slept (the
/// monotonic clock stops in a sleep), and a clock set back. The worker schedules renewals by monotonic time and renews
/// at once when the wall clock says the stored lease is ending.
/// </summary>
public sealed class LeaseClockTests : IDisposable
{
    private readonly TempDb _db = new();
    private readonly Probe _probe = new();

    public void Dispose() => _db.Dispose();

    [Fact]
    public async Task WallClockJumpsForward_LeaseIsRenewedWithinACheck_AndNobodyElseGetsTheMessage()
    {
        var clock = new JumpingClock();
        await using var host = await StartAsync(clock);
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _probe.OnHandle = async (_, _) => await gate.Task;
        var queue = host.Store.GetQueue("work");
        var id = await queue.EnqueueAsync("held over a sleep");
        await _probe.NextStartedAsync();

        // The machine slept an hour: the wall clock moved, the monotonic clock did not. Every stored lease has ended.
        clock.WallOffset = TimeSpan.FromHours(1);
        clock.Advance(TimeSpan.FromSeconds(1)); // one clock check, far before the monotonic renewal (8 s)
        var (_, until) = await host.NextExtendedAsync();
        Assert.Equal(clock.GetUtcNow() + TimeSpan.FromSeconds(10), until);

        // Renewed before anyone could take it: another consumer finds nothing, the handler's ack is its only settle.
        Assert.Empty(await queue.ReceiveAsync(1, TimeSpan.FromSeconds(10)));
        gate.SetResult();
        Assert.Equal(DeliveryOutcome.Acked, (await host.NextSettledAsync()).Outcome);
        Assert.False(host.TryNextExtended(out _), "one jump gives one renewal");
        Assert.Equal(1, _probe.Calls);
        Assert.Null(await queue.GetMessageAsync(id));
    }

    [Fact]
    public async Task WallClockJumpsBack_RenewalKeepsTheMonotonicSchedule()
    {
        var clock = new JumpingClock();
        await using var host = await StartAsync(clock);
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _probe.OnHandle = async (_, _) => await gate.Task;
        await host.Store.GetQueue("work").EnqueueAsync("held while the clock goes back");
        await _probe.NextStartedAsync();

        // Set back an hour: the stored lease now has an hour and ten seconds left by the wall clock, but the renewal still
        // comes after 80 % of the visibility timeout of real (monotonic) time, and stores the expiry by the new wall clock.
        clock.WallOffset = -TimeSpan.FromHours(1);
        clock.Advance(TimeSpan.FromSeconds(7));
        clock.Advance(TimeSpan.FromSeconds(1));
        var (_, until) = await host.NextExtendedAsync();
        Assert.Equal(clock.GetUtcNow() + TimeSpan.FromSeconds(10), until);
        gate.SetResult();
        Assert.Equal(DeliveryOutcome.Acked, (await host.NextSettledAsync()).Outcome);
        // The renewal loop ends before the settle is reported: any renewal at 7 s would be in the channel by now.
        Assert.False(host.TryNextExtended(out _), "renewed before 80 % of the visibility timeout had passed");
    }

    [Fact]
    public async Task FakeTimeProviderAdvance_MovesBothClocks_OneRenewalAfterALongAdvance()
    {
        // Advance moves wall and monotonic time together (time passed, no jump): a renewal due during the advance runs
        // once, right after it, at the new time. The lease had expired in between, but nobody took the message, so the
        // extension succeeds (extending is fenced by the lease token, not by the expiry).
        var clock = TempDb.NewClock();
        await using var host = await StartAsync(clock);
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _probe.OnHandle = async (_, _) => await gate.Task;
        await host.Store.GetQueue("work").EnqueueAsync("x");
        await _probe.NextStartedAsync();

        clock.Advance(TimeSpan.FromHours(1));
        var (_, until) = await host.NextExtendedAsync();
        Assert.Equal(clock.GetUtcNow() + TimeSpan.FromSeconds(10), until);
        gate.SetResult();
        Assert.Equal(DeliveryOutcome.Acked, (await host.NextSettledAsync()).Outcome);
        Assert.False(host.TryNextExtended(out _), "one advance gives one renewal");
    }

    private Task<TestHost> StartAsync(FakeTimeProvider clock) =>
        TestHost.StartAsync(_db.Path, clock, b => b.AddHandler<RawHandler>("work", o => o.VisibilityTimeout = TimeSpan.FromSeconds(10)), services: s => s.AddSingleton(_probe));

    /// <summary>A fake clock whose wall time can jump while its monotonic time (timers, timestamps) does not.</summary>
    private sealed class JumpingClock : FakeTimeProvider
    {
        private static readonly DateTimeOffset s_start = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

        public JumpingClock()
            : base(s_start)
        {
        }

        public TimeSpan WallOffset { get; set; }

        public override DateTimeOffset GetUtcNow() => base.GetUtcNow() + WallOffset;

        // FakeTimeProvider derives its timestamps from GetUtcNow; the monotonic clock must not see the wall's jumps.
        public override long GetTimestamp() => (long)((base.GetUtcNow() - s_start).Ticks * (TimestampFrequency / (double)TimeSpan.TicksPerSecond));
    }
}
