using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using DurableQueue.Cli.Infrastructure;
using Spectre.Console;
using Spectre.Console.Cli;

namespace DurableQueue.Cli.Commands;

internal sealed class WatchCommand : AsyncCommand<WatchCommand.Settings>
{
    // Every field in every line, null where there is no value yet (the rates of the first refresh).
    private static readonly JsonSerializerOptions s_json = new(MessageLine.Json) { DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.Never };

    internal sealed class Settings : FileSettings
    {
        [CommandOption("-i|--interval <DURATION>")]
        [Description("Time between refreshes (e.g. 1s, 500ms).")]
        [DefaultValue("1s")]
        public string Interval { get; set; } = "1s";

        [CommandOption("-c|--count <N>")]
        [Description("Stop after N refreshes (default: run until Ctrl+C).")]
        public int? Count { get; set; }

        [CommandOption("--json")]
        [Description("Write one JSON object per refresh, one per line (JSON lines), instead of a table.")]
        public bool Json { get; set; }

        public override ValidationResult Validate() =>
            Count is { } n && n < 1 ? ValidationResult.Error($"--count must be at least 1; it was {n}") : ValidationResult.Success();
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var interval = Format.ParseDuration(settings.Interval, "--interval");
        if (interval < TimeSpan.FromMilliseconds(50))
        {
            throw new CliException(ExitCodes.Usage, "--interval must be at least 50ms");
        }

