using System.Text;
using DurableQueue.Tests;
using Npgsql;

namespace DurableQueue.Postgres.Tests.Postgres;

/// <summary>
/// The writer's groups on PostgreSQL: plain enqueues and acks that meet in one batch run as one set-based statement
/// each, and a group with a failing request falls back to running each request on its own, so that only that request
/// fails. A batch made only of such requests and receives goes with its COMMIT in one round trip, and runs again the
/// ordinary way when the server refuses any of it. To put requests in one batch for certain, a unit of work holds the writer thread while they are submitted
/// (they queue behind it), and the next batch takes them all.
/// </summary>
public sealed class PostgresGroupedWriteTests
{
    [Fact]
    public async Task Enqueues_InOneBatch_RunAsOneGroupWithIdsInSubmissionOrder()
    {
        await using var t = TestStore.Create();
        var a = t.Store.GetQueue("a");
        var b = t.Store.GetQueue("b");
        await a.EnqueueAsync("create a");
        await b.EnqueueAsync("create b");

        var (ids, grouped, commits) = await InOneBatchAsync<MessageId>(t, () =>
        [
            a.EnqueueAsync("a1").AsTask(), b.EnqueueAsync("b1").AsTask(), a.EnqueueAsync("a2").AsTask(),
            a.EnqueueAsync("a3", new EnqueueOptions { Priority = 1, Headers = new Dictionary<string, string> { ["k"] = "v" } }).AsTask(),
        ]);

        Assert.Equal(4, grouped);
        Assert.Equal(1, commits);
        Assert.Equal(ids.Order(), ids);
        var received = await a.ReceiveAsync(maxMessages: 10);
        Assert.Equal(["a3", "create a", "a1", "a2"], received.Select(m => Encoding.UTF8.GetString(m.Body.Span)));
        Assert.Equal([ids[3], ids[0], ids[2]], new[] { received[0].Id, received[2].Id, received[3].Id });
        Assert.Equal("v", received[0].Headers["k"]);
        Assert.Equal(1, received[0].Priority);
        Assert.Equal(ids[1], Assert.Single((await b.ReceiveAsync(maxMessages: 10)).Skip(1)).Id);
    }

    [Fact]
    public async Task Enqueues_InOneBatch_AnUngroupedEnqueueBetweenPlainOnes_KeepsSubmissionOrder()
    {
        await using var t = TestStore.Create();
        var a = t.Store.GetQueue("a");
        var b = t.Store.GetQueue("b");
        await a.EnqueueAsync("create a");
        await b.EnqueueAsync("b0");

        Task<IReadOnlyList<QueueMessage>>? receive = null;
        var (ids, grouped, commits) = await InOneBatchAsync<MessageId>(t, () =>
        {
            var first = a.EnqueueAsync("a1").AsTask();
            // Deduplicated: not in the enqueue group; the plain enqueues after it must not be given lower ids.
            var deduplicated = a.EnqueueAsync("a-dedup", new EnqueueOptions { DeduplicationKey = "k" }).AsTask();
            var second = a.EnqueueAsync("a2").AsTask();
            // A receive is no barrier: the enqueue after it joins the one before it.
            receive = b.ReceiveAsync().AsTask();
            var third = a.EnqueueAsync("a3").AsTask();
            return [first, deduplicated, second, third];
        });

        Assert.Equal(ids.Order(), ids);
        Assert.Equal(2, grouped);
        Assert.Equal(1, commits);
        Assert.Equal("b0", Encoding.UTF8.GetString(Assert.Single(await receive!).Body.Span));
        var received = await a.ReceiveAsync(maxMessages: 10);
        Assert.Equal(["create a", "a1", "a-dedup", "a2", "a3"], received.Select(m => Encoding.UTF8.GetString(m.Body.Span)));
        Assert.Equal(ids, received.Skip(1).Select(m => m.Id));
    }

