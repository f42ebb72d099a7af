using System.Buffers.Binary;
using System.ComponentModel;
using System.Diagnostics;
using DurableQueue.BenchmarkShared;
using DurableQueue.Postgres;
using DurableQueue.Testing.Postgres;
using Npgsql;
using Spectre.Console;
using Spectre.Console.Cli;

namespace DurableQueue.Load;

public sealed class PostgresSettings : CommandSettings
{
    [CommandOption("--connection")]
    [Description("A PostgreSQL connection string; without it the tool starts a private PostgreSQL 15 cluster (fsync on) in a temp folder.")]
    public string? Connection { get; set; }

    [CommandOption("-p|--producers")]
    [Description("Concurrent producers in the end-to-end runs.")]
    [DefaultValue(4)]
    public int Producers { get; set; }

    [CommandOption("-c|--consumers")]
    [Description("Concurrent consumers in the end-to-end runs.")]
    [DefaultValue(4)]
    public int Consumers { get; set; }

    [CommandOption("-n|--messages")]
    [Description("Messages per end-to-end run.")]
    [DefaultValue(4000)]
    public int Messages { get; set; }

    [CommandOption("--single")]
    [Description("Messages per single-producer enqueue run.")]
    [DefaultValue(2000)]
    public int Single { get; set; }

    [CommandOption("-s|--size")]
    [Description("Message body size in bytes (the first 8 carry the enqueue timestamp).")]
    [DefaultValue(256)]
    public int Size { get; set; }

    [CommandOption("-b|--receive-batch")]
    [Description("Most messages a consumer leases per receive (settled with one AckManyAsync).")]
    [DefaultValue(16)]
    public int ReceiveBatch { get; set; }

    [CommandOption("--stores")]
    [Description("Stores (each with its own writer connection, as separate hosts would have) sharing the end-to-end queue; producers and consumers are spread over them.")]
    [DefaultValue(1)]
    public int Stores { get; set; }

    [CommandOption("--repeat")]
    [Description("Runs of each kind, interleaved; medians are reported.")]
    [DefaultValue(3)]
    public int Repeat { get; set; }

    [CommandOption("--warmup")]
    [Description("Runs of each kind before the measured ones, not counted: the first run of a process pays for the JIT compiler on both sides.")]
    [DefaultValue(1)]
    public int Warmup { get; set; }

    public override ValidationResult Validate() =>
        Size < 8 ? ValidationResult.Error("--size must be at least 8 (the enqueue timestamp).")
        : Producers < 1 || Consumers < 1 ? ValidationResult.Error("--producers and --consumers must be at least 1.")
        : Stores < 1 ? ValidationResult.Error("--stores must be at least 1.")
        : Messages < 1 || Single < 1 ? ValidationResult.Error("--messages and --single must be at least 1.")
        : Repeat < 1 ? ValidationResult.Error("--repeat must be at least 1.")
        : Warmup < 0 ? ValidationResult.Error("--warmup must be 0 or more.")
        : ValidationResult.Success();
}

/// <summary>
/// DurableQueue on PostgreSQL against raw Npgsql doing the same durable work in the same run: end to end (producers
/// insert, consumers take one row each with <c>DELETE ... WHERE id = (SELECT ... FOR UPDATE SKIP LOCKED LIMIT 1)
/// RETURNING</c>, one transaction per operation) and a single producer awaiting each insert.
/// </summary>
public sealed class PostgresCommand : AsyncCommand<PostgresSettings>
{
    public override async Task<int> ExecuteAsync(CommandContext context, PostgresSettings settings, CancellationToken cancellationToken)
    {
        PostgresCluster? cluster = null;
        var connectionString = settings.Connection;
        if (connectionString is null)
        {
            AnsiConsole.MarkupLine("Starting a private PostgreSQL cluster (fsync on, synchronous commit on)...");
            cluster = await PostgresCluster.StartAsync(new PostgresClusterOptions { Durable = true, MaxConnections = 100 }, cancellationToken);
            connectionString = await cluster.CreateDatabaseAsync("load", cancellationToken);
        }

        try
        {
            await using var raw = await RawPostgres.OpenAsync(connectionString);
            var cpu = await PostgresCpu.FindAsync(connectionString);
            var results = new List<(string Kind, double PerSecond, LatencySummary Latency)>();
            var cpuPerMessage = new List<(double ClientUs, double? ServerUs)>();
            for (var run = -settings.Warmup; run < settings.Repeat; run++)
            {
                // A warm-up run does the same work into lists that are thrown away.
                var warmup = run < 0;
                if (warmup)
                {
                    AnsiConsole.MarkupLine("[grey]Warm-up run (not counted):[/]");
                }

                var (into, cpuInto) = warmup ? ([], []) : (results, cpuPerMessage);
                into.Add(await RawEndToEndAsync(raw, settings, cpu, cpuInto));
                into.Add(await QueueEndToEndAsync(connectionString, settings, cpu, cpuInto));
                into.AddRange(await SingleAsync(raw, connectionString, settings));
            }

            Print(results, settings);
            PrintCpu(cpuPerMessage, settings);
        }
        finally
        {
            if (cluster is not null)
            {
                await cluster.DisposeAsync();
            }
        }

        return 0;
    }

