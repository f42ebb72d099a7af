using System.ComponentModel;
using System.Diagnostics;
using DurableQueue.BenchmarkShared;
using Spectre.Console;
using Spectre.Console.Cli;

namespace DurableQueue.Load;

public sealed class SingleSettings : CommonSettings
{
    [CommandOption("-n|--messages")]
    [Description("Messages per phase.")]
    [DefaultValue(50_000)]
    public int Messages { get; set; }

    [CommandOption("-d|--durability")]
    [Description("Durabilities to measure (repeat the option); default Normal and Full.")]
    public Durability[]? Durabilities { get; set; }

    [CommandOption("--memory-budget")]
    [Description("The store's MemoryBudgetBytes (0 turns the memory tier off; default: the library's default).")]
    public long? MemoryBudget { get; set; }

    [CommandOption("-r|--repeat")]
    [Description("Rounds (queue and raw SQLite alternate); medians are reported.")]
    [DefaultValue(3)]
    public int Repeat { get; set; }

    [CommandOption("--counters")]
    [Description("Also run raw SQLite with the queue's per-queue counter triggers (a diagnostic baseline: what that bookkeeping costs).")]
    public bool Counters { get; set; }

    [CommandOption("-o|--json")]
    [DefaultValue("single-result.json")]
    public string Json { get; set; } = "single-result.json";

    public override ValidationResult Validate() =>
        Messages < 1 || Repeat < 1 ? ValidationResult.Error("--messages and --repeat must be positive.") : base.Validate();
}

/// <summary>
/// One caller at a time, the figure an app with a single producer sees: one producer awaits each
/// <c>EnqueueAsync</c> (phase 1), then one consumer drains the queue with <c>ReceiveAsync(1)</c> + <c>AckAsync</c>
/// (phase 2: two commits per message). Raw SQLite does the same work on one connection and one thread in the same
/// round: one INSERT per transaction, then one claim (UPDATE ... RETURNING) and one DELETE per transaction each.
/// </summary>
public sealed class SingleCommand : AsyncCommand<SingleSettings>
{
    public override async Task<int> ExecuteAsync(CommandContext context, SingleSettings settings, CancellationToken cancellationToken)
    {
        var durabilities = settings.Durabilities is { Length: > 0 } d ? d : [Durability.Normal, Durability.Full];
        var results = new List<SingleResult>();
        foreach (var durability in durabilities)
        {
            for (var round = 1; round <= settings.Repeat; round++)
            {
                AnsiConsole.MarkupLineInterpolated($"[grey]{durability} round {round}/{settings.Repeat}: queue...[/]");
                results.Add(await RunQueueAsync(settings, durability, round));
                AnsiConsole.MarkupLineInterpolated($"[grey]{durability} round {round}/{settings.Repeat}: raw SQLite...[/]");
                results.Add(await Task.Factory.StartNew(
                    () => RunRaw(settings, durability, round, counters: false), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default));
                if (settings.Counters)
                {
                    AnsiConsole.MarkupLineInterpolated($"[grey]{durability} round {round}/{settings.Repeat}: raw SQLite + counters...[/]");
                    results.Add(await Task.Factory.StartNew(
                        () => RunRaw(settings, durability, round, counters: true), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default));
                }
            }
        }

        var table = new Table().Border(TableBorder.Rounded);
        foreach (var column in new[] { "Durability", "Phase", "DurableQueue msg/s", "Raw msg/s", "Ratio (median of rounds)", "Ratios", "Queue p50 / p99 µs", "Raw p50 / p99 µs", "Raw + counters p50 µs" })
        {
            table.AddColumn(new TableColumn(column).RightAligned());
        }

        var summary = new List<object>();
        foreach (var durability in durabilities)
        {
            foreach (var phase in new[] { "enqueue", "receive+ack" })
            {
                var queue = results.Where(r => r.Kind == "DurableQueue" && r.Durability == durability.ToString()).Select(r => r.Phase(phase)).ToArray();
                var raw = results.Where(r => r.Kind == "RawSqlite" && r.Durability == durability.ToString()).Select(r => r.Phase(phase)).ToArray();
                var ratios = queue.Zip(raw, (q, r) => q.MessagesPerSecond / r.MessagesPerSecond).ToArray();
                var counted = results.Where(r => r.Kind == "RawSqliteCounters" && r.Durability == durability.ToString()).Select(r => r.Phase(phase)).ToArray();
                var ratio = Output.Median(ratios);
                table.AddRow(
                    durability.ToString(),
                    phase,
                    Output.Median(queue.Select(q => q.MessagesPerSecond)).ToString("N0"),
                    Output.Median(raw.Select(r => r.MessagesPerSecond)).ToString("N0"),
                    ratio.ToString("N2") + "x",
                    string.Join(", ", ratios.Select(x => x.ToString("N2"))),
                    $"{Output.Median(queue.Select(q => q.P50Us)):N1} / {Output.Median(queue.Select(q => q.P99Us)):N1}",
                    $"{Output.Median(raw.Select(r => r.P50Us)):N1} / {Output.Median(raw.Select(r => r.P99Us)):N1}",
                    counted.Length == 0 ? "-" : Output.Median(counted.Select(r => r.P50Us)).ToString("N1"));
                summary.Add(new
                {
                    Durability = durability.ToString(),
                    Phase = phase,
                    QueueMessagesPerSecond = Output.Median(queue.Select(q => q.MessagesPerSecond)),
                    RawMessagesPerSecond = Output.Median(raw.Select(r => r.MessagesPerSecond)),
                    Ratio = ratio,
                    Ratios = ratios,
                    QueueP50Us = Output.Median(queue.Select(q => q.P50Us)),
                    RawP50Us = Output.Median(raw.Select(r => r.P50Us)),
                    RawCountersP50Us = counted.Length == 0 ? (double?)null : Output.Median(counted.Select(r => r.P50Us)),
                });
            }
        }

        AnsiConsole.Write(table);
        Output.WriteJson(settings.Json, new { Command = "single", Machine = Output.Machine(), settings.Messages, settings.Size, settings.MemoryBudget, Medians = summary, Rounds = results });
        return 0;
    }

