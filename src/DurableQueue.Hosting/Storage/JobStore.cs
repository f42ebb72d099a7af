using System.Data.Common;
using System.Collections.Concurrent;
using DurableQueue.Hosting.Diagnostics;
using Microsoft.Extensions.Options;

namespace DurableQueue.Hosting.Storage;

/// <summary>
/// The hosting layer's view of the store: queue handles with the handlers' options, the job tables (written inside
/// the core's units of work so that a job's status, result and the message's settle commit together; read on short-lived
/// connections of its own), and in-process wake-ups for job waiters.
/// </summary>
internal sealed partial class JobStore : IDisposable
{
    private readonly Lazy<Task> _ready;
    private readonly ConcurrentDictionary<string, MessageQueue> _queues = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<long, TaskCompletionSource> _waiters = new();
    private readonly IOptionsMonitor<QueueHandlerOptions> _handlerOptions;
    private readonly HandlerCatalog _catalog;

    public JobStore(QueueStore store, IOptions<DurableQueueOptions> options, IOptionsMonitor<QueueHandlerOptions> handlerOptions, HandlerCatalog catalog)
    {
        Store = store;
        Options = options.Value;
        _handlerOptions = handlerOptions;
        _catalog = catalog;
        _ready = new Lazy<Task>(() => HostingSchema.MigrateAsync(store, CancellationToken.None).AsTask());
    }

    public QueueStore Store { get; }

    public DurableQueueOptions Options { get; }

    public TimeProvider Clock => Store.Clock;

    public long NowMs => Clock.GetUtcNow().ToUnixTimeMilliseconds();

    /// <summary>Creates the job tables on first use (once per store; other processes may race, the unit of work serializes them).</summary>
    public Task EnsureReadyAsync(CancellationToken cancellationToken) => _ready.Value.WaitAsync(cancellationToken);

    /// <summary>
    /// Gets a queue handle whose options are those of the queue's handler, so that every message enqueued through the
    /// hosting layer carries the handler's MaxAttempts, whichever component touches the queue first.
    /// </summary>
    public MessageQueue GetQueue(string name) => _queues.GetOrAdd(
        name,
        static (n, self) => self._catalog.HasHandler(n)
            ? self.Store.GetQueue(n, self._handlerOptions.Get(n).ToQueueOptions())
            : self.Store.GetQueue(n),
        this);

    // ---- Writes: called inside QueueStore.ExecuteAsync, on tx.Connection. ----

    public static void InsertJob(DbConnection connection, MessageId id, string queue, long now, long? runAt) =>
        connection.Execute(JobSql.InsertJob, ("@id", id.Value), ("@queue", queue), ("@now", now), ("@runAt", runAt));

    /// <summary>Marks a job running; false when it was cancelled (or had succeeded), so its message must be acked unhandled.</summary>
    public static bool Claim(DbConnection connection, MessageId id, long now, int attempt)
    {
        if (connection.Execute(JobSql.ClaimJob, ("@id", id.Value), ("@now", now), ("@attempt", attempt)) > 0)
        {
            return true;
        }

        // No row at all (status already cleaned up): run the message like any other.
        return connection.Scalar(JobSql.JobState, ("@id", id.Value)) is null;
    }

    public void Succeeded(DbConnection connection, MessageId id, long now, int attempt, byte[]? result)
    {
        connection.Execute(JobSql.JobSucceeded, ("@id", id.Value), ("@now", now), ("@attempt", attempt), ("@expires", Expiry(now)));
        if (result is not null)
        {
            connection.Execute(JobSql.InsertResult, ("@id", id.Value), ("@result", result));
        }
    }

    public void Failed(DbConnection connection, MessageId id, long now, int attempt, NackOutcome outcome, string error) =>
        connection.Execute(
            JobSql.JobFailed,
            ("@id", id.Value),
            ("@state", outcome == NackOutcome.DeadLettered ? "dead_lettered" : "retrying"),
            ("@now", now),
            ("@attempt", attempt),
            ("@error", error),
            ("@expires", Expiry(now)));

    public static void Released(DbConnection connection, MessageId id) => connection.Execute(JobSql.JobReleased, ("@id", id.Value));

    public bool Cancel(DbConnection connection, MessageId id, long now) =>
        connection.Execute(JobSql.CancelJob, ("@id", id.Value), ("@now", now), ("@expires", Expiry(now))) > 0;

    private long Expiry(long now) => now + (long)Options.JobRetention.TotalMilliseconds;

    /// <summary>Deletes finished jobs and their results whose retention time ended; returns how many.</summary>
    public async ValueTask<int> CleanupAsync(CancellationToken cancellationToken)
    {
        await EnsureReadyAsync(cancellationToken).ConfigureAwait(false);
        var total = 0;
        while (true)
        {
            var removed = await Store.ExecuteAsync(
                tx =>
                {
                    var ids = new List<long>();
                    using (var command = tx.Connection.Command(JobSql.ExpiredJobs, ("@now", tx.Now.ToUnixTimeMilliseconds()), ("@limit", 1000)))
                    using (var reader = command.ExecuteReader())
                    {
                        while (reader.Read())
                        {
                            ids.Add(reader.GetInt64(0));
                        }
                    }

                    foreach (var id in ids)
                    {
                        tx.Connection.Execute(JobSql.DeleteResult, ("@id", id));
                        tx.Connection.Execute(JobSql.DeleteJob, ("@id", id));
                    }

                    return ids.Count;
                },
                cancellationToken).ConfigureAwait(false);
            total += removed;
            if (removed < 1000)
            {
                return total;
            }
        }
    }

