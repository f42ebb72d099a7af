using System.ComponentModel;
using System.Globalization;
using DurableQueue.Cli.Infrastructure;
using Spectre.Console;
using Spectre.Console.Cli;

namespace DurableQueue.Cli.Commands;

internal sealed class DeadListCommand : AsyncCommand<DeadListCommand.Settings>
{
    internal sealed class Settings : JsonQueueSettings
    {
        [CommandOption("-n|--count <N>")]
        [Description("How many dead letters to show, oldest id first.")]
        [DefaultValue(50)]
        public int Count { get; set; } = 50;

        [CommandOption("--after <ID>")]
        [Description("Start after this id (paging).")]
        public long? After { get; set; }

        public override ValidationResult Validate() => SettingsChecks.Range(Count, 1, 1_000_000, "--count");
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        using var inspector = StoreAccess.Inspect(settings.File);
        await StoreAccess.RequireQueueAsync(inspector, settings.Queue, cancellationToken).ConfigureAwait(false);
        var letters = new List<DeadLetter>();
        MessageId? after = settings.After is { } a ? new MessageId(a) : null;
        while (letters.Count < settings.Count)
        {
            var page = await inspector.GetDeadLettersAsync(settings.Queue, Math.Min(1000, settings.Count - letters.Count), after, cancellationToken)
                .ConfigureAwait(false);
            letters.AddRange(page);
            if (page.Count == 0)
            {
                break;
            }

            after = page[^1].Id;
        }

        if (settings.Json)
        {
            foreach (var d in letters)
            {
                Console.Out.WriteLine(MessageLine.From(d, settings.Hex).ToJson());
            }

            return ExitCodes.Ok;
        }

        var table = new Table().AddColumns("Id", "Pri", "Attempts", "Dead-lettered at", "Reason", "Last error", "Size", "Body");
        foreach (var d in letters)
        {
            table.AddRow(Format.Cells(
                d.Id.ToString(), d.Priority.ToString(CultureInfo.InvariantCulture), $"{d.Attempts}/{d.MaxAttempts}", Format.Time(d.DeadLetteredAt),
                d.Reason, d.LastError ?? "", Format.Bytes(d.Body.Length), Format.Preview(d.Body.Span, 40, settings.Hex)));
        }

        Consoles.Out.Write(table);
        var total = (await inspector.GetCountsAsync(settings.Queue, cancellationToken).ConfigureAwait(false)).DeadLettered;
        Consoles.Out.WriteLine($"{Format.Number(letters.Count)} of {Format.Count(total, "dead letter")} shown");
        return ExitCodes.Ok;
    }
}

internal sealed class DeadShowCommand : AsyncCommand<DeadShowCommand.Settings>
{
    internal sealed class Settings : JsonQueueSettings
    {
        [CommandArgument(2, "<ID>")]
        [Description("The message id.")]
        public long Id { get; set; }
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        using var inspector = StoreAccess.Inspect(settings.File);
        await StoreAccess.RequireQueueAsync(inspector, settings.Queue, cancellationToken).ConfigureAwait(false);
        var d = await inspector.GetDeadLetterAsync(settings.Queue, new MessageId(settings.Id), cancellationToken).ConfigureAwait(false)
            ?? throw new CliException(ExitCodes.NotFound, $"queue '{settings.Queue}' has no dead letter with id {settings.Id}");
        if (settings.Json)
        {
            Console.Out.WriteLine(MessageLine.From(d, settings.Hex).ToJson());
            return ExitCodes.Ok;
        }

        var grid = new Grid().AddColumn().AddColumn();
        grid.AddRow(Format.Cells("Id", d.Id.ToString()));
        grid.AddRow(Format.Cells("Queue", d.QueueName));
        grid.AddRow(Format.Cells("Priority", d.Priority.ToString(CultureInfo.InvariantCulture)));
        grid.AddRow(Format.Cells("Attempts", $"{d.Attempts} of {d.MaxAttempts}"));
        grid.AddRow(Format.Cells("Enqueued at", Format.Time(d.EnqueuedAt)));
        grid.AddRow(Format.Cells("Dead-lettered at", Format.Time(d.DeadLetteredAt)));
        grid.AddRow(Format.Cells("Reason", d.Reason));
        grid.AddRow(Format.Cells("Last error", d.LastError ?? "-"));
        grid.AddRow(Format.Cells("Headers", d.Headers.Count == 0 ? "-" : Format.Headers(d.Headers)));
        grid.AddRow(Format.Cells("Size", $"{Format.Number(d.Body.Length)} bytes"));
        Consoles.Out.Write(grid);
        Consoles.Out.WriteLine();
        var isText = Format.TryText(d.Body.Span, out var text);
        Consoles.Out.Write(new Panel(new Text(!settings.Hex && isText ? text : Format.HexDump(d.Body.Span)))
            .Header(!settings.Hex && isText ? "Body (text)" : "Body (hex)").Expand());
        Consoles.Out.WriteLine();
        return ExitCodes.Ok;
    }
}

