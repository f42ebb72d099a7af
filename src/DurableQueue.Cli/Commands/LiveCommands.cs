using System.ComponentModel;
using DurableQueue.Cli.Infrastructure;
using Spectre.Console;
using Spectre.Console.Cli;

namespace DurableQueue.Cli.Commands;

/// <summary>Settings of the commands that remove live messages: they ask first, or take --yes.</summary>
internal class ConfirmedQueueSettings : QueueSettings
{
    [CommandOption("-y|--yes")]
    [Description("Do not ask for confirmation.")]
    public bool Yes { get; set; }
}

/// <summary>Settings of the commands that name live messages by id.</summary>
internal class MessageIdsSettings : ConfirmedQueueSettings
{
    [CommandArgument(2, "<IDS>")]
    [Description("Ids of the messages (ready, delayed or leased).")]
    public long[] Ids { get; set; } = [];

    public override ValidationResult Validate() =>
        Ids.Any(id => id <= 0) ? ValidationResult.Error("message ids are whole numbers from 1") : ValidationResult.Success();
}

internal sealed class PurgeCommand : AsyncCommand<ConfirmedQueueSettings>
{
    public override async Task<int> ExecuteAsync(CommandContext context, ConfirmedQueueSettings settings, CancellationToken cancellationToken)
    {
        QueueCounts counts;
        using (var inspector = StoreAccess.Inspect(settings.File))
        {
            await StoreAccess.RequireQueueAsync(inspector, settings.Queue, cancellationToken).ConfigureAwait(false);
            counts = await inspector.GetCountsAsync(settings.Queue, cancellationToken).ConfigureAwait(false);
        }

        if (counts.Total == 0)
        {
            Consoles.Out.WriteLine($"queue '{settings.Queue}' has no messages");
            return ExitCodes.Ok;
        }

        var what = Format.Count(counts.Total, "message");
        if (!await StoreAccess.ConfirmAsync(
            settings.Yes,
            $"Delete {what} of '{settings.Queue}' ({Format.Number(counts.Ready)} ready, {Format.Number(counts.Delayed)} delayed, {Format.Number(counts.Leased)} leased) for good?",
            $"delete {what}",
            cancellationToken).ConfigureAwait(false))
        {
            Consoles.Out.WriteLine("nothing deleted");
            return ExitCodes.Ok;
        }

        var store = StoreAccess.OpenForWrite(settings.File);
        await using var storeScope = store.ConfigureAwait(false);
        var removed = await store.GetQueue(settings.Queue).PurgeAsync(cancellationToken).ConfigureAwait(false);
        Consoles.Out.WriteLine($"deleted {Format.Count(removed, "message")} of '{settings.Queue}' (dead letters kept)");
        return ExitCodes.Ok;
    }
}

internal sealed class DeleteCommand : AsyncCommand<MessageIdsSettings>
{
    public override async Task<int> ExecuteAsync(CommandContext context, MessageIdsSettings settings, CancellationToken cancellationToken)
    {
        var ids = settings.Ids.Distinct().ToArray();
        using (var inspector = StoreAccess.Inspect(settings.File))
        {
            await StoreAccess.RequireQueueAsync(inspector, settings.Queue, cancellationToken).ConfigureAwait(false);
        }

        var what = Format.Count(ids.Length, "message");
        if (!await StoreAccess.ConfirmAsync(
            settings.Yes, $"Delete {what} of '{settings.Queue}' ({string.Join(", ", ids)}) for good?", $"delete {what}", cancellationToken).ConfigureAwait(false))
        {
            Consoles.Out.WriteLine("nothing deleted");
            return ExitCodes.Ok;
        }

        var store = StoreAccess.OpenForWrite(settings.File);
        await using var storeScope = store.ConfigureAwait(false);
        var queue = store.GetQueue(settings.Queue);
        var missing = new List<long>();
        var deleted = 0;
        foreach (var id in ids)
        {
            if (await queue.DeleteAsync(new MessageId(id), cancellationToken).ConfigureAwait(false))
            {
                deleted++;
            }
            else
            {
                missing.Add(id);
            }
        }

        Consoles.Out.WriteLine($"deleted {Format.Count(deleted, "message")} of '{settings.Queue}'");
        return missing.Count == 0
            ? ExitCodes.Ok
            : throw new CliException(ExitCodes.NotFound, $"queue '{settings.Queue}' has no live message with id {string.Join(", ", missing)}");
    }
}