    [Fact]
    public async Task MixedBatch_EnqueuesReceivesAndAcks_GoWholeWithTheCommit()
    {
        await using var t = TestStore.Create();
        var q = await QueueWithAsync(t, 4);

        var leased = await q.ReceiveAsync(maxMessages: 2);
        Assert.Equal(2, leased.Count);
        var writer = t.Store.Writer;
        var retries = writer.DeferredRetries;
        var deferredCommits = writer.DeferredCommits;

        Task<IReadOnlyList<QueueMessage>>? receive = null;
        Task<IReadOnlyList<MessageReceipt>>? many = null;
        var (ids, grouped, commits) = await InOneBatchAsync<MessageId>(t, () =>
        {
            var first = q.EnqueueAsync("n1").AsTask();
            var ack = q.AckAsync(leased[0]).AsTask();
            receive = q.ReceiveAsync(maxMessages: 1).AsTask();
            var second = q.EnqueueAsync("n2").AsTask();
            many = q.AckManyAsync([leased[1].Receipt]).AsTask();
            return [first, second, ack.ContinueWith(_ => default(MessageId), TaskScheduler.Default)];
        });

        // The batch's one commit went whole with its COMMIT (one round trip, see PostgresWriteSession.Commit).
        Assert.Equal(5, grouped);
        Assert.Equal(1, commits);
        Assert.Equal(deferredCommits + 1, writer.DeferredCommits);
        Assert.Equal(retries, writer.DeferredRetries);
        Assert.True(ids[0].Value < ids[1].Value);
        Assert.Empty(await many!);
        var received = Assert.Single(await receive!);
        Assert.Equal("m2", Encoding.UTF8.GetString(received.Body.Span));
        Assert.Equal(1, received.Attempt);
        // What committed: two acks, one lease, two new messages.
        var counts = await q.GetCountsAsync();
        Assert.Equal(1, counts.Leased);
        Assert.Equal(3, counts.Ready);
        await q.AckAsync(received);
        var rest = await q.ReceiveAsync(maxMessages: 10);
        Assert.Equal(["m3", "n1", "n2"], rest.Select(m => Encoding.UTF8.GetString(m.Body.Span)));
        Assert.Equal([ids[0], ids[1]], rest.Skip(1).Select(m => m.Id));
    }

    [Fact]
    public async Task Receives_InOneBatch_LeaseWithOneStatement_AndAreDealtOutInDeliveryOrder()
    {
        await using var t = TestStore.Create();
        var q = await QueueWithAsync(t, 5);

        var writer = t.Store.Writer;
        var deferredCommits = writer.DeferredCommits;
        var (received, _, commits) = await InOneBatchAsync<IReadOnlyList<QueueMessage>>(t, () =>
        [
            q.ReceiveAsync(maxMessages: 2).AsTask(),
            q.ReceiveAsync(maxMessages: 2).AsTask(),
            q.ReceiveAsync(maxMessages: 3).AsTask(),
        ]);

        Assert.Equal(1, commits);
        Assert.Equal(deferredCommits + 1, writer.DeferredCommits);
        // Split evenly in delivery order: the first receive takes the head, and the last gets one fewer.
        string[][] expected = [["m0", "m1"], ["m2", "m3"], ["m4"]];
        Assert.Equal(expected, received.Select(r => r.Select(m => Encoding.UTF8.GetString(m.Body.Span)).ToArray()));
        var all = received.SelectMany(r => r).ToList();
        Assert.All(all, m => Assert.Equal(1, m.Attempt));
        // One statement leased them all: one lease token, and every receipt is its own by the message's id.
        Assert.Single(all.Select(m => m.Receipt.Token).Distinct());
        Assert.Equal(5, all.Select(m => m.Id).Distinct().Count());
        Assert.Empty(await q.AckManyAsync(all.Select(m => m.Receipt)));
        Assert.Equal(0, (await q.GetCountsAsync()).Total);
    }

