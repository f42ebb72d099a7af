namespace DurableQueue.Forwarding;

/// <summary>The forwarder's status row in the store, for readers in other processes (<c>dq stats</c>).</summary>
public sealed partial class Forwarder
{
    private readonly TaskCompletionSource _statusOpened = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private StatusRow? _statusWritten;
    private DateTimeOffset _startedAt;

    private DateTimeOffset? LastForwardedAt =>
        Interlocked.Read(ref _lastForwardedAtMs) is var ms && ms != long.MinValue ? DateTimeOffset.FromUnixTimeMilliseconds(ms) : null;

    /// <summary>
    /// Writes the status row once the forwarder's tables exist, then at most once per <see cref="ForwardingDefaults.StatusInterval"/>
    /// when something changed, and after <see cref="ForwardingDefaults.StatusHeartbeat"/> when nothing did. Never on a
    /// message's path: sends and acks only update fields in memory.
    /// </summary>
    private async Task StatusLoopAsync(CancellationToken stopping)
    {
        _startedAt = _clock.GetUtcNow();
        await _statusOpened.Task.WaitAsync(stopping).ConfigureAwait(false);
        using var timer = new PeriodicTimer(ForwardingDefaults.StatusInterval, _clock);
        do
        {
            await WriteStatusAsync(running: true, stopping).ConfigureAwait(false);
        }
        while (await timer.WaitForNextTickAsync(stopping).ConfigureAwait(false));
    }

    /// <summary>The last row says the forwarder stopped, so a reader does not wait for the heartbeat to tell.</summary>
    private async Task WriteStoppedStatusAsync()
    {
        if (_statusOpened.Task.IsCompleted)
        {
            await WriteStatusAsync(running: false, LocalToken()).ConfigureAwait(false);
        }
    }

    private async Task WriteStatusAsync(bool running, CancellationToken cancellationToken)
    {
        var now = _clock.GetUtcNow();
        StatusRow row;
        lock (_statusLock)
        {
            row = new StatusRow(
                Name, running, _startedAt, _link, _linkSince, _lastError is { } error ? Truncate(error) : null, _lastErrorAt,
                Interlocked.Read(ref _forwarded), LastForwardedAt, now);
        }

        if (_statusWritten is { } last && row.SameAs(last) && now - last.WrittenAt < ForwardingDefaults.StatusHeartbeat)
        {
            return;
        }

        try
        {
            await _log.WriteStatusAsync(row, cancellationToken).ConfigureAwait(false);
            _statusWritten = row;
        }
        catch (Exception ex) when (ex is DurableQueueException or System.Data.Common.DbException or ObjectDisposedException or OperationCanceledException)
        {
            // Best effort: the next tick tries again (after a stop, the loop ends on its token); the forwarding goes on either way.
            Log.LocalStepFailed(_logger, ex, Name);
        }
    }
}
