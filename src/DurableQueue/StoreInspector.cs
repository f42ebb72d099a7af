using DurableQueue.Internal;
using DurableQueue.Storage;
using DurableQueue.Storage.Driver;
using DurableQueue.Storage.Sqlite;
using Microsoft.Data.Sqlite;

namespace DurableQueue;

/// <summary>
/// A read-only view of a queue store, from <see cref="QueueStore.Inspect(string, QueueStoreOptions?)"/> for a file (or
/// from the PostgreSQL package's inspection for a database): it never creates, migrates or writes the store and starts
/// no writer, so it is safe beside an app using the same store.
/// </summary>
/// <remarks>
/// <para>On a file, the connection runs with <c>PRAGMA query_only</c>; on PostgreSQL, every transaction is read-only. Like any SQLite reader that is the last to close a WAL file,
/// closing it may fold the WAL back into the file; the content is unchanged.</para>
/// <para>Reads see the file as committed: a message whose last lease expired while no store had the file open is
/// counted as ready until a store opens the file and dead-letters it. Thread-safe; calls are serialized.</para>
/// </remarks>
public sealed partial class StoreInspector : IDisposable
{
    private readonly IInspectionSource _source;
    private readonly TimeProvider _clock;
    private readonly Lock _lock = new();
    private bool _disposed;

    internal StoreInspector(string path, long schemaVersion, IInspectionSource source, QueueStoreOptions options)
    {
        Path = path;
        SchemaVersion = schemaVersion;
        _source = source;
        _clock = options.TimeProvider;
    }

    /// <summary>
    /// Gets the full path of the database file, or for a PostgreSQL store its location without the password
    /// (<c>postgresql://user@host:port/database</c>).
    /// </summary>
    public string Path { get; }

    /// <summary>Gets the queue schema version of the store.</summary>
    public long SchemaVersion { get; }

    /// <summary>Gets a value indicating whether the store is a SQLite file (<see langword="false"/>: a PostgreSQL database).</summary>
    public bool IsFile => _source.Kind == StorageKind.Sqlite;

    internal static StoreInspector Open(string path, QueueStoreOptions? options)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        options = (options ?? new QueueStoreOptions()).Clone();
        options.Validate();
        var fullPath = System.IO.Path.GetFullPath(path);
        if (Directory.Exists(fullPath))
        {
            throw new ArgumentException(ErrorMessages.PathIsDirectory(fullPath), nameof(path));
        }

        if (!File.Exists(fullPath))
        {
            throw new FileNotFoundException(DiagnosticMessages.FileMissing(fullPath), fullPath);
        }

