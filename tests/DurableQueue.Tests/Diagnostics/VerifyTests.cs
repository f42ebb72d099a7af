namespace DurableQueue.Tests.Diagnostics;

public sealed class VerifyTests
{
    [Fact]
    public async Task HealthyStore_PassesEveryCheck()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q", new QueueOptions { MaxAttempts = 2 });
        await queue.EnqueueBatchAsync(Enumerable.Range(0, 10).Select(i => (ReadOnlyMemory<byte>)new[] { (byte)i }));
        var leased = await queue.ReceiveAsync(3);
        await queue.AckAsync(leased[0]);
        await queue.NackAsync(leased[1], TimeSpan.FromSeconds(5), "retry");
        await queue.DeadLetterAsync(leased[2], "poison");
        await t.Store.GetQueue("h").EnqueueAsync("x", new EnqueueOptions { Headers = new Dictionary<string, string> { ["k"] = "v" } });

        var result = await t.Store.VerifyAsync();

        Assert.True(result.IsHealthy, string.Join("; ", result.Problems));
        Assert.Empty(result.IntegrityErrors);
        Assert.Contains("attempts-over-limit", result.Checks);
        Assert.Contains("counts-consistent", result.Checks);
    }

    [Theory]
    [InlineData("lease-without-attempt", "UPDATE dq_messages SET lease_token = randomblob(16), attempts = 0 WHERE id = 1;")]
    [InlineData("malformed-lease-token", "UPDATE dq_messages SET lease_token = x'01', attempts = 1 WHERE id = 1;")]
    [InlineData("attempts-over-limit", "UPDATE dq_messages SET lease_token = randomblob(16), attempts = 9, max_attempts = 3, visible_at = visible_at + 3600000 WHERE id = 1;")]
    [InlineData("spent-but-not-dead-lettered", "UPDATE dq_messages SET attempts = 3, max_attempts = 3 WHERE id = 1;")]
    [InlineData("orphan-rows", "PRAGMA foreign_keys = OFF; UPDATE dq_messages SET queue_id = 999 WHERE id = 1;")]
    [InlineData("id-sequence-behind", "UPDATE sqlite_sequence SET seq = 0 WHERE name = 'dq_messages';")]
    [InlineData("bad-headers", "UPDATE dq_messages SET headers = '{not json' WHERE id = 1;")]
    [InlineData("missing-schema-version", "DELETE FROM dq_meta WHERE key = 'schema_version';")]
    [InlineData("missing-body", "UPDATE dq_messages SET body_size = 1 WHERE id = 1;")]
    [InlineData("body-size-mismatch", "INSERT INTO dq_bodies(id, body) VALUES (999, x'00');")]
    [InlineData("live-and-dead",
        "INSERT INTO dq_dead_letters(id, queue_id, priority, enqueued_at, attempts, max_attempts, body, reason, dead_lettered_at) " +
        "SELECT id, queue_id, priority, enqueued_at, 1, max_attempts, body, 'x', 0 FROM dq_messages WHERE id = 1;")]
    public async Task BrokenInvariant_IsReported(string check, string breakIt)
    {
        await using var t = TestStore.Create();
        await t.Store.GetQueue("q").EnqueueAsync("a");
        await t.Store.GetQueue("q").EnqueueAsync("b");
        Assert.True((await t.Store.VerifyAsync()).IsHealthy);

        InspectTests.Exec(t.Path, breakIt);

        var result = await t.Store.VerifyAsync();
        Assert.False(result.IsHealthy);
        var problem = Assert.Single(result.Problems, p => p.Check == check);
        Assert.True(problem.Count >= 1);

        if (check == "missing-schema-version")
        {
            // Without a version the inspector cannot tell the file from an app's own database.
            Assert.Equal(StoreFileProblem.NotAQueueStore, Assert.Throws<StoreFileException>(() => QueueStore.Inspect(t.Path)).Problem);
            return;
        }

        using var inspector = QueueStore.Inspect(t.Path, t.Options());
        Assert.Contains((await inspector.VerifyAsync()).Problems, p => p.Check == check);
    }

    [Fact]
    public async Task OrphanRows_AlsoBreakTheCounts()
    {
        await using var t = TestStore.Create();
        await t.Store.GetQueue("q").EnqueueAsync("a");
        InspectTests.Exec(t.Path, "PRAGMA foreign_keys = OFF; UPDATE dq_messages SET queue_id = 999;");
        var result = await t.Store.VerifyAsync();
        Assert.Contains(result.Problems, p => p.Check == "counts-consistent");
    }
}
