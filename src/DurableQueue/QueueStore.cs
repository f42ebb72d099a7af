using System.Collections.Concurrent;
using DurableQueue.Background;
using DurableQueue.BackPressure;
using DurableQueue.Internal;
using DurableQueue.Storage;
using DurableQueue.Storage.Driver;
using DurableQueue.Storage.Sqlite;
using Microsoft.Data.Sqlite;

namespace DurableQueue;

/// <summary>
/// Represents one queue database file: it owns the file's single writer and hands out named queues.
/// </summary>
/// <remarks>
/// <para>Open one store per file per process and share it; it is thread-safe. Several processes may open the
/// same file at once. Keep the file on a local disk: SQLite's WAL mode is not safe on network shares or synced folders.</para>
/// <para>Every write goes through one writer that batches concurrent requests into one transaction (group commit);
/// each caller is completed only after the commit that holds its request.</para>
/// </remarks>
public sealed partial class QueueStore : IAsyncDisposable, IDisposable
{
    private readonly IStorageDriver _driver;
    private readonly StoreWriter _writer;
    private readonly ConcurrentDictionary<string, QueueState> _queues = new(StringComparer.Ordinal);
    private readonly Memory.MemoryTier? _tier;
    private readonly FinalLeaseSweeper _sweeper;
    private readonly MaintenanceScheduler _maintenance;
    private readonly IDisposable _watcher;
    private int _disposed;

    /// <summary>
    /// Makes a store on a backend whose schema is ready. The core owns the writer, the memory tier (a layer over the
    /// driver's statements where the backend allows one), admission, and the background duties; the driver owns SQL.
    /// </summary>
    internal QueueStore(IStorageDriver driver, QueueStoreOptions options)
    {
        _driver = driver;
        Path = driver.Location;
        Options = options;
        var session = driver.OpenWriteSession();
        IMessageCommands commands = session.Commands;
        if (options.MemoryBudgetBytes > 0 && driver.Capabilities.MemoryTier && commands is SqliteCommands sqlite)
        {
            _tier = new Memory.MemoryTier(options.MemoryBudgetBytes, options.MemoryTierMaxMessageBytes);
            commands = new Memory.TieredCommands(sqlite, _tier);
        }

        commands = new RoomFreedCommands(commands, this);
        _writer = new StoreWriter(session, commands, driver.Capabilities, options.TimeProvider, options.BusyTimeout, BeforeBatch)
        {
            WaitingForLock = waited => SqliteWriteLock.Report(options, Path, waited),
        };
        _writer.Context.SessionId = options.SessionId; // recovery report: lease tokens record the store's session
        _sweeper = new FinalLeaseSweeper(options.TimeProvider, _writer, PulseAllCapacities);
        _maintenance = new MaintenanceScheduler(options.TimeProvider, options.MaintenanceInterval, driver, _writer);
        _watcher = driver.WatchForeignCommits(PulseAllArrivals);
        _sweeper.Start();
    }

    /// <summary>Gets where the store lives: the full path of the database file (or, on another backend, its database without credentials).</summary>
    public string Path { get; }

    internal QueueStoreOptions Options { get; }

    internal TimeProvider Clock => Options.TimeProvider;

    internal StoreWriter Writer => _writer;

    internal IStorageDriver Driver => _driver;

    internal long NowMs => Clock.GetUtcNow().ToUnixTimeMilliseconds();

