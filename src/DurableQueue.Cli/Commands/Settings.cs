using System.ComponentModel;
using Spectre.Console;
using Spectre.Console.Cli;

namespace DurableQueue.Cli.Commands;

internal class FileSettings : CommandSettings
{
    [CommandArgument(0, "<STORE>")]
    [Description("The queue database file, or a PostgreSQL connection string (Host=...;Database=...;Username=...) or URI (postgresql://user@host/database).")]
    public string File { get; set; } = "";

    [CommandOption("--busy-timeout <DURATION>")]
    [Description("How long a write waits while another process holds the file's write lock, or on PostgreSQL a row or table lock (default 30s).")]
    public string? BusyTimeout { get; set; }

    [CommandOption("--schema <NAME>")]
    [Description("PostgreSQL only: the schema that holds the queue's tables (default durablequeue).")]
    public string? Schema { get; set; }
}

internal class QueueSettings : FileSettings
{
    [CommandArgument(1, "<QUEUE>")]
    [Description("The queue name.")]
    public string Queue { get; set; } = "";
}

internal class JsonQueueSettings : QueueSettings
{
    [CommandOption("--json")]
    [Description("Write JSON (one message per line) instead of a table.")]
    public bool Json { get; set; }

    [CommandOption("--hex")]
    [Description("Show bodies as hex (base64 in JSON) even when they are text.")]
    public bool Hex { get; set; }
}

internal static class SettingsChecks
{
    public static ValidationResult Range(int value, int min, int max, string option) =>
        value < min || value > max ? ValidationResult.Error($"{option} must be between {min} and {max}; it was {value}") : ValidationResult.Success();
}
