using System.Text.Json;
using DurableQueue.Forwarding;
using Microsoft.Data.Sqlite;

namespace DurableQueue.Cli.Tests;

/// <summary><c>dq stats</c> on a file where a forwarder ran: its status row, and the lag from the queue itself.</summary>
public sealed class ForwarderStatsTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Stats_ShowsTheForwardersStatusRow_WithLagAndStaleness_AsTableAndJson()
    {
        var path = _dir.File("edge.db");
        DateTimeOffset stuckAt;
        await using (var store = QueueStore.Open(path))
        {
            var queue = store.GetQueue("telemetry");
            await queue.EnqueueAsync("ok 1");
            await queue.EnqueueAsync("ok 2");
            await queue.EnqueueAsync("stuck <b>[red]</b>");
            stuckAt = (await queue.GetMessagesAsync(10))[2].EnqueuedAt;

            await LinkDownAfterOk.ForwardUntilDownAsync(queue);
        }

        var table = await Dq.RunAsync("stats", path);
        Assert.True(table.ExitCode == 0, table.ToString());
        Assert.Contains("Forwarders", table.Out, StringComparison.Ordinal);
        Assert.Contains("Down for", table.Out, StringComparison.Ordinal);
        Assert.Contains("no route to the centre", table.Out, StringComparison.Ordinal);
        Assert.Contains("stopped (status written", table.Out, StringComparison.Ordinal);

        var json = await Dq.RunAsync("stats", path, "--json");
        Assert.True(json.ExitCode == 0, json.ToString());
        using var doc = JsonDocument.Parse(json.Out);
        var root = doc.RootElement;
        var row = Assert.Single(root.GetProperty("forwarders").EnumerateArray().ToList());
        Assert.Equal("telemetry", row.GetProperty("name").GetString());
        Assert.Equal("telemetry", row.GetProperty("queue").GetString());
        Assert.False(row.GetProperty("running").GetBoolean());
        Assert.Equal("Down", row.GetProperty("link").GetString());
        Assert.Equal(2, row.GetProperty("forwarded").GetInt64());
        Assert.NotEqual(JsonValueKind.Null, row.GetProperty("lastForwardedAt").ValueKind);
        Assert.StartsWith("no route to the centre", row.GetProperty("lastError").GetString(), StringComparison.Ordinal);
        // The lag is the age of the queue's oldest message: the stuck one, still in the queue.
        Assert.Equal(stuckAt, row.GetProperty("oldestEnqueuedAt").GetDateTimeOffset());
        var takenAt = root.GetProperty("takenAt").GetDateTimeOffset();
        Assert.Equal((takenAt - stuckAt).TotalSeconds, row.GetProperty("lagSeconds").GetDouble(), 3);
        var writtenAt = row.GetProperty("statusWrittenAt").GetDateTimeOffset();
        Assert.Equal((takenAt - writtenAt).TotalSeconds, row.GetProperty("statusAgeSeconds").GetDouble(), 3);
        Assert.True(writtenAt >= row.GetProperty("linkSince").GetDateTimeOffset());
    }

    [Fact]
    public async Task Stats_OnAFileWithoutForwarders_ShowsNothingExtra_AndCreatesNoTable()
    {
        var path = _dir.File("plain.db");
        await using (var store = QueueStore.Open(path))
        {
            await store.GetQueue("orders").EnqueueAsync("one");
        }

        var table = await Dq.RunAsync("stats", path);
        Assert.True(table.ExitCode == 0, table.ToString());
        Assert.DoesNotContain("Forwarders", table.Out, StringComparison.Ordinal);
        var json = await Dq.RunAsync("stats", path, "--json");
        using var doc = JsonDocument.Parse(json.Out);
        Assert.False(doc.RootElement.TryGetProperty("forwarders", out _));

        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString());
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT count(*) FROM sqlite_master WHERE name LIKE 'dqf%';";
        Assert.Equal(0L, (long)command.ExecuteScalar()!);
    }
}

/// <summary>Confirms messages whose body starts with "ok"; any other message finds the link down, every time.</summary>
internal sealed class LinkDownAfterOk : IMessageSink
{
    public ValueTask SendAsync(SendBatch batch, CancellationToken cancellationToken)
    {
        for (var i = 0; i < batch.Count; i++)
        {
            if (batch.Messages[i].Body.Span.StartsWith("ok"u8))
            {
                batch.Confirm(i);
            }
            else
            {
                batch.Fail(i, "no route to the centre");
            }
        }

        return ValueTask.CompletedTask;
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    /// <summary>
    /// Runs a forwarder of the queue (its first messages "ok ...", then one that is not) until its link is down
    /// after two messages, then stops it: its last status row says stopped, link down, two forwarded.
    /// </summary>
    public static async Task ForwardUntilDownAsync(MessageQueue queue)
    {
        var forwarder = new Forwarder("telemetry", queue, new LinkDownAfterOk(), new ForwarderOptions
        {
            RetryDelay = TimeSpan.FromMilliseconds(10),
            MaxRetryDelay = TimeSpan.FromMilliseconds(50),
        });
        using var stop = new CancellationTokenSource();
        var run = forwarder.RunAsync(stop.Token);
        using (var guard = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
        {
            while (forwarder.GetStatus() is not { Link: LinkState.Down, Forwarded: 2, Retries: >= 2 })
            {
                Assert.False(guard.IsCancellationRequested, $"The forwarder did not reach a down link after two messages: {forwarder.GetStatus()}");
                Assert.False(run.IsCompleted, "The forwarder stopped on its own.");
                await Task.Delay(20, CancellationToken.None);
            }
        }

        await stop.CancelAsync();
        await run;
    }
}
