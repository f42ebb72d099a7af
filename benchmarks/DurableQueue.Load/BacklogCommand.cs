using System.ComponentModel;
using System.Diagnostics;
using DurableQueue.BenchmarkShared;
using Spectre.Console;
using Spectre.Console.Cli;

namespace DurableQueue.Load;

public sealed class BacklogSettings : CommonSettings
{
    [CommandOption("--backlog")]
    [Description("Backlog sizes to measure (repeat the option); default 1000 and 1000000.")]
    public int[]? Backlogs { get; set; }

    [CommandOption("--samples")]
    [Description("Receives measured at each backlog.")]
    [DefaultValue(2000)]
    public int Samples { get; set; }

    [CommandOption("-d|--durability")]
    [DefaultValue(Durability.Full)]
    public Durability Durability { get; set; }

    [CommandOption("--baseline")]
    [Description("Also measure a raw SQLite claim (one UPDATE ... RETURNING per commit) at the same backlog.")]
    public bool Baseline { get; set; }

    [CommandOption("-o|--json")]
    [DefaultValue("backlog-result.json")]
    public string Json { get; set; } = "backlog-result.json";
}

/// <summary>
/// Receive latency with a standing backlog: fill the queue (EnqueueBatchAsync of 1,000), then time single-message
/// receives; after each sample the message is acked and a new one enqueued in one unit of work (not timed), so the
/// backlog stays at its size.
/// </summary>
public sealed class BacklogCommand : AsyncCommand<BacklogSettings>
{
    public override async Task<int> ExecuteAsync(CommandContext context, BacklogSettings settings, CancellationToken cancellationToken)
    {
        var backlogs = settings.Backlogs is { Length: > 0 } b ? b : [1_000, 1_000_000];
        var rows = new List<BacklogResult>();
        foreach (var backlog in backlogs)
        {
            rows.Add(await MeasureQueueAsync(settings, backlog));
            if (settings.Baseline)
            {
                rows.Add(await MeasureRawAsync(settings, backlog));
            }
        }

        var table = new Table().Border(TableBorder.Rounded);
        foreach (var column in new[] { "Kind", "Durability", "Backlog", "Fill s", "Receive p50 ms", "p99 ms", "max ms", "Samples" })
        {
            table.AddColumn(new TableColumn(column).RightAligned());
        }

        foreach (var r in rows)
        {
            table.AddRow(r.Kind, r.Durability, r.Backlog.ToString("N0"), r.FillSeconds.ToString("N1"), r.Latency.P50Ms.ToString("N3"),
                r.Latency.P99Ms.ToString("N3"), r.Latency.MaxMs.ToString("N1"), r.Latency.Samples.ToString("N0"));
        }

        AnsiConsole.Write(table);
        foreach (var kind in rows.Select(r => r.Kind).Distinct())
        {
            var mine = rows.Where(r => r.Kind == kind).OrderBy(r => r.Backlog).ToList();
            if (mine.Count >= 2)
            {
                AnsiConsole.MarkupLineInterpolated(
                    $"{kind}: receive p50 at {mine[^1].Backlog:N0} / at {mine[0].Backlog:N0} = [bold]{mine[^1].Latency.P50Ms / mine[0].Latency.P50Ms:N2}x[/], p99 {mine[^1].Latency.P99Ms / mine[0].Latency.P99Ms:N2}x");
            }
        }

        Output.WriteJson(settings.Json, new { Command = "backlog", Machine = Output.Machine(), Results = rows });
        return 0;
    }

    private static async Task<BacklogResult> MeasureQueueAsync(BacklogSettings settings, int backlog)
    {
        var path = Path.Combine(settings.WorkDirectory, $"backlog-{Guid.NewGuid():N}.db");
        var store = QueueStore.Open(path, new QueueStoreOptions { Durability = settings.Durability });
        try
        {
            var queue = store.GetQueue("load");
            var body = new byte[settings.Size];
            var fillStarted = Stopwatch.GetTimestamp();
            await Output.WithProgressAsync($"Filling queue to {backlog:N0}", backlog, !settings.NoProgress, async progress =>
            {
                var batch = Enumerable.Repeat((ReadOnlyMemory<byte>)body, 1000).ToArray();
                for (var filled = 0; filled < backlog;)
                {
                    var count = Math.Min(1000, backlog - filled);
                    await queue.EnqueueBatchAsync(count == 1000 ? batch : batch.Take(count));
                    filled += count;
                    progress?.Invoke(filled);
                }

                return 0;
            });
            var fill = Stopwatch.GetElapsedTime(fillStarted).TotalSeconds;

            var ticks = await Output.WithProgressAsync($"Receiving at {backlog:N0} (queue)", settings.Samples, !settings.NoProgress, async progress =>
            {
                var samples = new List<long>(settings.Samples);
                for (var i = -100; i < settings.Samples; i++)
                {
                    var t0 = Stopwatch.GetTimestamp();
                    var messages = await queue.ReceiveAsync(1);
                    var t1 = Stopwatch.GetTimestamp();
                    if (i >= 0)
                    {
                        samples.Add(t1 - t0);
                        progress?.Invoke(i + 1);
                    }

                    await store.ExecuteAsync(tx =>
                    {
                        tx.Ack(messages[0]);
                        tx.Enqueue("load", body);
                    });
                }

                return samples;
            });
            return new BacklogResult("DurableQueue", settings.Durability.ToString(), backlog, fill, LatencySummary.From("receive", ticks));
        }
        finally
        {
            await store.DisposeAsync();
            Runner.DeleteDatabase(path);
        }
    }

    private static async Task<BacklogResult> MeasureRawAsync(BacklogSettings settings, int backlog)
    {
        var path = Path.Combine(settings.WorkDirectory, $"backlog-raw-{Guid.NewGuid():N}.db");
        var raw = RawStore.Open(path, settings.Durability == Durability.Full);
        try
        {
            var body = new byte[settings.Size];
            var fillStarted = Stopwatch.GetTimestamp();
            await Output.WithProgressAsync($"Filling raw table to {backlog:N0}", backlog, !settings.NoProgress, progress =>
            {
                var batch = Enumerable.Repeat(body, 1000).ToArray();
                for (var filled = 0; filled < backlog;)
                {
                    var count = Math.Min(1000, backlog - filled);
                    raw.Insert(count == 1000 ? batch : batch.Take(count).ToArray());
                    filled += count;
                    progress?.Invoke(filled);
                }

                return Task.FromResult(0);
            });
            var fill = Stopwatch.GetElapsedTime(fillStarted).TotalSeconds;
            var token = Guid.NewGuid().ToByteArray();
            var ticks = await Output.WithProgressAsync($"Claiming at {backlog:N0} (raw)", settings.Samples, !settings.NoProgress, progress =>
            {
                var samples = new List<long>(settings.Samples);
                for (var i = -100; i < settings.Samples; i++)
                {
                    var t0 = Stopwatch.GetTimestamp();
                    var claimed = raw.Claim(1, token);
                    var t1 = Stopwatch.GetTimestamp();
                    if (i >= 0)
                    {
                        samples.Add(t1 - t0);
                        progress?.Invoke(i + 1);
                    }

                    raw.Delete(claimed, token);
                    raw.Insert(body);
                }

                return Task.FromResult(samples);
            });
            return new BacklogResult("RawSqlite", settings.Durability.ToString(), backlog, fill, LatencySummary.From("claim", ticks));
        }
        finally
        {
            raw.Dispose();
            Runner.DeleteDatabase(path);
        }
    }
}

public sealed record BacklogResult(string Kind, string Durability, int Backlog, double FillSeconds, LatencySummary Latency);