    /// <summary>
    /// Opens the queue store in a database file, creating the file if it does not exist.
    /// </summary>
    /// <param name="path">The path of the database file. The file may hold the app's own tables too.</param>
    /// <param name="options">The store options, or <see langword="null"/> for the defaults.</param>
    /// <returns>The open store. Dispose it to close the file.</returns>
    /// <exception cref="ArgumentException"><paramref name="path"/> is empty or a folder, or an option is out of range.</exception>
    /// <exception cref="DirectoryNotFoundException">The folder of <paramref name="path"/> does not exist.</exception>
    /// <exception cref="StoreFileException">The file is not a SQLite database, is damaged, has a newer schema, is read-only, or cannot be opened; it is left untouched.</exception>
    /// <exception cref="StorageBusyException">Another process held the file's write lock for longer than the busy timeout.</exception>
    public static QueueStore Open(string path, QueueStoreOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        options = (options ?? new QueueStoreOptions()).Clone();
        options.Validate();

        var fullPath = System.IO.Path.GetFullPath(path);
        if (Directory.Exists(fullPath))
        {
            throw new ArgumentException(ErrorMessages.PathIsDirectory(fullPath), nameof(path));
        }

        var directory = System.IO.Path.GetDirectoryName(fullPath)!;
        if (!Directory.Exists(directory))
        {
            throw new DirectoryNotFoundException(ErrorMessages.DirectoryMissing(directory));
        }

        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var walBytes = Diagnostics.StoreRecovery.WalBytesBeforeOpen(fullPath); // recovery report
        var newFile = !File.Exists(fullPath) || new FileInfo(fullPath).Length == 0; // recovery report
        var connections = new ConnectionFactory(fullPath, options);
        SqliteConnection connection;
        try
        {
            connection = connections.OpenWriter();
        }
        catch (SqliteException ex)
        {
            throw SchemaMigrator.Refuse(ex, fullPath);
        }

        return SchemaMigrator.OpenGuarded(connection, fullPath, () =>
        {
            Prepare(connection, connections, fullPath);
            var enqueuePageLimit = ApplyDatabaseQuota(connection, options);
            // Opening writes (the session record): it waits for another writer's lock within the same BusyTimeout as any
            // write, counted from the call, and reports a long wait.
            SqliteWriteLock.WaitUntilFree(connection, fullPath, options, started);
            var (session, report) = Recover(connection, options, walBytes, newFile); // recovery report
            var opened = (options.TimeProvider.GetUtcNow().ToUnixTimeMilliseconds(), options.TimeProvider.GetTimestamp());
            return new QueueStore(new SqliteDriver(fullPath, options, connections, connection, enqueuePageLimit), options)
            {
                Session = session, Recovery = report, OpenedClock = opened, // recovery report
            };
        });
    }

    private static void Prepare(SqliteConnection connection, ConnectionFactory connections, string path)
    {
        connections.ConfigureWriter(connection);
        // Everything up to here only reads: a file that is refused is left as it was found.
        var version = SchemaMigrator.Inspect(connection, path);
        if (SQLitePCL.raw.sqlite3_db_readonly(connection.Handle, "main") == 1)
        {
            throw new StoreFileException(path, StoreFileProblem.ReadOnly, ErrorMessages.ReadOnly(path));
        }

        using (var command = connection.CreateCommand())
        {
            command.CommandText = "PRAGMA page_count;";
            if ((long)command.ExecuteScalar()! == 0)
            {
                // Only possible before the first table: lets maintenance hand freed pages back to the file system.
                command.CommandText = "PRAGMA auto_vacuum = INCREMENTAL;";
                command.ExecuteNonQuery();
            }

            command.CommandText = "PRAGMA journal_mode = WAL;";
            var mode = command.ExecuteScalar() as string;
            if (!string.Equals(mode, "wal", StringComparison.OrdinalIgnoreCase))
            {
                throw new StoreFileException(path, StoreFileProblem.WalUnavailable, ErrorMessages.WalUnavailable(path, mode ?? "unknown"));
            }
        }

        if (version == 0 || SchemaMigrator.NeedsMigration(connection, version))
        {
            SchemaMigrator.Migrate(connection, path);
        }
    }

    /// <summary>
    /// Gets a named queue of this store. Queues need no creation: a queue exists once a message was enqueued to it.
    /// </summary>
    /// <param name="name">The queue name: 1 to 128 letters, digits, '.', '_', '-' or ':', starting with a letter or digit.</param>
    /// <param name="options">
    /// The queue options; the first call for a name fixes them for this store. Explicit options are stored in the file, so
    /// that stores opening the queue without options (another process, the dq tool) use them; without options, the
    /// settings stored in the file apply, or the defaults when none are. Explicit options that differ from the stored
    /// settings win for this store, replace them, and raise <see cref="QueueSettingsConflict"/>.
    /// </param>
    /// <returns>A handle on the queue; handles are cheap and thread-safe.</returns>
    /// <exception cref="ArgumentException"><paramref name="name"/> is not a valid queue name, or an option is out of range.</exception>
    /// <exception cref="InvalidOperationException">The queue was opened before with different options.</exception>
    /// <exception cref="ObjectDisposedException">The store is disposed.</exception>
    /// <exception cref="DurableQueueException">The settings stored in the file could not be read (a storage failure).</exception>
    public MessageQueue GetQueue(string name, QueueOptions? options = null)
    {
        Validate.QueueName(name, nameof(name));
        ThrowIfDisposed();
        QueueState state;
        if (options is null)
        {
            state = StateOf(name);
        }
        else
        {
            var copy = options.Clone();
            copy.Validate();
            state = OpenWithOptions(name, copy);
            if (!state.Options.SameAs(copy))
            {
                throw new InvalidOperationException(ErrorMessages.QueueOptionsConflict(name));
            }
        }

        return new MessageQueue(this, state);
    }

