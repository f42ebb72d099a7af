using System.ComponentModel;
using System.Diagnostics;
using Spectre.Console;
using Spectre.Console.Cli;

namespace DurableQueue.Load;

public sealed class RssSettings : CommonSettings
{
    [CommandOption("--memory-budget")]
    [Description("The store's MemoryBudgetBytes.")]
    [DefaultValue(64L << 20)]
    public long MemoryBudget { get; set; }

    [CommandOption("--backlog-bytes")]
    [Description("Body bytes to put in the backlog before reopening (default: 21 times the budget).")]
    public long? BacklogBytes { get; set; }

    [CommandOption("--drain")]
    [Description("Messages received and acked after reopening (receive up to --receive-batch, AckManyAsync).")]
    [DefaultValue(50_000)]
    public int Drain { get; set; }

    [CommandOption("-b|--receive-batch")]
    [DefaultValue(100)]
    public int ReceiveBatch { get; set; }

    [CommandOption("-d|--durability")]
    [DefaultValue(Durability.Full)]
    public Durability Durability { get; set; }

    [CommandOption("--keep")]
    [Description("Keep the database file (default: delete it at the end).")]
    public bool Keep { get; set; }

    [CommandOption("-o|--json")]
    [DefaultValue("rss-result.json")]
    public string Json { get; set; } = "rss-result.json";

    public override ValidationResult Validate()
    {
        if (MemoryBudget < 1 || Size < 16 || Drain < 0 || ReceiveBatch is < 1 or > 1000)
        {
            return ValidationResult.Error("--memory-budget must be positive, --size at least 16, --drain not negative, --receive-batch 1..1000.");
        }

        return base.Validate();
    }
}

/// <summary>
/// Memory with a backlog far larger than the memory tier's budget: fill the queue with EnqueueBatchAsync, close the
/// store, reopen it (so the fill's allocations are gone), reset the kernel's high-water mark, then drain part of the
/// backlog while sampling the tier's bytes; reports peak RSS (VmHWM) of the fill and of the drain, and the tier's
/// largest size, against the budget.
/// </summary>
public sealed class RssCommand : AsyncCommand<RssSettings>
{
    private const int FillBatch = 100;

