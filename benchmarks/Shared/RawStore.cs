using System.Diagnostics;
using Microsoft.Data.Sqlite;

namespace DurableQueue.BenchmarkShared;

/// <summary>
/// The physical floor: the same durable work a queue does (insert, claim by lease, delete) written directly against
/// Microsoft.Data.Sqlite on one connection in WAL mode, with the same synchronous setting. Every call is its own
/// transaction (BEGIN IMMEDIATE ... COMMIT), so the caller decides how many operations share a commit. It is not
/// thread-safe, like the connection under it: the benchmarks call it from one thread, statement after statement, so
/// no lock, task switch or busy wait is part of the floor (the best case of the naive design).
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

    private const string ExtendSql = "UPDATE raw_messages SET visible_at = @until WHERE id = @id AND lease_token = @token;";

    // A nack: the lease ends and the row is ready again (the queue's nack has the same shape).
    private const string ReleaseSql = "UPDATE raw_messages SET lease_token = NULL, visible_at = @now WHERE id = @id AND lease_token = @token;";

    private readonly SqliteConnection _connection;
    private readonly SqliteCommand _begin;
    private readonly SqliteCommand _commit;
    private readonly SqliteCommand _insert;
    private readonly SqliteCommand _claim;
    private readonly SqliteCommand _delete;
    private readonly SqliteCommand _release;
    private readonly SqliteCommand _extend;
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
        _release = Prepare(ReleaseSql, "@now", "@id", "@token");
        _extend = Prepare(ExtendSql, "@until", "@id", "@token");
        Path = connection.DataSource;
    }

    /// <summary>Gets the database file's path.</summary>
    public string Path { get; }

    /// <summary>Gets the number of committed transactions.</summary>
    public long Commits => Interlocked.Read(ref _commits);

    /// <summary>Gets the number of operations (inserts, claimed rows, deletes) in committed transactions.</summary>
    public long Operations => Interlocked.Read(ref _operations);

    /// <summary>Opens (creating) a raw database with the queue's table shape and index.</summary>
    /// <param name="path">The database file.</param>
    /// <param name="fullSync">synchronous = FULL (else NORMAL).</param>
    /// <param name="counters">
    /// Also keep a per-queue row of counters (messages, body bytes, removed) by triggers, as the queue does for its bounded
    /// queues (schema version 2): the diagnostic baseline "raw + counters" that shows what that bookkeeping costs by itself.
    /// </param>
    public static RawStore Open(string path, bool fullSync, bool counters = false)
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
        if (counters)
        {
            Exec(connection,
                "CREATE TABLE IF NOT EXISTS raw_stats (id INTEGER PRIMARY KEY, messages INTEGER NOT NULL, bytes INTEGER NOT NULL, removed INTEGER NOT NULL) STRICT;" +
                "INSERT INTO raw_stats VALUES (1, 0, 0, 0) ON CONFLICT DO NOTHING;" +
                "CREATE TRIGGER IF NOT EXISTS raw_stats_insert AFTER INSERT ON raw_messages BEGIN " +
                "UPDATE raw_stats SET messages = messages + 1, bytes = bytes + length(new.body) WHERE id = 1; END;" +
                "CREATE TRIGGER IF NOT EXISTS raw_stats_delete AFTER DELETE ON raw_messages BEGIN " +
                "UPDATE raw_stats SET messages = messages - 1, bytes = bytes - length(old.body), removed = removed + 1 WHERE id = 1; END;");
        }

        return new RawStore(connection);
    }

    /// <summary>Inserts the bodies in one transaction.</summary>
    public void Insert(IReadOnlyList<byte[]> bodies)
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

    /// <summary>Inserts one body in its own transaction.</summary>
    public void Insert(byte[] body)
    {
        _begin.ExecuteNonQuery();
        _insert.Parameters[0].Value = NowMs();
        _insert.Parameters[1].Value = body;
        _insert.ExecuteNonQuery();
        Commit(1);
    }

    /// <summary>Leases up to <paramref name="max"/> ready rows in one transaction and returns them.</summary>
    public List<(long Id, byte[] Body)> Claim(int max, byte[] token)
    {
        var claimed = new List<(long, byte[])>(max);
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
        return claimed;
    }

    /// <summary>Deletes claimed rows (fenced by the lease token) in one transaction.</summary>
    public void Delete(List<(long Id, byte[] Body)> claimed, byte[] token) => EachClaimed(_delete, claimed, token);

    /// <summary>Ends the leases of claimed rows (a nack: ready again at once) in one transaction.</summary>
    public void Release(List<(long Id, byte[] Body)> claimed, byte[] token)
    {
        _release.Parameters[0].Value = NowMs();
        EachClaimed(_release, claimed, token);
    }

    /// <summary>Extends the leases of claimed rows by 5 minutes from now in one transaction.</summary>
    public void Extend(List<(long Id, byte[] Body)> claimed, byte[] token)
    {
        _extend.Parameters[0].Value = NowMs() + 300_000;
        EachClaimed(_extend, claimed, token);
    }

    /// <summary>Runs a statement whose last two parameters are @id and @token once per claimed row, in one transaction.</summary>
    private void EachClaimed(SqliteCommand command, List<(long Id, byte[] Body)> claimed, byte[] token)
    {
        _begin.ExecuteNonQuery();
        var parameters = command.Parameters;
        parameters[^1].Value = token;
        foreach (var (id, _) in claimed)
        {
            parameters[^2].Value = id;
            command.ExecuteNonQuery();
        }

        Commit(claimed.Count);
    }

    /// <summary>Runs a statement outside the operations (settings such as <c>PRAGMA wal_autocheckpoint</c>).</summary>
    public void Execute(string sql) => Exec(_connection, sql);

    /// <summary>Counts the rows left.</summary>
    public long Count()
    {
        using var command = _connection.CreateCommand();
        command.CommandText = "SELECT count(*) FROM raw_messages;";
        return (long)command.ExecuteScalar()!;
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
        _release.Dispose();
        _extend.Dispose();
        _connection.Dispose();
    }
}
