using System.Buffers.Binary;
using System.Diagnostics;
using Npgsql;

namespace DurableQueue.BenchmarkShared;

/// <summary>
/// The raw PostgreSQL baseline of the benchmarks: the queue's table shape and ready index in a schema of its own; every
/// insert and every take is one transaction (autocommit). A take is the classic
/// <c>DELETE ... WHERE id = (SELECT ... FOR UPDATE SKIP LOCKED LIMIT 1) RETURNING</c>.
/// </summary>
public sealed class RawPostgres : IAsyncDisposable
{
    private const string Table = "bench_raw.messages";
    private readonly NpgsqlDataSource _dataSource;

    private RawPostgres(NpgsqlDataSource dataSource) => _dataSource = dataSource;

    public static async Task<RawPostgres> OpenAsync(string connectionString)
    {
        var dataSource = NpgsqlDataSource.Create(connectionString);
        await using var command = dataSource.CreateCommand(
            "CREATE SCHEMA IF NOT EXISTS bench_raw; " +
            $"CREATE TABLE IF NOT EXISTS {Table} (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, queue_id bigint NOT NULL, " +
            "priority smallint NOT NULL, visible_at bigint NOT NULL, body bytea NOT NULL); " +
            $"CREATE INDEX IF NOT EXISTS messages_ready ON {Table} (queue_id, priority, visible_at, id);");
        await command.ExecuteNonQueryAsync();
        return new RawPostgres(dataSource);
    }

    /// <summary>Inserts <paramref name="count"/> rows one commit each, on one connection; returns each insert's latency in Stopwatch ticks.</summary>
    public async Task<List<long>> InsertEachAsync(int count, Func<byte[]> body, long queueId = 2)
    {
        var latencies = new List<long>(count);
        await using var inserter = await OpenInserterAsync(queueId);
        for (var i = 0; i < count; i++)
        {
            var before = Stopwatch.GetTimestamp();
            await inserter.InsertAsync(body());
            latencies.Add(Stopwatch.GetTimestamp() - before);
        }

        return latencies;
    }

    /// <summary>Opens a connection for single inserts, each its own commit (for runs that interleave them with other work).</summary>
    public async Task<SingleInserter> OpenInserterAsync(long queueId = 2)
    {
        var connection = await _dataSource.OpenConnectionAsync();
        return new SingleInserter(connection, Insert(connection, queueId));
    }

    /// <summary>One connection inserting one row per commit.</summary>
    public sealed class SingleInserter(NpgsqlConnection connection, NpgsqlCommand insert) : IAsyncDisposable
    {
        private readonly NpgsqlParameter<byte[]> _body = (NpgsqlParameter<byte[]>)insert.Parameters[0];

        public async Task InsertAsync(byte[] body)
        {
            _body.TypedValue = body;
            await insert.ExecuteNonQueryAsync();
        }

        public async ValueTask DisposeAsync()
        {
            await insert.DisposeAsync();
            await connection.DisposeAsync();
        }
    }

    /// <summary>
    /// Producers insert and consumers take until <paramref name="messages"/> rows went through, each operation its own
    /// transaction on a connection per worker. Returns the enqueue-to-delete latencies (the body's first 8 bytes carry
    /// the insert's Stopwatch timestamp).
    /// </summary>
    public async Task<List<long>> EndToEndAsync(int producers, int consumers, int messages, Func<byte[]> body)
    {
        var latencies = new List<long>[consumers];
        var taken = 0;
        var producing = Enumerable.Range(0, producers).Select(p => Task.Run(async () =>
        {
            var share = messages / producers + (p < messages % producers ? 1 : 0);
            await using var connection = await _dataSource.OpenConnectionAsync();
            await using var insert = Insert(connection, 1);
            var parameter = (NpgsqlParameter<byte[]>)insert.Parameters[0];
            for (var i = 0; i < share; i++)
            {
                parameter.TypedValue = body();
                await insert.ExecuteNonQueryAsync();
            }
        }));
        var consuming = Enumerable.Range(0, consumers).Select(c => Task.Run(async () =>
        {
            var mine = latencies[c] = new List<long>(messages / consumers + 16);
            await using var connection = await _dataSource.OpenConnectionAsync();
            await using var take = new NpgsqlCommand(
                $"DELETE FROM {Table} WHERE id = (SELECT id FROM {Table} WHERE queue_id = 1 AND visible_at <= 1 " +
                "ORDER BY priority, visible_at, id LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING body;", connection);
            while (Volatile.Read(ref taken) < messages)
            {
                if (await take.ExecuteScalarAsync() is byte[] row)
                {
                    mine.Add(Stopwatch.GetTimestamp() - BinaryPrimitives.ReadInt64LittleEndian(row));
                    Interlocked.Increment(ref taken);
                }
                else
                {
                    await Task.Yield();
                }
            }
        }));
        await Task.WhenAll(producing.Concat(consuming));
        return latencies.SelectMany(l => l).ToList();
    }

    private static NpgsqlCommand Insert(NpgsqlConnection connection, long queueId)
    {
        var insert = new NpgsqlCommand($"INSERT INTO {Table} (queue_id, priority, visible_at, body) VALUES ({queueId}, 4, 0, $1);", connection);
        insert.Parameters.Add(new NpgsqlParameter<byte[]>());
        return insert;
    }

    public ValueTask DisposeAsync() => _dataSource.DisposeAsync();
}
