using System.Text.Json;
using System.Text.Json.Nodes;
using DurableQueue.Postgres;
using Npgsql;

namespace DurableQueue.Cli.Tests;

/// <summary>
/// dq against a real PostgreSQL server (the test run's private cluster): the same commands as on a file, given a
/// connection string or a postgresql:// URI, and a queue moved from a file into PostgreSQL and back.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class PostgresCommandTests(PostgresClusterFixture postgres) : IDisposable
{
    private static int s_schemas;
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private Task<string> DatabaseAsync() => postgres.DatabaseForAsync(typeof(PostgresCommandTests));

    private static string NewSchema(string hint) => $"cli_{hint}_{Interlocked.Increment(ref s_schemas)}";

    /// <summary>The same database as a postgresql:// URI.</summary>
    private static string Uri(string connectionString)
    {
        var b = new NpgsqlConnectionStringBuilder(connectionString);
        return $"postgresql://{b.Username}:{System.Uri.EscapeDataString(b.Password!)}@{b.Host}:{b.Port}/{b.Database}";
    }

    private static QueueStore OpenPostgres(string connectionString, string schema) =>
        QueueStore.OpenPostgres(connectionString, postgres: new PostgresStoreOptions { Schema = schema });

    private static async Task<Dq.Result> OkAsync(params string[] args) => Ok(await Dq.RunAsync(args));

    private static Dq.Result Ok(Dq.Result result)
    {
        Assert.True(result.ExitCode == 0, result.ToString());
        return result;
    }

    private static async Task<bool> SchemaExistsAsync(string connectionString, string schema)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1);", connection);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = schema });
        return (bool)(await command.ExecuteScalarAsync())!;
    }

    /// <summary>What import keeps of a JSON line (id, enqueuedAt, attempts and lastError are the source store's).</summary>
    private static string Kept(JsonNode line) => new JsonObject
    {
        ["state"] = line["state"]!.GetValue<string>() == "delayed" ? "delayed" : "ready",
        ["visibleAt"] = line["state"]!.GetValue<string>() == "delayed" ? line["visibleAt"]!.DeepClone() : null,
        ["priority"] = line["priority"]!.DeepClone(),
        ["maxAttempts"] = line["maxAttempts"]!.DeepClone(),
        ["headers"] = line["headers"]?.DeepClone(),
        ["deduplicationKey"] = line["deduplicationKey"]?.DeepClone(),
        ["bodyEncoding"] = line["bodyEncoding"]!.DeepClone(),
        ["body"] = line["body"]!.DeepClone(),
    }.ToJsonString();

    private static string Text(MessageInfo m) => System.Text.Encoding.UTF8.GetString(m.Body.Span);

    private static List<JsonNode> Lines(string path) =>
        File.ReadAllLines(path).Where(l => l.Length > 0).Select(l => JsonNode.Parse(l)!).ToList();

    [Fact]
    public async Task Export_FromAFile_Import_IntoPostgres_AndBack_KeepsWhatTheFormatCarries()
    {
        // A file with every kind of message the format carries: headers, priorities, binary, a delay, dedup keys,
        // max attempts, an attempt already spent, and dead letters.
        var file = _dir.File("source.db");
        var notBefore = DateTimeOffset.FromUnixTimeMilliseconds(DateTimeOffset.UtcNow.AddHours(2).ToUnixTimeMilliseconds());
        await using (var store = QueueStore.Open(file))
        {
            var orders = store.GetQueue("orders", new QueueOptions { MaxAttempts = 3 });
            await orders.EnqueueAsync("retried", new EnqueueOptions { Priority = 0 });
            await orders.NackAsync(Assert.Single(await orders.ReceiveAsync()), TimeSpan.Zero, "file boom");
            await orders.EnqueueAsync("plain");
            await orders.EnqueueAsync("with headers", new EnqueueOptions { Priority = 1, Headers = new Dictionary<string, string> { ["tenant"] = "acme", ["trace"] = "a=b; c" } });
            await orders.EnqueueAsync(new byte[] { 0, 1, 2, 0xff }, new EnqueueOptions { Priority = 2 });
            await orders.EnqueueAsync("later", new EnqueueOptions { Priority = 3, NotBefore = notBefore, DeduplicationKey = "order-7" });
            await orders.EnqueueAsync("keyed", new EnqueueOptions { DeduplicationKey = "order-8", MaxAttempts = 7 });
            var payments = store.GetQueue("payments", new QueueOptions { MaxAttempts = 1 });
            await payments.EnqueueAsync("poison", new EnqueueOptions { Priority = 5, Headers = new Dictionary<string, string> { ["k"] = "v" } });
            await payments.NackAsync(Assert.Single(await payments.ReceiveAsync()), TimeSpan.Zero, "declined");
        }

        var cs = await DatabaseAsync();
        var schema = NewSchema("move");
        var fileLines = _dir.File("orders.jsonl");
        var deadLines = _dir.File("dead.jsonl");
        await OkAsync("export", file, "orders", "-o", fileLines);
        await OkAsync("export", file, "payments", "--dead-letters", "-o", deadLines);
        Assert.Contains(Lines(fileLines), l => l["attempts"]!.GetValue<int>() == 1 && l["lastError"]!.GetValue<string>() == "file boom");

        // Into PostgreSQL: the keyword form here, the URI form on the way back.
        var imported = Ok(await Dq.RunAsync("import", cs, "orders", "-i", fileLines, "--create", "--schema", schema));
        Assert.Contains("imported 6 messages into 'orders'", imported.Out, StringComparison.Ordinal);
        await OkAsync("import", cs, "payments-retry", "-i", deadLines, "--schema", schema);

        await using (var store = OpenPostgres(cs, schema))
        {
            var orders = store.GetQueue("orders");
            var messages = await orders.GetMessagesAsync(100);
            Assert.Equal(["retried", "plain", "with headers", "\0\u0001\u0002\ufffd", "later", "keyed"], messages.Select(Text));
            Assert.Equal(new byte[] { 0, 1, 2, 0xff }, messages[3].Body.ToArray());
            Assert.Equal([0, 4, 1, 2, 3, 4], messages.Select(m => m.Priority));
            Assert.Equal([3, 3, 3, 3, 3, 7], messages.Select(m => m.MaxAttempts));
            Assert.Equal("a=b; c", messages[2].Headers["trace"]);
            Assert.Equal((MessageState.Delayed, notBefore), (messages[4].State, messages[4].VisibleAt));
            Assert.Equal(["order-7", "order-8"], messages.Select(m => m.DeduplicationKey).OfType<string>());
            // Import starts every message afresh (documented): the file's spent attempt is not carried over.
            Assert.All(messages, m => Assert.Equal(0, m.Attempts));
            // The deduplication key is live on the server: enqueueing it again adds nothing.
            Assert.Equal(messages[5].Id, await orders.EnqueueAsync("again", new EnqueueOptions { DeduplicationKey = "order-8" }));

            var retry = Assert.Single(await store.GetQueue("payments-retry").GetMessagesAsync(10));
            Assert.Equal(("poison", 5, 1, "v"), (Text(retry), retry.Priority, retry.MaxAttempts, retry.Headers["k"]));

            // Give PostgreSQL an attempt and a dead letter of its own, for the export to carry.
            await orders.NackAsync(Assert.Single(await orders.ReceiveAsync()), TimeSpan.Zero, "server boom");
            var dead = store.GetQueue("refunds", new QueueOptions { MaxAttempts = 1 });
            await dead.EnqueueAsync("refund-1");
            await dead.NackAsync(Assert.Single(await dead.ReceiveAsync()), TimeSpan.Zero, "no account");
        }

        var uri = Uri(cs);
        var serverLines = _dir.File("from-server.jsonl");
        var exported = Ok(await Dq.RunAsync("export", uri, "orders", "--schema", schema, "-o", serverLines));
        Assert.Contains("exported 6 messages of 'orders'", exported.Error, StringComparison.Ordinal);
        var retried = Assert.Single(Lines(serverLines), l => l["body"]!.GetValue<string>() == "retried");
        Assert.Equal((1, "server boom"), (retried["attempts"]!.GetValue<int>(), retried["lastError"]!.GetValue<string>()));
        var deadExport = Ok(await Dq.RunAsync("export", uri, "refunds", "--schema", schema, "--dead-letters"));
        var deadLine = JsonNode.Parse(deadExport.Out.Trim())!;
        Assert.Equal(("dead", "refund-1", "no account", 1), (deadLine["state"]!.GetValue<string>(), deadLine["body"]!.GetValue<string>(), deadLine["lastError"]!.GetValue<string>(), deadLine["attempts"]!.GetValue<int>()));

        // And back into a new file: what import keeps is the same as in the first file.
        var back = _dir.File("back.db");
        await OkAsync("import", back, "orders", "-i", serverLines, "--create");
        var backLines = _dir.File("back.jsonl");
        await OkAsync("export", back, "orders", "-o", backLines);
        Assert.Equal(Lines(fileLines).Select(Kept), Lines(backLines).Select(Kept));
        Assert.Equal(Lines(fileLines).Select(Kept), Lines(serverLines).Select(Kept));
    }

    [Fact]
    public async Task Stats_OnPostgres_ShowsTheForwardersStatusRow()
    {
        var cs = await DatabaseAsync();
        var schema = NewSchema("fwd");
        await using (var store = OpenPostgres(cs, schema))
        {
            var queue = store.GetQueue("telemetry");
            await queue.EnqueueAsync("ok 1");
            await queue.EnqueueAsync("ok 2");
            await queue.EnqueueAsync("stuck");
            await LinkDownAfterOk.ForwardUntilDownAsync(queue);
        }

        var table = await OkAsync("stats", cs, "--schema", schema);
        Assert.Contains("Forwarders", table.Out, StringComparison.Ordinal);
        Assert.Contains("stopped (status written", table.Out, StringComparison.Ordinal);
        using var json = JsonDocument.Parse((await OkAsync("stats", cs, "--schema", schema, "--json")).Out);
        var row = Assert.Single(json.RootElement.GetProperty("forwarders").EnumerateArray().ToList());
        Assert.Equal(("telemetry", "Down", 2L, false), (row.GetProperty("queue").GetString(), row.GetProperty("link").GetString(), row.GetProperty("forwarded").GetInt64(), row.GetProperty("running").GetBoolean()));
        Assert.Equal("no route to the centre", row.GetProperty("lastError").GetString());
        Assert.True(row.GetProperty("lagSeconds").GetDouble() > 0);
    }

    [Fact]
    public async Task ReadOnlyCommands_ShowThePostgresStore_AndNeverCreateASchema()
    {
        var cs = await DatabaseAsync();
        var schema = NewSchema("read");
        await using (var store = OpenPostgres(cs, schema))
        {
            var orders = store.GetQueue("orders", new QueueOptions { MaxAttempts = 1 });
            await orders.EnqueueAsync("first", new EnqueueOptions { Headers = new Dictionary<string, string> { ["tenant"] = "acme" } });
            await orders.EnqueueAsync("poison");
            var lease = (await orders.ReceiveAsync(2)).Single(m => m.GetBodyAsString() == "first");
            await orders.NackAsync(lease, TimeSpan.Zero, "failed once");
        }

        var stats = await OkAsync("stats", cs, "--schema", schema);
        Assert.Contains("Database", stats.Out, StringComparison.Ordinal);
        Assert.Contains(schema, stats.Out, StringComparison.Ordinal);
        using (var json = JsonDocument.Parse((await OkAsync("stats", cs, "--schema", schema, "--json")).Out))
        {
            Assert.Equal("postgresql", json.RootElement.GetProperty("backend").GetString());
            Assert.Equal(schema, json.RootElement.GetProperty("schema").GetString());
            var orders = Assert.Single(json.RootElement.GetProperty("queues").EnumerateArray());
            Assert.Equal((1L, 1L), (orders.GetProperty("leased").GetInt64(), orders.GetProperty("deadLettered").GetInt64()));
            Assert.False(json.RootElement.TryGetProperty("forwarders", out _));
        }

        Assert.Contains("poison", (await OkAsync("peek", cs, "orders", "--schema", schema)).Out, StringComparison.Ordinal);
        var deadList = await OkAsync("dead", "list", cs, "orders", "--schema", schema, "--json");
        var deadId = JsonNode.Parse(deadList.Out.Trim())!["id"]!.GetValue<long>();
        Assert.Contains("failed once", (await OkAsync("dead", "show", cs, "orders", deadId.ToString(System.Globalization.CultureInfo.InvariantCulture), "--schema", schema)).Out, StringComparison.Ordinal);
        var verify = await OkAsync("verify", cs, "--schema", schema);
        using (var inspector = QueueStore.InspectPostgres(cs, postgres: new PostgresStoreOptions { Schema = schema }))
        {
            // Every check of the library's verification, without SQLite's integrity_check (the server checks its own pages).
            Assert.Contains($"all {(await inspector.VerifyAsync()).Checks.Count} checks passed", verify.Out, StringComparison.Ordinal);
        }

        Assert.DoesNotContain("integrity_check", verify.Out, StringComparison.Ordinal);
        var watch = await OkAsync("watch", cs, "--schema", schema, "--count", "1", "--json");
        Assert.Equal(2, JsonNode.Parse(watch.Out.Trim())!["lastMessageId"]!.GetValue<long>());

        // The password is never shown, whatever the command prints.
        var password = new NpgsqlConnectionStringBuilder(cs).Password!;
        Assert.DoesNotContain(password, stats.Out + stats.Error + watch.Out + verify.Out, StringComparison.Ordinal);

        // A schema that does not exist: refused like a missing file (exit 3), and nothing is created.
        var missing = NewSchema("missing");
        foreach (var args in new[] { new[] { "stats", cs }, ["peek", cs, "q"], ["export", cs, "q"], ["verify", cs], ["dead", "purge", cs, "q", "--yes"] })
        {
            var refused = await Dq.RunAsync([.. args, "--schema", missing]);
            Assert.True(refused.ExitCode == 3, refused.ToString());
            Assert.Contains($"Schema '{missing}'", refused.Error, StringComparison.Ordinal);
        }

        var noCreate = await Dq.PipeAsync("x\n", "enqueue", cs, "q", "--schema", missing);
        Assert.True(noCreate.ExitCode == 3, noCreate.ToString());
        Assert.Contains("pass --create", noCreate.Error, StringComparison.Ordinal);
        Assert.False(await SchemaExistsAsync(cs, missing));
    }

    [Fact]
    public async Task WriteCommands_OnPostgres_DoWhatTheyDoOnAFile()
    {
        var cs = await DatabaseAsync();
        var schema = NewSchema("write");
        Ok(await Dq.PipeAsync("a\nb\nc\nd\n", "enqueue", cs, "orders", "--create", "--schema", schema, "--max-attempts", "1", "-p", "2"));
        long[] ids;
        await using (var store = OpenPostgres(cs, schema))
        {
            var orders = store.GetQueue("orders");
            ids = (await orders.GetMessagesAsync(10)).Select(m => m.Id.Value).ToArray();
            Assert.Equal(4, ids.Length);
            var lease = Assert.Single(await orders.ReceiveAsync());
            await orders.NackAsync(lease, TimeSpan.Zero, "failed");
            Assert.Equal(ids[0], lease.Id.Value);
        }

        string Id(int i) => ids[i].ToString(System.Globalization.CultureInfo.InvariantCulture);
        Assert.Contains("requeued 1 dead letter", (await OkAsync("dead", "requeue", cs, "orders", Id(0), "--schema", schema)).Out, StringComparison.Ordinal);
        await OkAsync("delete", cs, "orders", Id(1), "--yes", "--schema", schema);
        await OkAsync("move", cs, "orders", Id(2), "--to", "manual", "--yes", "--schema", schema);
        await using (var store = OpenPostgres(cs, schema))
        {
            Assert.Equal(["a", "d"], (await store.GetQueue("orders").GetMessagesAsync(10)).Select(Text));
            Assert.Equal("c", Text(Assert.Single(await store.GetQueue("manual").GetMessagesAsync(10))));
            var orders = store.GetQueue("orders");
            await orders.NackAsync((await orders.ReceiveAsync()).Single(), TimeSpan.Zero, "failed again");
        }

        await OkAsync("dead", "purge", cs, "orders", "--yes", "--schema", schema);
        await OkAsync("purge", cs, "orders", "--yes", "--schema", schema);
        await using (var store = OpenPostgres(cs, schema))
        {
            var counts = await store.GetQueue("orders").GetCountsAsync();
            Assert.Equal((0L, 0L), (counts.Total, counts.DeadLettered));
        }

        var unknown = await Dq.RunAsync("delete", cs, "orders", "999999", "--yes", "--schema", schema);
        Assert.True(unknown.ExitCode == 6, unknown.ToString());
    }

    [Fact]
    public async Task Errors_OnPostgres_OneLineTheDocumentedCode_NoPassword()
    {
        var cs = await DatabaseAsync();
        var builder = new NpgsqlConnectionStringBuilder(cs);
        var schema = NewSchema("err");
        await using (var store = OpenPostgres(cs, schema))
        {
            await store.GetQueue("q").EnqueueAsync("x");
        }

        static void AssertOneLine(Dq.Result result, int exitCode, string contains, string secret)
        {
            Assert.True(result.ExitCode == exitCode, result.ToString());
            var line = Assert.Single(result.Error.Trim().Split('\n'));
            Assert.StartsWith("dq: ", line, StringComparison.Ordinal);
            Assert.Contains(contains, line, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain("   at ", result.Error, StringComparison.Ordinal);
            Assert.DoesNotContain(secret, result.Out + result.Error, StringComparison.Ordinal);
        }

        // Nothing listens on the port: the server is down (storage, exit 5).
        using (var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0))
        {
            listener.Start();
            builder.Port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        }

        AssertOneLine(await Dq.RunAsync("stats", builder.ConnectionString), 5, "could not be reached", builder.Password!);
        builder = new NpgsqlConnectionStringBuilder(cs);

        // A wrong password, and a database that does not exist: the store cannot be opened (exit 3).
        var wrong = new NpgsqlConnectionStringBuilder(cs) { Password = "not-the-password-1234" };
        AssertOneLine(await Dq.RunAsync("stats", wrong.ConnectionString), 3, "password authentication failed", "not-the-password-1234");
        AssertOneLine(await Dq.RunAsync("stats", Uri(cs).Replace("/" + builder.Database, "/no_such_db", StringComparison.Ordinal)), 3, "no_such_db", builder.Password!);
        var noPassword = new NpgsqlConnectionStringBuilder(cs) { Password = null };
        AssertOneLine(await Dq.RunAsync("stats", noPassword.ConnectionString), 3, "PGPASSWORD", builder.Password!);

        // A URI or keyword string that cannot be read, and options that do not fit the store: usage (exit 2).
        AssertOneLine(await Dq.RunAsync("stats", "postgresql://u:secret-pw@127.0.0.1:99999/db"), 2, "port", "secret-pw");
        AssertOneLine(await Dq.RunAsync("stats", "postgresql://u:secret-pw@127.0.0.1/db?fancy=1"), 2, "fancy", "secret-pw");
        AssertOneLine(await Dq.RunAsync("stats", "Host=127.0.0.1;Password=secret-pw;Bogus Setting=1"), 2, "connection string", "secret-pw");
        AssertOneLine(await Dq.RunAsync("doctor", cs, "--schema", schema), 2, "works on a SQLite file only", builder.Password!);
        AssertOneLine(await Dq.RunAsync("compact", cs, "--schema", schema), 2, "works on a SQLite file only", builder.Password!);
        AssertOneLine(await Dq.RunAsync("stats", _dir.File("app.db"), "--schema", schema), 2, "--schema", builder.Password!);

        // A URI with a percent-encoded password works like the keyword form.
        await using (var admin = new NpgsqlConnection(cs))
        {
            await admin.OpenAsync();
            await using var role = new NpgsqlCommand("CREATE ROLE dq_tool LOGIN SUPERUSER PASSWORD 'p@ss w:rd/%x';", admin);
            await role.ExecuteNonQueryAsync();
        }

        var encoded = $"postgresql://dq_tool:{System.Uri.EscapeDataString("p@ss w:rd/%x")}@127.0.0.1:{builder.Port}/{builder.Database}?application_name=dq-test";
        var viaUri = await OkAsync("stats", encoded, "--schema", schema);
        Assert.Contains($"postgresql://dq_tool@127.0.0.1:{builder.Port}/{builder.Database}", viaUri.Out, StringComparison.Ordinal);
        Assert.DoesNotContain("p@ss", viaUri.Out + viaUri.Error, StringComparison.Ordinal);
    }
}