    internal static byte[] Body(int size)
    {
        var body = new byte[size];
        BinaryPrimitives.WriteInt64LittleEndian(body, Stopwatch.GetTimestamp());
        return body;
    }

    /// <summary>The raw floor: every insert and every take is its own transaction (autocommit), on pooled connections.</summary>
    private static async Task<(string, double, LatencySummary)> RawEndToEndAsync(
        RawPostgres raw, PostgresSettings s, PostgresCpu cpu, List<(double ClientUs, double? ServerUs)> cpuPerMessage)
    {
        var cpu0 = cpu.Take();
        var started = Stopwatch.GetTimestamp();
        var latencies = await raw.EndToEndAsync(s.Producers, s.Consumers, s.Messages, () => Body(s.Size));
        var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        cpuPerMessage.Add(PerMessage(cpu0, cpu.Take(), s.Messages));
        return ("raw Npgsql, one transaction per operation", s.Messages / seconds, LatencySummary.From("enqueue to delete", latencies));
    }

    /// <summary>The queue end to end: producers await each enqueue, consumers lease up to a batch and ack it at once.</summary>
    private static async Task<(string, double, LatencySummary)> QueueEndToEndAsync(
        string connectionString, PostgresSettings s, PostgresCpu cpu, List<(double ClientUs, double? ServerUs)> cpuPerMessage)
    {
        var schema = "bench_" + Guid.NewGuid().ToString("N")[..8];
        var stores = new List<QueueStore>();
        await using var closeStores = new StoresToClose(stores);
        for (var i = 0; i < s.Stores; i++)
        {
            stores.Add(QueueStore.OpenPostgres(connectionString, postgres: new PostgresStoreOptions { Schema = schema }));
            await stores[i].ExecuteAsync(_ => 0);
        }

        var queues = stores.ConvertAll(st => st.GetQueue("load"));
        // Counts the wake-ups the stores send each other during the run, on a connection of its own that only listens.
        await using var wakeUps = await WakeUpCounter.StartAsync(connectionString, DurableQueue.Postgres.Storage.PostgresSql.ChannelOf(schema));
        var latencies = new List<long>[s.Consumers];
        var acked = 0L;
        using var done = new CancellationTokenSource();
        var cpu0 = cpu.Take();
        var started = Stopwatch.GetTimestamp();
        var consumers = Enumerable.Range(0, s.Consumers).Select(c => Task.Run(async () =>
        {
            var queue = queues[c % queues.Count];
            var mine = latencies[c] = new List<long>(s.Messages / s.Consumers + 16);
            try
            {
                while (!done.IsCancellationRequested)
                {
                    var messages = await queue.ReceiveAsync(s.ReceiveBatch, waitTime: TimeSpan.FromSeconds(5), cancellationToken: done.Token);
                    if (messages.Count == 0)
                    {
                        continue;
                    }

                    await queue.AckManyAsync(messages.Select(m => m.Receipt));
                    var now = Stopwatch.GetTimestamp();
                    foreach (var message in messages)
                    {
                        mine.Add(now - BinaryPrimitives.ReadInt64LittleEndian(message.Body.Span));
                    }

                    if (Interlocked.Add(ref acked, messages.Count) >= s.Messages)
                    {
                        await done.CancelAsync();
                    }
                }
            }
            catch (OperationCanceledException) when (done.IsCancellationRequested)
            {
            }
        }));
        var producers = Enumerable.Range(0, s.Producers).Select(p => Task.Run(async () =>
        {
            var queue = queues[p % queues.Count];
            var share = s.Messages / s.Producers + (p < s.Messages % s.Producers ? 1 : 0);
            for (var i = 0; i < share; i++)
            {
                await queue.EnqueueAsync(Body(s.Size));
            }
        }));
        var commits0 = stores.Sum(st => st.Writer.Commits);
        var ops0 = stores.Sum(st => st.Writer.Operations);
        var grouped0 = stores.Sum(st => st.Writer.GroupedOperations);
        var trips0 = stores.Sum(st => st.Writer.Session.RoundTrips);
        await Task.WhenAll(producers.Concat(consumers));
        var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        cpuPerMessage.Add(PerMessage(cpu0, cpu.Take(), s.Messages));
        var commits = stores.Sum(st => st.Writer.Commits) - commits0;
        var operations = stores.Sum(st => st.Writer.Operations) - ops0;
        var groupedShare = (double)(stores.Sum(st => st.Writer.GroupedOperations) - grouped0) / Math.Max(1, operations);
        var trips = (double)(stores.Sum(st => st.Writer.Session.RoundTrips) - trips0);
        AnsiConsole.MarkupLineInterpolated(
            $"  queue end to end: {commits / seconds:N0} commits/s, {(double)operations / Math.Max(1, commits):N1} requests per commit, {groupedShare:P0} of them in set-based groups, {trips / Math.Max(1, commits):N1} round trips per commit, {trips / s.Messages:N2} per message, {await wakeUps.StopAsync() * 1000.0 / s.Messages:N0} wake-up notifications per 1,000 messages");
        return ("DurableQueue on PostgreSQL", s.Messages / seconds, LatencySummary.From("enqueue to ack", latencies.SelectMany(l => l).ToList()));
    }

