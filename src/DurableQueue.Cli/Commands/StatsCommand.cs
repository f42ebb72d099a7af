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
            Console.Out.WriteLine(JsonSerializer.Serialize(ToJson(stats), MessageLine.IndentedJson));
            return ExitCodes.Ok;
        }

        var console = Consoles.Out;
        var grid = new Grid().AddColumn().AddColumn();
        grid.AddRow(Format.Cells("File", stats.Path));
        grid.AddRow(Format.Cells("Schema version", stats.SchemaVersion.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        grid.AddRow(Format.Cells("File size", $"{Format.Bytes(stats.FileBytes)} ({Format.Number(stats.PageCount)} pages of {stats.PageSize} B)"));
        grid.AddRow(Format.Cells("WAL size", Format.Bytes(stats.WalBytes)));
        grid.AddRow(Format.Cells("Free pages", $"{Format.Number(stats.FreePages)} ({Format.Bytes(stats.FreeBytes)}{(stats.IncrementalVacuum ? "" : "; incremental vacuum off")})"));
        grid.AddRow(Format.Cells("Journal mode", stats.JournalMode));
        grid.AddRow(Format.Cells("Messages ever", Format.Number(stats.LastMessageId)));
        console.Write(grid);
        console.WriteLine();

        var table = new Table().AddColumns("Queue", "Ready", "Delayed", "Leased", "Dead-lettered", "Oldest ready");
        foreach (var column in table.Columns.Skip(1))
        {
            column.RightAligned();
        }

        foreach (var q in stats.Queues)
        {
            table.AddRow(Format.Cells(
                q.Name, Format.Number(q.Counts.Ready), Format.Number(q.Counts.Delayed), Format.Number(q.Counts.Leased),
                Format.Number(q.Counts.DeadLettered), q.OldestReadyAge is { } age ? Format.Duration(age) : "-"));
        }

        if (stats.Queues.Count == 0)
        {
            table.AddRow(Format.Cells("(no queues)", "", "", "", "", ""));
        }

        console.Write(table);
        return ExitCodes.Ok;
    }

    internal static object ToJson(StoreStatistics s) => new
    {
        path = s.Path,
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
        }),
    };
}
