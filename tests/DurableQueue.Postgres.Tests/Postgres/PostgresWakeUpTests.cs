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

    [Fact]
    public async Task Commit_OnAQueueNoOtherStoreWaitsOn_SendsNoNotification_OnAWatchedQueueSendsOne()
    {
        await using var t = Create();
        var other = t.OpenSecond();
        var notifications = new List<string>();
        await using var listener = await ListenAsync(t, notifications);

        // A receiver of the other store waits on "watched" (its row is written before it waits).
        var waiting = other.GetQueue("watched").ReceiveAsync(waitTime: TimeSpan.FromMinutes(1)).AsTask();
        await t.Clock.TimerCreatedAsync(TimeSpan.FromMinutes(1));
        await ListeningAsync(t, expected: 2);
        var session = (DurableQueue.Postgres.Storage.PostgresWriteSession)t.Store.Writer.Session;
        Assert.Equal(1L, await CountAsync(t, $"SELECT count(*) FROM dq_waiters WHERE queue_name = 'watched' AND store <> '{session.StoreId}';"));

        await t.Store.GetQueue("unwatched").EnqueueAsync("nobody waits");
        var id = await t.Store.GetQueue("watched").EnqueueAsync("awaited");

        Assert.Equal(id, Assert.Single(await waiting.WaitAsync(TestStore.Guard)).Id);
        // Notifications of one connection's commits arrive in commit order: had the first commit sent one, it would
        // come before the second's.
        var deadline = DateTime.UtcNow + TestStore.Guard;
        while (!notifications.Contains("watched") && DateTime.UtcNow < deadline)
        {
            await listener.WaitAsync(TestStore.Guard);
        }

        Assert.Equal(["watched"], notifications);
        var driver = (DurableQueue.Postgres.Storage.PostgresDriver)other.Driver;
        Assert.Equal(1, driver.Announcements); // written once: the look after it found nothing, and the wait went on
        Assert.Equal(0, driver.FailedAnnouncements);
    }

    [Fact]
    public async Task Commit_TheCallerGoesOnBeforeTheWakeUpIsSent_AndAClosingStoreStillSendsIt()
    {
        await using var t = Create();
        var notifications = new List<string>();
        await using var listener = await ListenAsync(t, notifications);
        // A receiver of the harness store waits on "q" (its row is written before it waits).
        var waiting = t.Store.GetQueue("q").ReceiveAsync(waitTime: TimeSpan.FromMinutes(1)).AsTask();
        await t.Clock.TimerCreatedAsync(TimeSpan.FromMinutes(1));

        // Another store commits while the table of waiting rows is locked: the look after its commit waits for the
        // lock, and its caller does not.
        var closing = t.OpenSecond();
        var session = (DurableQueue.Postgres.Storage.PostgresWriteSession)closing.Writer.Session;
        await closing.GetQueue("other").EnqueueAsync("opens the writer's connection");
        await session.WakeUpsSentAsync();
        Task<MessageId> enqueue;
        await using (var holder = t.OpenRaw())
        {
            await using var hold = await holder.BeginTransactionAsync();
            await using (var command = new NpgsqlCommand("LOCK TABLE dq_waiters IN ACCESS EXCLUSIVE MODE;", holder, hold))
            {
                await command.ExecuteNonQueryAsync();
            }

            enqueue = closing.GetQueue("q").EnqueueAsync("last words").AsTask();
            await enqueue.WaitAsync(TestStore.Guard);
            Assert.False(session.WakeUpsSentAsync().IsCompleted);
            await hold.RollbackAsync();
        }

        // The store closes at once: the wake-up its last commit owes still goes out first.
        await closing.DisposeAsync();
        await using (var ping = new NpgsqlCommand("SELECT 1;", listener))
        {
            await ping.ExecuteScalarAsync();
        }

        Assert.Equal(["q"], notifications);
        Assert.Equal(await enqueue, Assert.Single(await waiting.WaitAsync(TestStore.Guard)).Id);
    }

    [Fact]
    public async Task Commit_TouchingSeveralQueues_NotifiesEachWatchedOneOnly()
    {
        await using var t = Create();
        var other = t.OpenSecond();
        var notifications = new List<string>();
        await using var listener = await ListenAsync(t, notifications);

        // Receivers of the other store wait on "a" and "b"; nobody waits on "c".
        var waitingA = other.GetQueue("a").ReceiveAsync(waitTime: TimeSpan.FromMinutes(1)).AsTask();
        await t.Clock.TimerCreatedAsync(TimeSpan.FromMinutes(1));
        var waitingB = other.GetQueue("b").ReceiveAsync(waitTime: TimeSpan.FromMinutes(2)).AsTask();
        await t.Clock.TimerCreatedAsync(TimeSpan.FromMinutes(2));

        // One commit touches all three.
        var ids = await t.Store.ExecuteAsync(tx => (tx.Enqueue("a", "for a"), tx.Enqueue("b", "for b"), tx.Enqueue("c", "for c")));

        Assert.Equal(ids.Item1, Assert.Single(await waitingA.WaitAsync(TestStore.Guard)).Id);
        Assert.Equal(ids.Item2, Assert.Single(await waitingB.WaitAsync(TestStore.Guard)).Id);
        // The commit's notifications were queued before the receivers woke; a round trip of the listening connection
        // delivers every notification queued before it.
        await using (var ping = new NpgsqlCommand("SELECT 1;", listener))
        {
            await ping.ExecuteScalarAsync();
        }

        Assert.Equal(["a", "b"], notifications.Order());
    }

    [Fact]
    public async Task Receive_NoPooledConnectionFreeForTheWaitingRow_StillEndsAtItsWaitTime()
    {
        await using var t = Create();
        // The app's data source: four connections at most, and a pool wait far longer than the receive's.
        var builder = new NpgsqlConnectionStringBuilder(t.ConnectionString) { MaxPoolSize = 4, Timeout = 120 };
        await using var dataSource = NpgsqlDataSource.Create(builder.ConnectionString);
        await using var store = QueueStore.Open(dataSource, t.Options(), new PostgresStoreOptions { Schema = t.Schema });
        var queue = store.GetQueue("q");
        await queue.EnqueueAsync("opens the writer's connection");
        await queue.AckAsync(Assert.Single(await queue.ReceiveAsync()));
        await ListeningAsync(t, expected: 2); // this store's listener and the harness store's
        // The writer and the listener hold two; the app takes the other two.
        await using var first = await dataSource.OpenConnectionAsync();
        await using var second = await dataSource.OpenConnectionAsync();
        var driver = (DurableQueue.Postgres.Storage.PostgresDriver)store.Driver;

        var commits = store.Writer.Commits;
        var receive = queue.ReceiveAsync(waitTime: TimeSpan.FromSeconds(2)).AsTask();
        // Once its look has committed, the receiver is trying to write its row (for two seconds of real time, while
        // its wait runs on the store's clock): let 1.5 s of that clock pass meanwhile.
        await WhenAsync(() => store.Writer.Commits > commits);
        t.Clock.Advance(TimeSpan.FromSeconds(1.5));

        // The row cannot be written within the receive's wait: that is given up, and the receiver waits for the rest.
        await t.Clock.TimerCreatedAsync(TimeSpan.FromSeconds(0.5));
        Assert.Equal(1, driver.FailedAnnouncements);
        Assert.Equal(0, driver.Announcements);
        t.Clock.Advance(TimeSpan.FromSeconds(0.5));
        Assert.Empty(await receive.WaitAsync(TestStore.Guard));

        // With a connection free again, the next wait writes the row.
        await second.CloseAsync();
        var next = queue.ReceiveAsync(waitTime: TimeSpan.FromSeconds(3)).AsTask();
        await t.Clock.TimerCreatedAsync(TimeSpan.FromSeconds(3));
        Assert.Equal(1, driver.Announcements);
        t.Clock.Advance(TimeSpan.FromSeconds(3));
        Assert.Empty(await next.WaitAsync(TestStore.Guard));
    }

    [Fact]
    public async Task Close_RemovesTheStoresWaitingRows()
    {
        await using var t = Create();
        var other = t.OpenSecond();
        await other.GetQueue("q").EnqueueAsync("opens the writer's connection");
        var first = Assert.Single(await other.GetQueue("q").ReceiveAsync());
        await other.GetQueue("q").AckAsync(first.Receipt);
        var empty = other.GetQueue("q").ReceiveAsync(waitTime: TimeSpan.FromMinutes(1)).AsTask();
        await t.Clock.TimerCreatedAsync(TimeSpan.FromMinutes(1));
        Assert.Equal(1L, await CountAsync(t, "SELECT count(*) FROM dq_waiters;"));

        await other.DisposeAsync();

        await Assert.ThrowsAsync<ObjectDisposedException>(() => empty.WaitAsync(TestStore.Guard));
        Assert.Equal(0L, await CountAsync(t, "SELECT count(*) FROM dq_waiters;"));
    }

    /// <summary>Opens a connection that listens on the stores' channel and collects the payloads it receives.</summary>
    private static async Task<NpgsqlConnection> ListenAsync(TestStore t, List<string> notifications)
    {
        var listener = t.OpenRaw();
        listener.Notification += (_, e) => notifications.Add(e.Payload);
        await using var listen = new NpgsqlCommand($"LISTEN \"{DurableQueue.Postgres.Storage.PostgresSql.ChannelOf(t.Schema)}\";", listener);
        await listen.ExecuteNonQueryAsync();
        return listener;
    }

    /// <summary>Waits (real time, within the guard) until the condition holds.</summary>
    private static async Task WhenAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + TestStore.Guard;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "The condition did not come true within the guard.");
            await Task.Delay(1);
        }
    }

    private static async Task<long> CountAsync(TestStore t, string sql)
    {
        await using var connection = t.OpenRaw();
        await using var command = new NpgsqlCommand(sql, connection);
        return (long)(await command.ExecuteScalarAsync())!;
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
