using System.Diagnostics;
using Microsoft.Data.Sqlite;

namespace DurableQueue.BenchmarkShared;

/// <summary>
/// The physical floor: the same durable work a queue does (insert, claim by lease, delete) written directly against
/// Microsoft.Data.Sqlite on one connection in WAL mode, with the same synchronous setting. Every call is its own
/// transaction, so the caller decides how many operations share a commit. One lock serialises callers: SQLite has a
/// single writer anyway, and the lock keeps contention (busy waits) out of the floor, which makes it the best case.
/// </summary>
public sealed class RawStore : IDisposable
{
    private const string InsertSql =
        "INSERT INTO raw_messages(priority, visible_at, enqueued_at, attempts, body) VALUES (4, @now, @now, 0, @body);";

    // One statement picks the next ready rows in delivery order and leases them (the queue does a SELECT and then
    // one UPDATE per row; this is the cheaper form).
    private const string ClaimSql =
        "UPDATE raw_messages SET lease_token = @token, visible_at = @until, attempts = attempts + 1 " +
        "WHERE id IN (SELECT id FROM raw_messages WHERE priority IN (0,1,2,3,4,5,6,7,8,9) AND visible_at <= @now " +
        "ORDER BY priority, visible_at, id LIMIT @limit) RETURNING id, body;";

    private const string DeleteSql = "DELETE FROM raw_messages WHERE id = @id AND lease_token = @token;";

    private readonly SqliteConnection _connection;
    private readonly SqliteCommand _begin;
    private readonly SqliteCommand _commit;
    private readonly SqliteCommand _insert;
    private readonly SqliteCommand _claim;
    private readonly SqliteCommand _delete;
    private readonly Lock _lock = new();
    private long _commits;
    private long _operations;

    private RawStore(SqliteConnection connection)
    {
        _connection = connection;
        _begin = Prepare("BEGIN IMMEDIATE;");
        _commit = Prepare("COMMIT;");
        _insert = Prepare(InsertSql, "@now", "@body");
        _claim = Prepare(ClaimSql, "@token", "@until", "@now", "@limit");
        _delete = Prepare(DeleteSql, "@id", "@token");
    }

    /// <summary>Gets the number of committed transactions.</summary>
    public long Commits => Interlocked.Read(ref _commits);

    /// <summary>Gets the number of operations (inserts, claimed rows, deletes) in committed transactions.</summary>
    public long Operations => Interlocked.Read(ref _operations);

    /// <summary>Opens (creating) a raw database with the queue's table shape and index.</summary>
    public static RawStore Open(string path, bool fullSync)
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = false,
        }.ToString());
        connection.Open();
        Exec(connection, "PRAGMA journal_mode = WAL;");
        Exec(connection, fullSync ? "PRAGMA synchronous = FULL;" : "PRAGMA synchronous = NORMAL;");
        Exec(connection, "PRAGMA wal_autocheckpoint = 1000;");
        Exec(connection,
            "CREATE TABLE IF NOT EXISTS raw_messages (id INTEGER PRIMARY KEY AUTOINCREMENT, priority INTEGER NOT NULL, " +
            "visible_at INTEGER NOT NULL, enqueued_at INTEGER NOT NULL, attempts INTEGER NOT NULL, lease_token BLOB, body BLOB NOT NULL) STRICT;" +
            "CREATE INDEX IF NOT EXISTS raw_messages_ready ON raw_messages(priority, visible_at);");
        return new RawStore(connection);
    }

    /// <summary>Inserts the bodies in one transaction.</summary>
    public void Insert(IReadOnlyList<byte[]> bodies)
    {
        lock (_lock)
        {
            _begin.ExecuteNonQuery();
            var now = NowMs();
            _insert.Parameters[0].Value = now;
            foreach (var body in bodies)
            {
                _insert.Parameters[1].Value = body;
                _insert.ExecuteNonQuery();
            }

            Commit(bodies.Count);
        }
    }

    /// <summary>Inserts one body in its own transaction.</summary>
    public void Insert(byte[] body)
    {
        lock (_lock)
        {
            _begin.ExecuteNonQuery();
            _insert.Parameters[0].Value = NowMs();
            _insert.Parameters[1].Value = body;
            _insert.ExecuteNonQuery();
            Commit(1);
        }
    }

    /// <summary>Leases up to <paramref name="max"/> ready rows in one transaction and returns them.</summary>
    public List<(long Id, byte[] Body)> Claim(int max, byte[] token)
    {
        var claimed = new List<(long, byte[])>(max);
        lock (_lock)
        {
            _begin.ExecuteNonQuery();
            var now = NowMs();
            _claim.Parameters[0].Value = token;
            _claim.Parameters[1].Value = now + 30_000;
            _claim.Parameters[2].Value = now;
            _claim.Parameters[3].Value = max;
            using (var reader = _claim.ExecuteReader())
            {
                while (reader.Read())
                {
                    claimed.Add((reader.GetInt64(0), reader.GetFieldValue<byte[]>(1)));
                }
            }

            Commit(claimed.Count);
        }

        return claimed;
    }

    /// <summary>Deletes claimed rows (fenced by the lease token) in one transaction.</summary>
    public void Delete(List<(long Id, byte[] Body)> claimed, byte[] token)
    {
        lock (_lock)
        {
            _begin.ExecuteNonQuery();
            _delete.Parameters[1].Value = token;
            foreach (var (id, _) in claimed)
            {
                _delete.Parameters[0].Value = id;
                _delete.ExecuteNonQuery();
            }

            Commit(claimed.Count);
        }
    }

    /// <summary>Counts the rows left.</summary>
    public long Count()
    {
        lock (_lock)
        {
            using var command = _connection.CreateCommand();
            command.CommandText = "SELECT count(*) FROM raw_messages;";
            return (long)command.ExecuteScalar()!;
        }
    }

    private void Commit(int operations)
    {
        _commit.ExecuteNonQuery();
        if (operations == 0)
        {
            // Nothing was written: no WAL frame, no sync; not counted as a commit.
            return;
        }

        Interlocked.Increment(ref _commits);
        Interlocked.Add(ref _operations, operations);
    }

    private static long NowMs() => Stopwatch.GetTimestamp() * 1000 / Stopwatch.Frequency;

    private SqliteCommand Prepare(string sql, params string[] parameters)
    {
        var command = _connection.CreateCommand();
        command.CommandText = sql;
        foreach (var name in parameters)
        {
            command.Parameters.Add(new SqliteParameter { ParameterName = name });
        }

        return command;
    }

    private static void Exec(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    /// <summary>Closes the connection.</summary>
    public void Dispose()
    {
        _begin.Dispose();
        _commit.Dispose();
        _insert.Dispose();
        _claim.Dispose();
        _delete.Dispose();
        _connection.Dispose();
    }
}
