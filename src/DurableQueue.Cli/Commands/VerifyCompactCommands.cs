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
        using var inspector = StoreAccess.Inspect(settings.File);
        var result = await inspector.VerifyAsync(cancellationToken).ConfigureAwait(false);
        if (settings.Json)
        {
            Console.Out.WriteLine(JsonSerializer.Serialize(
                new
                {
                    path = inspector.Path,
                    healthy = result.IsHealthy,
                    integrityCheck = result.IntegrityErrors.Count == 0 ? ["ok"] : result.IntegrityErrors,
                    checks = result.Checks,
                    problems = result.Problems.Select(p => new { check = p.Check, count = p.Count, description = p.Description }),
                },
                MessageLine.IndentedJson));
            return result.IsHealthy ? ExitCodes.Ok : ExitCodes.Problems;
        }

        var table = new Table().AddColumns("Check", "Result");
        table.AddRow(Format.Cells("integrity_check", result.IntegrityErrors.Count == 0 ? "ok" : string.Join(Environment.NewLine, result.IntegrityErrors)));
        foreach (var check in result.Checks)
        {
            var problem = result.Problems.FirstOrDefault(p => p.Check == check);
            table.AddRow(Format.Cells(check, problem.Check is null ? "ok" : $"FAILED: {problem.Count} - {problem.Description}"));
        }

        Consoles.Out.Write(table);
        Consoles.Out.WriteLine(result.IsHealthy
            ? $"all {result.Checks.Count + 1} checks passed"
            : $"{result.Problems.Count + (result.IntegrityErrors.Count > 0 ? 1 : 0)} of {result.Checks.Count + 1} checks failed");
        return result.IsHealthy ? ExitCodes.Ok : ExitCodes.Problems;
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
