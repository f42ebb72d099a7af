using System.Diagnostics;
using System.Globalization;
using Npgsql;
using NpgsqlTypes;

namespace DurableQueue.Postgres.Storage;

/// <summary>
/// Sends the wake-ups that a store's commits owe to receivers of other stores, on a pooled connection, once the commit
/// is known to have landed: for each queue the commit wrote to, a <c>NOTIFY</c> if a receiver of another store
/// waits on it (its row in <c>dq_waiters</c>). A receiver adds its row before its last look at the queue, and the look
/// here reads the rows after the commit, so either the receiver's look saw the messages or this look sees its row.
/// </summary>
/// <remarks>
/// The writer does not wait for it: a commit's round trip carries only the batch, and the caller goes on as after a raw
/// statement (a look of its own after the commit, in the same round trip, cost a second server flush and a second read
/// of the reply). One look runs at a time; queues owed while it runs go in the next one, which reads the rows after
/// every commit that owed them. A look that fails is logged and counted; receivers of other stores then find the
/// messages at their safety poll, as when a notification is lost.
/// </remarks>
internal sealed class PostgresWakeUps : IDisposable
{
    private static readonly TimeSpan s_disposeWait = TimeSpan.FromSeconds(10);

    private readonly NpgsqlDataSource _dataSource;
    private readonly PostgresSql _sql;
    private readonly Guid _storeId;
    private readonly string _lockTimeout;
    private readonly Lock _gate = new();
    private readonly CancellationTokenSource _stop = new();
    private HashSet<string> _owed = new(StringComparer.Ordinal);
    private HashSet<string> _sending = new(StringComparer.Ordinal);
    private Task _run = Task.CompletedTask;
    private bool _running;
    private bool _disposed;
    private int _processId;
    private long _failed;

    /// <param name="dataSource">Where to connect.</param>
    /// <param name="sql">The schema's statements.</param>
    /// <param name="storeId">The store's id: its own receivers' rows are not looked at.</param>
    /// <param name="lockTimeout">The longest wait for a lock (the store's BusyTimeout), as on the writer's connection.</param>
    public PostgresWakeUps(NpgsqlDataSource dataSource, PostgresSql sql, Guid storeId, TimeSpan lockTimeout)
    {
        _dataSource = dataSource;
        _sql = sql;
        _storeId = storeId;
        // For the look's transaction only, without the warning that SET LOCAL gives outside a transaction block.
        _lockTimeout = string.Create(
            CultureInfo.InvariantCulture, $"SELECT set_config('lock_timeout', '{(long)Math.Max(1, lockTimeout.TotalMilliseconds)}', true);");
    }

    /// <summary>Gets how many looks failed (their wake-ups were not sent).</summary>
    public long Failed => Interlocked.Read(ref _failed);

    /// <summary>Gets the server process id of the connection of the last look: its notifications are this store's own.</summary>
    public int ProcessId => Volatile.Read(ref _processId);

    /// <summary>Owes wake-ups for these queues, written by a commit that landed; returns at once.</summary>
    public void Owe(IEnumerable<string> queues)
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _owed.UnionWith(queues);
            if (_running || _owed.Count == 0)
            {
                return;
            }

            _running = true;
            _run = Task.Run(RunAsync);
        }
    }

    /// <summary>Gets a task that completes when every wake-up owed so far was sent (or failed).</summary>
    public Task SentAsync()
    {
        lock (_gate)
        {
            return _run;
        }
    }

    private async Task RunAsync()
    {
        while (true)
        {
            lock (_gate)
            {
                if (_owed.Count == 0 || _disposed)
                {
                    _running = false;
                    return;
                }

                (_owed, _sending) = (_sending, _owed);
            }

            try
            {
                await LookAsync(_sending).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is NpgsqlException or IOException or TimeoutException or OperationCanceledException or InvalidOperationException)
            {
                Interlocked.Increment(ref _failed);
                Trace.TraceWarning("DurableQueue: a commit landed, but its wake-ups for other stores failed: {0}", ex.Message);
            }
            finally
            {
                _sending.Clear();
            }
        }
    }

    private async Task LookAsync(HashSet<string> queues)
    {
        // A pooled connection for each look, so that a store that is not writing holds none for this.
        var connection = await _dataSource.OpenConnectionAsync(_stop.Token).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            Volatile.Write(ref _processId, connection.ProcessID);
            using var batch = new NpgsqlBatch(connection);
            // The look waits for a lock no longer than the writer would (a pooled connection has the server's default).
            batch.BatchCommands.Add(new NpgsqlBatchCommand(_lockTimeout));
            foreach (var queue in queues)
            {
                batch.BatchCommands.Add(NotifyIfWaiting(_sql, queue, _storeId));
            }

            await batch.ExecuteNonQueryAsync(_stop.Token).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Makes the statement that notifies <paramref name="queue"/> if a receiver of a store other than
    /// <paramref name="storeId"/> waits on it (run after the commit that wrote to the queue).
    /// </summary>
    public static NpgsqlBatchCommand NotifyIfWaiting(PostgresSql sql, string queue, Guid storeId) =>
        new(sql.NotifyIfWaiting)
        {
            Parameters =
            {
                new NpgsqlParameter<string> { TypedValue = sql.Channel, NpgsqlDbType = NpgsqlDbType.Text },
                new NpgsqlParameter<string> { TypedValue = queue, NpgsqlDbType = NpgsqlDbType.Text },
                new NpgsqlParameter<Guid> { TypedValue = storeId },
            },
        };

    /// <summary>Sends what is owed, waiting up to ten seconds for it; then no more.</summary>
    public void Dispose()
    {
        Task run;
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            run = _run;
        }

        // What the last commits owe still goes out (the writer is closed: nothing more is owed): receivers elsewhere
        // should not wait for their safety poll because this store closed. A look still running after that is cut.
        Wait(run);
        lock (_gate)
        {
            _disposed = true;
            run = _run;
        }

        _stop.Cancel();
        Wait(run);
        _stop.Dispose();
    }

    private static void Wait(Task run)
    {
        try
        {
            run.Wait(s_disposeWait);
        }
        catch (AggregateException ex)
        {
            // Only a bug gets here (a look's failures are caught and counted): closing goes on.
            Trace.TraceError("DurableQueue: the wake-up sender failed: {0}", ex.InnerException?.Message);
        }
    }
}
