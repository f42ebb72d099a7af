using System.ComponentModel;
using System.Text.Json;
using DurableQueue.Cli.Infrastructure;
using Spectre.Console;
using Spectre.Console.Cli;

namespace DurableQueue.Cli.Commands;

/// <summary>dq doctor: the durability doctor on a file, read-only (the options checked are those of the stores that have it open).</summary>
internal sealed class DoctorCommand : AsyncCommand<DoctorCommand.Settings>
{
    internal sealed class Settings : FileSettings
    {
        [CommandOption("--json")]
        [Description("Write the result as one JSON object.")]
        public bool Json { get; set; }

        [CommandOption("--probe-fsync")]
        [Description("Also measure how long the disk takes to flush (a few synced writes to a temporary file next to the database).")]
        public bool ProbeFsync { get; set; }

        [CommandOption("--min-free <BYTES>")]
        [Description("Warn when less disk space is free (bytes, or with a unit: 512M, 2G). Default 256M.")]
        public string? MinFree { get; set; }

        public override ValidationResult Validate() =>
            MinFree is null || Sizes.TryParse(MinFree, out _) ? ValidationResult.Success() : ValidationResult.Error($"--min-free: '{MinFree}' is not a size such as 1048576, 512M or 2G");
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        StoreAccess.RequireFile(
            settings.File, "doctor",
            "it checks a file, its file system and its disk; for a PostgreSQL store use the server's own monitoring, and dq verify for the queue's invariants");
        var options = new DiagnoseOptions { ProbeFsync = settings.ProbeFsync };
        if (settings.MinFree is not null && Sizes.TryParse(settings.MinFree, out var minFree))
        {
            options.MinimumFreeDiskBytes = minFree;
        }

        DurabilityReport report;
        using (var inspector = StoreAccess.Inspect(settings.File))
        {
            report = await inspector.DiagnoseAsync(options, cancellationToken).ConfigureAwait(false);
        }

        var exitCode = report.HighestSeverity switch
        {
            FindingSeverity.Error => ExitCodes.Unsafe,
            FindingSeverity.Warning => ExitCodes.Problems,
            _ => ExitCodes.Ok,
        };
        if (settings.Json)
        {
            Console.Out.WriteLine(JsonSerializer.Serialize(
                new
                {
                    path = report.Path,
                    checkedAt = report.CheckedAt,
                    fileSystem = report.FileSystem,
                    mountPoint = report.MountPoint,
                    device = report.Device,
                    highestSeverity = Severity(report.HighestSeverity),
                    healthy = report.IsHealthy,
                    findings = report.Findings.Select(f => new
                    {
                        code = f.Code,
                        severity = Severity(f.Severity),
                        summary = f.Summary,
                        meaning = f.Meaning,
                        advice = f.Advice,
                    }),
                },
                MessageLine.IndentedJson));
            return exitCode;
        }

        var console = Consoles.Out;
        console.WriteLine($"{report.Path}: {report.FileSystem ?? "unknown file system"}{(report.MountPoint is null ? "" : $" at {report.MountPoint}")}{(report.Device is null ? "" : $" ({report.Device})")}");
        foreach (var finding in report.Findings)
        {
            console.WriteLine();
            console.WriteLine($"{Severity(finding.Severity).ToUpperInvariant()} {finding.Code}: {finding.Summary}");
            console.WriteLine($"  means: {finding.Meaning}");
            console.WriteLine($"  do:    {finding.Advice}");
        }

        console.WriteLine();
        var warnings = report.Findings.Count(f => f.Severity == FindingSeverity.Warning);
        var errors = report.Findings.Count(f => f.Severity == FindingSeverity.Error);
        console.WriteLine(errors + warnings == 0 ? "no warnings" : $"{errors} error(s), {warnings} warning(s)");
        return exitCode;
    }

    private static string Severity(FindingSeverity severity) => severity switch
    {
        FindingSeverity.Error => "error",
        FindingSeverity.Warning => "warning",
        _ => "info",
    };
}

/// <summary>Byte sizes written as a number or with a binary unit: 1048576, 512K, 64M, 2G, 1T.</summary>
internal static class Sizes
{
    public static bool TryParse(string text, out long bytes)
    {
        bytes = 0;
        text = text.Trim();
        if (text.Length == 0)
        {
            return false;
        }

        var shift = char.ToUpperInvariant(text[^1]) switch
        {
            'K' => 10,
            'M' => 20,
            'G' => 30,
            'T' => 40,
            _ => 0,
        };
        var number = shift == 0 ? text : text[..^1];
        if (!long.TryParse(number, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var value)
            || value > long.MaxValue >> shift)
        {
            return false;
        }

        bytes = value << shift;
        return true;
    }
}
