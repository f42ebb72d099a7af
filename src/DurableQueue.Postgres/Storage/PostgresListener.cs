using System.Diagnostics;
using Npgsql;

namespace DurableQueue.Postgres.Storage;

/// <summary>
/// Wakes the store's waiting receivers when another connection commits work for them: a dedicated connection
/// LISTENs on the schema's channel, and every enqueue, nack, release and requeue NOTIFYs it in its own transaction,
/// so the wake-up arrives within milliseconds of the commit on any host and never for a rollback. Between
/// notifications nothing is polled except a slow safety poll (which also proves the connection alive). When the
/// connection drops, it reconnects with a growing pause and wakes everyone once, since notifications sent meanwhile
/// are lost.
/// </summary>
/// <remarks>
/// The pauses and the safety poll are real time (the connection's own timing), not the store's clock: a store under a
/// fake clock in tests still reconnects.
/// </remarks>
internal sealed class PostgresListener : IDisposable
{
    private static readonly TimeSpan s_minBackoff = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan s_maxBackoff = TimeSpan.FromSeconds(5);

    private readonly NpgsqlDataSource _dataSource;
    private readonly PostgresSql _sql;
    private readonly TimeSpan _safetyPoll;
    private readonly Action<string?> _wake;
    private readonly Func<int, bool> _isOwnProcess;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private TaskCompletionSource _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _connects;

    /// <param name="dataSource">Where to connect.</param>
    /// <param name="sql">The schema's statements (its channel).</param>
    /// <param name="safetyPoll">How often to wake the receivers without a notification.</param>
    /// <param name="wake">Called with the queue name of a notification, or null for "anything may have changed".</param>
    /// <param name="isOwnProcess">Whether a server process id is one of the store's own connections, whose wake-ups are local already.</param>
    public PostgresListener(NpgsqlDataSource dataSource, PostgresSql sql, TimeSpan safetyPoll, Action<string?> wake, Func<int, bool> isOwnProcess)
    {
        _dataSource = dataSource;
        _sql = sql;
        _safetyPoll = safetyPoll;
        _wake = wake;
        _isOwnProcess = isOwnProcess;
        _loop = Task.Run(RunAsync);
    }

    /// <summary>Gets how many times the listener connected (1 after the first connection; more after reconnects).</summary>
    public int Connects => Volatile.Read(ref _connects);

    /// <summary>Completes once the listener is connected and LISTENing (again, after a reconnect).</summary>
    public Task Listening => Volatile.Read(ref _listening).Task;

    private async Task RunAsync()
    {
        var token = _stop.Token;
        var backoff = s_minBackoff;
        while (!token.IsCancellationRequested)
        {
            try
            {
                var connection = await _dataSource.OpenConnectionAsync(token).ConfigureAwait(false);
                await using var closing = connection.ConfigureAwait(false);
                connection.Notification += OnNotification;
                using (var listen = new NpgsqlCommand(_sql.Listen, connection))
                {
                    await listen.ExecuteNonQueryAsync(token).ConfigureAwait(false);
                }

                backoff = s_minBackoff;
                if (Interlocked.Increment(ref _connects) > 1)
                {
                    // Notifications sent while we were away are gone: let every receiver look once.
                    _wake(null);
                }

                Volatile.Read(ref _listening).TrySetResult();
                while (!token.IsCancellationRequested)
                {
                    if (!await connection.WaitAsync(_safetyPoll, token).ConfigureAwait(false))
                    {
                        // Quiet for a whole poll: prove the connection alive (a vanished server sends nothing), then wake.
                        using (var ping = new NpgsqlCommand("SELECT 1;", connection))
                        {
                            await ping.ExecuteScalarAsync(token).ConfigureAwait(false);
                        }

                        _wake(null);
                    }
                }
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                Trace.TraceWarning("DurableQueue: the PostgreSQL wake-up connection failed ({0}); reconnecting in {1} ms.", ex.Message, backoff.TotalMilliseconds);
                Interlocked.Exchange(ref _listening, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
                try
                {
                    await Task.Delay(backoff, TimeProvider.System, token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                backoff = TimeSpan.FromTicks(Math.Min(s_maxBackoff.Ticks, backoff.Ticks * 2));
            }
        }
    }

    private void OnNotification(object sender, NpgsqlNotificationEventArgs e)
    {
        if (!_isOwnProcess(e.PID))
        {
            _wake(e.Payload);
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        try
        {
            _loop.Wait(TimeSpan.FromSeconds(10));
        }
        catch (AggregateException)
        {
            // The loop ends by cancellation; nothing else escapes it.
        }

        _stop.Dispose();
    }
}
