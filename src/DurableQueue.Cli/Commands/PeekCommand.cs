using System.ComponentModel;
using DurableQueue.Cli.Infrastructure;
using Spectre.Console;
using Spectre.Console.Cli;

namespace DurableQueue.Cli.Commands;

internal sealed class PeekCommand : AsyncCommand<PeekCommand.Settings>
{
    internal sealed class Settings : JsonQueueSettings
    {
        [CommandOption("-n|--count <N>")]
        [Description("How many messages to show (1-1000), in delivery order: ready first, then delayed and leased.")]
        [DefaultValue(10)]
        public int Count { get; set; } = 10;

        [CommandOption("-w|--width <CHARS>")]
        [Description("Width of the body preview.")]
        [DefaultValue(60)]
        public int Width { get; set; } = 60;

        public override ValidationResult Validate()
        {
            var count = SettingsChecks.Range(Count, 1, 1000, "--count");
            return count.Successful ? SettingsChecks.Range(Width, 8, 10000, "--width") : count;
        }
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        using var inspector = StoreAccess.Inspect(settings.File);
        await StoreAccess.RequireQueueAsync(inspector, settings.Queue, cancellationToken).ConfigureAwait(false);
        var messages = await inspector.PeekAsync(settings.Queue, settings.Count, cancellationToken).ConfigureAwait(false);
        if (settings.Json)
        {
            foreach (var m in messages)
            {
                Console.Out.WriteLine(MessageLine.From(m, settings.Hex).ToJson());
            }

            return ExitCodes.Ok;
        }

        var now = TimeProvider.System.GetUtcNow();
        var table = new Table().AddColumns("Id", "Pri", "Attempts", "State", "Visible at", "Size", "Headers", "Body");
        foreach (var m in messages)
        {
            table.AddRow(Format.Cells(
                m.Id.ToString(), m.Priority.ToString(System.Globalization.CultureInfo.InvariantCulture), $"{m.Attempts}/{m.MaxAttempts}",
                m.State.ToString().ToLowerInvariant(), $"{Format.Time(m.VisibleAt)} ({Format.Relative(m.VisibleAt, now)})",
                Format.Bytes(m.Body.Length), Format.Headers(m.Headers), Format.Preview(m.Body.Span, settings.Width, settings.Hex)));
        }

        Consoles.Out.Write(table);
        var counts = await inspector.GetCountsAsync(settings.Queue, cancellationToken).ConfigureAwait(false);
        Consoles.Out.WriteLine(
            $"{messages.Count} of {Format.Count(counts.Total, "message")} shown ({Format.Number(counts.Ready)} ready, {Format.Number(counts.Delayed)} delayed, " +
            $"{Format.Number(counts.Leased)} leased; {Format.Number(counts.DeadLettered)} dead-lettered)");
        return ExitCodes.Ok;
    }
}
