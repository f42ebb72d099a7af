using System.Text;
using DurableQueue.Tests;
using Npgsql;

namespace DurableQueue.Postgres.Tests.Postgres;

/// <summary>
/// A deadlock between the store's writer and another connection, broken by the server by failing the writer's batch:
/// the batch runs again and its requests succeed, except a unit of work, whose callback (the app's code) is not run a
/// second time. The deadlock is made for certain: a trigger on the queue's table locks two rows of a table of the test's
/// own, in order, and another connection holds the second and then asks for the first. The writer began to wait first,
/// so its backend is the one that finds the cycle (at the server's deadlock_timeout; the other connection's is made
/// longer) and fails.
/// </summary>
public sealed class PostgresConflictTests
{
    [Fact]
    public async Task Enqueue_FailedByTheServerToBreakADeadlock_RunsAgainAndSucceeds()
    {
        await using var t = TestStore.Create();
        var q = t.Store.GetQueue("q");
        await q.EnqueueAsync("create");
        var retries = t.Store.Writer.ConflictRetries;
        await using var deadlock = await Deadlock.ArrangeAsync(t);

        // A deduplicated enqueue runs its insert on its own (not held back for the COMMIT), as a bounded one does; a
        // caller that leads runs it on its own thread, so it goes on a thread of its own here.
        var pending = Task.Run(() => q.EnqueueAsync("deadlocked", new EnqueueOptions { DeduplicationKey = "k" }).AsTask());
        await deadlock.CloseAsync();

        var id = await pending.WaitAsync(TestStore.Guard);
        // At least once; on a loaded machine the batch's second run can lock row 1 again before the other connection,
        // woken by the rollback, takes it, and so deadlock once more (the writer retries up to three times).
        Assert.InRange(t.Store.Writer.ConflictRetries - retries, 1, 3);
        var received = await q.ReceiveAsync(maxMessages: 10);
        Assert.Equal(["create", "deadlocked"], received.Select(m => Encoding.UTF8.GetString(m.Body.Span)));
        Assert.Equal(id, received[1].Id);
    }

    [Fact]
    public async Task UnitOfWork_FailedByTheServerToBreakADeadlock_FailsOnceWithStorageBusy()
    {
        await using var t = TestStore.Create();
        var q = t.Store.GetQueue("q");
        await q.EnqueueAsync("create");
        var retries = t.Store.Writer.ConflictRetries;
        await using var deadlock = await Deadlock.ArrangeAsync(t);

        var calls = 0;
        var pending = t.Store.ExecuteAsync(tx =>
        {
            Interlocked.Increment(ref calls);
            tx.Enqueue("q", "in a unit of work");
        }).AsTask();
        await deadlock.CloseAsync();

        var failure = await Assert.ThrowsAsync<StorageBusyException>(() => pending.WaitAsync(TestStore.Guard));
        Assert.Equal(PostgresErrorCodes.DeadlockDetected, Assert.IsType<PostgresException>(failure.InnerException).SqlState);
        Assert.Equal(1, calls);
        Assert.Equal(retries, t.Store.Writer.ConflictRetries);
        Assert.Equal(1, (await q.GetCountsAsync()).Total);
    }

    /// <summary>
    /// Every insert into the queue's table locks row 1, then row 2, of a table of the test's own; another connection
    /// holds row 2 in an open transaction. <see cref="CloseAsync"/> waits until the writer waits for row 2 (holding row
    /// 1), asks for row 1 (the cycle: the server fails the writer's statement, whose rollback frees row 1) and commits.
    /// </summary>
    private sealed class Deadlock : IAsyncDisposable
    {
        private readonly NpgsqlConnection _other;
        private readonly NpgsqlTransaction _hold;

        private Deadlock(NpgsqlConnection other, NpgsqlTransaction hold)
        {
            _other = other;
            _hold = hold;
        }

        public static async Task<Deadlock> ArrangeAsync(TestStore t)
        {
            var other = t.OpenRaw();
            await using (var setup = new NpgsqlCommand(
                $"CREATE TABLE \"{t.Schema}\".test_lock (k int PRIMARY KEY); INSERT INTO \"{t.Schema}\".test_lock VALUES (1), (2); " +
                $"CREATE FUNCTION \"{t.Schema}\".lock_two() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN " +
                $"PERFORM 1 FROM \"{t.Schema}\".test_lock WHERE k = 1 FOR UPDATE; " +
                $"PERFORM 1 FROM \"{t.Schema}\".test_lock WHERE k = 2 FOR UPDATE; RETURN NEW; END $$; " +
                $"CREATE TRIGGER lock_two AFTER INSERT ON \"{t.Schema}\".dq_messages FOR EACH ROW EXECUTE FUNCTION \"{t.Schema}\".lock_two();",
                other))
            {
                await setup.ExecuteNonQueryAsync();
            }

            var hold = await other.BeginTransactionAsync();
            // This backend looks for a deadlock only after a long wait, so that the writer's backend, which also began
            // to wait first, is the one that finds the cycle even on a loaded machine.
            await RunAsync(other, hold, "SET LOCAL deadlock_timeout = '20s';");
            await RunAsync(other, hold, "SELECT 1 FROM test_lock WHERE k = 2 FOR UPDATE;");
            return new Deadlock(other, hold);
        }

        public async Task CloseAsync()
        {
            await UntilWaitingAsync(_other, _hold);
            await RunAsync(_other, _hold, "SELECT 1 FROM test_lock WHERE k = 1 FOR UPDATE;");
            await _hold.CommitAsync();
        }

        public async ValueTask DisposeAsync()
        {
            await _hold.DisposeAsync();
            await _other.DisposeAsync();
        }

        private static async Task RunAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string sql)
        {
            await using var command = new NpgsqlCommand(sql, connection, transaction);
            await command.ExecuteNonQueryAsync();
        }
    }

    /// <summary>Waits until another backend waits for a row this connection's transaction holds.</summary>
    private static Task UntilWaitingAsync(NpgsqlConnection connection, NpgsqlTransaction transaction) =>
        ServerPoll.UntilAsync(
            async () =>
            {
                // A row lock is waited for on the holder's transaction id: this connection's (the test cluster's xids
                // have no epoch, so the 32-bit id and txid_current() agree).
                await using var command = new NpgsqlCommand(
                    "SELECT count(*) FROM pg_locks l WHERE NOT l.granted AND l.locktype = 'transactionid' " +
                    "AND l.transactionid::text::bigint = txid_current();",
                    connection, transaction);
                return (long)(await command.ExecuteScalarAsync())! > 0;
            },
            "the writer waits for row 2 of test_lock");
}