    public override async Task<int> ExecuteAsync(CommandContext context, RssSettings settings, CancellationToken cancellationToken)
    {
        var path = Path.Combine(settings.WorkDirectory, $"rss-{Guid.NewGuid():N}.db");
        var backlogBytes = settings.BacklogBytes ?? settings.MemoryBudget * 21;
        var messages = (int)Math.Min(int.MaxValue, (backlogBytes + settings.Size - 1) / settings.Size);
        var options = new QueueStoreOptions { Durability = settings.Durability, MemoryBudgetBytes = settings.MemoryBudget };
        try
        {
            Rss.ResetPeak();
            var fillStarted = Stopwatch.GetTimestamp();
            var fillTierMax = 0L;
            var store = QueueStore.Open(path, options);
            try
            {
                var queue = store.GetQueue("load");
                var body = new byte[settings.Size];
                Random.Shared.NextBytes(body);
                var batch = Enumerable.Repeat((ReadOnlyMemory<byte>)body, FillBatch).ToArray();
                await Output.WithProgressAsync($"Filling {messages:N0} x {settings.Size:N0} B", messages, !settings.NoProgress, async progress =>
                {
                    for (var filled = 0; filled < messages;)
                    {
                        var count = Math.Min(FillBatch, messages - filled);
                        await queue.EnqueueBatchAsync(count == FillBatch ? batch : batch.Take(count));
                        filled += count;
                        fillTierMax = Math.Max(fillTierMax, queue.GetMemoryTierStats().Bytes);
                        progress?.Invoke(filled);
                    }

                    return 0;
                });
            }
            finally
            {
                await store.DisposeAsync();
            }

            var fillSeconds = Stopwatch.GetElapsedTime(fillStarted).TotalSeconds;
            var fillPeak = Rss.Peak();
            var fileBytes = new FileInfo(path).Length + (File.Exists(path + "-wal") ? new FileInfo(path + "-wal").Length : 0);

            GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
            GC.WaitForPendingFinalizers();
            Rss.ResetPeak();
            var baseRss = Rss.Current();
            var drainStarted = Stopwatch.GetTimestamp();
            var drainTierMax = 0L;
            var drained = 0;
            MemoryTierStats last = default;
            store = QueueStore.Open(path, options);
            try
            {
                var queue = store.GetQueue("load");
                await Output.WithProgressAsync($"Draining {settings.Drain:N0}", settings.Drain, !settings.NoProgress, async progress =>
                {
                    while (drained < settings.Drain)
                    {
                        var got = await queue.ReceiveAsync(Math.Min(settings.ReceiveBatch, settings.Drain - drained));
                        if (got.Count == 0)
                        {
                            break;
                        }

                        await queue.AckManyAsync(got.Select(m => m.Receipt));
                        drained += got.Count;
                        last = queue.GetMemoryTierStats();
                        drainTierMax = Math.Max(drainTierMax, last.Bytes);
                        progress?.Invoke(drained);
                    }

                    return 0;
                });
            }
            finally
            {
                await store.DisposeAsync();
            }

            var drainSeconds = Stopwatch.GetElapsedTime(drainStarted).TotalSeconds;
            var drainPeak = Rss.Peak();
            const double MiB = 1 << 20;
            var result = new
            {
                BudgetMiB = settings.MemoryBudget / MiB,
                Messages = messages,
                settings.Size,
                BacklogBodyMiB = (double)messages * settings.Size / MiB,
                FileMiB = fileBytes / MiB,
                BacklogToBudget = (double)messages * settings.Size / settings.MemoryBudget,
                FillSeconds = fillSeconds,
                FillPeakRssMiB = fillPeak / MiB,
                FillTierMaxMiB = fillTierMax / MiB,
                RssBeforeReopenMiB = baseRss / MiB,
                Drained = drained,
                DrainSeconds = drainSeconds,
                DrainPeakRssMiB = drainPeak / MiB,
                DrainTierMaxMiB = drainTierMax / MiB,
                last.Refills,
                last.Spilled,
                LimitMiB = settings.MemoryBudget / MiB + 100,
                UnderLimit = Math.Max(fillPeak, drainPeak) / MiB < settings.MemoryBudget / MiB + 100,
            };

            var table = new Table().Border(TableBorder.Rounded).AddColumn("What").AddColumn(new TableColumn("Value").RightAligned());
            table.AddRow("Budget", $"{result.BudgetMiB:N1} MiB");
            table.AddRow("Backlog (bodies)", $"{messages:N0} x {settings.Size:N0} B = {result.BacklogBodyMiB:N0} MiB ({result.BacklogToBudget:N1}x budget)");
            table.AddRow("Database file + WAL", $"{result.FileMiB:N0} MiB");
            table.AddRow("Fill", $"{fillSeconds:N1} s, peak RSS {result.FillPeakRssMiB:N1} MiB, tier max {result.FillTierMaxMiB:N1} MiB");
            table.AddRow("Reopen + drain", $"{drained:N0} in {drainSeconds:N1} s, RSS before {result.RssBeforeReopenMiB:N1} MiB");
            table.AddRow("Drain peak RSS", $"[bold]{result.DrainPeakRssMiB:N1} MiB[/] (limit budget + 100 = {result.LimitMiB:N0} MiB)");
            table.AddRow("Drain tier max", $"{result.DrainTierMaxMiB:N1} MiB, refills {last.Refills:N0}, spilled {last.Spilled}");
            AnsiConsole.Write(table);
            AnsiConsole.MarkupLineInterpolated($"Peak RSS under budget + 100 MiB: [bold]{(result.UnderLimit ? "yes" : "NO")}[/]");
            Output.WriteJson(settings.Json, new { Command = "rss", Machine = Output.Machine(), Result = result });
            return 0;
        }
        finally
        {
            if (!settings.Keep)
            {
                Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
                Runner.DeleteDatabase(path);
            }
        }
    }
}