    /// <summary>Lists the names of the queues in the file (including those created by other processes).</summary>
    /// <param name="cancellationToken">A token to cancel the operation.</param>
    /// <returns>The queue names, in ordinal order.</returns>
    /// <exception cref="ObjectDisposedException">The store is disposed.</exception>
    public ValueTask<IReadOnlyList<string>> GetQueueNamesAsync(CancellationToken cancellationToken = default) =>
        ReadAsync<IReadOnlyList<string>>(static r => r.QueueNames(), cancellationToken);

    internal QueueState StateOf(string name) =>
        _queues.TryGetValue(name, out var state) ? state : _queues.GetOrAdd(name, static (n, store) => QueueState.Create(n, store.StoredOrDefaultOptions(n), store), this);

    internal bool TryGetState(string name, out QueueState? state) => _queues.TryGetValue(name, out state);

    /// <summary>Runs a read on a reader connection, after dead-lettering expired last-attempt leases so reads see them where they belong.</summary>
    internal async ValueTask<T> ReadAsync<T>(Func<IStoreReader, T> read, CancellationToken cancellationToken)
    {
        ThrowIfDisposed();
        cancellationToken.ThrowIfCancellationRequested();
        // One connection in the common case: look for a due sweep, and read at once when there is none.
        var (done, value) = _driver.Read(r => r.AnyExpiredFinalLease(NowMs) ? (false, default(T)!) : (true, read(r)));
        if (done)
        {
            return value;
        }

        // Every writer batch starts with the sweep; an empty request is enough to run one.
        await _writer.SubmitValueAsync(static _ => 0, cancellationToken).ConfigureAwait(false);
        return _driver.Read(read);
    }

    /// <summary>Runs a read at once, without the sweep.</summary>
    internal T ReadNow<T>(Func<IStoreReader, T> read) => _driver.Read(read);

    /// <summary>
    /// Runs the library's own write on the writer; when the writer is idle it runs at once on this thread and the
    /// result is ready when this returns. Units of work pass <paramref name="mayLead"/> false (see <see cref="StoreWriter"/>).
    /// </summary>
    internal ValueTask<T> WriteAsync<T>(
        Func<WriteContext, T> work, CancellationToken cancellationToken, bool alwaysMarksCommit = false, bool withoutSavepoint = false, bool mayLead = true,
        WriteGroup? group = null, object? groupItem = null, bool groupsAlone = false)
    {
        if (Volatile.Read(ref _disposed) != 0)
        {
            return ValueTask.FromException<T>(new ObjectDisposedException(GetType().FullName));
        }

        return _writer.SubmitValueAsync(work, cancellationToken, alwaysMarksCommit, withoutSavepoint, mayLead, group, groupItem, groupsAlone);
    }

    internal Memory.MemoryTier? Tier => _tier;

    private void BeforeBatch(WriteContext context)
    {
        _sweeper.Sweep(context);
        StorePendingSettings(context);
    }

    /// <summary>Arms the timer that dead-letters a last-attempt lease the moment it expires.</summary>
    internal void ScheduleSweep(long dueAtMs) => _sweeper.Schedule(dueAtMs);

    /// <summary>Wakes every waiting receiver so that it looks again (another connection committed).</summary>
    private void PulseAllArrivals()
    {
        foreach (var state in _queues.Values)
        {
            state.Arrivals.Pulse();
        }
    }

    internal void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);

    /// <summary>
    /// Closes the store: waits for queued writes to commit, checkpoints the WAL, and closes every connection,
    /// so that the file can be moved or deleted at once.
    /// </summary>
    /// <returns>A task that completes when the file is closed.</returns>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        DisposeTimers();
        _writer.Complete();
        await _writer.Completion.ConfigureAwait(false);
        Close();
    }

    /// <summary>
    /// Closes the store: waits for queued writes to commit, checkpoints the WAL, and closes every connection.
    /// </summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        DisposeTimers();
        _writer.Dispose();
        Close();
    }

    private void DisposeTimers()
    {
        _sweeper.Dispose();
        _maintenance.Dispose();
        _watcher.Dispose();
    }

    private void Close()
    {
        _writer.Dispose();
        CloseSession(); // recovery report: a clean end
        _driver.Close(_writer.Session);
        PulseAllArrivals();
    }
}
