using Microsoft.Data.Sqlite;

namespace DurableQueue.Storage;

/// <summary>
/// What an operation sees on the writer thread: the connection inside the open batch transaction, the batch's
/// clock reading, prepared statements, and the list of effects that run only once the batch commits.
/// </summary>
internal sealed class WriteContext : IDisposable
{
    private readonly Dictionary<string, SqliteCommand> _commands = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long> _queueIds = new(StringComparer.Ordinal);
    private readonly List<Action> _afterCommit = [];

    public WriteContext(SqliteConnection connection, TimeProvider timeProvider, Memory.MemoryTier? tier)
    {
        Connection = connection;
        TimeProvider = timeProvider;
        Tier = tier;
        // A unit of work's callback must not end the batch transaction: a COMMIT it runs would commit other callers'
        // requests (and its own) before the writer knows the outcome. The hook turns such a COMMIT into a rollback.
        SQLitePCL.raw.sqlite3_commit_hook(connection.Handle, static state => ((WriteContext)state).InCallerCode ? 1 : 0, this);
    }

    /// <summary>Gets the store's memory tier, or null when it is turned off.</summary>
    public Memory.MemoryTier? Tier { get; }

    /// <summary>Gets or sets a value indicating whether caller code (a unit-of-work callback) is running on the connection.</summary>
    internal bool InCallerCode { get; set; }

    public SqliteConnection Connection { get; }

    /// <summary>Gets the id of the store's session: the first 8 bytes of every lease token it hands out.</summary>
    public long SessionId { get; init; }

    /// <summary>Returns a new lease token that records the session that took the lease.</summary>
    public Guid NewLeaseToken() => Diagnostics.StoreSession.NewLeaseToken(SessionId);

    public TimeProvider TimeProvider { get; }

    /// <summary>Gets the batch's clock reading in unix milliseconds; every operation of a batch sees the same instant.</summary>
    public long Now { get; private set; }

    internal int AfterCommitCount => _afterCommit.Count;

    internal void StartBatch() => Now = TimeProvider.GetUtcNow().ToUnixTimeMilliseconds();

    /// <summary>Registers an effect (a wake-up, a cache update) that runs only if the batch commits.</summary>
    public void AfterCommit(Action action) => _afterCommit.Add(action);

    internal void DiscardAfterCommitFrom(int count) => _afterCommit.RemoveRange(count, _afterCommit.Count - count);

    internal void RunAfterCommit(Action<Exception> onError)
    {
        foreach (var action in _afterCommit)
        {
            try
            {
                action();
            }
            catch (Exception ex)
            {
                onError(ex);
            }
        }

        _afterCommit.Clear();
    }

    internal void ClearAfterCommit() => _afterCommit.Clear();

    /// <summary>Returns a prepared command for the statement; it is prepared once and reused by every batch.</summary>
    public SqliteCommand Command(string sql)
    {
        if (!_commands.TryGetValue(sql, out var command))
        {
            command = Connection.CreateCommand();
            command.CommandText = sql;
            _commands.Add(sql, command);
        }

        return command;
    }

    /// <summary>Returns the id of a queue, creating its row on first use. Queue rows are never deleted, so the cache stays right.</summary>
    public long QueueId(string name)
    {
        if (_queueIds.TryGetValue(name, out var id))
        {
            return id;
        }

        var create = Command(Sql.CreateQueue).Bind("@name", name).Bind("@now", Now);
        create.ExecuteNonQuery();
        id = (long)Command(Sql.FindQueue).Bind("@name", name).ExecuteScalar()!;
        // The row may roll back with this batch; cache it only once committed.
        AfterCommit(() => _queueIds[name] = id);
        return id;
    }

    public void Dispose()
    {
        foreach (var command in _commands.Values)
        {
            command.Dispose();
        }

        _commands.Clear();
    }
}

internal static class SqliteCommandExtensions
{
    /// <summary>Sets a parameter, adding it on first use so that prepared commands keep their parameter objects.</summary>
    public static SqliteCommand Bind(this SqliteCommand command, string name, object? value)
    {
        var parameters = command.Parameters;
        var index = parameters.IndexOf(name);
        if (index >= 0)
        {
            parameters[index].Value = value ?? DBNull.Value;
        }
        else
        {
            parameters.AddWithValue(name, value ?? DBNull.Value);
        }

        return command;
    }
}
