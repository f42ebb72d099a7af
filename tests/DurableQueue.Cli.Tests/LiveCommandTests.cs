using System.Text.Json;

namespace DurableQueue.Cli.Tests;

/// <summary>purge, delete and move of live messages (each asks first or takes --yes), watch --json, and the wording of counts.</summary>
public sealed class LiveCommandTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>q: ids 1 and 2 ready (2 with a header and priority 1), 3 delayed, 4 leased, 5 dead-lettered; other: 6.</summary>
    private async Task<string> StoreAsync()
    {
        var path = _dir.File("app.db");
        await using var store = QueueStore.Open(path);
        var q = store.GetQueue("q", new QueueOptions { MaxAttempts = 2 });
        await q.EnqueueAsync("one");
        await q.EnqueueAsync("two", new EnqueueOptions { Priority = 1, Headers = new Dictionary<string, string> { ["tenant"] = "a" }, DeduplicationKey = "k2" });
        await q.EnqueueAsync("three", new EnqueueOptions { Delay = TimeSpan.FromHours(1) });
        await q.EnqueueAsync("four", new EnqueueOptions { Priority = 0 });
        await q.EnqueueAsync("five", new EnqueueOptions { Priority = 0, MaxAttempts = 1 });
        var leased = await q.ReceiveAsync(2, TimeSpan.FromHours(1));
        Assert.Equal([4L, 5L], leased.Select(m => m.Id.Value));
        await q.NackAsync(leased[1], TimeSpan.Zero, "failed");
        await store.GetQueue("other").EnqueueAsync("six");
        return path;
    }

    [Fact]
    public async Task Purge_DeletesEveryLiveMessageOfTheQueue_KeepsDeadLettersAndOtherQueues()
    {
        var path = await StoreAsync();

        var refused = await Dq.RunAsync("purge", path, "q");
        Assert.True(refused.ExitCode == 2, refused.ToString());
        Assert.Contains("refusing to delete 4 messages without confirmation", refused.Error, StringComparison.Ordinal);

        var purged = await Dq.RunAsync("purge", path, "q", "--yes");
        Assert.True(purged.ExitCode == 0, purged.ToString());
        Assert.Contains("deleted 4 messages of 'q' (dead letters kept)", purged.Out, StringComparison.Ordinal);

        using var inspector = QueueStore.Inspect(path);
        var counts = await inspector.GetCountsAsync("q");
        Assert.Equal((0L, 1L), (counts.Total, counts.DeadLettered));
        Assert.Equal(1, (await inspector.GetCountsAsync("other")).Total);
    }

    [Fact]
    public async Task Delete_ById_AnyLiveState_UnknownIdsExit6()
    {
        var path = await StoreAsync();

        Assert.Equal(2, (await Dq.RunAsync("delete", path, "q", "1")).ExitCode); // no terminal, no --yes

        var deleted = await Dq.RunAsync("delete", path, "q", "1", "3", "4", "--yes");
        Assert.True(deleted.ExitCode == 0, deleted.ToString());
        Assert.Contains("deleted 3 messages of 'q'", deleted.Out, StringComparison.Ordinal);

        // 5 is a dead letter, 6 is another queue's, 99 never existed: none is deleted, the known one is.
        var partly = await Dq.RunAsync("delete", path, "q", "2", "5", "6", "99", "--yes");
        Assert.True(partly.ExitCode == 6, partly.ToString());
        Assert.Contains("deleted 1 message of 'q'", partly.Out, StringComparison.Ordinal);
        Assert.Contains("no live message with id 5, 6, 99", partly.Error, StringComparison.Ordinal);

        using var inspector = QueueStore.Inspect(path);
        Assert.Empty(await inspector.GetMessagesAsync("q", 10));
        Assert.Equal(1, (await inspector.GetCountsAsync("q")).DeadLettered);
        Assert.Equal(1, (await inspector.GetCountsAsync("other")).Total);
    }

    [Fact]
    public async Task Move_ById_KeepsBodyPriorityHeadersAndDelay_NewIdsAttemptsReset()
    {
        var path = await StoreAsync();

        Assert.Equal(2, (await Dq.RunAsync("move", path, "q", "2", "--yes")).ExitCode);             // no --to
        Assert.Equal(2, (await Dq.RunAsync("move", path, "q", "2", "--to", "q", "--yes")).ExitCode); // same queue
        Assert.Equal(2, (await Dq.RunAsync("move", path, "q", "2", "--to", "manual")).ExitCode);     // no --yes

        var moved = await Dq.RunAsync("move", path, "q", "2", "3", "4", "99", "--to", "manual", "--yes");
        Assert.True(moved.ExitCode == 6, moved.ToString());
        Assert.Contains("moved 3 messages to 'manual'", moved.Out, StringComparison.Ordinal);
        Assert.Contains("2 -> 7, 3 -> 8, 4 -> 9", moved.Out, StringComparison.Ordinal);
        Assert.Contains("no live message with id 99", moved.Error, StringComparison.Ordinal);

        using var inspector = QueueStore.Inspect(path);
        Assert.Equal([1L], (await inspector.GetMessagesAsync("q", 10)).Select(m => m.Id.Value));
        var manual = await inspector.GetMessagesAsync("manual", 10);
        Assert.Equal(["two", "three", "four"], manual.Select(m => System.Text.Encoding.UTF8.GetString(m.Body.Span)));
        Assert.Equal((1, "a", "k2"), (manual[0].Priority, manual[0].Headers["tenant"], manual[0].DeduplicationKey));
        Assert.Equal(MessageState.Delayed, manual[1].State);                  // still delayed, until the same instant
        Assert.True(manual[1].VisibleAt > manual[1].EnqueuedAt.AddMinutes(50));
        Assert.Equal((MessageState.Ready, 0), (manual[2].State, manual[2].Attempts)); // was leased: ready, attempts reset
    }

    [Fact]
    public async Task Watch_Json_OneObjectPerRefresh_RatesFromTheSecond()
    {
        var path = await StoreAsync();

        var result = await Dq.RunAsync("watch", path, "--json", "--count", "2", "--interval", "100ms");

        Assert.True(result.ExitCode == 0, result.ToString());
        var lines = result.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);
        using var first = JsonDocument.Parse(lines[0]);
        using var second = JsonDocument.Parse(lines[1]);
        Assert.Equal(JsonValueKind.Null, first.RootElement.GetProperty("enqueuedPerSecond").ValueKind);
        Assert.Equal(0, second.RootElement.GetProperty("enqueuedPerSecond").GetDouble());
        Assert.Equal(6, second.RootElement.GetProperty("lastMessageId").GetInt64());
        var q = second.RootElement.GetProperty("queues").EnumerateArray().Single(e => e.GetProperty("name").GetString() == "q");
        Assert.Equal((2L, 1L, 1L, 1L), (q.GetProperty("ready").GetInt64(), q.GetProperty("delayed").GetInt64(), q.GetProperty("leased").GetInt64(), q.GetProperty("deadLettered").GetInt64()));
        Assert.Equal(0, q.GetProperty("depthPerSecond").GetDouble());
    }

    [Fact]
    public async Task Enqueue_WholeEmptyInput_EnqueuesNothing()
    {
        var path = await StoreAsync();

        var result = await Dq.PipeAsync("", "enqueue", path, "q", "--whole");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("nothing to enqueue: the input was empty", result.Out, StringComparison.Ordinal);
        using var inspector = QueueStore.Inspect(path);
        Assert.Equal(6, (await inspector.GetStatisticsAsync()).LastMessageId);
    }

    [Fact]
    public async Task Counts_AreWrittenSingularOrPlural()
    {
        var path = await StoreAsync();
        var export = _dir.File("one.jsonl");

        Assert.Contains("exported 1 dead letter of 'q'", (await Dq.RunAsync("export", path, "q", "--dead-letters", "-o", export)).Error, StringComparison.Ordinal);
        Assert.Contains("1 of 1 dead letter shown", (await Dq.RunAsync("dead", "list", path, "q")).Out, StringComparison.Ordinal);
        Assert.Contains("imported 1 message into 'r'", (await Dq.RunAsync("import", path, "r", "-i", export)).Out, StringComparison.Ordinal);
        Assert.Contains("1 of 1 message shown", (await Dq.RunAsync("peek", path, "r")).Out, StringComparison.Ordinal);
        Assert.Contains("requeued 1 dead letter to 'q'", (await Dq.RunAsync("dead", "requeue", path, "q", "--all")).Out, StringComparison.Ordinal);
        Assert.Contains("deleted 1 message of 'r'", (await Dq.RunAsync("purge", path, "r", "--yes")).Out, StringComparison.Ordinal);
    }
}