    private static async Task<SingleResult> RunQueueAsync(SingleSettings settings, Durability durability, int round)
    {
        var path = Path.Combine(settings.WorkDirectory, $"single-{Guid.NewGuid():N}.db");
        var options = new QueueStoreOptions { Durability = durability };
        if (settings.MemoryBudget is { } budget)
        {
            options.MemoryBudgetBytes = budget;
        }

        var store = QueueStore.Open(path, options);
        try
        {
            var queue = store.GetQueue("single");
            // The store's start-up write is not counted.
            await store.ExecuteAsync(_ => 0);
            var body = new byte[settings.Size];
            var ticks = new long[settings.Messages];
            var (commits0, inline0) = (store.Writer.Commits, store.Writer.InlineCommits);
            var waited = RunQueue.WaitNs();
            var started = Stopwatch.GetTimestamp();
            for (var i = 0; i < settings.Messages; i++)
            {
                var t0 = Stopwatch.GetTimestamp();
                await queue.EnqueueAsync(body);
                ticks[i] = Stopwatch.GetTimestamp() - t0;
            }

            var enqueue = PhaseResult.From(settings.Messages, Stopwatch.GetTimestamp() - started, ticks) with
            {
                Commits = store.Writer.Commits - commits0,
                InlineCommits = store.Writer.InlineCommits - inline0,
                RunQueueWaitUsPerMessage = (RunQueue.WaitNs() - waited) / 1000.0 / settings.Messages,
            };
            (commits0, inline0) = (store.Writer.Commits, store.Writer.InlineCommits);
            waited = RunQueue.WaitNs();
            started = Stopwatch.GetTimestamp();
            var drained = 0;
            while (true)
            {
                var t0 = Stopwatch.GetTimestamp();
                var messages = await queue.ReceiveAsync(1);
                if (messages.Count == 0)
                {
                    break;
                }

                await queue.AckAsync(messages[0]);
                ticks[drained++] = Stopwatch.GetTimestamp() - t0;
            }

            if (drained != settings.Messages)
            {
                throw new InvalidOperationException($"Drained {drained} of {settings.Messages} messages.");
            }

            var drain = PhaseResult.From(drained, Stopwatch.GetTimestamp() - started, ticks) with
            {
                Commits = store.Writer.Commits - commits0,
                InlineCommits = store.Writer.InlineCommits - inline0,
                RunQueueWaitUsPerMessage = (RunQueue.WaitNs() - waited) / 1000.0 / Math.Max(1, drained),
            };
            return new SingleResult("DurableQueue", durability.ToString(), round, enqueue, drain, store.Writer.Commits, store.Writer.InlineCommits);
        }
        finally
        {
            await store.DisposeAsync();
            Runner.DeleteDatabase(path);
        }
    }

