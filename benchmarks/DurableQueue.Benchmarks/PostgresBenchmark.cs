using System.Buffers.Binary;
using System.Diagnostics;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using DurableQueue.BenchmarkShared;
using DurableQueue.Postgres;
using DurableQueue.Testing.Postgres;

namespace DurableQueue.Benchmarks;

/// <summary>
/// DurableQueue on PostgreSQL (a private PostgreSQL 15 cluster in a temp folder, fsync and synchronous commit on)
/// against raw Npgsql doing the same durable work in the same run, one transaction per operation: a single producer
/// awaiting each enqueue against single-insert commits, and 4 producers + 4 consumers end to end against inserts and
/// <c>DELETE ... WHERE id = (SELECT ... FOR UPDATE SKIP LOCKED LIMIT 1) RETURNING</c>.
/// </summary>
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
public class PostgresBenchmark
{
    private const int Messages = 320;
    private const int BodySize = 256;

    private PostgresCluster _cluster = null!;
    private string _connectionString = "";
    private RawPostgres _raw = null!;
    private QueueStore _store = null!;
    private MessageQueue _queue = null!;

    [GlobalSetup]
    public void GlobalSetup()
    {
        _cluster = PostgresCluster.StartAsync(new PostgresClusterOptions { Durable = true, MaxConnections = 60 }).GetAwaiter().GetResult();
        _connectionString = _cluster.CreateDatabaseAsync("bench").GetAwaiter().GetResult();
        _raw = RawPostgres.OpenAsync(_connectionString).GetAwaiter().GetResult();
        _store = QueueStore.OpenPostgres(_connectionString, postgres: new PostgresStoreOptions { Schema = "bench" });
        _queue = _store.GetQueue("bench");
    }

    [GlobalCleanup]
    public void GlobalCleanup()
    {
        _store.Dispose();
        _raw.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _cluster.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Messages)]
    [BenchmarkCategory("Enqueue")]
    public Task Raw_SingleInsertCommits() => _raw.InsertEachAsync(Messages, Body);

    [Benchmark(OperationsPerInvoke = Messages)]
    [BenchmarkCategory("Enqueue")]
    public async Task EnqueueAsync_1Producer()
    {
        for (var i = 0; i < Messages; i++)
        {
            await _queue.EnqueueAsync(Body());
        }
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Messages)]
    [BenchmarkCategory("RoundTrip")]
    public Task Raw_4Producers_4Consumers_PerOperation() => _raw.EndToEndAsync(4, 4, Messages, Body);

    [Benchmark(OperationsPerInvoke = Messages)]
    [BenchmarkCategory("RoundTrip")]
    public async Task RoundTrip_4Producers_4Consumers()
    {
        var acked = 0;
        using var done = new CancellationTokenSource();
        var consumers = Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
        {
            try
            {
                while (!done.IsCancellationRequested)
                {
                    var messages = await _queue.ReceiveAsync(16, waitTime: TimeSpan.FromSeconds(5), cancellationToken: done.Token);
                    if (messages.Count > 0)
                    {
                        await _queue.AckManyAsync(messages.Select(m => m.Receipt));
                        if (Interlocked.Add(ref acked, messages.Count) >= Messages)
                        {
                            await done.CancelAsync();
                        }
                    }
                }
            }
            catch (OperationCanceledException) when (done.IsCancellationRequested)
            {
            }
        })).ToList();
        var producers = Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
        {
            for (var i = 0; i < Messages / 4; i++)
            {
                await _queue.EnqueueAsync(Body());
            }
        }));
        await Task.WhenAll(producers.Concat(consumers));
    }

    private static byte[] Body()
    {
        var body = new byte[BodySize];
        BinaryPrimitives.WriteInt64LittleEndian(body, Stopwatch.GetTimestamp());
        return body;
    }
}