        using var inspector = StoreAccess.Inspect(settings.File);
        var rates = new RateTracker();
        try
        {
            if (settings.Json)
            {
                for (var i = 0; settings.Count is null || i < settings.Count; i++)
                {
                    if (i > 0)
                    {
                        await Task.Delay(interval, TimeProvider.System, cancellationToken).ConfigureAwait(false);
                    }

                    var stats = await inspector.GetStatisticsAsync(cancellationToken).ConfigureAwait(false);
                    Console.Out.WriteLine(JsonSerializer.Serialize(ToJson(stats, rates.Add(stats)), s_json));
                    await Console.Out.FlushAsync(cancellationToken).ConfigureAwait(false);
                }
            }
            else if (Consoles.OutIsTerminal)
            {
                var first = Render(await inspector.GetStatisticsAsync(cancellationToken).ConfigureAwait(false), rates, inspector, settings.File);
                await Consoles.Out.Live(first).StartAsync(async live =>
                {
                    for (var i = 1; settings.Count is null || i < settings.Count; i++)
                    {
                        await Task.Delay(interval, TimeProvider.System, cancellationToken).ConfigureAwait(false);
                        live.UpdateTarget(Render(await inspector.GetStatisticsAsync(cancellationToken).ConfigureAwait(false), rates, inspector, settings.File));
                    }
                }).ConfigureAwait(false);
            }
            else
            {
                // Piped: one table per refresh, so that logs and tests see every sample.
                for (var i = 0; settings.Count is null || i < settings.Count; i++)
                {
                    if (i > 0)
                    {
                        await Task.Delay(interval, TimeProvider.System, cancellationToken).ConfigureAwait(false);
                    }

                    Consoles.Out.Write(Render(await inspector.GetStatisticsAsync(cancellationToken).ConfigureAwait(false), rates, inspector, settings.File));
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Ctrl+C is how watch is meant to end.
        }

        return ExitCodes.Ok;
    }

    /// <summary>One refresh as JSON: the file's sizes and rates, and per queue its counts and rates (null on the first refresh).</summary>
    private static object ToJson(StoreStatistics stats, Sample sample) => new
    {
        path = stats.Path,
        takenAt = stats.TakenAt,
        fileBytes = stats.FileBytes,
        walBytes = stats.WalBytes,
        lastMessageId = stats.LastMessageId,
        enqueuedPerSecond = sample.Seconds is null ? (double?)null : Math.Round(sample.EnqueuedPerSecond, 3),
        removedPerSecond = sample.Seconds is null ? (double?)null : Math.Round(sample.RemovedPerSecond, 3),
        queues = stats.Queues.Select(q =>
        {
            var (depth, dead) = sample.Queue(q.Name);
            return new
            {
                name = q.Name,
                ready = q.Counts.Ready,
                delayed = q.Counts.Delayed,
                leased = q.Counts.Leased,
                deadLettered = q.Counts.DeadLettered,
                oldestReadyAgeSeconds = q.OldestReadyAge?.TotalSeconds,
                depthPerSecond = depth is { } d ? Math.Round(d, 3) : (double?)null,
                deadPerSecond = dead is { } x ? Math.Round(x, 3) : (double?)null,
            };
        }),
    };

    private static Table Render(StoreStatistics stats, RateTracker rates, StoreInspector inspector, string file)
    {
        var sample = rates.Add(stats);
        // A file by the name it was given; a database by its location, never by the connection string (it may hold a password).
        var title = inspector.IsFile
            ? $"{file}  {Format.Time(stats.TakenAt)}  file {Format.Bytes(stats.FileBytes)}, WAL {Format.Bytes(stats.WalBytes)}"
            : $"{inspector.Path} ({StoreAccess.SchemaName})  {Format.Time(stats.TakenAt)}  size {Format.Bytes(stats.FileBytes)}";
        var table = new Table()
            .Title(new TableTitle(Markup.Escape(title)))
            .Caption(new TableTitle(sample.Seconds is null
                ? "rates appear from the second refresh"
                : Markup.Escape(string.Create(CultureInfo.InvariantCulture,
                    $"all queues: {sample.EnqueuedPerSecond:0.#} enqueued/s, {sample.RemovedPerSecond:0.#} acked or purged/s"))))
            .AddColumns("Queue", "Ready", "Delayed", "Leased", "Dead-lettered", "Oldest ready", "Depth/s", "Dead/s");
        foreach (var column in table.Columns.Skip(1))
        {
            column.RightAligned();
        }

        foreach (var q in stats.Queues)
        {
            var (depth, dead) = sample.Queue(q.Name);
            table.AddRow(Format.Cells(
                q.Name, Format.Number(q.Counts.Ready), Format.Number(q.Counts.Delayed), Format.Number(q.Counts.Leased), Format.Number(q.Counts.DeadLettered),
                q.OldestReadyAge is { } age ? Format.Duration(age) : "-", Rate(depth), Rate(dead)));
        }

        return table;

        static string Rate(double? value) => value is { } v ? v.ToString("+0.#;-0.#;0", CultureInfo.InvariantCulture) : "-";
    }

    /// <summary>
    /// Rates from two snapshots. Per queue only net changes can be seen (depth and dead letters); the store-wide enqueue
    /// rate is exact because message ids are never reused, and what left without being dead-lettered was acked or purged.
    /// </summary>
    private sealed class RateTracker
    {
        private StoreStatistics? _previous;
        private long _previousTimestamp;

        public Sample Add(StoreStatistics stats)
        {
            var now = Stopwatch.GetTimestamp();
            var previous = _previous;
            var seconds = previous is null ? (double?)null : Math.Max(0.001, Stopwatch.GetElapsedTime(_previousTimestamp, now).TotalSeconds);
            _previous = stats;
            _previousTimestamp = now;
            return new Sample(previous, stats, seconds);
        }
    }

    private sealed record Sample(StoreStatistics? Previous, StoreStatistics Current, double? Seconds)
    {
        private static long Live(StoreStatistics s) => s.Queues.Sum(q => q.Counts.Total + q.Counts.DeadLettered);

        public double EnqueuedPerSecond => Previous is null ? 0 : (Current.LastMessageId - Previous.LastMessageId) / Seconds!.Value;

        public double RemovedPerSecond => Previous is null
            ? 0
            : Math.Max(0, (Current.LastMessageId - Previous.LastMessageId) - (Live(Current) - Live(Previous))) / Seconds!.Value;

        public (double? Depth, double? Dead) Queue(string name)
        {
            if (Previous is null)
            {
                return (null, null);
            }

            var now = Current.Queues.First(q => q.Name == name).Counts;
            var before = Previous.Queues.FirstOrDefault(q => q.Name == name).Counts;
            return ((now.Total - before.Total) / Seconds!.Value, (now.DeadLettered - before.DeadLettered) / Seconds!.Value);
        }
    }
}