        // ReadWrite (never Create): SQLite falls back to read-only for a write-protected file, and a read-write
        // connection removes the -wal and -shm files it had to create when it closes; query_only forbids writes.
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = fullPath,
            Mode = SqliteOpenMode.ReadWrite,
            Pooling = false,
            DefaultTimeout = 1,
        }.ToString());
        return SchemaMigrator.OpenGuarded(connection, fullPath, () =>
        {
            connection.Open();
            var busyMs = (long)Math.Min(int.MaxValue, options.BusyTimeout.TotalMilliseconds);
            ConnectionFactory.Execute(connection, Sql.QueryOnly + $" PRAGMA busy_timeout = {busyMs};");
            var version = SchemaMigrator.Inspect(connection, fullPath);
            if (version == 0)
            {
                throw new StoreFileException(fullPath, StoreFileProblem.NotAQueueStore, DiagnosticMessages.NotAQueueStore(fullPath));
            }

            return new StoreInspector(fullPath, version, new SqliteInspection(connection, fullPath), options);
        });
    }

    private long NowMs => _clock.GetUtcNow().ToUnixTimeMilliseconds();

    /// <summary>Lists the names of the queues in the file.</summary>
    /// <param name="cancellationToken">A token to cancel the operation.</param>
    /// <returns>The queue names, in ordinal order.</returns>
    public ValueTask<IReadOnlyList<string>> GetQueueNamesAsync(CancellationToken cancellationToken = default) =>
        Read<IReadOnlyList<string>>(r => r.QueueNames(), cancellationToken);

    /// <summary>Tells whether the file has a queue of that name (a queue exists once a message was enqueued to it).</summary>
    /// <param name="queueName">The queue name.</param>
    /// <param name="cancellationToken">A token to cancel the operation.</param>
    /// <returns><see langword="true"/> when the queue exists.</returns>
    public ValueTask<bool> QueueExistsAsync(string queueName, CancellationToken cancellationToken = default)
    {
        Validate.QueueName(queueName, nameof(queueName));
        return Read(r => r.QueueExists(queueName), cancellationToken);
    }

    /// <summary>Counts the messages of a queue by state.</summary>
    /// <param name="queueName">The queue name.</param>
    /// <param name="cancellationToken">A token to cancel the operation.</param>
    /// <returns>The counts; all zero for a queue that does not exist.</returns>
    public ValueTask<QueueCounts> GetCountsAsync(string queueName, CancellationToken cancellationToken = default)
    {
        Validate.QueueName(queueName, nameof(queueName));
        return Read(r => r.Counts(queueName, NowMs), cancellationToken);
    }

    /// <summary>Reads messages of a queue in the order <see cref="MessageQueue.PeekAsync(int, CancellationToken)"/> uses.</summary>
    /// <param name="queueName">The queue name.</param>
    /// <param name="maxMessages">The most messages to return, from 1 to 1000.</param>
    /// <param name="cancellationToken">A token to cancel the operation.</param>
    /// <returns>The messages.</returns>
    public ValueTask<IReadOnlyList<MessageInfo>> PeekAsync(string queueName, int maxMessages = 10, CancellationToken cancellationToken = default)
    {
        Validate.QueueName(queueName, nameof(queueName));
        Validate.MaxMessages(maxMessages, nameof(maxMessages));
        return Read<IReadOnlyList<MessageInfo>>(r => r.Peek(queueName, NowMs, maxMessages), cancellationToken);
    }

    /// <summary>Lists messages of a queue in id order, as <see cref="MessageQueue.GetMessagesAsync(int, MessageId?, CancellationToken)"/> does.</summary>
    /// <param name="queueName">The queue name.</param>
    /// <param name="maxCount">The most messages to return, from 1 to 1000.</param>
    /// <param name="after">Return only messages with a larger id, or <see langword="null"/> to start at the first.</param>
    /// <param name="cancellationToken">A token to cancel the operation.</param>
    /// <returns>The messages; empty after the last page.</returns>
    public ValueTask<IReadOnlyList<MessageInfo>> GetMessagesAsync(
        string queueName, int maxCount = 100, MessageId? after = null, CancellationToken cancellationToken = default)
    {
        Validate.QueueName(queueName, nameof(queueName));
        Validate.MaxMessages(maxCount, nameof(maxCount));
        var afterId = after?.Value ?? 0;
        return Read<IReadOnlyList<MessageInfo>>(r => r.MessagesAfter(queueName, afterId, maxCount, NowMs), cancellationToken);
    }

    /// <summary>Lists dead letters of a queue in id order.</summary>
    /// <param name="queueName">The queue name.</param>
    /// <param name="maxCount">The most dead letters to return, from 1 to 1000.</param>
    /// <param name="after">Return only dead letters with a larger id, or <see langword="null"/> to start at the first.</param>
    /// <param name="cancellationToken">A token to cancel the operation.</param>
    /// <returns>The dead letters.</returns>
    public ValueTask<IReadOnlyList<DeadLetter>> GetDeadLettersAsync(
        string queueName, int maxCount = 100, MessageId? after = null, CancellationToken cancellationToken = default)
    {
        Validate.QueueName(queueName, nameof(queueName));
        Validate.MaxMessages(maxCount, nameof(maxCount));
        var afterId = after?.Value ?? 0;
        return Read<IReadOnlyList<DeadLetter>>(r => r.DeadLetters(queueName, afterId, maxCount), cancellationToken);
    }

    /// <summary>Reads one dead letter of a queue by id.</summary>
    /// <param name="queueName">The queue name.</param>
    /// <param name="id">The message id.</param>
    /// <param name="cancellationToken">A token to cancel the operation.</param>
    /// <returns>The dead letter, or <see langword="null"/> when there is none with that id.</returns>
    public ValueTask<DeadLetter?> GetDeadLetterAsync(string queueName, MessageId id, CancellationToken cancellationToken = default)
    {
        Validate.QueueName(queueName, nameof(queueName));
        return Read(r => r.GetDeadLetter(queueName, id.Value), cancellationToken);
    }

    /// <summary>Reads the file's sizes, schema version and the depth of every queue, in one snapshot.</summary>
    /// <param name="cancellationToken">A token to cancel the operation.</param>
    /// <returns>The statistics.</returns>
    public ValueTask<StoreStatistics> GetStatisticsAsync(CancellationToken cancellationToken = default) =>
        Read(r => r.Statistics(NowMs), cancellationToken);

    /// <summary>Checks the file as <see cref="QueueStore.VerifyAsync(CancellationToken)"/> does.</summary>
    /// <param name="cancellationToken">A token to cancel the operation before it starts.</param>
    /// <returns>The result.</returns>
    public ValueTask<StoreVerification> VerifyAsync(CancellationToken cancellationToken = default) =>
        Read(r => r.Verify(NowMs), cancellationToken);

    private ValueTask<T> Read<T>(Func<IStoreReader, T> read, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return new ValueTask<T>(_source.Read(read));
        }
    }

    /// <summary>Closes the file (or the connections to the database).</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            _source.Dispose();
        }
    }
}
