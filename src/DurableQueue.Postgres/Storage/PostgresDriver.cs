using System.Data.Common;
using System.Diagnostics;
using DurableQueue.Storage.Driver;
using Npgsql;

namespace DurableQueue.Postgres.Storage;

/// <summary>
/// The PostgreSQL backend: the store's writer on one connection of the data source (group commit, leases with FOR
/// UPDATE SKIP LOCKED), reads on pooled connections, and a LISTEN connection for wake-ups from other hosts. Several
/// processes on several hosts may open stores on the same schema at once.
/// </summary>
/// <remarks>
/// Limits, stated plainly: no memory tier (other hosts change the rows, so a cache of the queue's head would go stale);
/// no database quota (<see cref="QueueStoreOptions"/>.MaxDatabaseBytes is refused; size the server's disk instead);
/// hosts should keep their clocks synchronised, as lease expiries and delays are times written by each host's clock.
/// </remarks>
internal sealed class PostgresDriver : IStorageDriver
{
    private readonly NpgsqlDataSource _dataSource;
    private readonly bool _ownsDataSource;
    private readonly PostgresSql _sql;
    private readonly PostgresCommands _commands;
    private readonly QueueStoreOptions _options;
    private readonly PostgresStoreOptions _postgres;
    private PostgresWriteSession? _session;
    private int _disposed;

    public PostgresDriver(
        NpgsqlDataSource dataSource, bool ownsDataSource, PostgresSql sql, string location, QueueStoreOptions options, PostgresStoreOptions postgres)
    {
        _dataSource = dataSource;
        _ownsDataSource = ownsDataSource;
        _sql = sql;
        _commands = new PostgresCommands(sql);
        _options = options;
        _postgres = postgres;
        Location = location;
    }

    public string Location { get; }

    public PostgresSql Sql => _sql;

    public PostgresCommands Commands => _commands;

    public NpgsqlDataSource DataSource => _dataSource;

    public DriverCapabilities Capabilities => new(StatementRollback: false, MemoryTier: false, DatabaseQuota: false, GroupedWrites: true);

    public StorageKind Kind => StorageKind.Postgres;

    public IWriteSession OpenWriteSession() => _session = new PostgresWriteSession(_dataSource, _sql, _commands, Location, _options, MapError);

    public T Read<T>(Func<IStoreReader, T> read)
    {
        try
        {
            using var connection = _dataSource.OpenConnection();
            return read(new PostgresReads(_sql, connection, Location, _commands.RemovedTotal, _commands.RequestSweep));
        }
        catch (Exception ex)
        {
            var mapped = MapError(ex);
            if (ReferenceEquals(mapped, ex))
            {
                throw;
            }

            throw mapped;
        }
    }

    /// <summary>
    /// Runs SQL of a layer above the core on a pooled connection whose search path starts with the queue's schema (set
    /// for this use; Npgsql resets the session when the connection goes back to the pool).
    /// </summary>
    public T ReadConnection<T>(Func<DbConnection, T> read)
    {
        try
        {
            using var connection = _dataSource.OpenConnection();
            using (var command = new NpgsqlCommand(_sql.PrependSearchPath, connection))
            {
                command.ExecuteNonQuery();
            }

            return read(connection);
        }
        catch (Exception ex)
        {
            var mapped = MapError(ex);
            if (ReferenceEquals(mapped, ex))
            {
                throw;
            }

            throw mapped;
        }
    }

    public IDisposable WatchForeignCommits(Action onForeignCommit) =>
        new PostgresListener(_dataSource, _sql, _postgres.SafetyPollInterval, _ => onForeignCommit(), () => _session?.ProcessId ?? 0);

    /// <summary>Does nothing: the server's autovacuum keeps the tables, and the server its WAL.</summary>
    public void RunMaintenance(IWriteSession session)
    {
    }

    /// <summary>Vacuums the queue's tables (outside a transaction, on the writer's connection) and reports the schema's size before and after.</summary>
    public CompactionResult Compact(IWriteSession session)
    {
        var connection = ((PostgresWriteSession)session).Connection;
        var before = SchemaBytes(connection);
        var vacuumed = true;
        try
        {
            using var command = new NpgsqlCommand(
                $"VACUUM (ANALYZE) {_sql.QuotedSchema}.dq_messages, {_sql.QuotedSchema}.dq_dead_letters, {_sql.QuotedSchema}.dq_queues;", connection);
            command.ExecuteNonQuery();
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.InsufficientPrivilege)
        {
            // Only the tables' owner may vacuum them; autovacuum does it anyway.
            Trace.TraceWarning("DurableQueue: VACUUM skipped: {0}", ex.MessageText);
            vacuumed = false;
        }

        var after = SchemaBytes(connection);
        return new CompactionResult(before, 0, 0, after, 0, 0, vacuumed, incrementalVacuum: false);
    }

    public Exception MapError(Exception exception) => PostgresErrors.Map(exception, Location, _sql.Schema);

    public void Close(IWriteSession session)
    {
        session.Dispose();
        Dispose();
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0 && _ownsDataSource)
        {
            _dataSource.Dispose();
        }
    }

    private long SchemaBytes(NpgsqlConnection connection)
    {
        using var command = new NpgsqlCommand(_sql.SchemaBytes, connection);
        command.Parameters.Add(PostgresCommands.Text(_sql.Schema));
        return (long)command.ExecuteScalar()!;
    }
}
