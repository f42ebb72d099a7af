using System.Data.Common;
using System.Diagnostics;
using DurableQueue.Storage.Driver;
using Microsoft.Data.Sqlite;

namespace DurableQueue.Storage.Sqlite;

/// <summary>
/// The SQLite backend: one database file in WAL mode, one write connection owned by the store's writer, pooled
/// reader connections, <c>PRAGMA data_version</c> to notice other processes' commits.
/// </summary>
internal sealed class SqliteDriver : IStorageDriver
{
    private readonly ConnectionFactory _connections;
    private readonly SqliteConnection _writerConnection;
    private readonly QueueStoreOptions _options;
    private readonly SqliteCommands _commands;

    /// <param name="path">The full path of the database file.</param>
    /// <param name="options">The store options.</param>
    /// <param name="connections">Opens reader connections.</param>
    /// <param name="writerConnection">The write connection, open and configured, on a file whose schema is current.</param>
    /// <param name="enqueuePageLimit">Pages enqueues may fill (the quota less a reserve); 0 = no quota.</param>
    public SqliteDriver(string path, QueueStoreOptions options, ConnectionFactory connections, SqliteConnection writerConnection, long enqueuePageLimit)
    {
        Location = path;
        _options = options;
        _connections = connections;
        _writerConnection = writerConnection;
        _commands = new SqliteCommands(
            enqueuePageLimit,
            () => new StorageFullException(ErrorMessages.QuotaReached(path, options.MaxDatabaseBytes!.Value)));
    }

    public string Location { get; }

    public DriverCapabilities Capabilities => new(StatementRollback: true, MemoryTier: true, DatabaseQuota: true, CommitOutcomeKnown: true);

    public StorageKind Kind => StorageKind.Sqlite;

    /// <summary>Gets the driver's own statements (the memory tier layers over them).</summary>
    public SqliteCommands Commands => _commands;

    public IWriteSession OpenWriteSession() => new SqliteWriteSession(_writerConnection, Location, _options.BusyTimeout, _commands, _options.TimeProvider);

    public T Read<T>(Func<IStoreReader, T> read)
    {
        var started = Stopwatch.GetTimestamp();
        try
        {
            using var connection = _connections.OpenReader();
            return read(new SqliteReader(connection, Location));
        }
        catch (SqliteException ex)
        {
            throw SqliteErrors.Map(ex, Location, Stopwatch.GetElapsedTime(started));
        }
    }

    public T ReadConnection<T>(Func<DbConnection, T> read)
    {
        var started = Stopwatch.GetTimestamp();
        try
        {
            using var connection = _connections.OpenReader();
            return read(connection);
        }
        catch (SqliteException ex)
        {
            throw SqliteErrors.Map(ex, Location, Stopwatch.GetElapsedTime(started));
        }
    }

    public IDisposable WatchForeignCommits(Action onForeignCommit) => new DataVersionWatcher(_connections, _options, onForeignCommit);

    /// <summary>Nothing to tell: the watcher notices every other connection's commit by itself.</summary>
    public ValueTask<bool> AnnounceWaitAsync(string queueName, TimeSpan within, CancellationToken cancellationToken) => ValueTask.FromResult(false);

    public void RunMaintenance(IWriteSession session) => Maintenance.Run(((SqliteWriteSession)session).SqliteConnection, _options.BusyTimeout);

    public CompactionResult Compact(IWriteSession session) =>
        Compaction.Run(((SqliteWriteSession)session).SqliteConnection, Location, _options.BusyTimeout);

    public Exception MapError(Exception exception) => SqliteErrors.Map(exception, Location, _options.BusyTimeout);

    public void Close(IWriteSession session)
    {
        session.Dispose();
        Maintenance.Checkpoint(_writerConnection, _options.BusyTimeout);
        _writerConnection.Dispose();
        _connections.ClearReaderPool();
    }

    public void Dispose() => _writerConnection.Dispose();

    /// <summary>
    /// Notices commits by other connections (another process sharing the file) within one poll interval:
    /// <c>PRAGMA data_version</c> changes when another connection committed. Commits made through this store wake
    /// waiting receivers at once without it.
    /// </summary>
    private sealed class DataVersionWatcher : IDisposable
    {
        private readonly Lock _lock = new();
        private readonly ConnectionFactory _connections;
        private readonly Action _onForeignCommit;
        private readonly ITimer _timer;
        private SqliteConnection? _connection;
        private long _version = -1;
        private bool _disposed;

        public DataVersionWatcher(ConnectionFactory connections, QueueStoreOptions options, Action onForeignCommit)
        {
            _connections = connections;
            _onForeignCommit = onForeignCommit;
            _timer = options.TimeProvider.CreateTimer(static s => ((DataVersionWatcher)s!).Poll(), this, options.PollInterval, options.PollInterval);
        }

        private void Poll()
        {
            lock (_lock)
            {
                if (_disposed)
                {
                    return;
                }

                try
                {
                    _connection ??= _connections.OpenReader();
                    using var command = _connection.CreateCommand();
                    command.CommandText = Sql.DataVersion;
                    var version = (long)command.ExecuteScalar()!;
                    var changed = _version != -1 && version != _version;
                    _version = version;
                    if (!changed)
                    {
                        return;
                    }
                }
                catch (SqliteException ex)
                {
                    // A busy or failing read only delays the wake-up to the next tick.
                    Trace.TraceInformation("DurableQueue: data_version poll failed: {0}", ex.Message);
                    return;
                }
            }

            _onForeignCommit();
        }

        public void Dispose()
        {
            _timer.Dispose();
            lock (_lock)
            {
                _disposed = true;
                _connection?.Dispose();
                _connection = null;
            }
        }
    }
}
