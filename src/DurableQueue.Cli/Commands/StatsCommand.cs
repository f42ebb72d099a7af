using System.ComponentModel;
using System.Text.Json;
using DurableQueue.Cli.Infrastructure;
using Spectre.Console;
using Spectre.Console.Cli;

namespace DurableQueue.Cli.Commands;

internal sealed class StatsCommand : AsyncCommand<StatsCommand.Settings>
{
    internal sealed class Settings : FileSettings
    {
        [CommandOption("--json")]
        [Description("Write the statistics as one JSON object.")]
        public bool Json { get; set; }
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        using var inspector = StoreAccess.Inspect(settings.File);
        var stats = await inspector.GetStatisticsAsync(cancellationToken).ConfigureAwait(false);
        var forwarders = await ReadForwardersAsync(inspector, settings.File, stats, cancellationToken).ConfigureAwait(false);
        if (settings.Json)
        {
            var json = JsonSerializer.SerializeToNode(ToJson(stats, inspector.IsFile), MessageLine.IndentedJson)!.AsObject();
            if (forwarders.Count > 0)
            {
                json["forwarders"] = JsonSerializer.SerializeToNode(forwarders.Select(f => ToJson(f, stats.TakenAt)), MessageLine.IndentedJson);
            }

            Console.Out.WriteLine(json.ToJsonString(MessageLine.IndentedJson));
            return ExitCodes.Ok;
        }

        var console = Consoles.Out;
        var grid = new Grid().AddColumn().AddColumn();
        if (inspector.IsFile)
        {
            grid.AddRow(Format.Cells("File", stats.Path));
            grid.AddRow(Format.Cells("Schema version", stats.SchemaVersion.ToString(System.Globalization.CultureInfo.InvariantCulture)));
            grid.AddRow(Format.Cells("File size", $"{Format.Bytes(stats.FileBytes)} ({Format.Number(stats.PageCount)} pages of {stats.PageSize} B)"));
            grid.AddRow(Format.Cells("WAL size", Format.Bytes(stats.WalBytes)));
            grid.AddRow(Format.Cells("Free pages", $"{Format.Number(stats.FreePages)} ({Format.Bytes(stats.FreeBytes)}{(stats.IncrementalVacuum ? "" : "; incremental vacuum off")})"));
            grid.AddRow(Format.Cells("Journal mode", stats.JournalMode));
        }
        else
        {
            grid.AddRow(Format.Cells("Database", stats.Path));
            grid.AddRow(Format.Cells("Schema", StoreAccess.SchemaName));
            grid.AddRow(Format.Cells("Schema version", stats.SchemaVersion.ToString(System.Globalization.CultureInfo.InvariantCulture)));
            grid.AddRow(Format.Cells("Size", $"{Format.Bytes(stats.FileBytes)} (the schema's tables and indexes)"));
        }

        grid.AddRow(Format.Cells("Messages ever", Format.Number(stats.LastMessageId)));
        console.Write(grid);
        console.WriteLine();

        var table = new Table().AddColumns("Queue", "Ready", "Delayed", "Leased", "Dead-lettered", "Oldest ready", "Stored settings");
        foreach (var column in table.Columns.Skip(1).SkipLast(1))
        {
            column.RightAligned();
        }

        foreach (var q in stats.Queues)
        {
            table.AddRow(Format.Cells(
                q.Name, Format.Number(q.Counts.Ready), Format.Number(q.Counts.Delayed), Format.Number(q.Counts.Leased),
                Format.Number(q.Counts.DeadLettered), q.OldestReadyAge is { } age ? Format.Duration(age) : "-", Describe(q.Settings)));
        }

        if (stats.Queues.Count == 0)
        {
            table.AddRow(Format.Cells("(no queues)", "", "", "", "", "", ""));
        }

        console.Write(table);
        if (forwarders.Count > 0)
        {
            console.WriteLine();
            console.Write(ForwarderTable(forwarders, stats.TakenAt));
        }

        return ExitCodes.Ok;
    }

    /// <summary>A forwarder's status row with the age of its queue's oldest message (ready, delayed or held), or <see langword="null"/> when the queue is empty.</summary>
    internal sealed record ForwarderInfo(ForwarderRow Row, DateTimeOffset? OldestEnqueuedAt);

    /// <summary>The forwarders' status rows (none when no forwarder ever ran on the store) and each queue's oldest message.</summary>
    private static async Task<IReadOnlyList<ForwarderInfo>> ReadForwardersAsync(
        StoreInspector inspector, string store, StoreStatistics stats, CancellationToken cancellationToken)
    {
        var rows = ForwarderRows.Read(store);
        var result = new List<ForwarderInfo>(rows.Count);
        foreach (var row in rows)
        {
            DateTimeOffset? oldest = null;
            if (stats.Queues.Any(q => q.Name == row.Queue))
            {
                var first = await inspector.GetMessagesAsync(row.Queue, 1, cancellationToken: cancellationToken).ConfigureAwait(false);
                oldest = first.Count > 0 ? first[0].EnqueuedAt : null;
            }

            result.Add(new ForwarderInfo(row, oldest));
        }

        return result;
    }

