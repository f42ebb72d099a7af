using System.ComponentModel;
using Spectre.Console;
using Spectre.Console.Cli;

namespace DurableQueue.Load;

public class CommonSettings : CommandSettings
{
    [CommandOption("-s|--size")]
    [Description("Message body size in bytes (the first 8 carry the enqueue timestamp).")]
    [DefaultValue(256)]
    public int Size { get; set; }

    [CommandOption("--dir")]
    [Description("Folder for the database files (default: the temp folder). Use a local disk.")]
    public string? Directory { get; set; }

    [CommandOption("--no-progress")]
    [Description("No live progress bar (for logs).")]
    public bool NoProgress { get; set; }

    public string WorkDirectory => Directory ?? Path.GetTempPath();

    public override ValidationResult Validate() =>
        Size < 8 ? ValidationResult.Error("--size must be at least 8 (the enqueue timestamp).") : ValidationResult.Success();
}

public sealed class RunSettings : CommonSettings
{
    [CommandOption("-p|--producers")]
    [Description("Concurrent producers, each awaiting its enqueue (or batch) before the next.")]
    [DefaultValue(4)]
    public int Producers { get; set; }

    [CommandOption("-c|--consumers")]
    [Description("Concurrent consumers; 0 measures enqueue only.")]
    [DefaultValue(4)]
    public int Consumers { get; set; }

    [CommandOption("-n|--messages")]
    [Description("Messages per run.")]
    [DefaultValue(20_000)]
    public int Messages { get; set; }

    [CommandOption("-d|--durability")]
    [Description("Full (fsync on every commit) or Normal.")]
    [DefaultValue(Durability.Full)]
    public Durability Durability { get; set; }

    [CommandOption("-b|--receive-batch")]
    [Description("Most messages a consumer leases per receive; the batch is settled with one AckManyAsync.")]
    [DefaultValue(16)]
    public int ReceiveBatch { get; set; }

    [CommandOption("--enqueue-batch")]
    [Description("Messages per EnqueueBatchAsync call (1: EnqueueAsync).")]
    [DefaultValue(1)]
    public int EnqueueBatch { get; set; }

    [CommandOption("--memory-budget")]
    [Description("The store's MemoryBudgetBytes (0 turns the memory tier off; default: the library's default).")]
    public long? MemoryBudget { get; set; }

    [CommandOption("--stream")]
    [Description("Consumers use ReceiveAllAsync (prefetch = --receive-batch) and ack one message at a time.")]
    public bool Stream { get; set; }

    [CommandOption("--prefill")]
    [Description("Enqueue all messages (EnqueueBatchAsync of 100) before the clock starts; only the consumers are timed.")]
    public bool Prefill { get; set; }

    [CommandOption("--baseline")]
    [Description("Also run raw SQLite doing the same durable work (insert, claim, delete) and print the ratio.")]
    public bool Baseline { get; set; }

    [CommandOption("--raw-ops-per-commit")]
    [Description("Rows each raw producer inserts, and each raw consumer claims and deletes, per commit.")]
    [DefaultValue(1)]
    public int RawOpsPerCommit { get; set; }

    [CommandOption("-r|--repeat")]
    [Description("Runs of each (queue and baseline alternate); medians are reported.")]
    [DefaultValue(1)]
    public int Repeat { get; set; }

    [CommandOption("-o|--json")]
    [Description("The JSON result file.")]
    [DefaultValue("load-result.json")]
    public string Json { get; set; } = "load-result.json";

    public override ValidationResult Validate()
    {
        if (Producers < 1 || Consumers < 0 || Messages < 1 || Repeat < 1)
        {
            return ValidationResult.Error("--producers and --repeat must be at least 1, --messages positive, --consumers not negative.");
        }

        if (Prefill && Consumers < 1)
        {
            return ValidationResult.Error("--prefill needs at least one consumer.");
        }

        if (MemoryBudget < 0)
        {
            return ValidationResult.Error("--memory-budget must not be negative.");
        }

        if (ReceiveBatch is < 1 or > 1000 || EnqueueBatch < 1 || RawOpsPerCommit < 1)
        {
            return ValidationResult.Error("--receive-batch must be 1..1000; --enqueue-batch and --raw-ops-per-commit at least 1.");
        }

        return base.Validate();
    }
}

public sealed class RunCommand : AsyncCommand<RunSettings>
{
    public override async Task<int> ExecuteAsync(CommandContext context, RunSettings settings, CancellationToken cancellationToken)
    {
        var workload = new Workload(
            settings.Producers, settings.Consumers, settings.Messages, settings.Size, settings.Durability,
            settings.ReceiveBatch, settings.EnqueueBatch, settings.RawOpsPerCommit, settings.MemoryBudget, settings.Stream, settings.Prefill);
        var queueRuns = new List<RunResult>();
        var rawRuns = new List<RunResult>();
        for (var i = 1; i <= settings.Repeat; i++)
        {
            var suffix = settings.Repeat > 1 ? $" {i}/{settings.Repeat}" : "";
            queueRuns.Add(await Output.WithProgressAsync(
                $"DurableQueue{suffix}", workload.Messages, !settings.NoProgress, p => Runner.RunQueueAsync(workload, settings.WorkDirectory, p)));
            if (settings.Baseline)
            {
                rawRuns.Add(await Output.WithProgressAsync(
                    $"Raw SQLite{suffix}", workload.Messages, !settings.NoProgress, p => Runner.RunRawAsync(workload, settings.WorkDirectory, p)));
            }
        }

        AnsiConsole.Write(Output.RunTable(queueRuns.Concat(rawRuns)));
        var queueMedian = Output.Median(queueRuns.Select(r => r.MessagesPerSecond));
        AnsiConsole.MarkupLineInterpolated($"DurableQueue: median [bold]{queueMedian:N0}[/] messages/s, p50 {Output.Median(queueRuns.Select(r => r.Latency.P50Ms)):N2} ms, p99 {Output.Median(queueRuns.Select(r => r.Latency.P99Ms)):N2} ms ({queueRuns[0].Latency.Measures}).");
        double? rawMedian = null;
        double? ratio = null;
        if (rawRuns.Count > 0)
        {
            rawMedian = Output.Median(rawRuns.Select(r => r.MessagesPerSecond));
            ratio = Output.Median(queueRuns.Zip(rawRuns, (q, r) => q.MessagesPerSecond / r.MessagesPerSecond));
            AnsiConsole.MarkupLineInterpolated($"Raw SQLite ({settings.RawOpsPerCommit} op(s)/commit): median [bold]{rawMedian:N0}[/] messages/s.");
            AnsiConsole.MarkupLineInterpolated($"Ratio DurableQueue / raw SQLite (median of paired runs): [bold]{ratio:N2}x[/]");
        }

        Output.WriteJson(settings.Json, new
        {
            Command = "run",
            Machine = Output.Machine(),
            Workload = workload,
            Queue = queueRuns,
            Raw = rawRuns,
            Median = new { QueueMessagesPerSecond = queueMedian, RawMessagesPerSecond = rawMedian, Ratio = ratio },
        });
        return 0;
    }
}
