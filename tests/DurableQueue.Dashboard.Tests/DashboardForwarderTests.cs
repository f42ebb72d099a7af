using System.Net.Http.Json;
using System.Text.Json;
using DurableQueue.Forwarding;
using DurableQueue.Hosting;
using Microsoft.Extensions.DependencyInjection;

namespace DurableQueue.Dashboard.Tests;

/// <summary>The forwarders of the app on the dashboard's API: from the app's memory, read-only, text as text.</summary>
public sealed class DashboardForwarderTests
{

    [Fact]
    public async Task Forwarders_AppWithAForwarder_ListsItsLinkAndLastError_AppWithout_ListsNone()
    {
        await using (var plain = new DashboardFactory())
        {
            var none = await plain.Local().GetFromJsonAsync<JsonElement>("/queues/api/forwarders");
            Assert.Empty(none.GetProperty("items").EnumerateArray());
        }

        await using var app = new DashboardFactory(services: s => s.AddDurableQueue().AddForwarder("telemetry", f => f.ToSink(_ => new UnreachableSink())));
        var client = app.Local();
        await app.Store.GetQueue("telemetry").EnqueueAsync("reading 1");
        var registry = app.Services.GetRequiredService<ForwarderRegistry>();
        using (var guard = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
        {
            while (registry.Find("telemetry")?.GetStatus() is not { Link: LinkState.Down })
            {
                Assert.False(guard.IsCancellationRequested, "The forwarder did not find its link down.");
                await Task.Delay(20, CancellationToken.None);
            }
        }

        var response = await client.GetAsync("/queues/api/forwarders");
        Assert.Equal("application/json", response.Content.Headers.ContentType!.MediaType);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        var item = Assert.Single(body.GetProperty("items").EnumerateArray().ToList());
        Assert.Equal("telemetry", item.GetProperty("name").GetString());
        Assert.Equal("telemetry", item.GetProperty("queue").GetString());
        Assert.Equal("Down", item.GetProperty("link").GetString());
        Assert.Equal(UnreachableSink.Error, item.GetProperty("lastError").GetString());
        Assert.Equal(app.Clock.GetUtcNow(), item.GetProperty("linkSince").GetDateTimeOffset());
        Assert.Equal(0, item.GetProperty("forwarded").GetInt64());
        Assert.Equal(1, item.GetProperty("inFlight").GetInt32());
        // The error's markup travels escaped in the JSON, never as raw markup.
        var raw = await response.Content.ReadAsStringAsync();
        Assert.DoesNotContain("<b>", raw, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Forwarders_SaysWhichOneWaitsForThePaceOfItsArrivals()
    {
        var source = new FixedForwarderStatusSource(
            FixedForwarderStatusSource.Summary("telemetry", pacing: true),
            FixedForwarderStatusSource.Summary("orders", pacing: false));
        await using var app = new DashboardFactory(services: s => s.AddSingleton<IForwarderStatusSource>(source));

        var body = await app.Local().GetFromJsonAsync<JsonElement>("/queues/api/forwarders");

        var items = body.GetProperty("items").EnumerateArray().ToDictionary(i => i.GetProperty("name").GetString()!, StringComparer.Ordinal);
        Assert.True(items["telemetry"].GetProperty("pacing").GetBoolean());
        Assert.False(items["orders"].GetProperty("pacing").GetBoolean());
        Assert.Equal(3, items["telemetry"].GetProperty("inFlight").GetInt32());
    }
}

/// <summary>A status source with fixed forwarders, for the states a live forwarder reaches only with time.</summary>
internal sealed class FixedForwarderStatusSource(params ForwarderSummary[] summaries) : IForwarderStatusSource
{
    public static ForwarderSummary Summary(string name, bool pacing) => new(
        name, name, "Up", new DateTimeOffset(2026, 3, 1, 11, 0, 0, TimeSpan.Zero), null, null, 40, null, 12.5, TimeSpan.FromSeconds(2), 3, pacing);

    public IReadOnlyList<ForwarderSummary> GetForwarderSummaries() => summaries;
}

/// <summary>A remote that is never reachable; its error has markup, which must stay text.</summary>
internal sealed class UnreachableSink : IMessageSink
{
    public const string Error = "no route to <b>centre</b> & \"co\"";

    public ValueTask SendAsync(SendBatch batch, CancellationToken cancellationToken)
    {
        for (var i = 0; i < batch.Count; i++)
        {
            batch.Fail(i, Error);
        }

        return ValueTask.CompletedTask;
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