    /// <summary>Closes the stores of a run, each once.</summary>
    private sealed class StoresToClose(List<QueueStore> stores) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            foreach (var store in stores)
            {
                await store.DisposeAsync();
            }
        }
    }

    /// <summary>Operations of one kind in a row before the single-caller run switches to the other kind.</summary>
    private const int SingleChunk = 100;

    /// <summary>
    /// One caller awaiting each operation: raw single-insert commits and the store's <c>EnqueueAsync</c>, in alternating
    /// chunks of <see cref="SingleChunk"/> (the kind that goes first alternates too), so that a checkpoint, an autovacuum
    /// or a neighbour's burst falls on both alike. Each rate is the kind's operations over the time spent in its chunks.
    /// </summary>
    private static async Task<(string, double, LatencySummary)[]> SingleAsync(RawPostgres raw, string connectionString, PostgresSettings s)
    {
        await using var store = QueueStore.OpenPostgres(connectionString, postgres: new PostgresStoreOptions { Schema = "bench_" + Guid.NewGuid().ToString("N")[..8] });
        var queue = store.GetQueue("load");
        await store.ExecuteAsync(_ => 0);
        await using var inserter = await raw.OpenInserterAsync();
        var rawLatencies = new List<long>(s.Single);
        var queueLatencies = new List<long>(s.Single);
        long rawTicks = 0, queueTicks = 0;
        var trips0 = store.Writer.Session.RoundTrips;
        var inline0 = store.Writer.InlineCommits;
        var commits0 = store.Writer.Commits;
        for (var chunk = 0; rawLatencies.Count < s.Single || queueLatencies.Count < s.Single; chunk++)
        {
            for (var side = 0; side < 2; side++)
            {
                var rawSide = (chunk + side) % 2 == 0;
                var latencies = rawSide ? rawLatencies : queueLatencies;
                var count = Math.Min(SingleChunk, s.Single - latencies.Count);
                var started = Stopwatch.GetTimestamp();
                for (var i = 0; i < count; i++)
                {
                    var before = Stopwatch.GetTimestamp();
                    if (rawSide)
                    {
                        await inserter.InsertAsync(Body(s.Size));
                    }
                    else
                    {
                        await queue.EnqueueAsync(Body(s.Size));
                    }

                    latencies.Add(Stopwatch.GetTimestamp() - before);
                }

                if (rawSide)
                {
                    rawTicks += Stopwatch.GetTimestamp() - started;
                }
                else
                {
                    queueTicks += Stopwatch.GetTimestamp() - started;
                }
            }
        }

        var commits = Math.Max(1, store.Writer.Commits - commits0);
        AnsiConsole.MarkupLineInterpolated(
            $"  queue single enqueue: {(double)(store.Writer.Session.RoundTrips - trips0) / s.Single:N2} round trips per enqueue, {(double)(store.Writer.InlineCommits - inline0) / commits:P0} of the commits run on the caller's thread");
        return
        [
            ("raw Npgsql single insert, 1 producer", s.Single / ((double)rawTicks / Stopwatch.Frequency), LatencySummary.From("insert", rawLatencies)),
            ("DurableQueue EnqueueAsync, 1 producer", s.Single / ((double)queueTicks / Stopwatch.Frequency), LatencySummary.From("enqueue", queueLatencies)),
        ];
    }

    private static void Print(List<(string Kind, double PerSecond, LatencySummary Latency)> results, PostgresSettings s)
    {
        var table = new Table().Title($"PostgreSQL, {s.Producers} producers + {s.Consumers} consumers end to end ({s.Messages:N0} messages, {s.Stores} store(s)), 1 producer ({s.Single:N0}); medians of {s.Repeat} interleaved runs after {s.Warmup} warm-up run(s)");
        foreach (var column in new[] { "Kind", "Msgs/s", "p50 ms", "p99 ms", "Latency of" })
        {
            table.AddColumn(column);
        }

        var medians = results.GroupBy(r => r.Kind).Select(g => (
            Kind: g.Key,
            PerSecond: Output.Median(g.Select(r => r.PerSecond)),
            P50: Output.Median(g.Select(r => r.Latency.P50Ms)),
            P99: Output.Median(g.Select(r => r.Latency.P99Ms)),
            Measures: g.First().Latency.Measures)).ToList();
        foreach (var m in medians)
        {
            table.AddRow(m.Kind, m.PerSecond.ToString("N0"), m.P50.ToString("N2"), m.P99.ToString("N2"), m.Measures);
        }

        AnsiConsole.Write(table);
        AnsiConsole.MarkupLineInterpolated($"End to end: DurableQueue / raw = [bold]{medians[1].PerSecond / medians[0].PerSecond:N2}x[/]; single enqueue: DurableQueue / raw insert = [bold]{medians[3].PerSecond / medians[2].PerSecond:N2}x[/].");

        // Each round's own ratios (the kinds of a round ran one after the other), so that a slow round shows as such.
        var perRound = results.Count / s.Repeat;
        string Ratios(int kind, int baseline) => string.Join(" / ", Enumerable.Range(0, s.Repeat)
            .Select(r => (results[r * perRound + kind].PerSecond / results[r * perRound + baseline].PerSecond).ToString("N2", System.Globalization.CultureInfo.InvariantCulture)));
        AnsiConsole.MarkupLineInterpolated($"Per round: end to end {Ratios(1, 0)}; single enqueue {Ratios(3, 2)}.");
    }

    private static (double ClientUs, double? ServerUs) PerMessage((TimeSpan Client, TimeSpan? Server) before, (TimeSpan Client, TimeSpan? Server) after, int messages) =>
        ((after.Client - before.Client).TotalMicroseconds / messages,
            after.Server is { } server && before.Server is { } server0 ? (server - server0).TotalMicroseconds / messages : null);

    /// <summary>CPU per message end to end, this process and the server (when it runs on this machine): rounds and medians.</summary>
    private static void PrintCpu(List<(double ClientUs, double? ServerUs)> cpu, PostgresSettings s)
    {
        string Describe(int kind)
        {
            var rounds = Enumerable.Range(0, s.Repeat).Select(r => cpu[r * 2 + kind]).ToList();
            var client = Output.Median(rounds.Select(c => c.ClientUs));
            var server = rounds.All(c => c.ServerUs is not null) ? Output.Median(rounds.Select(c => c.ServerUs!.Value)) : (double?)null;
            var perRound = string.Join(" / ", rounds.Select(c => string.Create(
                System.Globalization.CultureInfo.InvariantCulture, $"{c.ClientUs:N0} + {(c.ServerUs is { } v ? v.ToString("N0", System.Globalization.CultureInfo.InvariantCulture) : "?")}")));
            return string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"{client:N0} + {(server is { } v ? v.ToString("N0", System.Globalization.CultureInfo.InvariantCulture) : "? (the server is not a process on this machine)")} µs (rounds: {perRound})");
        }

        AnsiConsole.MarkupLineInterpolated($"CPU per message end to end, this process + server, medians: raw {Describe(0)}; DurableQueue {Describe(1)}.");
    }

    /// <summary>Counts the notifications on the stores' channel, from a connection that only listens.</summary>
    private sealed class WakeUpCounter : IAsyncDisposable
    {
        private readonly NpgsqlConnection _connection;
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _loop;
        private long _count;

        private WakeUpCounter(NpgsqlConnection connection)
        {
            _connection = connection;
            _connection.Notification += (_, _) => Interlocked.Increment(ref _count);
            _loop = Task.Run(async () =>
            {
                try
                {
                    while (true)
                    {
                        await _connection.WaitAsync(_stop.Token);
                    }
                }
                catch (OperationCanceledException) when (_stop.IsCancellationRequested)
                {
                }
            });
        }

        public static async Task<WakeUpCounter> StartAsync(string connectionString, string channel)
        {
            var connection = new NpgsqlConnection(connectionString);
            await connection.OpenAsync();
            await using (var listen = new NpgsqlCommand($"LISTEN \"{channel}\";", connection))
            {
                await listen.ExecuteNonQueryAsync();
            }

            return new WakeUpCounter(connection);
        }

        /// <summary>Stops listening after the notifications already sent have arrived; returns how many came.</summary>
        public async Task<long> StopAsync()
        {
            // A round trip on the listening connection: the server delivers the notifications it holds before the reply.
            await _stop.CancelAsync();
            await _loop;
            await using (var ping = new NpgsqlCommand("SELECT 1;", _connection))
            {
                await ping.ExecuteScalarAsync();
            }

            return Interlocked.Read(ref _count);
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            await _loop;
            await _connection.DisposeAsync();
            _stop.Dispose();
        }
    }
}
