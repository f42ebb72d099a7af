using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace DurableQueue.Dashboard.Tests;

/// <summary>The dashboard's HTTP API in memory: reads, access rules, antiforgery, write actions, and escaping.</summary>
public sealed class DashboardEndpointTests
{
    private static readonly Dictionary<string, string?> s_admin = new()
    {
        ["Dashboard:AuthorizationPolicy"] = "QueueAdmins",
        ["Dashboard:EnableWriteActions"] = "true",
    };

    [Fact]
    public async Task Overview_FilledStore_ReturnsEveryQueueWithItsCounts()
    {
        await using var app = new DashboardFactory();
        var client = app.Local();
        await StoreFiller.FillAsync(app.Store);
        app.Later();

        var overview = await client.GetFromJsonAsync<JsonElement>("/queues/api/overview");

        var queues = overview.GetProperty("queues").EnumerateArray().ToDictionary(q => q.GetProperty("name").GetString()!);
        Assert.Equal(["mail", "orders"], queues.Keys.Order());
        Assert.Equal((7, 2, 1, 0), Counts(queues["orders"]));
        Assert.Equal((3, 0, 0, 2), Counts(queues["mail"]));
        Assert.True(queues["orders"].GetProperty("oldestReadyAgeSeconds").GetDouble() >= 0);
        Assert.Equal(JsonValueKind.Null, queues["orders"].GetProperty("capacity").ValueKind);
        Assert.True(overview.GetProperty("store").GetProperty("fileBytes").GetInt64() > 0);

        static (long, long, long, long) Counts(JsonElement q) => (
            q.GetProperty("ready").GetInt64(), q.GetProperty("delayed").GetInt64(), q.GetProperty("leased").GetInt64(), q.GetProperty("deadLettered").GetInt64());
    }