    [Fact]
    public async Task Receives_InOneBatch_AskingForMoreThanThereIs_ShareTheMessagesEvenly()
    {
        await using var t = TestStore.Create();
        var q = await QueueWithAsync(t, 5);

        var (received, _, commits) = await InOneBatchAsync<IReadOnlyList<QueueMessage>>(t, () =>
        [
            q.ReceiveAsync(maxMessages: 10).AsTask(),
            q.ReceiveAsync(maxMessages: 10).AsTask(),
            q.ReceiveAsync(maxMessages: 10).AsTask(),
        ]);

        Assert.Equal(1, commits);
        // Waiting at the same moment, none goes back empty-handed while another holds more than it needs: two, two, one,
        // each a run of the head in delivery order.
        string[][] expected = [["m0", "m1"], ["m2", "m3"], ["m4"]];
        Assert.Equal(expected, received.Select(r => r.Select(m => Encoding.UTF8.GetString(m.Body.Span)).ToArray()));
        Assert.Empty(await q.AckManyAsync(received.SelectMany(r => r).Select(m => m.Receipt)));
    }

    [Fact]
    public async Task Batch_OnTheWriterThread_ItsWakeUpsFailingAfterTheCommit_CommitsOnce()
    {
        await using var t = TestStore.Create(o => o.BusyTimeout = TimeSpan.FromMilliseconds(200));
        var q = await QueueWithAsync(t, 1);
        var before = Assert.Single(await q.ReceiveAsync());
        var session = (DurableQueue.Postgres.Storage.PostgresWriteSession)t.Store.Writer.Session;
        var failedBefore = session.FailedWakeUps;

        // Another connection holds the table of waiting receivers: the wake-up look in the batch's round trip, after its
        // commit, fails at the lock timeout.
        await using var holder = t.OpenRaw();
        await using var hold = await holder.BeginTransactionAsync();
        await using (var command = new NpgsqlCommand("LOCK TABLE dq_waiters IN ACCESS EXCLUSIVE MODE;", holder, hold))
        {
            await command.ExecuteNonQueryAsync();
        }

        var (results, _, commits) = await InOneBatchAsync<object>(t, () =>
        [
            q.EnqueueAsync("one").AsTask().ContinueWith(object (e) => e.Result, TaskScheduler.Default),
            q.EnqueueAsync("two").AsTask().ContinueWith(object (e) => e.Result, TaskScheduler.Default),
            q.AckManyAsync([before.Receipt]).AsTask().ContinueWith(object (e) => e.Result, TaskScheduler.Default),
        ]);
        await hold.RollbackAsync();

        // Taken for a refused commit, the batch would have run again: both enqueues twice, the ack finding its message gone.
        Assert.Equal(1, commits);
        Assert.Empty((IReadOnlyList<MessageReceipt>)results[2]);
        Assert.Equal(failedBefore + 1, session.FailedWakeUps);
        var received = await q.ReceiveAsync(maxMessages: 10);
        Assert.Equal(["one", "two"], received.Select(m => Encoding.UTF8.GetString(m.Body.Span)));
    }

    [Fact]
    public async Task Receives_InOneBatch_WithOtherVisibilityTimeouts_LeaseApartWithTheirOwnTimeouts()
    {
        await using var t = TestStore.Create();
        var q = await QueueWithAsync(t, 3);

        var (received, _, commits) = await InOneBatchAsync<IReadOnlyList<QueueMessage>>(t, () =>
        [
            q.ReceiveAsync(visibilityTimeout: TimeSpan.FromSeconds(30)).AsTask(),
            q.ReceiveAsync(visibilityTimeout: TimeSpan.FromSeconds(90)).AsTask(),
            q.ReceiveAsync(visibilityTimeout: TimeSpan.FromSeconds(30)).AsTask(),
        ]);

        Assert.Equal(1, commits);
        var (first, second, third) = (Assert.Single(received[0]), Assert.Single(received[1]), Assert.Single(received[2]));
        Assert.Equal(["m0", "m1", "m2"], new[] { first, second, third }.Select(m => Encoding.UTF8.GetString(m.Body.Span)));
        // Three leases (the middle one breaks the run), each until its own timeout from the batch's one clock reading.
        Assert.Equal(3, new[] { first, second, third }.Select(m => m.Receipt.Token).Distinct().Count());
        Assert.Equal(TimeSpan.FromSeconds(60), second.LeaseExpiresAt - first.LeaseExpiresAt);
        Assert.Equal(first.LeaseExpiresAt, third.LeaseExpiresAt);
    }

