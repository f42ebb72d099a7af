using DurableQueue.Tests;
using Npgsql;

namespace DurableQueue.Postgres.Tests.Postgres;

/// <summary>
/// Wake-ups across processes through LISTEN/NOTIFY. The stores run on a fake clock that the tests never move, so a
/// receiver can only wake through a notification (the safety poll is real time and set far beyond the guard).
/// </summary>
public sealed class PostgresWakeUpTests
{
    private static TestStore Create() => TestStore.Create();

    [Fact]
    public async Task Receive_Waiting_WakesForACommitOfAnotherStoreWithoutAnyPoll()
    {
        await using var t = Create();
        var other = t.OpenSecond();
        var receive = t.Store.GetQueue("q").ReceiveAsync(waitTime: TimeSpan.FromMinutes(1)).AsTask();
        await t.Clock.TimerCreatedAsync(TimeSpan.FromMinutes(1));
        await ListeningAsync(t, expected: 2);

        var id = await other.GetQueue("q").EnqueueAsync("from elsewhere");

        Assert.Equal(id, Assert.Single(await receive.WaitAsync(TestStore.Guard)).Id);
    }

    [Fact]
    public async Task Receive_AfterARolledBackUnitOfWork_SeesOnlyTheCommittedMessage()
    {
        await using var t = Create();
        var other = t.OpenSecond();
        var queue = t.Store.GetQueue("q");
        await ListeningAsync(t, expected: 2);

        await Assert.ThrowsAsync<InvalidOperationException>(async () => await other.ExecuteAsync(tx =>
        {
            tx.Enqueue("q", "never");
            throw new InvalidOperationException("rolled back");
        }));
        // A committed one after it: the receiver sees only that.
        var id = await other.GetQueue("q").EnqueueAsync("real");
        var received = await queue.ReceiveAsync(waitTime: TimeSpan.FromMinutes(1), maxMessages: 10).AsTask().WaitAsync(TestStore.Guard);

        Assert.Equal([id], received.Select(m => m.Id));
    }

    [Fact]
    public async Task Listener_ConnectionKilled_ReconnectsAndWakesAgain()
    {
        await using var t = Create();
        var other = t.OpenSecond();
        await ListeningAsync(t, expected: 2);
        // Kill every LISTEN connection of this schema (both stores'); each must come back on its own.
        await using (var admin = t.OpenRaw())
        {
            await using var kill = new NpgsqlCommand(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1;", admin);
            kill.Parameters.Add(new NpgsqlParameter<string> { TypedValue = ListenerName(t) });
            Assert.Equal(2L, await kill.ExecuteScalarAsync());
        }

        await ListeningAsync(t, expected: 2);
        var receive = t.Store.GetQueue("q").ReceiveAsync(waitTime: TimeSpan.FromMinutes(1)).AsTask();
        await t.Clock.TimerCreatedAsync(TimeSpan.FromMinutes(1), occurrence: 1);
        var id = await other.GetQueue("q").EnqueueAsync("after the reconnect");

        Assert.Equal(id, Assert.Single(await receive.WaitAsync(TestStore.Guard)).Id);
    }

    private static string ListenerName(TestStore t) => "dq listen dq_" + t.Schema;

    /// <summary>Waits until the server shows the expected number of LISTEN connections on the store's channel.</summary>
    private static async Task ListeningAsync(TestStore t, int expected)
    {
        await using var admin = t.OpenRaw();
        var deadline = DateTime.UtcNow + TestStore.Guard;
        while (true)
        {
            await using var command = new NpgsqlCommand("SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND state = 'idle';", admin);
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = ListenerName(t) });
            if ((long)(await command.ExecuteScalarAsync())! == expected)
            {
                return;
            }

            if (DateTime.UtcNow >= deadline)
            {
                await using var dump = new NpgsqlCommand("SELECT string_agg(state || ': ' || query, ' | ') FROM pg_stat_activity WHERE datname = current_database();", admin);
                Assert.Fail($"The stores did not LISTEN within {TestStore.Guard}: {await dump.ExecuteScalarAsync()}");
            }

            await Task.Delay(20);
        }
    }
}
