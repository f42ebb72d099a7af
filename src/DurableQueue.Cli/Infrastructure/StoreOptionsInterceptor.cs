using DurableQueue.Cli.Commands;
using Spectre.Console.Cli;

namespace DurableQueue.Cli.Infrastructure;

/// <summary>Turns the options every file command shares (<c>--busy-timeout</c>, <c>--schema</c>) into the store options of this run.</summary>
internal sealed class StoreOptionsInterceptor : ICommandInterceptor
{
    private static readonly TimeSpan s_min = TimeSpan.FromMilliseconds(1);
    private static readonly TimeSpan s_max = TimeSpan.FromHours(1);

    public void Intercept(CommandContext context, CommandSettings settings)
    {
        if (settings is FileSettings { Schema: { } schema } file)
        {
            if (!StoreTarget.Parse(file.File).IsPostgres)
            {
                throw new CliException(ExitCodes.Usage, "--schema applies to a PostgreSQL store (a connection string); a file has no schemas");
            }

            StoreAccess.Schema = schema;
        }

        if (settings is FileSettings { BusyTimeout: { } text })
        {
            var timeout = Format.ParseDuration(text, "--busy-timeout");
            if (timeout < s_min || timeout > s_max)
            {
                throw new CliException(ExitCodes.Usage, $"--busy-timeout must be between 1ms and 1h; it was {text}");
            }

            StoreAccess.Options = new QueueStoreOptions { BusyTimeout = timeout };
        }
    }
}