    [Fact]
    public async Task Enqueues_InOneBatch_OneFailing_FailsAloneAndTheOthersCommit()
    {
        await using var t = TestStore.Create();
        var q = t.Store.GetQueue("q");
        await q.EnqueueAsync("create");
        await FailInsertsOfAsync(t, "boom");
        var retries = t.Store.Writer.DeferredRetries;

        var tasks = new List<Task<MessageId>>();
        var (_, grouped, commits) = await InOneBatchAsync<MessageId>(t, () =>
        {
            tasks = [q.EnqueueAsync("one").AsTask(), q.EnqueueAsync("boom").AsTask(), q.EnqueueAsync("two").AsTask()];
            return [tasks[0], tasks[2]];
        });

        Assert.Equal(0, grouped);
        Assert.Equal(1, commits);
        // The batch went with the COMMIT first; the server refused the insert, and the batch ran again one by one.
        Assert.Equal(retries + 1, t.Store.Writer.DeferredRetries);
        var failure = await Assert.ThrowsAsync<PostgresException>(() => tasks[1]);
        Assert.Equal(PostgresErrorCodes.CheckViolation, failure.SqlState);
        var received = await q.ReceiveAsync(maxMessages: 10);
        Assert.Equal(["create", "one", "two"], received.Select(m => Encoding.UTF8.GetString(m.Body.Span)));
        Assert.True((await tasks[0]).Value < (await tasks[2]).Value);
    }

    [Fact]
    public async Task Enqueue_Alone_SendsItsInsertWithTheCommit_OneRoundTrip()
    {
        await using var t = TestStore.Create();
        var q = t.Store.GetQueue("q");
        await q.EnqueueAsync("create");
        var session = t.Store.Writer.Session;

        var ids = new List<MessageId>();
        var before = session.RoundTrips;
        for (var i = 0; i < 5; i++)
        {
            ids.Add(await q.EnqueueAsync($"m{i}"));
        }

        Assert.Equal(5, session.RoundTrips - before);
        var received = await q.ReceiveAsync(maxMessages: 10);
        Assert.Equal(ids, received.Skip(1).Select(m => m.Id));
    }

    [Fact]
    public async Task Enqueue_Alone_WhileItsInsertWaitsOnTheServer_ReturnsToTheCallerAtOnce()
    {
        await using var t = TestStore.Create();
        var q = t.Store.GetQueue("q");
        await q.EnqueueAsync("create");
        await using var locker = t.OpenRaw();
        await using var hold = await locker.BeginTransactionAsync();
        await using (var lockTable = new NpgsqlCommand($"LOCK TABLE \"{t.Schema}\".dq_messages IN EXCLUSIVE MODE;", locker, hold))
        {
            await lockTable.ExecuteNonQueryAsync();
        }

        // A caller alone leads the commit, and awaits its round trip rather than blocking in it: the call returns while
        // the insert waits for the table lock. (Led on the caller's thread with a blocking round trip, the call would
        // return only when the lock wait timed out, with the enqueue failed.)
        var pending = q.EnqueueAsync("waited");

        Assert.False(pending.IsCompleted);
        await ServerPoll.UntilAsync(async () =>
        {
            await using var waiting = new NpgsqlCommand(
                "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation " +
                $"WHERE NOT l.granted AND c.relname = 'dq_messages' AND c.relnamespace = '\"{t.Schema}\"'::regnamespace;", locker, hold);
            return (long)(await waiting.ExecuteScalarAsync())! == 1;
        }, "the insert waits for the table lock");
        Assert.False(pending.IsCompleted);
        await hold.RollbackAsync();
        var id = await pending.AsTask().WaitAsync(TestStore.Guard);
        var received = await q.ReceiveAsync(maxMessages: 10);
        Assert.Equal(["create", "waited"], received.Select(m => Encoding.UTF8.GetString(m.Body.Span)));
        Assert.Equal(id, received[1].Id);
    }

