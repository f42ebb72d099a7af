using System.ComponentModel;
using System.Text;
using DurableQueue.Cli.Infrastructure;
using Spectre.Console;
using Spectre.Console.Cli;

namespace DurableQueue.Cli.Commands;

internal sealed class EnqueueCommand : AsyncCommand<EnqueueCommand.Settings>
{
    private const int BatchSize = 500;

    internal sealed class Settings : QueueSettings
    {
        [CommandOption("-f|--file <PATH>")]
        [Description("Read the messages from this file instead of stdin.")]
        public string? InputFile { get; set; }

        [CommandOption("--whole")]
        [Description("Enqueue the whole input as one message (bytes as they are) instead of one message per non-empty line.")]
        public bool Whole { get; set; }

        [CommandOption("-p|--priority <0-9>")]
        [Description("Priority, 0 (most urgent) to 9.")]
        [DefaultValue(EnqueueOptions.DefaultPriority)]
        public int Priority { get; set; } = EnqueueOptions.DefaultPriority;

        [CommandOption("-d|--delay <DURATION>")]
        [Description("Make the messages visible only after this delay (e.g. 30s, 5m, 1h).")]
        public string? Delay { get; set; }

        [CommandOption("--max-attempts <N>")]
        [Description("Deliveries before a message is dead-lettered (default: the queue's stored setting, see dq stats; else 5).")]
        public int? MaxAttempts { get; set; }

        [CommandOption("-H|--header <KEY=VALUE>")]
        [Description("A header for every message; repeat for more.")]
        public string[] Headers { get; set; } = [];

        [CommandOption("--create")]
        [Description("Create the file (or add the queue tables to it; on PostgreSQL the schema and its tables) if it is not a queue store yet.")]
        public bool Create { get; set; }

        public override ValidationResult Validate()
        {
            var priority = SettingsChecks.Range(Priority, 0, 9, "--priority");
            if (!priority.Successful)
            {
                return priority;
            }

            if (MaxAttempts is { } max && (max < 1 || max > 1_000_000))
            {
                return ValidationResult.Error($"--max-attempts must be between 1 and 1000000; it was {max}");
            }

            return Headers.All(h => h.IndexOf('=', StringComparison.Ordinal) > 0)
                ? ValidationResult.Success()
                : ValidationResult.Error("--header takes KEY=VALUE");
        }
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var options = new EnqueueOptions
        {
            Priority = settings.Priority,
            Delay = settings.Delay is null ? null : Format.ParseDuration(settings.Delay, "--delay"),
            MaxAttempts = settings.MaxAttempts,
            Headers = settings.Headers.Length == 0
                ? null
                : settings.Headers.Select(h => h.Split('=', 2)).ToDictionary(p => p[0], p => p[1], StringComparer.Ordinal),
        };

        var input = StoreAccess.OpenInput(settings.InputFile, "--file");

        await using var inputScope = input.ConfigureAwait(false);
        var store = StoreAccess.OpenForWrite(settings.File, settings.Create, canCreate: true);
        await using var storeScope = store.ConfigureAwait(false);
        var queue = store.GetQueue(settings.Queue);
        var ids = new List<MessageId>();
        if (settings.Whole)
        {
            using var buffer = new MemoryStream();
            // A read of stdin does not watch the token: stop waiting for it on Ctrl+C (nothing is enqueued).
            await input.CopyToAsync(buffer, cancellationToken).WaitAsync(cancellationToken).ConfigureAwait(false);
            if (buffer.Length == 0)
            {
                // As in line mode: an empty input enqueues nothing (an empty message must be meant: use the library).
                Consoles.Out.WriteLine("nothing to enqueue: the input was empty");
                return ExitCodes.Ok;
            }

            ids.Add(await Enqueue(() => queue.EnqueueAsync(buffer.ToArray(), options, cancellationToken).AsTask()).ConfigureAwait(false));
        }
        else
        {
            using var reader = new StreamReader(input, Encoding.UTF8);
            var batch = new List<ReadOnlyMemory<byte>>(BatchSize);
            // A read of stdin does not watch the token: stop waiting for it on Ctrl+C (the last batch is not enqueued).
            while (await reader.ReadLineAsync(cancellationToken).AsTask().WaitAsync(cancellationToken).ConfigureAwait(false) is { } line)
            {
                if (line.Length == 0)
                {
                    continue;
                }

                batch.Add(Encoding.UTF8.GetBytes(line));
                if (batch.Count == BatchSize)
                {
                    ids.AddRange(await Enqueue(() => queue.EnqueueBatchAsync(batch, options, cancellationToken).AsTask()).ConfigureAwait(false));
                    batch.Clear();
                }
            }

            if (batch.Count > 0)
            {
                ids.AddRange(await Enqueue(() => queue.EnqueueBatchAsync(batch, options, cancellationToken).AsTask()).ConfigureAwait(false));
            }
        }

        Consoles.Out.WriteLine(ids.Count switch
        {
            0 => $"nothing to enqueue: the input had no non-empty line",
            1 => $"enqueued 1 message to '{queue.Name}' (id {ids[0]})",
            _ => $"enqueued {Format.Number(ids.Count)} messages to '{queue.Name}' (ids {ids.Min(i => i.Value)}..{ids.Max(i => i.Value)})",
        });
        return ExitCodes.Ok;
    }

    private static async Task<T> Enqueue<T>(Func<Task<T>> enqueue)
    {
        try
        {
            return await enqueue().ConfigureAwait(false);
        }
        catch (ArgumentException ex)
        {
            throw new CliException(ExitCodes.BadInput, ex.Message.Split(" (Parameter", 2)[0].TrimEnd('.'));
        }
    }
}