    // ---- Reads: own short-lived connections, never the writer. ----

    public async ValueTask<JobStatus?> GetStatusAsync(MessageId id, CancellationToken cancellationToken)
    {
        await EnsureReadyAsync(cancellationToken).ConfigureAwait(false);
        var row = ReadRow(id);
        if (row is null)
        {
            return null;
        }

        if (row.State is "succeeded" or "cancelled")
        {
            return row.ToStatus(id, row.State == "succeeded" ? JobState.Succeeded : JobState.Cancelled);
        }

        var queue = GetQueue(row.Queue);
        var message = await queue.GetMessageAsync(id, cancellationToken).ConfigureAwait(false);
        if (message is not null)
        {
            var state = message.State switch
            {
                MessageState.Leased => JobState.Running,
                MessageState.Delayed => message.Attempts > 0 ? JobState.Retrying : JobState.Scheduled,
                _ => message.Attempts > 0 ? JobState.Retrying : JobState.Pending,
            };
            return new JobStatus(id, row.Queue, state)
            {
                Attempts = message.Attempts,
                CreatedAt = FromMs(row.CreatedAt),
                RunAt = FromMs(row.RunAt),
                StartedAt = FromMs(row.StartedAt),
                NextAttemptAt = state is JobState.Retrying or JobState.Scheduled ? message.VisibleAt : null,
                LastError = message.LastError ?? row.LastError,
                HasResult = false,
            };
        }

        var deadLetter = await queue.GetDeadLetterAsync(id, cancellationToken).ConfigureAwait(false);
        if (deadLetter is not null)
        {
            return new JobStatus(id, row.Queue, JobState.DeadLettered)
            {
                Attempts = deadLetter.Attempts,
                CreatedAt = FromMs(row.CreatedAt),
                RunAt = FromMs(row.RunAt),
                StartedAt = FromMs(row.StartedAt),
                CompletedAt = deadLetter.DeadLetteredAt,
                LastError = deadLetter.LastError ?? row.LastError,
            };
        }

        // The message left the queue between the reads: the row has the final word now.
        row = ReadRow(id);
        if (row is null)
        {
            return null;
        }

        return row.State switch
        {
            "succeeded" => row.ToStatus(id, JobState.Succeeded),
            "dead_lettered" => row.ToStatus(id, JobState.DeadLettered),
            "cancelled" => row.ToStatus(id, JobState.Cancelled),
            // Acked or purged outside the job API.
            _ => row.ToStatus(id, JobState.Cancelled),
        };
    }

    public async ValueTask<byte[]?> GetResultAsync(MessageId id, CancellationToken cancellationToken)
    {
        await EnsureReadyAsync(cancellationToken).ConfigureAwait(false);
        return Read(c => c.Scalar(JobSql.ReadResult, ("@id", id.Value)) as byte[]);
    }

    /// <summary>Waits until the job is final; wakes at once for jobs finished in this process, else polls.</summary>
    public async ValueTask<JobStatus?> WaitAsync(MessageId id, CancellationToken cancellationToken)
    {
        while (true)
        {
            var signal = _waiters.GetOrAdd(id.Value, static _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
            var status = await GetStatusAsync(id, cancellationToken).ConfigureAwait(false);
            if (status is null || status.IsFinal)
            {
                _waiters.TryRemove(new KeyValuePair<long, TaskCompletionSource>(id.Value, signal));
                return status;
            }

            using var cancel = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var delay = Task.Delay(Options.JobPollInterval, Clock, cancel.Token);
            await Task.WhenAny(signal.Task, delay).ConfigureAwait(false);
            await cancel.CancelAsync().ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
        }
    }

    /// <summary>Wakes the waiters of a job that reached a final state in this process.</summary>
    public void NotifyFinished(MessageId id)
    {
        if (_waiters.TryRemove(id.Value, out var signal))
        {
            signal.TrySetResult();
        }
    }

    private JobRow? ReadRow(MessageId id) => Read(c =>
    {
        using var command = c.Command(JobSql.ReadJob, ("@id", id.Value));
        using var reader = command.ExecuteReader();
        if (!reader.Read())
        {
            return null;
        }

        return new JobRow(
            reader.GetString(0), reader.GetString(1), reader.GetInt64(2), Nullable(reader, 3), reader.GetInt32(4), Nullable(reader, 5),
            Nullable(reader, 6), reader.IsDBNull(7) ? null : reader.GetString(7), reader.GetBoolean(8));
    });

    private static long? Nullable(DbDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetInt64(ordinal);

    // The store's own reader connections: the same file (or database and schema), busy timeout and error mapping.
    private T Read<T>(Func<DbConnection, T> read) => Store.Driver.ReadConnection(read);

    private static DateTimeOffset? FromMs(long? ms) => ms is { } v ? DateTimeOffset.FromUnixTimeMilliseconds(v) : null;

    private static DateTimeOffset FromMs(long ms) => DateTimeOffset.FromUnixTimeMilliseconds(ms);

    public void Dispose()
    {
        // The readers are the store's: it clears its pool when it closes.
    }

    private sealed record JobRow(
        string Queue, string State, long CreatedAt, long? RunAt, int Attempts, long? StartedAt, long? CompletedAt, string? LastError, bool HasResult)
    {
        public JobStatus ToStatus(MessageId id, JobState state) => new(id, Queue, state)
        {
            Attempts = Attempts,
            CreatedAt = FromMs(CreatedAt),
            RunAt = FromMs(RunAt),
            StartedAt = FromMs(StartedAt),
            CompletedAt = FromMs(CompletedAt),
            LastError = LastError,
            HasResult = HasResult,
        };
    }
}