    private static SingleResult RunRaw(SingleSettings settings, Durability durability, int round, bool counters)
    {
        var path = Path.Combine(settings.WorkDirectory, $"single-raw-{Guid.NewGuid():N}.db");
        var raw = RawStore.Open(path, durability == Durability.Full, counters);
        try
        {
            var body = new byte[settings.Size];
            var ticks = new long[settings.Messages];
            var waited = RunQueue.WaitNs();
            var started = Stopwatch.GetTimestamp();
            for (var i = 0; i < settings.Messages; i++)
            {
                var t0 = Stopwatch.GetTimestamp();
                raw.Insert(body);
                ticks[i] = Stopwatch.GetTimestamp() - t0;
            }

            var enqueue = PhaseResult.From(settings.Messages, Stopwatch.GetTimestamp() - started, ticks) with
            {
                RunQueueWaitUsPerMessage = (RunQueue.WaitNs() - waited) / 1000.0 / settings.Messages,
            };
            waited = RunQueue.WaitNs();
            var token = Guid.NewGuid().ToByteArray();
            started = Stopwatch.GetTimestamp();
            var drained = 0;
            while (true)
            {
                var t0 = Stopwatch.GetTimestamp();
                var claimed = raw.Claim(1, token);
                if (claimed.Count == 0)
                {
                    break;
                }

                raw.Delete(claimed, token);
                ticks[drained++] = Stopwatch.GetTimestamp() - t0;
            }

            var drain = PhaseResult.From(drained, Stopwatch.GetTimestamp() - started, ticks) with
            {
                RunQueueWaitUsPerMessage = (RunQueue.WaitNs() - waited) / 1000.0 / Math.Max(1, drained),
            };
            return new SingleResult(counters ? "RawSqliteCounters" : "RawSqlite", durability.ToString(), round, enqueue, drain, raw.Commits, 0);
        }
        finally
        {
            raw.Dispose();
            Runner.DeleteDatabase(path);
        }
    }
}

/// <param name="InlineCommits">Commits a caller led on its own thread (no hand-off to the writer thread).</param>
public sealed record SingleResult(string Kind, string Durability, int Round, PhaseResult Enqueue, PhaseResult ReceiveAck, long Commits, long InlineCommits)
{
    public PhaseResult Phase(string name) => name == "enqueue" ? Enqueue : ReceiveAck;
}

/// <summary>One phase of a round: messages per second, and each call's (or receive + ack pair's) latency.</summary>
public sealed record PhaseResult(int Messages, double Seconds, double P50Us, double P99Us)
{
    /// <summary>Gets the commits of the phase (DurableQueue only).</summary>
    public long Commits { get; init; }

    /// <summary>Gets how many of them a caller led on its own thread.</summary>
    public long InlineCommits { get; init; }

    /// <summary>
    /// Gets the time this process's threads spent runnable but waiting for a CPU during the phase, per message, in
    /// microseconds (Linux schedstat; 0 elsewhere): on a busy machine it shows how much of the latency is not I/O.
    /// </summary>
    public double RunQueueWaitUsPerMessage { get; init; }

    public double MessagesPerSecond => Messages / Seconds;

    public static PhaseResult From(int messages, long elapsedTicks, long[] ticks)
    {
        var sorted = ticks.AsSpan(0, messages).ToArray();
        Array.Sort(sorted);
        return new PhaseResult(
            messages,
            elapsedTicks / (double)Stopwatch.Frequency,
            Us(sorted[Math.Max(0, (messages / 2) - 1)]),
            Us(sorted[Math.Max(0, (int)Math.Ceiling(messages * 0.99) - 1)]));
    }

    private static double Us(long ticks) => ticks * 1_000_000.0 / Stopwatch.Frequency;
}

/// <summary>Time the process's threads spent waiting on a run queue (Linux: the second field of each thread's schedstat).</summary>
public static class RunQueue
{
    public static long WaitNs()
    {
        long total = 0;
        try
        {
            foreach (var task in Directory.EnumerateDirectories("/proc/self/task"))
            {
                try
                {
                    var fields = File.ReadAllText(Path.Combine(task, "schedstat")).Split(' ');
                    total += long.Parse(fields[1], System.Globalization.CultureInfo.InvariantCulture);
                }
                catch (IOException)
                {
                    // The thread ended meanwhile.
                }
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return 0;
        }

        return total;
    }
}
