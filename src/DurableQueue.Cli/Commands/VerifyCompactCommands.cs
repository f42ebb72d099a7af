using System.ComponentModel;
using System.Text.Json;
using DurableQueue.Cli.Infrastructure;
using Spectre.Console;
using Spectre.Console.Cli;

namespace DurableQueue.Cli.Commands;

internal sealed class VerifyCommand : AsyncCommand<VerifyCommand.Settings>
{
    internal sealed class Settings : FileSettings
    {
        [CommandOption("--json")]
        [Description("Write the result as one JSON object.")]
        public bool Json { get; set; }
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        StoreVerification result;
        string path;
        bool isFile;
        try
        {
            using var inspector = StoreAccess.Inspect(settings.File);
            path = inspector.Path;
            isFile = inspector.IsFile;
            result = await inspector.VerifyAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (StoreFileException ex) when (ex.Problem == StoreFileProblem.Corrupt)
        {
            // Too damaged for the queue's checks: verify is the command for damaged files, so report what SQLite's
            // own check finds (read-only, never through the queue tables) instead of refusing the file.
            return ReportDamage(settings, Path.GetFullPath(settings.File), ex);
        }

        if (settings.Json)
        {
            Console.Out.WriteLine(JsonSerializer.Serialize(
                new
                {
                    path,
                    healthy = result.IsHealthy,
                    // SQLite's own check of the file; a PostgreSQL server checks its pages itself (null).
                    integrityCheck = !isFile ? null : result.IntegrityErrors.Count == 0 ? ["ok"] : result.IntegrityErrors,
                    checks = result.Checks,
                    problems = result.Problems.Select(p => new { check = p.Check, count = p.Count, description = p.Description }),
                },
                MessageLine.IndentedJson));
            return result.IsHealthy ? ExitCodes.Ok : ExitCodes.Problems;
        }

        var table = new Table().AddColumns("Check", "Result");
        if (isFile)
        {
            table.AddRow(Format.Cells("integrity_check", result.IntegrityErrors.Count == 0 ? "ok" : string.Join(Environment.NewLine, result.IntegrityErrors)));
        }

        foreach (var check in result.Checks)
        {
            var problem = result.Problems.FirstOrDefault(p => p.Check == check);
            table.AddRow(Format.Cells(check, problem.Check is null ? "ok" : $"FAILED: {problem.Count} - {problem.Description}"));
        }

        Consoles.Out.Write(table);
        var checks = result.Checks.Count + (isFile ? 1 : 0);
        Consoles.Out.WriteLine(result.IsHealthy
            ? $"all {checks} checks passed"
            : $"{result.Problems.Count + (result.IntegrityErrors.Count > 0 ? 1 : 0)} of {checks} checks failed");
        return result.IsHealthy ? ExitCodes.Ok : ExitCodes.Problems;
    }

    private static int ReportDamage(Settings settings, string path, StoreFileException damage)
    {
        IReadOnlyList<string> integrity;
        try
        {
            integrity = StoreAccess.CheckIntegrity(settings.File, quick: false);
        }
        catch (Microsoft.Data.Sqlite.SqliteException ex)
        {
            // Not even SQLite's check can read it (the header or the schema page is gone).
            integrity = [$"integrity_check could not run: {ex.Message}"];
        }

        var reason = damage.InnerException?.Message ?? damage.Message;
        var queueChecks = $"not run: the queue tables cannot be read ({reason})";
        if (settings.Json)
        {
            Console.Out.WriteLine(JsonSerializer.Serialize(
                new
                {
                    path,
                    healthy = false,
                    integrityCheck = integrity.Count == 0 ? ["ok"] : integrity,
                    checks = Array.Empty<string>(),
                    problems = new[] { new { check = "readable", count = 1L, description = queueChecks } },
                },
                MessageLine.IndentedJson));
            return ExitCodes.Problems;
        }

        var table = new Table().AddColumns("Check", "Result");
        table.AddRow(Format.Cells("integrity_check", integrity.Count == 0 ? "ok" : string.Join(Environment.NewLine, integrity)));
        table.AddRow(Format.Cells("queue checks", queueChecks));
        Consoles.Out.Write(table);
        Consoles.Out.WriteLine("the file is damaged; restore it from a backup, or export what can still be read");
        return ExitCodes.Problems;
    }
}

internal sealed class CompactCommand : AsyncCommand<CompactCommand.Settings>
{
    internal sealed class Settings : FileSettings
    {
        [CommandOption("--json")]
        [Description("Write the result as one JSON object.")]
        public bool Json { get; set; }
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        CompactionResult result;
        StoreAccess.RequireFile(
            settings.File, "compact",
            "it hands a file's free pages back and truncates its WAL; on PostgreSQL autovacuum reclaims the space (or run VACUUM on the schema's tables)");
        using (StoreAccess.Inspect(settings.File))
        {
            // Missing, not SQLite, not a queue store, newer schema: refused here with the usual message.
        }

        // Moving pages of a damaged file could spread the damage: check first (read-only) and leave such a file alone.
        IReadOnlyList<string> damage;
        try
        {
            damage = StoreAccess.CheckIntegrity(settings.File, quick: true);
        }
        catch (Microsoft.Data.Sqlite.SqliteException ex) when (ex.SqliteErrorCode is 11 or 26) // SQLITE_CORRUPT, SQLITE_NOTADB
        {
            damage = [ex.Message];
        }

        if (damage.Count > 0)
        {
            throw new CliException(
                ExitCodes.BadFile, $"'{Path.GetFullPath(settings.File)}' is damaged ({damage[0]}); it was left untouched. Run dq verify for details");
        }

        var store = StoreAccess.OpenForWrite(settings.File);

        await using (store.ConfigureAwait(false))
        {
            result = await store.CompactAsync(cancellationToken).ConfigureAwait(false);
        }

        if (settings.Json)
        {
            Console.Out.WriteLine(JsonSerializer.Serialize(
                new
                {
                    bytesReturned = result.BytesReturned,
                    fileBytesBefore = result.FileBytesBefore,
                    fileBytesAfter = result.FileBytesAfter,
                    walBytesBefore = result.WalBytesBefore,
                    walBytesAfter = result.WalBytesAfter,
                    freePagesBefore = result.FreePagesBefore,
                    freePagesAfter = result.FreePagesAfter,
                    checkpointCompleted = result.CheckpointCompleted,
                    incrementalVacuum = result.IncrementalVacuum,
                },
                MessageLine.IndentedJson));
            return ExitCodes.Ok;
        }

        var console = Consoles.Out;
        console.WriteLine($"returned {Format.Bytes(result.BytesReturned)} ({Format.Number(result.BytesReturned)} bytes) to the file system");
        console.WriteLine($"  file:       {Format.Bytes(result.FileBytesBefore)} -> {Format.Bytes(result.FileBytesAfter)}");
        console.WriteLine($"  WAL:        {Format.Bytes(result.WalBytesBefore)} -> {Format.Bytes(result.WalBytesAfter)}");
        console.WriteLine($"  free pages: {Format.Number(result.FreePagesBefore)} -> {Format.Number(result.FreePagesAfter)}");
        if (!result.CheckpointCompleted)
        {
            console.WriteLine("  note: another process was reading or writing, so the WAL could not be truncated completely; run compact again later");
        }

        if (!result.IncrementalVacuum)
        {
            console.WriteLine("  note: this file does not use incremental vacuum (its first table was created before the queue's), so free pages stay in the file for reuse");
        }

        return ExitCodes.Ok;
    }
}
