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
        if (settings.Json)
        {
            Console.Out.WriteLine(JsonSerializer.Serialize(ToJson(stats, inspector.IsFile), MessageLine.IndentedJson));
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
        return ExitCodes.Ok;
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
