using System.ComponentModel;
using System.Text;
using DurableQueue.Cli.Infrastructure;
using Spectre.Console;
using Spectre.Console.Cli;

namespace DurableQueue.Cli.Commands;

internal sealed class ExportCommand : AsyncCommand<ExportCommand.Settings>
{
    internal sealed class Settings : QueueSettings
    {
        [CommandOption("-o|--output <PATH>")]
        [Description("Write to this file instead of stdout (it must not exist).")]
        public string? Output { get; set; }

        [CommandOption("--dead-letters")]
        [Description("Export the queue's dead letters instead of its messages.")]
        public bool DeadLetters { get; set; }

        [CommandOption("--base64")]
        [Description("Write every body as base64, even text.")]
        public bool Base64 { get; set; }
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        using var inspector = StoreAccess.Inspect(settings.File);
        await StoreAccess.RequireQueueAsync(inspector, settings.Queue, cancellationToken).ConfigureAwait(false);
        var counts = await inspector.GetCountsAsync(settings.Queue, cancellationToken).ConfigureAwait(false);
        var total = settings.DeadLetters ? counts.DeadLettered : counts.Total;

        if (settings.Output is { } output && File.Exists(output))
        {
            throw new CliException(ExitCodes.Usage, $"--output: '{output}' exists already; export never overwrites a file");
        }

        var writer = settings.Output is null
            ? Console.Out
            : new StreamWriter(new FileStream(settings.Output, FileMode.CreateNew, FileAccess.Write), new UTF8Encoding(false));
        long written = 0;
        try
        {
            await ProgressDisplay.RunAsync($"Exporting '{settings.Queue}'", total, async report =>
            {
                MessageId? after = null;
                while (true)
                {
                    IReadOnlyList<string> lines;
                    if (settings.DeadLetters)
                    {
                        var page = await inspector.GetDeadLettersAsync(settings.Queue, 1000, after, cancellationToken).ConfigureAwait(false);
                        lines = page.Select(d => MessageLine.From(d, settings.Base64).ToJson()).ToList();
                        after = page.Count > 0 ? page[^1].Id : after;
                    }
                    else
                    {
                        var page = await inspector.GetMessagesAsync(settings.Queue, 1000, after, cancellationToken).ConfigureAwait(false);
                        lines = page.Select(m => MessageLine.From(m, settings.Base64).ToJson()).ToList();
                        after = page.Count > 0 ? page[^1].Id : after;
                    }

                    if (lines.Count == 0)
                    {
                        break;
                    }

                    foreach (var line in lines)
                    {
                        await writer.WriteLineAsync(line.AsMemory(), cancellationToken).ConfigureAwait(false);
                    }

                    written += lines.Count;
                    report(written);
                }
            }).ConfigureAwait(false);
            await writer.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            if (settings.Output is not null)
            {
                await writer.DisposeAsync().ConfigureAwait(false);
            }
        }

        // The summary goes to stderr so that stdout holds nothing but the JSON lines.
        Consoles.Error.WriteLine($"exported {Format.Count(written, settings.DeadLetters ? "dead letter" : "message")} of '{settings.Queue}'");
        return ExitCodes.Ok;
    }
}

internal sealed class ImportCommand : AsyncCommand<ImportCommand.Settings>
{
    internal sealed class Settings : QueueSettings
    {
        [CommandOption("-i|--input <PATH>")]
        [Description("Read the JSON lines from this file instead of stdin.")]
        public string? Input { get; set; }

        [CommandOption("-b|--batch-size <N>")]
        [Description("Messages per atomic batch (1-10000).")]
        [DefaultValue(500)]
        public int BatchSize { get; set; } = 500;

        [CommandOption("--create")]
        [Description("Create the file (or add the queue tables to it; on PostgreSQL the schema and its tables) if it is not a queue store yet.")]
        public bool Create { get; set; }

        public override ValidationResult Validate() => SettingsChecks.Range(BatchSize, 1, 10_000, "--batch-size");
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var input = StoreAccess.OpenInput(settings.Input, "--input");

        await using var inputScope = input.ConfigureAwait(false);
        var store = StoreAccess.OpenForWrite(settings.File, settings.Create, canCreate: true);
        await using var storeScope = store.ConfigureAwait(false);
        var queue = store.GetQueue(settings.Queue);
        var defaults = new EnqueueOptions();
        long imported = 0, batches = 0, lineNumber = 0;
        var totalBytes = input.CanSeek ? input.Length : 0;
        using var reader = new StreamReader(input, Encoding.UTF8);
        await ProgressDisplay.RunAsync($"Importing into '{settings.Queue}'", totalBytes, async report =>
        {
            var batch = new List<OutgoingMessage>(settings.BatchSize);
            while (true)
            {
                // A read of stdin does not watch the token: stop waiting for it on Ctrl+C (the last batch is not enqueued).
                var line = await reader.ReadLineAsync(cancellationToken).AsTask().WaitAsync(cancellationToken).ConfigureAwait(false);
                if (line is not null)
                {
                    lineNumber++;
                    if (line.Trim().Length == 0)
                    {
                        continue;
                    }

                    try
                    {
                        batch.Add(MessageLine.Parse(line, lineNumber, defaults));
                    }
                    catch (CliException ex)
                    {
                        throw new CliException(ex.ExitCode, Fail(ex.Message));
                    }
                }

                if (batch.Count > 0 && (batch.Count == settings.BatchSize || line is null))
                {
                    try
                    {
                        await queue.EnqueueBatchAsync(batch, cancellationToken).ConfigureAwait(false);
                    }
                    catch (ArgumentException ex)
                    {
                        throw new CliException(ExitCodes.BadInput, Fail($"batch ending at line {lineNumber}: {ex.Message.Split(" (Parameter", 2)[0].TrimEnd('.')}"));
                    }

                    imported += batch.Count;
                    batches++;
                    batch.Clear();
                    if (totalBytes > 0)
                    {
                        report(input.Position);
                    }
                }

                if (line is null)
                {
                    break;
                }
            }
        }).ConfigureAwait(false);

        Consoles.Out.WriteLine($"imported {Format.Count(imported, "message")} into '{queue.Name}' in {batches} atomic batch{(batches == 1 ? "" : "es")}");
        return ExitCodes.Ok;

        string Fail(string reason) =>
            $"{reason}; that batch was not enqueued" + (imported > 0 ? $" ({Format.Count(imported, "message")} of earlier batches {(imported == 1 ? "was" : "were")})" : " (nothing was imported)");
    }
}
