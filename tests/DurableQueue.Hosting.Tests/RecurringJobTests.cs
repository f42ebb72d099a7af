using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace DurableQueue.Hosting.Tests;

public sealed class RecurringJobTests : IDisposable
{
    private readonly TempDb _db = new();

    public void Dispose() => _db.Dispose();

    private Task<TestHost> StartAsync(FakeTimeProvider clock, Probe probe, bool runMissed = true) =>
        TestHost.StartAsync(
            _db.Path,
            clock,
            b => b.AddHandler<RawHandler>("ticks").AddRecurringJob("every-minute", "* * * * *", "ticks"),
            o => o.RunMissedRecurringJobs = runMissed,
            s => s.AddSingleton(probe));

    private static Task PassAsync(TestHost host) =>
        host.Services.GetRequiredService<RecurringJobScheduler>().WaitForPassAsync(host.Clock.GetUtcNow(), default).WaitAsync(TestHost.Guard);

    [Fact]
    public async Task Cron_TwoHostsOnOneFile_FireOncePerOccurrence()
    {
        var clock = TempDb.NewClock();
        var probe = new Probe();
        await using var a = await StartAsync(clock, probe);
        await using var b = await StartAsync(clock, probe);
        await Task.WhenAll(PassAsync(a), PassAsync(b));
        var settled = System.Threading.Channels.Channel.CreateUnbounded<DeliveryOutcome>();
        foreach (var host in new[] { a, b })
        {
            host.Services.GetRequiredService<WorkerEvents>().Settled += (_, outcome) => settled.Writer.TryWrite(outcome);
        }

        for (var occurrence = 1; occurrence <= 3; occurrence++)
        {
            clock.Advance(TimeSpan.FromMinutes(1));
            await Task.WhenAll(PassAsync(a), PassAsync(b));
            await probe.NextStartedAsync();
            // Settled before the clock jumps past the visibility timeout, so no lease can expire under a handler.
            Assert.Equal(DeliveryOutcome.Acked, await settled.Reader.ReadAsync().AsTask().WaitAsync(TestHost.Guard));
            Assert.Equal(occurrence, _db.Scalar("SELECT count(*) FROM dq_jobs;"));
        }

        // Every occurrence has its own dedup key and ran once.
        Assert.Equal(3, _db.Scalar("SELECT count(DISTINCT run_at) FROM dq_jobs;"));
        Assert.Equal(clock.GetUtcNow().AddMinutes(1).ToUnixTimeMilliseconds(), _db.Scalar("SELECT next_at FROM dq_schedules WHERE name = 'every-minute';"));
        Assert.False(probe.Started.Reader.TryRead(out _));
        Assert.Equal(3, probe.Calls);
    }

    [Theory]
    [InlineData(true, 1)]
    [InlineData(false, 0)]
    public async Task Cron_OccurrencesMissedWhileDown_FireOnceAtStartWhenEnabled(bool runMissed, int expected)
    {
        var clock = TempDb.NewClock();
        var probe = new Probe();
        await using (var first = await StartAsync(clock, probe, runMissed))
        {
            await PassAsync(first);
        }

        // Five occurrences pass with no process running.
        clock.Advance(TimeSpan.FromMinutes(5.5));
        await using var second = await StartAsync(clock, probe, runMissed);
        await PassAsync(second);

        Assert.Equal(expected, _db.Scalar("SELECT count(*) FROM dq_jobs;"));
        if (expected > 0)
        {
            Assert.Equal(DeliveryOutcome.Acked, (await second.NextSettledAsync()).Outcome);
        }

        Assert.Equal(expected, probe.Calls);
        Assert.Equal(
            new DateTimeOffset(2026, 1, 1, 0, 6, 0, TimeSpan.Zero).ToUnixTimeMilliseconds(),
            _db.Scalar("SELECT next_at FROM dq_schedules WHERE name = 'every-minute';"));
    }

    [Fact]
    public void AddRecurringJob_InvalidCron_Throws()
    {
        var services = new ServiceCollection();
        var error = Assert.Throws<ArgumentException>(() => services.AddDurableQueue().AddRecurringJob("x", "not cron", "q"));
        Assert.Contains("not cron", error.Message, StringComparison.Ordinal);
    }
}