    [Fact]
    public async Task Page_WithoutTrailingSlash_RedirectsAndServesThePageAndItsFiles()
    {
        await using var app = new DashboardFactory();
        var client = app.Local();

        var redirect = await client.GetAsync("/queues");
        Assert.Equal(HttpStatusCode.Redirect, redirect.StatusCode);
        Assert.Equal("/queues/", redirect.Headers.Location!.OriginalString);

        var page = await client.GetAsync("/queues/");
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal("text/html", page.Content.Headers.ContentType!.MediaType);
        var html = await page.Content.ReadAsStringAsync();
        Assert.Contains("<script src=\"assets/app.js\" defer></script>", html, StringComparison.Ordinal);
        // Everything the page loads is relative to it, never from another host.
        Assert.DoesNotContain("http", html.Replace("http-equiv", "", StringComparison.Ordinal), StringComparison.OrdinalIgnoreCase);
        var csp = page.Headers.GetValues("Content-Security-Policy").Single();
        Assert.Contains("script-src 'self'", csp, StringComparison.Ordinal);
        Assert.Contains("require-trusted-types-for 'script'", csp, StringComparison.Ordinal);
        Assert.Equal("nosniff", page.Headers.GetValues("X-Content-Type-Options").Single());

        foreach (var (file, type) in new[] { ("app.js", "text/javascript"), ("app.css", "text/css"), ("icon.svg", "image/svg+xml") })
        {
            var asset = await client.GetAsync($"/queues/assets/{file}");
            Assert.Equal(HttpStatusCode.OK, asset.StatusCode);
            Assert.Equal(type, asset.Content.Headers.ContentType!.MediaType);
            var again = new HttpRequestMessage(HttpMethod.Get, $"/queues/assets/{file}");
            again.Headers.IfNoneMatch.Add(asset.Headers.ETag!);
            Assert.Equal(HttpStatusCode.NotModified, (await client.SendAsync(again)).StatusCode);
        }

        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("/queues/assets/missing.js")).StatusCode);
    }

    [Theory]
    [InlineData("10.1.2.3", null)]
    [InlineData("127.0.0.1", "X-Forwarded-For")]
    [InlineData("::1", "Forwarded")]
    public async Task NoPolicy_RemoteOrForwardedRequest_IsRefused(string remoteIp, string? forwardingHeader)
    {
        await using var app = new DashboardFactory();
        var client = app.Client(remoteIp);
        if (forwardingHeader is not null)
        {
            client.DefaultRequestHeaders.Add(forwardingHeader, "203.0.113.7");
        }

        foreach (var path in new[] { "/queues/", "/queues/api/overview", "/queues/assets/app.js" })
        {
            var response = await client.GetAsync(path);
            Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
            Assert.Contains("only requests from this machine", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("::1")]
    [InlineData("::ffff:127.0.0.1")]
    public async Task NoPolicy_LoopbackRequest_IsAnsweredReadOnly(string remoteIp)
    {
        await using var app = new DashboardFactory();
        var client = app.Client(remoteIp);

        var session = await client.GetFromJsonAsync<JsonElement>("/queues/api/session");
        Assert.False(session.GetProperty("writeActions").GetBoolean());
        Assert.Equal(JsonValueKind.Null, session.GetProperty("antiforgeryToken").ValueKind);
        // Read-only: the action endpoints do not exist.
        var post = await client.PostAsJsonAsync("/queues/api/store/compact", new { });
        Assert.True(post.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.MethodNotAllowed, $"got {post.StatusCode}");
    }

    [Fact]
    public async Task Policy_RequestsWithoutTheUserOrRole_AreRefusedEvenFromLoopback()
    {
        await using var app = new DashboardFactory(s_admin);

        Assert.Equal(HttpStatusCode.Unauthorized, (await app.Local().GetAsync("/queues/api/overview")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await app.Local().GetAsync("/queues/")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await app.Local("bob", "viewer").GetAsync("/queues/api/overview")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await app.Local("bob", "viewer").PostAsJsonAsync("/queues/api/store/compact", new { })).StatusCode);
        // With the policy satisfied, a remote address is fine: the policy decides.
        Assert.Equal(HttpStatusCode.OK, (await app.Client("10.1.2.3", "ada", "admin").GetAsync("/queues/api/overview")).StatusCode);
    }

    [Fact]
    public async Task WriteAction_WithoutAntiforgeryToken_IsRefusedAndChangesNothing()
    {
        await using var app = new DashboardFactory(s_admin);
        var dead = await StoreFiller.FillAsync(app.Store);
        var admin = app.Local("ada", "admin");

        // No token at all, then a cookie without the matching header token (what a forged cross-site form would send).
        var noToken = await admin.PostAsJsonAsync($"/queues/api/queues/mail/dead-letters/{dead[0]}/requeue", new { });
        Assert.Equal(HttpStatusCode.BadRequest, noToken.StatusCode);
        await admin.GetAsync("/queues/api/session");
        var cookieOnly = await admin.PostAsJsonAsync("/queues/api/queues/mail/dead-letters/purge", new { confirm = "mail" });
        Assert.Equal(HttpStatusCode.BadRequest, cookieOnly.StatusCode);
        Assert.Contains("antiforgery", await cookieOnly.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        var wrongToken = new HttpRequestMessage(HttpMethod.Post, "/queues/api/store/compact") { Content = JsonContent.Create(new { }) };
        wrongToken.Headers.Add("RequestVerificationToken", "forged");
        Assert.Equal(HttpStatusCode.BadRequest, (await admin.SendAsync(wrongToken)).StatusCode);

        Assert.Equal(2, (await app.Store.GetQueue("mail").GetCountsAsync()).DeadLettered);
    }

    [Fact]
    public async Task RequeueAndPurge_WithToken_ChangeTheStore()
    {
        await using var app = new DashboardFactory(s_admin);
        var dead = await StoreFiller.FillAsync(app.Store);
        var admin = await app.AdminWithTokenAsync();
        var mail = app.Store.GetQueue("mail");

        var one = await admin.PostAsJsonAsync($"/queues/api/queues/mail/dead-letters/{dead[0]}/requeue", new { });
        Assert.Equal(HttpStatusCode.OK, one.StatusCode);
        Assert.Equal(1, (await one.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("count").GetInt64());
        Assert.Equal((4L, 1L), await CountsAsync(mail));
        Assert.Equal(HttpStatusCode.NotFound, (await admin.PostAsJsonAsync($"/queues/api/queues/mail/dead-letters/{dead[0]}/requeue", new { })).StatusCode);

        // Purge: refused without the confirmation, done with it.
        Assert.Equal(HttpStatusCode.BadRequest, (await admin.PostAsJsonAsync("/queues/api/queues/mail/dead-letters/purge", new { })).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await admin.PostAsJsonAsync("/queues/api/queues/mail/dead-letters/purge", new { confirm = "orders" })).StatusCode);
        Assert.Equal((4L, 1L), await CountsAsync(mail));
        var purge = await admin.PostAsJsonAsync("/queues/api/queues/mail/dead-letters/purge", new { confirm = "mail" });
        Assert.Equal(1, (await purge.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("count").GetInt64());
        Assert.Equal((4L, 0L), await CountsAsync(mail));
    }

    [Fact]
    public async Task RequeueSelectedAndAll_MoveTheDeadLettersBack()
    {
        await using var app = new DashboardFactory(s_admin);
        var dead = await StoreFiller.FillAsync(app.Store);
        var admin = await app.AdminWithTokenAsync();
        var mail = app.Store.GetQueue("mail");

        Assert.Equal(HttpStatusCode.BadRequest, (await admin.PostAsJsonAsync("/queues/api/queues/mail/dead-letters/requeue", new { })).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await admin.PostAsJsonAsync("/queues/api/queues/mail/dead-letters/requeue", new { ids = new[] { 1L }, all = true })).StatusCode);

        var selected = await admin.PostAsJsonAsync("/queues/api/queues/mail/dead-letters/requeue", new { ids = new[] { dead[1].Value, 999_999L } });
        Assert.Equal(1, (await selected.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("count").GetInt64());
        Assert.Equal((4L, 1L), await CountsAsync(mail));

        var all = await admin.PostAsJsonAsync("/queues/api/queues/mail/dead-letters/requeue", new { all = true });
        Assert.Equal(1, (await all.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("count").GetInt64());
        Assert.Equal((5L, 0L), await CountsAsync(mail));
    }

    [Fact]
    public async Task Messages_PagedInEnqueueOrder_AndFirstPageInDeliveryOrder()
    {
        await using var app = new DashboardFactory(new() { ["Dashboard:PageSize"] = "4" });
        await StoreFiller.FillAsync(app.Store);
        var client = app.Local();

        var delivery = await client.GetFromJsonAsync<JsonElement>("/queues/api/queues/orders/messages");
        Assert.Equal("delivery", delivery.GetProperty("order").GetString());
        Assert.Equal(4, delivery.GetProperty("items").GetArrayLength());
        Assert.All(delivery.GetProperty("items").EnumerateArray(), m => Assert.Equal("Ready", m.GetProperty("state").GetString()));
        Assert.Equal(JsonValueKind.Null, delivery.GetProperty("next").ValueKind);

        var ids = new List<long>();
        string? after = null;
        do
        {
            var page = await client.GetFromJsonAsync<JsonElement>($"/queues/api/queues/orders/messages?order=enqueue{(after is null ? "" : "&after=" + after)}");
            ids.AddRange(page.GetProperty("items").EnumerateArray().Select(m => m.GetProperty("id").GetInt64()));
            after = page.GetProperty("next").ValueKind == JsonValueKind.Null ? null : page.GetProperty("next").GetInt64().ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        while (after is not null);

        Assert.Equal(10, ids.Count);
        Assert.Equal(ids.Order(), ids);
        Assert.Equal(HttpStatusCode.BadRequest, (await client.GetAsync("/queues/api/queues/orders/messages?order=enqueue&after=abc")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("/queues/api/queues/nothere/messages")).StatusCode);
    }

    [Fact]
    public async Task Bodies_HiddenByDefault_ShownAsTextAndHexWhenEnabled()
    {
        await using var hidden = new DashboardFactory();
        await StoreFiller.FillAsync(hidden.Store);
        var first = (await hidden.Store.GetQueue("orders").GetMessagesAsync(1))[0];
        var detail = await hidden.Local().GetFromJsonAsync<JsonElement>($"/queues/api/queues/orders/messages/{first.Id}");
        Assert.Equal(JsonValueKind.Null, detail.GetProperty("body").ValueKind);
        Assert.Equal(first.Body.Length, detail.GetProperty("bodyBytes").GetInt32());
        Assert.Equal("shop", detail.GetProperty("headers").GetProperty("source").GetString());
        Assert.DoesNotContain("order", await (await hidden.Local().GetAsync($"/queues/api/queues/orders/messages/{first.Id}")).Content.ReadAsStringAsync(), StringComparison.Ordinal);

        await using var shown = new DashboardFactory(new() { ["Dashboard:ShowMessageBodies"] = "true", ["Dashboard:MaxBodyBytes"] = "16" });
        var queue = shown.Store.GetQueue("bin");
        var text = await queue.EnqueueAsync("{\"order\":1}");
        var binary = await queue.EnqueueAsync(new byte[] { 0, 1, 2, 0xff });
        var longText = await queue.EnqueueAsync(new string('é', 20));

        var textBody = (await shown.Local().GetFromJsonAsync<JsonElement>($"/queues/api/queues/bin/messages/{text}")).GetProperty("body");
        Assert.Equal("{\"order\":1}", textBody.GetProperty("text").GetString());
        Assert.Equal(Convert.ToHexString(Encoding.UTF8.GetBytes("{\"order\":1}")), textBody.GetProperty("hex").GetString());
        var binaryBody = (await shown.Local().GetFromJsonAsync<JsonElement>($"/queues/api/queues/bin/messages/{binary}")).GetProperty("body");
        Assert.Equal(JsonValueKind.Null, binaryBody.GetProperty("text").ValueKind);
        Assert.Equal("000102FF", binaryBody.GetProperty("hex").GetString());
        // Cut at 16 bytes, in the middle of a two-byte character: the text keeps the 8 whole ones.
        var longBody = (await shown.Local().GetFromJsonAsync<JsonElement>($"/queues/api/queues/bin/messages/{longText}")).GetProperty("body");
        Assert.True(longBody.GetProperty("truncated").GetBoolean());
        Assert.Equal(new string('é', 8), longBody.GetProperty("text").GetString());
    }

    [Fact]
    public async Task MarkupInBodiesHeadersErrorsAndNames_NeverAppearsUnescaped()
    {
        await using var app = new DashboardFactory(new()
        {
            ["Dashboard:ShowMessageBodies"] = "true",
            ["Dashboard:Title"] = "<b>Ops</b> " + StoreFiller.Script,
        });
        var dead = await StoreFiller.FillAsync(app.Store);
        var mailIds = (await app.Store.GetQueue("mail").GetMessagesAsync()).Select(m => m.Id).ToList();
        var client = app.Local();

        var paths = new List<string>
        {
            "/queues/", "/queues/api/session", "/queues/api/overview", "/queues/api/store",
            "/queues/api/queues/mail/messages", "/queues/api/queues/mail/messages?order=enqueue", "/queues/api/queues/mail/dead-letters",
            $"/queues/api/queues/mail/dead-letters/{dead[0]}", $"/queues/api/queues/mail/dead-letters/{dead[1]}",
            // A queue name cannot hold markup; asking for one is answered without repeating it.
            "/queues/api/queues/%3Cscript%3Ealert(1)%3C%2Fscript%3E/messages",
            "/queues/api/queues/%3Cscript%3E/dead-letters/1",
        };
        paths.AddRange(mailIds.Select(id => $"/queues/api/queues/mail/messages/{id}"));
        var checkedBodies = 0;
        foreach (var path in paths)
        {
            var response = await client.GetAsync(path);
            var text = await response.Content.ReadAsStringAsync();
            Assert.DoesNotContain("<script>", text, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain("<img", text, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain("<b>", text, StringComparison.OrdinalIgnoreCase);
            if (response.Content.Headers.ContentType?.MediaType == "application/json" && response.IsSuccessStatusCode)
            {
                // The markup is there, as data: a JSON string the page will only ever show as text.
                using var json = JsonDocument.Parse(text);
                if (json.RootElement.GetRawText().Contains("\\u003Cscript\\u003E", StringComparison.Ordinal))
                {
                    checkedBodies++;
                }
            }
        }

        Assert.True(checkedBodies >= 5, $"markup was found as escaped data in only {checkedBodies} responses");
        var page = await (await client.GetAsync("/queues/")).Content.ReadAsStringAsync();
        Assert.Contains("&lt;b&gt;Ops&lt;/b&gt; &lt;script&gt;", page, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("/queues/api/queues/%3Cscript%3E/messages")).StatusCode);
    }

    [Fact]
    public async Task Store_VerifyAndCompact_ReturnTheirResults()
    {
        await using var app = new DashboardFactory(s_admin);
        await StoreFiller.FillAsync(app.Store);
        var admin = await app.AdminWithTokenAsync();
        app.Later();

        var store = await admin.GetFromJsonAsync<JsonElement>("/queues/api/store");
        Assert.Equal("wal", store.GetProperty("journalMode").GetString());
        Assert.Equal(2, store.GetProperty("queues").GetInt32());

        var verify = await (await admin.PostAsJsonAsync("/queues/api/store/verify", new { })).Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(verify.GetProperty("healthy").GetBoolean());
        Assert.Contains("counts-consistent", verify.GetProperty("checks").EnumerateArray().Select(c => c.GetString()));

        var compact = await admin.PostAsJsonAsync("/queues/api/store/compact", new { });
        Assert.Equal(HttpStatusCode.OK, compact.StatusCode);
        var result = await compact.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(result.GetProperty("fileBytesAfter").GetInt64() > 0);
        Assert.True(result.GetProperty("bytesReturned").GetInt64() >= 0);
    }

    private static async Task<(long Ready, long Dead)> CountsAsync(MessageQueue queue)
    {
        var counts = await queue.GetCountsAsync();
        return (counts.Ready, counts.DeadLettered);
    }
}
