using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace DurableQueue.Dashboard.Tests;

/// <summary>
/// The dashboard's HTTP API on a store on PostgreSQL (a schema of its own on the private test cluster): the same reads and
/// write actions as on a file, the store's figures without the file-only ones, and compact refused with the reason.
/// </summary>
public sealed class PostgresDashboardTests
{
    private static readonly Dictionary<string, string?> s_admin = new()
    {
        ["Dashboard:AuthorizationPolicy"] = "QueueAdmins",
        ["Dashboard:EnableWriteActions"] = "true",
    };

    [Fact]
    public async Task Reads_OnPostgres_ShowTheQueuesMessagesAndTheStore()
    {
        await using var schema = await PostgresSchema.CreateAsync();
        await using var app = new DashboardFactory(postgres: schema);
        var dead = await StoreFiller.FillAsync(app.Store);
        app.Later();
        var client = app.Local();

        var overview = await client.GetFromJsonAsync<JsonElement>("/queues/api/overview");
        var queues = overview.GetProperty("queues").EnumerateArray().ToDictionary(q => q.GetProperty("name").GetString()!);
        Assert.Equal(["mail", "orders"], queues.Keys.Order());
        Assert.Equal((7, 2, 1, 0), Counts(queues["orders"]));
        Assert.Equal((3, 0, 0, 2), Counts(queues["mail"]));
        var summary = overview.GetProperty("store");
        Assert.Equal("postgresql", summary.GetProperty("backend").GetString());
        Assert.True(summary.GetProperty("fileBytes").GetInt64() > 0, "the size of the queue's tables");
        Assert.Equal(0, summary.GetProperty("walBytes").GetInt64());

        var store = await client.GetFromJsonAsync<JsonElement>("/queues/api/store");
        Assert.Equal("postgresql", store.GetProperty("backend").GetString());
        Assert.True(store.GetProperty("schemaVersion").GetInt64() >= 1);
        Assert.Equal(2, store.GetProperty("queues").GetInt32());
        Assert.True(store.GetProperty("lastMessageId").GetInt64() >= dead.Max(d => d.Value));
        // Where the store lives, without the password of the connection string.
        Assert.DoesNotContain(new Npgsql.NpgsqlConnectionStringBuilder(schema.ConnectionString).Password!, store.GetProperty("path").GetString(), StringComparison.Ordinal);

        // Delivery order: the ready ones first, then the delayed and the leased one.
        var delivery = await client.GetFromJsonAsync<JsonElement>("/queues/api/queues/orders/messages");
        var states = delivery.GetProperty("items").EnumerateArray().Select(m => m.GetProperty("state").GetString()).ToList();
        Assert.Equal(10, states.Count);
        Assert.All(states.Take(7), s => Assert.Equal("Ready", s));
        var enqueueOrder = await client.GetFromJsonAsync<JsonElement>("/queues/api/queues/orders/messages?order=enqueue");
        var ids = enqueueOrder.GetProperty("items").EnumerateArray().Select(m => m.GetProperty("id").GetInt64()).ToList();
        Assert.Equal(10, ids.Count);
        Assert.Equal(ids.Order(), ids);
        var one = await client.GetFromJsonAsync<JsonElement>($"/queues/api/queues/orders/messages/{ids[0]}");
        Assert.Equal("shop", one.GetProperty("headers").GetProperty("source").GetString());

        var deadLetters = await client.GetFromJsonAsync<JsonElement>("/queues/api/queues/mail/dead-letters");
        Assert.Equal(dead.Select(d => d.Value).Order(), deadLetters.GetProperty("items").EnumerateArray().Select(d => d.GetProperty("id").GetInt64()));
        var letter = await client.GetFromJsonAsync<JsonElement>($"/queues/api/queues/mail/dead-letters/{dead[0]}");
        Assert.Equal("<img src=x onerror=alert(1)>", letter.GetProperty("lastError").GetString());

        static (long, long, long, long) Counts(JsonElement q) => (
            q.GetProperty("ready").GetInt64(), q.GetProperty("delayed").GetInt64(), q.GetProperty("leased").GetInt64(), q.GetProperty("deadLettered").GetInt64());
    }

    [Fact]
    public async Task WriteActions_OnPostgres_RequeuePurgeAndVerify_CompactIsRefusedWithTheReason()
    {
        await using var schema = await PostgresSchema.CreateAsync();
        await using var app = new DashboardFactory(s_admin, postgres: schema);
        var dead = await StoreFiller.FillAsync(app.Store);
        var admin = await app.AdminWithTokenAsync();
        var mail = app.Store.GetQueue("mail");

        var requeued = await admin.PostAsJsonAsync($"/queues/api/queues/mail/dead-letters/{dead[0]}/requeue", new { });
        Assert.Equal(HttpStatusCode.OK, requeued.StatusCode);
        Assert.NotNull(await mail.GetMessageAsync(dead[0]));
        Assert.Equal((4L, 1L), await CountsAsync(mail));

        var purge = await admin.PostAsJsonAsync("/queues/api/queues/mail/dead-letters/purge", new { confirm = "mail" });
        Assert.Equal(1, (await purge.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("count").GetInt64());
        Assert.Equal((4L, 0L), await CountsAsync(mail));

        var verify = await admin.PostAsJsonAsync("/queues/api/store/verify", new { });
        Assert.Equal(HttpStatusCode.OK, verify.StatusCode);
        var verification = await verify.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(verification.GetProperty("healthy").GetBoolean(), verification.ToString());
        Assert.NotEqual(0, verification.GetProperty("checks").GetArrayLength());

        var compact = await admin.PostAsJsonAsync("/queues/api/store/compact", new { });
        Assert.Equal(HttpStatusCode.Conflict, compact.StatusCode);
        Assert.Contains("PostgreSQL", (await compact.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Equal((4L, 0L), await CountsAsync(mail));
    }

    private static async Task<(long Ready, long Dead)> CountsAsync(MessageQueue queue)
    {
        var counts = await queue.GetCountsAsync();
        return (counts.Ready, counts.DeadLettered);
    }
}