    [Fact]
    public async Task Enqueue_Alone_Failing_FailsWithItsOwnErrorAndLeavesNothing()
    {
        await using var t = TestStore.Create();
        var q = t.Store.GetQueue("q");
        await q.EnqueueAsync("create");
        await FailInsertsOfAsync(t, "boom");
        var retries = t.Store.Writer.DeferredRetries;

        var failure = await Assert.ThrowsAsync<PostgresException>(async () => await q.EnqueueAsync("boom"));

        Assert.Equal(PostgresErrorCodes.CheckViolation, failure.SqlState);
        // The insert went alone, committing by itself; the server refused it, and it ran again the ordinary way.
        Assert.Equal(retries + 1, t.Store.Writer.DeferredRetries);
        var after = await q.EnqueueAsync("after");
        var received = await q.ReceiveAsync(maxMessages: 10);
        Assert.Equal(["create", "after"], received.Select(m => Encoding.UTF8.GetString(m.Body.Span)));
        Assert.Equal(after, received[1].Id);
    }

    [Fact]
    public async Task Acks_InOneBatch_RunAsOneGroup()
    {
        await using var t = TestStore.Create();
        var q = await QueueWithAsync(t, 6);

        var received = await q.ReceiveAsync(maxMessages: 6);
        Assert.Equal(6, received.Count);

        var (results, grouped, commits) = await InOneBatchAsync<int>(t, () =>
        [
            q.AckAsync(received[0]).AsTask().ContinueWith(_ => 0, TaskScheduler.Default),
            q.AckManyAsync(received.Skip(1).Take(3).Select(m => m.Receipt)).AsTask().ContinueWith(r => r.Result.Count, TaskScheduler.Default),
            q.AckAsync(received[4]).AsTask().ContinueWith(_ => 0, TaskScheduler.Default),
        ]);

        Assert.Equal([0, 0, 0], results);
        Assert.Equal(3, grouped);
        Assert.Equal(1, commits);
        var counts = await q.GetCountsAsync();
        Assert.Equal(0, counts.Ready);
        Assert.Equal(1, counts.Leased);
        await q.AckAsync(received[5]);
    }

    [Fact]
    public async Task Acks_InOneBatch_ALostLeaseAndAWrongQueue_FailAloneAndTheOthersAreAcked()
    {
        await using var t = TestStore.Create();
        var q = t.Store.GetQueue("q");
        var other = t.Store.GetQueue("other");
        for (var i = 0; i < 5; i++)
        {
            await q.EnqueueAsync($"m{i}");
        }

        await other.EnqueueAsync("x");
        var received = await q.ReceiveAsync(maxMessages: 5);
        var foreign = Assert.Single(await other.ReceiveAsync());
        await q.AckAsync(received[0]);
        var retries = t.Store.Writer.DeferredRetries;

        var tasks = new List<Task>();
        Task<IReadOnlyList<MessageReceipt>>? many = null;
        Task? lost = null;
        Task? wrong = null;
        var (_, grouped, commits) = await InOneBatchAsync<int>(t, () =>
        {
            lost = q.AckAsync(received[0]).AsTask();
            var good = q.AckAsync(received[1]).AsTask();
            // The ack of many reports the lost receipt among its results and acks the rest.
            many = q.AckManyAsync([received[2].Receipt, received[0].Receipt, received[3].Receipt]).AsTask();
            wrong = q.AckAsync(foreign.Receipt).AsTask();
            return [good.ContinueWith(_ => 0, TaskScheduler.Default), many.ContinueWith(_ => 0, TaskScheduler.Default)];
        });

        Assert.Equal(0, grouped);
        Assert.Equal(1, commits);
        // The acks went with the COMMIT first, which failed as a receipt matched nothing; then they ran one by one.
        Assert.Equal(retries + 1, t.Store.Writer.DeferredRetries);
        await Assert.ThrowsAsync<LeaseLostException>(() => lost!);
        await Assert.ThrowsAsync<ArgumentException>(() => wrong!);
        Assert.Equal([received[0].Receipt], await many!);
        var counts = await q.GetCountsAsync();
        Assert.Equal(1, counts.Leased);
        Assert.Equal(1, (await other.GetCountsAsync()).Leased);
    }

