using DurableQueue.Forwarding.Http;
using DurableQueue.Forwarding.Tests.Servers;

namespace DurableQueue.Forwarding.Tests;

/// <summary>While the link is down, the forwarder keeps renewing the leases of the messages it holds (on a fake clock).</summary>
public sealed class LeaseRenewalTests
{
    [Fact]
    public async Task LinkDown_LeasesAreRenewed_NoAttemptIsSpent_AndNothingIsDeadLettered()
    {
        var clock = Clocks.Fake();
        var directory = Directory.CreateTempSubdirectory("dq-fwd-lease-").FullName;
        try
        {
            await using var store = QueueStore.Open(Path.Combine(directory, "queue.db"), new QueueStoreOptions { TimeProvider = clock });
            // Few attempts: a lease that ran out and was taken again would soon dead-letter a message.
            var queue = store.GetQueue("telemetry", new QueueOptions { MaxAttempts = 2 });
            for (var i = 0; i < 5; i++)
            {
                await queue.EnqueueAsync($"reading {i}");
            }

            // Nothing listens on this port: every send fails at once with a connection refused.
            await using var sink = new HttpSink(new HttpClient(), new HttpSinkOptions { Endpoint = new Uri($"http://127.0.0.1:{ServerProcess.FreePort()}/ingest") });
            var options = new ForwarderOptions { LeaseDuration = TimeSpan.FromSeconds(3), TimeProvider = clock, RetryDelay = TimeSpan.FromMilliseconds(100), MaxRetryDelay = TimeSpan.FromSeconds(1) };
            await using var running = new RunningForwarder(new Forwarder("telemetry", queue, sink, options));
            await Wait.UntilAsync(async () => (await queue.GetCountsAsync()).Leased == 5, Wait.Long, "the forwarder to hold every message");
            await Wait.UntilAsync(() => running.Forwarder.GetStatus().Link == LinkState.Down, Wait.Long, "the link to be down");

            // 20 s of downtime on a 3 s lease: without renewals every lease would have run out six times.
            for (var second = 1; second <= 20; second++)
            {
                clock.Advance(TimeSpan.FromSeconds(1));
                var now = clock.GetUtcNow();
                await Wait.UntilAsync(
                    async () => (await queue.GetMessagesAsync()).All(m => m.State == MessageState.Leased && m.VisibleAt >= now + TimeSpan.FromSeconds(2)),
                    Wait.Long, $"the leases to be renewed at second {second}");
            }

            var messages = await queue.GetMessagesAsync();
            Assert.Equal(5, messages.Count);
            Assert.All(messages, m => Assert.Equal(1, m.Attempts));
            Assert.Equal(0, (await queue.GetCountsAsync()).DeadLettered);
            Assert.True(running.Forwarder.GetStatus().Retries > 1);
            Assert.Equal(5, running.Forwarder.GetStatus().InFlight);
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(directory, recursive: true);
        }
    }
}