internal sealed class MoveCommand : AsyncCommand<MoveCommand.Settings>
{
    internal sealed class Settings : MessageIdsSettings
    {
        [CommandOption("--to <QUEUE>")]
        [Description("The queue to move the messages to (created if it does not exist).")]
        public string? To { get; set; }

        public override ValidationResult Validate()
        {
            if (string.IsNullOrEmpty(To))
            {
                return ValidationResult.Error("give the target queue with --to");
            }

            return To == Queue ? ValidationResult.Error("--to names the queue the messages are in already") : base.Validate();
        }
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var target = settings.To!;
        var ids = settings.Ids.Distinct().ToArray();
        using (var inspector = StoreAccess.Inspect(settings.File))
        {
            await StoreAccess.RequireQueueAsync(inspector, settings.Queue, cancellationToken).ConfigureAwait(false);
        }

        var what = Format.Count(ids.Length, "message");
        if (!await StoreAccess.ConfirmAsync(
            settings.Yes, $"Move {what} of '{settings.Queue}' ({string.Join(", ", ids)}) to '{target}'?", $"move {what}", cancellationToken).ConfigureAwait(false))
        {
            Consoles.Out.WriteLine("nothing moved");
            return ExitCodes.Ok;
        }

        var store = StoreAccess.OpenForWrite(settings.File);
        await using var storeScope = store.ConfigureAwait(false);
        var source = store.GetQueue(settings.Queue);
        var missing = new List<long>();
        var moved = new List<string>();
        foreach (var id in ids)
        {
            var message = await source.GetMessageAsync(new MessageId(id), cancellationToken).ConfigureAwait(false);
            if (message is null)
            {
                missing.Add(id);
                continue;
            }

            var options = new EnqueueOptions
            {
                Priority = message.Priority,
                MaxAttempts = message.MaxAttempts,
                DeduplicationKey = message.DeduplicationKey,
                Headers = message.Headers.Count == 0 ? null : new Dictionary<string, string>(message.Headers),
                // A delayed message stays delayed until the same instant; a leased one is ready at once in its new queue.
                NotBefore = message.State == MessageState.Delayed ? message.VisibleAt : null,
            };

            // One unit of work: the message leaves its queue and enters the other together, or not at all (it may have
            // been acked since it was read, then nothing is moved).
            MessageId? newId;
            try
            {
                newId = await store.ExecuteAsync(
                    tx => tx.Delete(settings.Queue, message.Id) ? tx.Enqueue(target, message.Body, options) : (MessageId?)null,
                    cancellationToken).ConfigureAwait(false);
            }
            catch (ArgumentException ex)
            {
                throw new CliException(ExitCodes.Usage, ex.Message.Split(" (Parameter", 2)[0].TrimEnd('.'));
            }

            if (newId is { } created)
            {
                moved.Add($"{id} -> {created}");
            }
            else
            {
                missing.Add(id);
            }
        }

        Consoles.Out.WriteLine(moved.Count == 0
            ? $"moved no message to '{target}'"
            : $"moved {Format.Count(moved.Count, "message")} to '{target}' (new ids, attempts reset): {string.Join(", ", moved)}");
        return missing.Count == 0
            ? ExitCodes.Ok
            : throw new CliException(ExitCodes.NotFound, $"queue '{settings.Queue}' has no live message with id {string.Join(", ", missing)}");
    }
}
