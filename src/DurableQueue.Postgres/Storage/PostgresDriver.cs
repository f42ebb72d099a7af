using System.Collections.Concurrent;
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
    /// <summary>How old a waiting row may get before a receiver that is about to wait writes it again.</summary>
    private static readonly TimeSpan s_waiterRenewal = TimeSpan.FromSeconds(30);

    // Bounds of the time an announcement may take: at least a moment (a receiver whose wait is nearly over still tells
    // the others, for its next wait), at most what CancelAfter takes.
    private static readonly TimeSpan s_shortestAnnouncement = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan s_longestAnnouncement = TimeSpan.FromDays(1);

    private readonly NpgsqlDataSource _dataSource;
    private readonly bool _ownsDataSource;
    private readonly PostgresSql _sql;
    private readonly PostgresCommands _commands;
    private readonly QueueStoreOptions _options;
    private readonly PostgresStoreOptions _postgres;
    private readonly Guid _storeId = Guid.NewGuid();
    // Per queue: the time stamp (TimeProvider.System) until which this store's row in dq_waiters needs no renewal.
    private readonly ConcurrentDictionary<string, long> _announced = new(StringComparer.Ordinal);
    private readonly TimeSpan _waiterLifetime;
    private readonly PostgresWakeUps _wakeUps;
    private PostgresWriteSession? _session;
    private long _announcements;
    private long _failedAnnouncements;
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
        // A waiting receiver is woken at least once per safety poll; it renews the row when it is older than the renewal
        // age, so the row outlives that by two polls and a margin.
        _waiterLifetime = s_waiterRenewal + postgres.SafetyPollInterval + postgres.SafetyPollInterval + TimeSpan.FromSeconds(30);
        _wakeUps = new PostgresWakeUps(dataSource, sql, _storeId, options.BusyTimeout);
    }

    public string Location { get; }

    public PostgresSql Sql => _sql;

    public PostgresCommands Commands => _commands;

    public NpgsqlDataSource DataSource => _dataSource;

    public DriverCapabilities Capabilities => new(StatementRollback: false, MemoryTier: false, DatabaseQuota: false, GroupedWrites: true, AsyncCommit: true);

    public StorageKind Kind => StorageKind.Postgres;

    public IWriteSession OpenWriteSession() =>
        _session = new PostgresWriteSession(_dataSource, _sql, _commands, Location, _options, MapError, _storeId, _wakeUps);

    /// <summary>Gets how many times the store wrote its waiting row for a queue (once per queue, then once per renewal).</summary>
    public long Announcements => Interlocked.Read(ref _announcements);

    /// <summary>Gets how many waiting rows could not be written (the receivers then wait for a wake-up of the safety poll).</summary>
    public long FailedAnnouncements => Interlocked.Read(ref _failedAnnouncements);

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
        new PostgresListener(
            _dataSource, _sql, _postgres.SafetyPollInterval, _ => onForeignCommit(), pid => pid == (_session?.ProcessId ?? 0) || pid == _wakeUps.ProcessId);

    /// <summary>
    /// Writes (or renews) this store's row in <c>dq_waiters</c> for the queue, on a pooled connection, committed at once:
    /// commits of other stores NOTIFY only for queues with such a row, so a queue nobody waits on elsewhere costs them
    /// nothing. A row younger than the renewal age is not written again. When the write fails, the receiver waits all
    /// the same (it is woken by this store's own commits and by the safety poll), and the next wait tries again. So does
    /// a write that takes longer than the receiver's remaining wait (<paramref name="within"/>, real time): a data source
    /// whose pooled connections are all in use makes the write wait for one, and a receive must not outlast its wait.
    /// </summary>
    public async ValueTask<bool> AnnounceWaitAsync(string queueName, TimeSpan within, CancellationToken cancellationToken)
    {
        // Real time, as the listener's: a store on a fake clock must still renew its rows.
        var now = TimeProvider.System.GetTimestamp();
        if (_announced.TryGetValue(queueName, out var freshUntil) && now < freshUntil)
        {
            return false;
        }

        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bounded.CancelAfter(within < s_shortestAnnouncement ? s_shortestAnnouncement : within > s_longestAnnouncement ? s_longestAnnouncement : within);
        try
        {
            var connection = await _dataSource.OpenConnectionAsync(bounded.Token).ConfigureAwait(false);
            await using (connection.ConfigureAwait(false))
            {
                using var command = new NpgsqlCommand(_sql.AnnounceWaiting, connection);
                command.Parameters.Add(PostgresCommands.Text(queueName));
                command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = _storeId });
                command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = (long)_waiterLifetime.TotalMilliseconds });
                await command.ExecuteNonQueryAsync(bounded.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException or InvalidOperationException or OperationCanceledException)
        {
            Interlocked.Increment(ref _failedAnnouncements);
            Trace.TraceWarning(
                "DurableQueue: could not tell other hosts that receivers wait on queue '{0}' ({1}); they are woken by the safety poll meanwhile.",
                queueName, ex.Message);
            return false;
        }

        _announced[queueName] = now + (long)(s_waiterRenewal.TotalSeconds * TimeProvider.System.TimestampFrequency);
        Interlocked.Increment(ref _announcements);
        return true;
    }

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
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        // The wake-ups the last commits owe go out before the connections close.
        _wakeUps.Dispose();
        if (_ownsDataSource)
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
