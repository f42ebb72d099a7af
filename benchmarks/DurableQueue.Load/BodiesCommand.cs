using System.ComponentModel;
using DurableQueue.BenchmarkShared;
using Spectre.Console;
using Spectre.Console.Cli;

namespace DurableQueue.Load;

public sealed class BodiesSettings : CommandSettings
{
    [CommandOption("--body")]
    [Description("Body sizes in bytes (repeat the option); default 256, 65536 and 4194304.")]
    public int[]? Sizes { get; set; }

    [CommandOption("--dir")]
    [Description("Folder for the database files (default: the temp folder). Use a local disk.")]
    public string? Directory { get; set; }

    [CommandOption("-d|--durability")]
    [DefaultValue(Durability.Normal)]
    public Durability Durability { get; set; }

    [CommandOption("--baseline")]
    [Description("Also run the same life on a raw SQLite table with the body in the row.")]
    public bool Baseline { get; set; }

    [CommandOption("-o|--json")]
    [DefaultValue("bodies-result.json")]
    public string Json { get; set; } = "bodies-result.json";

    public string WorkDirectory => Directory ?? Path.GetTempPath();
}

/// <summary>
/// What one message's life writes to the WAL: enqueue, receive, nack, receive, extend, ack, each its own commit, for
/// small and large bodies. Automatic checkpoints are turned off on the writer connection so that the WAL only grows;
/// a step's cost is the growth of the -wal file. A body rewritten on every lease shows as a multiple of its size per step.
/// </summary>
public sealed class BodiesCommand : AsyncCommand<BodiesSettings>
{
    private static readonly string[] s_steps = ["enqueue", "receive", "nack", "receive", "extend", "ack"];

    public override async Task<int> ExecuteAsync(CommandContext context, BodiesSettings settings, CancellationToken cancellationToken)
    {
        var sizes = settings.Sizes is { Length: > 0 } s ? s : [256, 64 * 1024, 4 * 1024 * 1024];
        var rows = new List<BodiesResult>();
        foreach (var size in sizes)
        {
            rows.Add(await QueueLifeAsync(settings, size));
            if (settings.Baseline)
            {
                rows.Add(RawLife(settings, size));
            }
        }

        var table = new Table().Border(TableBorder.Rounded);
        foreach (var column in new[] { "Kind", "Body" }.Concat(s_steps.Select((n, i) => $"{i + 1}. {n} KiB")).Append("Life KiB").Append("Bodies written"))
        {
            table.AddColumn(new TableColumn(column).RightAligned());
        }

        foreach (var r in rows)
        {
            table.AddRow(
                new[] { r.Kind, Size(r.BodyBytes) }
                    .Concat(r.WalBytes.Select(b => (b / 1024.0).ToString("N1")))
                    .Append((r.WalBytes.Sum() / 1024.0).ToString("N1"))
                    .Append(r.BodiesWritten.ToString("N2"))
                    .ToArray());
        }

        AnsiConsole.Write(table);
        Output.WriteJson(settings.Json, new { Command = "bodies", Machine = Output.Machine(), settings.Durability, Steps = s_steps, Results = rows });
        return 0;
    }

    private static async Task<BodiesResult> QueueLifeAsync(BodiesSettings settings, int size)
    {
        var path = Path.Combine(settings.WorkDirectory, $"bodies-{Guid.NewGuid():N}.db");
        var options = new QueueStoreOptions
        {
            Durability = settings.Durability,
            MaxMessageBytes = Math.Max(size, 1024),
            MaintenanceInterval = TimeSpan.FromHours(1),
        };
        var store = QueueStore.Open(path, options);
        try
        {
            var queue = store.GetQueue("bodies");
            await store.ExecuteAsync(tx =>
            {
                using var command = tx.Connection.CreateCommand();
                command.CommandText = "PRAGMA wal_autocheckpoint = 0;";
                command.ExecuteNonQuery();
            });
            var body = new byte[size];
            Random.Shared.NextBytes(body);
            var wal = new WalMeter(path);
            var steps = new List<long>();
            await queue.EnqueueAsync(body);
            steps.Add(wal.Step());
            var first = (await queue.ReceiveAsync(1)).Single();
            steps.Add(wal.Step());
            await queue.NackAsync(first);
            steps.Add(wal.Step());
            var second = (await queue.ReceiveAsync(1)).Single();
            steps.Add(wal.Step());
            await queue.ExtendLeaseAsync(second, TimeSpan.FromMinutes(5));
            steps.Add(wal.Step());
            await queue.AckAsync(second);
            steps.Add(wal.Step());
            return new BodiesResult("DurableQueue", size, steps);
        }
        finally
        {
            await store.DisposeAsync();
            Runner.DeleteDatabase(path);
        }
    }

    private static BodiesResult RawLife(BodiesSettings settings, int size)
    {
        var path = Path.Combine(settings.WorkDirectory, $"bodies-raw-{Guid.NewGuid():N}.db");
        var raw = RawStore.Open(path, settings.Durability == Durability.Full);
        try
        {
            raw.Execute("PRAGMA wal_autocheckpoint = 0;");
            var body = new byte[size];
            Random.Shared.NextBytes(body);
            var token = Guid.NewGuid().ToByteArray();
            var wal = new WalMeter(path);
            var steps = new List<long>();
            raw.Insert(body);
            steps.Add(wal.Step());
            var claimed = raw.Claim(1, token);
            steps.Add(wal.Step());
            raw.Release(claimed, token);
            steps.Add(wal.Step());
            claimed = raw.Claim(1, token);
            steps.Add(wal.Step());
            raw.Extend(claimed, token);
            steps.Add(wal.Step());
            raw.Delete(claimed, token);
            steps.Add(wal.Step());
            return new BodiesResult("RawSqlite", size, steps);
        }
        finally
        {
            raw.Dispose();
            Runner.DeleteDatabase(path);
        }
    }

    private static string Size(int bytes) => bytes >= 1 << 20 ? $"{bytes >> 20} MiB" : bytes >= 1 << 10 ? $"{bytes >> 10} KiB" : $"{bytes} B";

    /// <summary>The growth of the -wal file between steps (automatic checkpoints are off, so it only grows).</summary>
    private sealed class WalMeter(string path)
    {
        private long _last = Length(path);

        public long Step()
        {
            var now = Length(path);
            var grown = now - _last;
            _last = now;
            return grown;
        }

        private static long Length(string path)
        {
            var wal = new FileInfo(path + "-wal");
            return wal.Exists ? wal.Length : 0;
        }
    }
}

public sealed record BodiesResult(string Kind, int BodyBytes, List<long> WalBytes)
{
    /// <summary>WAL bytes over the whole life, in units of the body size.</summary>
    public double BodiesWritten => WalBytes.Sum() / (double)BodyBytes;
}