internal sealed class DeadRequeueCommand : AsyncCommand<DeadRequeueCommand.Settings>
{
    internal sealed class Settings : QueueSettings
    {
        [CommandArgument(2, "[IDS]")]
        [Description("Ids of the dead letters to requeue.")]
        public long[] Ids { get; set; } = [];

        [CommandOption("--all")]
        [Description("Requeue every dead letter of the queue.")]
        public bool All { get; set; }

        public override ValidationResult Validate() =>
            (Ids.Length > 0) == All
                ? ValidationResult.Error("give the ids of the dead letters to requeue, or --all (not both)")
                : ValidationResult.Success();
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        long total;
        using (var inspector = StoreAccess.Inspect(settings.File))
        {
            await StoreAccess.RequireQueueAsync(inspector, settings.Queue, cancellationToken).ConfigureAwait(false);
            total = (await inspector.GetCountsAsync(settings.Queue, cancellationToken).ConfigureAwait(false)).DeadLettered;
        }

        var store = StoreAccess.OpenForWrite(settings.File);
        await using var storeScope = store.ConfigureAwait(false);
        var queue = store.GetQueue(settings.Queue);
        if (settings.All)
        {
            var moved = await ProgressDisplay.RunAsync(
                $"Requeueing dead letters of '{settings.Queue}'", total,
                progress => queue.RequeueDeadLettersAsync(progress, cancellationToken).AsTask()).ConfigureAwait(false);
            Consoles.Out.WriteLine($"requeued {Format.Count(moved, "dead letter")} to '{settings.Queue}' (attempts reset)");
            return ExitCodes.Ok;
        }

        var missing = new List<long>();
        var requeued = 0;
        foreach (var id in settings.Ids.Distinct())
        {
            if (await queue.RequeueDeadLetterAsync(new MessageId(id), cancellationToken).ConfigureAwait(false))
            {
                requeued++;
            }
            else
            {
                missing.Add(id);
            }
        }

        Consoles.Out.WriteLine($"requeued {Format.Count(requeued, "dead letter")} to '{settings.Queue}' (attempts reset)");
        if (missing.Count > 0)
        {
            throw new CliException(ExitCodes.NotFound, $"no dead letter with id {string.Join(", ", missing)} in queue '{settings.Queue}'");
        }

        return ExitCodes.Ok;
    }
}

internal sealed class DeadPurgeCommand : AsyncCommand<DeadPurgeCommand.Settings>
{
    internal sealed class Settings : QueueSettings
    {
        [CommandOption("-y|--yes")]
        [Description("Do not ask for confirmation.")]
        public bool Yes { get; set; }
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        long total;
        using (var inspector = StoreAccess.Inspect(settings.File))
        {
            await StoreAccess.RequireQueueAsync(inspector, settings.Queue, cancellationToken).ConfigureAwait(false);
            total = (await inspector.GetCountsAsync(settings.Queue, cancellationToken).ConfigureAwait(false)).DeadLettered;
        }

        if (total == 0)
        {
            Consoles.Out.WriteLine($"queue '{settings.Queue}' has no dead letters");
            return ExitCodes.Ok;
        }

        if (!await StoreAccess.ConfirmAsync(
            settings.Yes, $"Delete {Format.Count(total, "dead letter")} of '{settings.Queue}' for good?", $"delete {Format.Count(total, "dead letter")}", cancellationToken)
            .ConfigureAwait(false))
        {
            Consoles.Out.WriteLine("nothing deleted");
            return ExitCodes.Ok;
        }

        var store = StoreAccess.OpenForWrite(settings.File);
        await using var storeScope = store.ConfigureAwait(false);
        var queue = store.GetQueue(settings.Queue);
        var removed = await ProgressDisplay.RunAsync(
            $"Deleting dead letters of '{settings.Queue}'", total,
            progress => queue.PurgeDeadLettersAsync(progress, cancellationToken).AsTask()).ConfigureAwait(false);
        Consoles.Out.WriteLine($"deleted {Format.Count(removed, "dead letter")} of '{settings.Queue}'");
        return ExitCodes.Ok;
    }
}