    private static Table ForwarderTable(IReadOnlyList<ForwarderInfo> forwarders, DateTimeOffset now)
    {
        var table = new Table().Title("Forwarders")
            .AddColumns("Forwarder", "Queue", "Link", "Forwarded since start", "Last forwarded", "Lag", "Last error", "Status");
        table.Columns[3].RightAligned();
        foreach (var (row, oldest) in forwarders)
        {
            table.AddRow(Format.Cells(
                row.Name,
                row.Queue,
                $"{row.Link} for {Format.Duration(Age(row.LinkSince, now))}",
                Format.Number(row.Forwarded),
                row.LastForwardedAt is { } at ? Format.Relative(at, now) : "-",
                oldest is { } o ? Format.Duration(Age(o, now)) : "-",
                row.LastError is { } error ? $"{error} ({Format.Relative(row.LastErrorAt ?? row.WrittenAt, now)})" : "-",
                $"{(row.Running ? "running" : "stopped")} (status written {Format.Relative(row.WrittenAt, now)})"));
        }

        return table;
    }

    private static TimeSpan Age(DateTimeOffset time, DateTimeOffset now) => time < now ? now - time : TimeSpan.Zero;

    internal static object ToJson(ForwarderInfo info, DateTimeOffset now)
    {
        var row = info.Row;
        return new
        {
            name = row.Name,
            queue = row.Queue,
            running = row.Running,
            startedAt = row.StartedAt,
            link = row.Link,
            linkSince = row.LinkSince,
            lastError = row.LastError,
            lastErrorAt = row.LastErrorAt,
            forwarded = row.Forwarded,
            lastForwardedAt = row.LastForwardedAt,
            lagSeconds = info.OldestEnqueuedAt is { } o ? Age(o, now).TotalSeconds : 0,
            oldestEnqueuedAt = info.OldestEnqueuedAt,
            statusWrittenAt = row.WrittenAt,
            statusAgeSeconds = Age(row.WrittenAt, now).TotalSeconds,
        };
    }

    /// <summary>The settings an app stored for the queue, in a few words; "-" when none are stored (the defaults apply).</summary>
    private static string Describe(QueueOptions? settings)
    {
        if (settings is null)
        {
            return "-";
        }

        var parts = new List<string>
        {
            $"max attempts {settings.MaxAttempts}",
            $"visibility {Format.Duration(settings.VisibilityTimeout)}",
        };
        if (settings.MaxMessages is { } messages)
        {
            parts.Add($"max {Format.Number(messages)} messages");
        }

        if (settings.MaxBytes is { } bytes)
        {
            parts.Add($"max {Format.Bytes(bytes)}");
        }

        if (settings.MaxMessages is not null || settings.MaxBytes is not null)
        {
            parts.Add(settings.FullWaitTimeout is { } wait ? $"when full: {settings.FullMode} up to {Format.Duration(wait)}" : $"when full: {settings.FullMode}");
        }

        return string.Join(", ", parts);
    }

    internal static object ToJson(StoreStatistics s, bool isFile) => new
    {
        path = s.Path,
        backend = isFile ? "sqlite" : "postgresql",
        schema = isFile ? null : StoreAccess.SchemaName,
        takenAt = s.TakenAt,
        schemaVersion = s.SchemaVersion,
        fileBytes = s.FileBytes,
        walBytes = s.WalBytes,
        pageSize = s.PageSize,
        pageCount = s.PageCount,
        freePages = s.FreePages,
        freeBytes = s.FreeBytes,
        journalMode = s.JournalMode,
        incrementalVacuum = s.IncrementalVacuum,
        lastMessageId = s.LastMessageId,
        queues = s.Queues.Select(q => new
        {
            name = q.Name,
            ready = q.Counts.Ready,
            delayed = q.Counts.Delayed,
            leased = q.Counts.Leased,
            deadLettered = q.Counts.DeadLettered,
            total = q.Counts.Total,
            oldestReadyEnqueuedAt = q.Counts.OldestReadyEnqueuedAt,
            oldestReadyAgeSeconds = q.OldestReadyAge?.TotalSeconds,
            settings = q.Settings is { } o
                ? new
                {
                    visibilityTimeoutSeconds = o.VisibilityTimeout.TotalSeconds,
                    maxAttempts = o.MaxAttempts,
                    maxMessages = o.MaxMessages,
                    maxBytes = o.MaxBytes,
                    fullMode = o.FullMode.ToString(),
                    fullWaitTimeoutSeconds = o.FullWaitTimeout?.TotalSeconds,
                }
                : null,
        }),
    };
}