    [Fact]
    public async Task Acks_InOneBatch_AppSqlLaterInTheBatch_PlansWithTheServersSetting()
    {
        await using var t = TestStore.Create();
        var q = await QueueWithAsync(t, 3);

        var received = await q.ReceiveAsync(maxMessages: 3);
        Task<IReadOnlyList<MessageReceipt>>? many = null;
        var (settings, _, commits) = await InOneBatchAsync<string>(t, () =>
        {
            // The acks run with sequential scans off; the unit of work after them in the same transaction must not.
            many = q.AckManyAsync(received.Select(m => m.Receipt)).AsTask();
            var during = t.Store.ExecuteAsync(tx =>
            {
                using var command = tx.Connection.CreateCommand();
                command.CommandText = "SELECT current_setting('enable_seqscan') || ', ' || current_setting('plan_cache_mode');";
                return (string)command.ExecuteScalar()!;
            }).AsTask();
            return [during];
        });

        Assert.Equal(1, commits);
        Assert.Empty(await many!);
        Assert.Equal("on, auto", Assert.Single(settings));
        Assert.Equal(0, (await q.GetCountsAsync()).Leased);
    }

    [Theory]
    [InlineData(20)]
    [InlineData(400)]
    public async Task AckManyStatement_OnATableItsStatisticsCallEmpty_FindsTheRowsByPrimaryKey(int messages)
    {
        await using var t = TestStore.Create();
        var q = t.Store.GetQueue("q");
        await q.EnqueueAsync("create");
        await using var connection = t.OpenRaw();
        await using (var analyze = new NpgsqlCommand($"DELETE FROM \"{t.Schema}\".dq_messages; ANALYZE \"{t.Schema}\".dq_messages;", connection))
        {
            await analyze.ExecuteNonQueryAsync();
        }

        // Grown after its statistics were taken, as a busy queue's table is most of the time.
        await q.EnqueueBatchAsync(Enumerable.Range(0, messages).Select(i => new OutgoingMessage(new byte[200])));
        var received = await q.ReceiveAsync(maxMessages: 6);
        var sql = new DurableQueue.Postgres.Storage.PostgresSql(t.Schema);
        await using var transaction = await connection.BeginTransactionAsync();
        foreach (var setting in sql.PreferIndexes)
        {
            await using var prefer = new NpgsqlCommand(setting, connection, transaction);
            await prefer.ExecuteNonQueryAsync();
        }

        var ids = received.Select(m => m.Id.Value).ToArray();
        var tokens = received.Select(m => m.Receipt.Token).ToArray();
        var names = received.Select(_ => "q").ToArray();

        // The plan for these receipts, and the generic plan the writer's connection keeps (PreferIndexes asks for it).
        await using (var prepare = new NpgsqlCommand("PREPARE ack_many(bigint[], uuid[], text[]) AS " + sql.AckMany.TrimEnd(';') + ";", connection, transaction))
        {
            await prepare.ExecuteNonQueryAsync();
        }

        // The custom plan, with the receipts as parameters.
        var custom = await ExplainAsync(
            "EXPLAIN " + sql.AckMany,
            new NpgsqlParameter<long[]> { TypedValue = ids },
            new NpgsqlParameter<Guid[]> { TypedValue = tokens },
            new NpgsqlParameter<string[]> { TypedValue = names });
        AssertFindsRowsByPrimaryKey(custom);

        // The generic plan (EXECUTE takes no parameters of the protocol: the same receipts as literals). It names the
        // parameters rather than the values.
        var generic = await ExplainAsync(
            $"EXPLAIN EXECUTE ack_many('{{{string.Join(',', ids)}}}', '{{{string.Join(',', tokens)}}}', '{{{string.Join(',', names)}}}');");
        AssertFindsRowsByPrimaryKey(generic);
        Assert.Contains("ANY ($1", generic, StringComparison.Ordinal);

        async Task<string> ExplainAsync(string statement, params NpgsqlParameter[] parameters)
        {
            await using var explain = new NpgsqlCommand(statement, connection, transaction);
            explain.Parameters.AddRange(parameters);
            var plan = new List<string> { statement };
            await using var reader = await explain.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                plan.Add(reader.GetString(0));
            }

            return string.Join("\n", plan);
        }

