using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.Data.Sqlite;

namespace DurableQueue.Cli.Tests;

/// <summary>Every command run as a process against files made by the library.</summary>
public sealed class CommandTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>orders: 3 ready (one with headers, one binary, one with markup), 1 delayed, 2 dead letters; mail: 1 ready. 7 ids.</summary>
    private async Task<string> MakeStoreAsync()
    {
        var path = _dir.File("app.db");
        await using var store = QueueStore.Open(path);
        var orders = store.GetQueue("orders", new QueueOptions { MaxAttempts = 1 });
        await orders.EnqueueAsync("first", new EnqueueOptions { Priority = 1, Headers = new Dictionary<string, string> { ["tenant"] = "acme" } });
        await orders.EnqueueAsync(new byte[] { 0, 1, 2, 0xff }, new EnqueueOptions { Priority = 2 });
        await orders.EnqueueAsync("poison-1", new EnqueueOptions { Priority = 0 });
        await orders.EnqueueAsync("poison-2", new EnqueueOptions { Priority = 0 });
        foreach (var m in await orders.ReceiveAsync(2))
        {
            await orders.NackAsync(m, TimeSpan.Zero, $"failed {m.GetBodyAsString()}");
        }

        await orders.EnqueueAsync("third [markup]");
        await orders.EnqueueAsync("later", new EnqueueOptions { Delay = TimeSpan.FromHours(1), Priority = 3 });
        await store.GetQueue("mail").EnqueueAsync("hello");
        return path;
    }

    [Fact]
    public async Task Stats_Table_And_Json()
    {
        var path = await MakeStoreAsync();

        var table = await Dq.RunAsync("stats", path);
        Assert.True(table.ExitCode == 0, table.ToString());
        Assert.Contains("orders", table.Out);
        Assert.Contains("Schema version", table.Out);
        Assert.Equal("", table.Error);

        var json = await Dq.RunAsync("stats", path, "--json");
        Assert.Equal(0, json.ExitCode);
        using var doc = JsonDocument.Parse(json.Out);
        var root = doc.RootElement;
        using (var inspector = QueueStore.Inspect(path))
        {
            Assert.Equal(inspector.SchemaVersion, root.GetProperty("schemaVersion").GetInt64());
        }

        Assert.True(root.GetProperty("fileBytes").GetInt64() > 0);
        Assert.Equal(7, root.GetProperty("lastMessageId").GetInt64());
        var queues = root.GetProperty("queues").EnumerateArray().ToDictionary(q => q.GetProperty("name").GetString()!);
        Assert.Equal(["mail", "orders"], queues.Keys.Order());
        var orders = queues["orders"];
        Assert.Equal(3, orders.GetProperty("ready").GetInt64());
        Assert.Equal(1, orders.GetProperty("delayed").GetInt64());
        Assert.Equal(0, orders.GetProperty("leased").GetInt64());
        Assert.Equal(2, orders.GetProperty("deadLettered").GetInt64());
        Assert.True(orders.GetProperty("oldestReadyAgeSeconds").GetDouble() >= 0);
    }

    [Fact]
    public async Task Peek_ShowsMessagesInDeliveryOrder_WithoutLeasing()
    {
        var path = await MakeStoreAsync();

        var table = await Dq.RunAsync("peek", path, "orders");
        Assert.True(table.ExitCode == 0, table.ToString());
        Assert.Contains("tenant=acme", table.Out);
        Assert.Contains("third [markup]", table.Out);
        Assert.Contains("0x000102ff", table.Out);
        Assert.Contains("4 of 4 messages shown", table.Out);

        var json = await Dq.RunAsync("peek", path, "orders", "-n", "2", "--json");
        Assert.Equal(0, json.ExitCode);
        var lines = json.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToArray();
        Assert.Equal(2, lines.Length);
        Assert.Equal("first", lines[0].GetProperty("body").GetString());
        Assert.Equal("base64", lines[1].GetProperty("bodyEncoding").GetString());
        Assert.Equal(Convert.ToBase64String(new byte[] { 0, 1, 2, 0xff }), lines[1].GetProperty("body").GetString());

        await using var store = QueueStore.Open(path);
        Assert.Equal(0, (await store.GetQueue("orders").GetCountsAsync()).Leased);
    }

    [Fact]
    public async Task Dead_List_Show_Requeue_Purge()
    {
        var path = await MakeStoreAsync();

        var list = await Dq.RunAsync("dead", "list", path, "orders");
        Assert.True(list.ExitCode == 0, list.ToString());
        Assert.Contains("failed poison-1", list.Out);
        Assert.Contains("2 of 2 dead letters shown", list.Out);

        var json = await Dq.RunAsync("dead", "list", path, "orders", "--json");
        var ids = json.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => JsonDocument.Parse(l).RootElement.GetProperty("id").GetInt64()).ToArray();
        Assert.Equal(2, ids.Length);

        var show = await Dq.RunAsync("dead", "show", path, "orders", ids[0].ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(0, show.ExitCode);
        Assert.Contains("poison-1", show.Out);
        Assert.Contains("Body (text)", show.Out);

        var missing = await Dq.RunAsync("dead", "show", path, "orders", "999");
        Assert.Equal(6, missing.ExitCode);
        Assert.Single(missing.Error.Trim().Split('\n'));

        var requeue = await Dq.RunAsync("dead", "requeue", path, "orders", ids[0].ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.True(requeue.ExitCode == 0, requeue.ToString());
        Assert.Contains("requeued 1", requeue.Out);
        await using (var store = QueueStore.Open(path))
        {
            var queue = store.GetQueue("orders");
            var back = await queue.GetMessageAsync(new MessageId(ids[0]));
            Assert.NotNull(back);
            Assert.Equal(0, back.Attempts);
            Assert.Equal(1, (await queue.GetCountsAsync()).DeadLettered);
        }

        var noConfirm = await Dq.RunAsync("dead", "purge", path, "orders");
        Assert.Equal(2, noConfirm.ExitCode);
        Assert.Contains("--yes", noConfirm.Error);

        var purge = await Dq.RunAsync("dead", "purge", path, "orders", "--yes");
        Assert.True(purge.ExitCode == 0, purge.ToString());
        Assert.Contains("deleted 1 dead letter of 'orders'", purge.Out);
        await using (var store = QueueStore.Open(path))
        {
            Assert.Equal(0, (await store.GetQueue("orders").GetCountsAsync()).DeadLettered);
        }
    }

    [Fact]
    public async Task Dead_RequeueAll_And_UnknownIds()
    {
        var path = await MakeStoreAsync();

        var unknown = await Dq.RunAsync("dead", "requeue", path, "orders", "12345");
        Assert.Equal(6, unknown.ExitCode);
        Assert.Contains("12345", unknown.Error);

        var neither = await Dq.RunAsync("dead", "requeue", path, "orders");
        Assert.Equal(2, neither.ExitCode);

        var all = await Dq.RunAsync("dead", "requeue", path, "orders", "--all");
        Assert.True(all.ExitCode == 0, all.ToString());
        Assert.Contains("requeued 2", all.Out);
        await using var store = QueueStore.Open(path);
        var counts = await store.GetQueue("orders").GetCountsAsync();
        Assert.Equal(0, counts.DeadLettered);
        Assert.Equal(5, counts.Ready);
    }

    [Fact]
    public async Task Enqueue_Lines_Whole_And_Options()
    {
        var path = _dir.File("new.db");

        var noCreate = await Dq.PipeAsync("a\n", "enqueue", path, "jobs");
        Assert.Equal(3, noCreate.ExitCode);
        Assert.Contains("--create", noCreate.Error);
        Assert.False(File.Exists(path));

        var lines = await Dq.PipeAsync("one\ntwo\n\nthree\n", "enqueue", path, "jobs", "--create", "-p", "2", "-H", "source=cli", "--max-attempts", "3");
        Assert.True(lines.ExitCode == 0, lines.ToString());
        Assert.Contains("enqueued 3 messages", lines.Out);

        var whole = await Dq.PipeAsync("line 1\nline 2\n", "enqueue", path, "jobs", "--whole", "--delay", "10m");
        Assert.True(whole.ExitCode == 0, whole.ToString());

        var file = _dir.File("input.txt");
        await File.WriteAllTextAsync(file, "from file\n");
        Assert.Equal(0, (await Dq.RunAsync("enqueue", path, "jobs", "--file", file)).ExitCode);

        await using var store = QueueStore.Open(path);
        var messages = await store.GetQueue("jobs").GetMessagesAsync(10);
        Assert.Equal(["one", "two", "three", "line 1\nline 2\n", "from file"], messages.Select(m => System.Text.Encoding.UTF8.GetString(m.Body.Span)));
        Assert.All(messages.Take(3), m => Assert.Equal((2, 3, "cli"), (m.Priority, m.MaxAttempts, m.Headers["source"])));
        Assert.Equal(MessageState.Delayed, messages[3].State);
        Assert.True(messages[3].VisibleAt > messages[3].EnqueuedAt.AddMinutes(9));
    }

    [Fact]
    public async Task Export_Then_Import_IntoANewFile_KeepsPrioritiesDelaysAndHeaders()
    {
        var path = await MakeStoreAsync();
        var export = _dir.File("orders.jsonl");

        var exported = await Dq.RunAsync("export", path, "orders", "-o", export);
        Assert.True(exported.ExitCode == 0, exported.ToString());
        Assert.Contains("exported 4 messages", exported.Error);
        Assert.Equal(4, File.ReadAllLines(export).Length);

        var again = await Dq.RunAsync("export", path, "orders", "-o", export);
        Assert.Equal(2, again.ExitCode);

        var target = _dir.File("copy.db");
        var imported = await Dq.RunAsync("import", target, "orders", "-i", export, "--create", "--batch-size", "2");
        Assert.True(imported.ExitCode == 0, imported.ToString());
        Assert.Contains("imported 4 messages", imported.Out);
        Assert.Contains("2 atomic batches", imported.Out);

        await using var source = QueueStore.Open(path);
        await using var copy = QueueStore.Open(target);
        var before = await source.GetQueue("orders").GetMessagesAsync(10);
        var after = await copy.GetQueue("orders").GetMessagesAsync(10);
        Assert.Equal(before.Select(m => Convert.ToHexString(m.Body.Span)), after.Select(m => Convert.ToHexString(m.Body.Span)));
        Assert.Equal(before.Select(m => m.Priority), after.Select(m => m.Priority));
        Assert.Equal(before.Select(m => m.State), after.Select(m => m.State));
        Assert.Equal(before.Select(m => m.MaxAttempts), after.Select(m => m.MaxAttempts));
        Assert.Equal("acme", after[0].Headers["tenant"]);
        var delayed = Assert.Single(after, m => m.State == MessageState.Delayed);
        Assert.Equal(before.Single(m => m.State == MessageState.Delayed).VisibleAt, delayed.VisibleAt);
    }

    [Fact]
    public async Task Export_ToStdout_And_DeadLetters()
    {
        var path = await MakeStoreAsync();
        var stdout = await Dq.RunAsync("export", path, "orders", "--dead-letters");
        Assert.Equal(0, stdout.ExitCode);
        var lines = stdout.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToArray();
        Assert.Equal(["dead", "dead"], lines.Select(l => l.GetProperty("state").GetString()));
        Assert.All(lines, l => Assert.StartsWith("failed poison", l.GetProperty("lastError").GetString(), StringComparison.Ordinal));

        // Dead letters exported from one file come back as live messages in another.
        var imported = await Dq.PipeAsync(stdout.Out, "import", _dir.File("retry.db"), "retry", "--create");
        Assert.True(imported.ExitCode == 0, imported.ToString());
        await using var store = QueueStore.Open(_dir.File("retry.db"));
        Assert.Equal(2, (await store.GetQueue("retry").GetCountsAsync()).Ready);
    }

    [Fact]
    public async Task Import_BadLine_FailsItsBatchOnly_WithExitCode4()
    {
        var path = await MakeStoreAsync();
        var input = "{\"body\":\"ok-1\"}\n{\"body\":\"ok-2\"}\n{\"body\":\"AAEC\",\"bodyEncoding\":\"base64\",\"priority\":0,\"delay\":\"30s\"}\n{\"priority\":3}\n";

        var result = await Dq.PipeAsync(input, "import", path, "mail", "--batch-size", "2");

        Assert.Equal(4, result.ExitCode);
        var error = Assert.Single(result.Error.Trim().Split('\n'));
        Assert.Contains("line 4", error);
        Assert.Contains("2 messages of earlier batches were", error);
        await using var store = QueueStore.Open(path);
        Assert.Equal(3, (await store.GetQueue("mail").GetCountsAsync()).Total);

        var badPriority = await Dq.PipeAsync("{\"body\":\"x\",\"priority\":12}\n", "import", path, "mail");
        Assert.Equal(4, badPriority.ExitCode);
        Assert.Contains("priority", badPriority.Error);
    }

    [Fact]
    public async Task Verify_Healthy_Then_Broken()
    {
        var path = await MakeStoreAsync();
        var ok = await Dq.RunAsync("verify", path);
        Assert.True(ok.ExitCode == 0, ok.ToString());
        Assert.Contains("checks passed", ok.Out);

        using (var c = new SqliteConnection($"Data Source={path};Pooling=False"))
        {
            c.Open();
            using var cmd = c.CreateCommand();
            cmd.CommandText = "UPDATE dq_messages SET attempts = max_attempts WHERE lease_token IS NULL;";
            cmd.ExecuteNonQuery();
        }

        var bad = await Dq.RunAsync("verify", path, "--json");
        Assert.Equal(1, bad.ExitCode);
        using var doc = JsonDocument.Parse(bad.Out);
        Assert.False(doc.RootElement.GetProperty("healthy").GetBoolean());
        Assert.Contains(doc.RootElement.GetProperty("problems").EnumerateArray(), p => p.GetProperty("check").GetString() == "spent-but-not-dead-lettered");
    }

    [Fact]
    public async Task Compact_ReportsBytesReturned()
    {
        var path = _dir.File("big.db");
        await using (var store = QueueStore.Open(path))
        {
            var queue = store.GetQueue("bulk");
            await queue.EnqueueBatchAsync(Enumerable.Range(0, 300).Select(_ => (ReadOnlyMemory<byte>)new byte[4000]));
            await queue.PurgeAsync();
        }

        var result = await Dq.RunAsync("compact", path, "--json");
        Assert.True(result.ExitCode == 0, result.ToString());
        using var doc = JsonDocument.Parse(result.Out);
        Assert.True(doc.RootElement.GetProperty("bytesReturned").GetInt64() > 300 * 4000);
        Assert.Equal(0, doc.RootElement.GetProperty("freePagesAfter").GetInt64());
        Assert.Equal(doc.RootElement.GetProperty("fileBytesAfter").GetInt64(), new FileInfo(path).Length);

        // Again: no free page is left; only the WAL that opening the store wrote (its session record) is handed back.
        var again = await Dq.RunAsync("compact", path, "--json");
        using var second = JsonDocument.Parse(again.Out);
        Assert.Equal(0, second.RootElement.GetProperty("freePagesBefore").GetInt64());
        Assert.Equal(second.RootElement.GetProperty("walBytesBefore").GetInt64(), second.RootElement.GetProperty("bytesReturned").GetInt64());

        var text = await Dq.RunAsync("compact", path);
        Assert.Contains("free pages: 0 -> 0", text.Out);
    }

    [Fact]
    public async Task Watch_StopsAfterCount_WithOneTablePerRefresh()
    {
        var path = await MakeStoreAsync();
        var result = await Dq.RunAsync("watch", path, "--count", "3", "--interval", "100ms");
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal(3, result.Out.Split("Dead-lettered").Length - 1);
        Assert.Contains("rates appear from the second refresh", result.Out);
        Assert.Contains("enqueued/s", result.Out);
    }

    [Fact]
    public async Task ReadCommands_NeverChangeTheFile()
    {
        var path = await MakeStoreAsync();
        SqliteConnection.ClearAllPools();
        var hash = Convert.ToHexString(SHA256.HashData(await File.ReadAllBytesAsync(path)));
        foreach (var args in new[]
        {
            new[] { "stats", path }, ["peek", path, "orders"], ["dead", "list", path, "orders"], ["export", path, "orders"],
            ["verify", path], ["watch", path, "--count", "1"],
        })
        {
            var result = await Dq.RunAsync(args);
            Assert.True(result.ExitCode == 0, $"{string.Join(' ', args)}: {result}");
        }

        Assert.Equal(hash, Convert.ToHexString(SHA256.HashData(await File.ReadAllBytesAsync(path))));
        Assert.False(File.Exists(path + "-wal"));
    }
}