        static void AssertFindsRowsByPrimaryKey(string plan)
        {
            Assert.True(plan.Contains("dq_messages_pkey", StringComparison.Ordinal), plan);
            Assert.False(plan.Contains("Seq Scan on dq_messages", StringComparison.Ordinal), plan);
            Assert.False(plan.Contains("dq_messages_ready", StringComparison.Ordinal), plan);
        }
    }

    /// <summary>The queue "q" of the store with <paramref name="messages"/> messages "m0", "m1", ... enqueued in order.</summary>
    private static async Task<MessageQueue> QueueWithAsync(TestStore t, int messages)
    {
        var q = t.Store.GetQueue("q");
        for (var i = 0; i < messages; i++)
        {
            await q.EnqueueAsync($"m{i}");
        }

        return q;
    }

    /// <summary>
    /// Holds the writer thread with a unit of work, submits the requests (they queue behind it), lets it go, and returns
    /// their results with how many requests ran in groups and how many commits the requests took.
    /// </summary>
    private static async Task<(T[] Results, long Grouped, long Commits)> InOneBatchAsync<T>(TestStore t, Func<List<Task<T>>> submit)
    {
        var writer = t.Store.Writer;
        using var release = new ManualResetEventSlim();
        var running = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var hold = t.Store.ExecuteAsync(_ =>
        {
            running.SetResult();
            if (!release.Wait(TestStore.Guard))
            {
                throw new TimeoutException("The test did not let the writer go.");
            }
        }).AsTask();
        await running.Task.WaitAsync(TestStore.Guard);
        var groupedBefore = writer.GroupedOperations;
        var commitsBefore = writer.Commits;
        var tasks = submit();
        release.Set();
        await hold.WaitAsync(TestStore.Guard);
        var results = await Task.WhenAll(tasks).WaitAsync(TestStore.Guard);
        // The hold's commit, then the requests'.
        return (results, writer.GroupedOperations - groupedBefore, writer.Commits - commitsBefore - 1);
    }

    /// <summary>Makes the server refuse (as a broken check) the insert of a message whose body is <paramref name="body"/>.</summary>
    private static async Task FailInsertsOfAsync(TestStore t, string body)
    {
        await using var connection = t.OpenRaw();
        await using var command = new NpgsqlCommand(
            $"CREATE FUNCTION \"{t.Schema}\".refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN " +
            $"IF NEW.body = convert_to('{body}', 'UTF8') THEN RAISE EXCEPTION 'refused: {body}' USING ERRCODE = 'check_violation'; END IF; RETURN NEW; END $$; " +
            $"CREATE TRIGGER refuse BEFORE INSERT ON \"{t.Schema}\".dq_messages FOR EACH ROW EXECUTE FUNCTION \"{t.Schema}\".refuse();",
            connection);
        await command.ExecuteNonQueryAsync();
    }
}
