using System.Diagnostics;
using Microsoft.Extensions.Logging;

namespace DurableQueue.Forwarding;

public sealed partial class Forwarder
{
    /// <summary>Appends a message to its key's lane, and starts the lane's sender when it was idle.</summary>
    private void Enqueue(Entry entry)
    {
        Lane? start = null;
        lock (_lanes)
        {
            if (!_lanes.TryGetValue(entry.Message.OrderingKey, out var lane))
            {
                lane = new Lane(entry.Message.OrderingKey);
                _lanes.Add(lane.Key, lane);
                start = lane;
            }

            lane.Pending.Enqueue(entry);
        }

        if (start is not null)
        {
            var task = Task.Run(() => RunLaneAsync(start), CancellationToken.None);
            _laneTasks.TryAdd(task, 0);
            _ = task.ContinueWith(t => _laneTasks.TryRemove(t, out _), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
    }

    /// <summary>
    /// Sends a lane's messages batch after batch; the next batch starts only when every message of this one is confirmed
    /// or refused, so that a key's order holds across failures. The lane goes away when it runs dry.
    /// </summary>
    private async Task RunLaneAsync(Lane lane)
    {
        while (true)
        {
            List<Entry> batch;
            lock (_lanes)
            {
                if (lane.Pending.Count == 0)
                {
                    _lanes.Remove(lane.Key);
                    return;
                }

                batch = TakeBatch(lane.Pending);
            }

            try
            {
                var attempt = new Attempt(this, batch);
                await _pipeline.ExecuteAsync(static (a, ct) => a.Owner.AttemptAsync(a, ct), attempt, _stopping).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
            {
                // Stopping: what was not confirmed stays leased and is sent again by the next start.
                lock (_lanes)
                {
                    _lanes.Remove(lane.Key);
                }

                return;
            }
        }
    }

    private List<Entry> TakeBatch(Queue<Entry> pending)
    {
        var batch = new List<Entry>(Math.Min(pending.Count, _options.MaxBatchSize));
        long bytes = 0;
        while (pending.Count > 0 && batch.Count < _options.MaxBatchSize)
        {
            var next = pending.Peek();
            if (batch.Count > 0 && bytes + next.Message.Body.Length > _options.MaxBatchBytes)
            {
                break;
            }

            bytes += next.Message.Body.Length;
            batch.Add(pending.Dequeue());
        }

        return batch;
    }

    /// <summary>One try at a batch: hands what is still unsent to the sink, settles each outcome, throws to retry the rest.</summary>
    private async ValueTask AttemptAsync(Attempt attempt, CancellationToken cancellationToken)
    {
        var remaining = attempt.Remaining;
        await AcquireAsync(_messageLimiter, _options.MessagesPerSecond, remaining.Count, cancellationToken).ConfigureAwait(false);
        await AcquireAsync(_byteLimiter, _options.BytesPerSecond, remaining.Sum(e => (long)e.Message.Body.Length), cancellationToken).ConfigureAwait(false);

        var batch = new SendBatch(remaining.ConvertAll(e => e.Message));
        Exception? error = null;
        var start = Stopwatch.GetTimestamp();
        try
        {
            await _sink.SendAsync(batch, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Keep what was confirmed before the stop.
            Classify(attempt, batch);
            throw;
        }
        catch (Exception ex)
        {
            error = ex;
        }

        if (_telemetry.SendDuration.Enabled)
        {
            _telemetry.SendDuration.Record(Stopwatch.GetElapsedTime(start).TotalSeconds, _tags);
        }

        var failure = Classify(attempt, batch);
        if (attempt.Remaining.Count == 0)
        {
            OnLinkUp();
            return;
        }

        var message = Truncate(error is null ? failure ?? "The sink gave no outcome." : $"{error.GetType().Name}: {error.Message}");
        OnLinkDown(message, attempt.Remaining.Count, error);
        throw new ForwardingSendException(message, error);
    }

    /// <summary>Settles the confirmed and refused messages of a try; keeps the rest for the next. Returns the first failure's text.</summary>
    private string? Classify(Attempt attempt, SendBatch batch)
    {
        string? failure = null;
        var still = new List<Entry>();
        for (var i = 0; i < batch.Count; i++)
        {
            var entry = attempt.Remaining[i];
            switch (batch.OutcomeOf(i))
            {
                case SendOutcome.Confirmed:
                    entry.Confirmed = true;
                    _settlements.Writer.TryWrite(entry.Lease is null ? Settlement.OfScanned(entry, null) : Settlement.OfAck(entry));
                    break;
                case SendOutcome.Rejected:
                    var reason = Truncate(batch.ReasonOf(i) ?? "Refused by the remote.");
                    entry.Confirmed = true;
                    Log.Rejected(_logger, Name, entry.Message.LocalId.Value, reason);
                    _settlements.Writer.TryWrite(entry.Lease is null ? Settlement.OfScanned(entry, reason) : Settlement.OfDeadLetter(entry, reason));
                    break;
                default:
                    failure ??= batch.ReasonOf(i);
                    still.Add(entry);
                    break;
            }
        }

        attempt.Remaining = still;
        return failure;
    }

    private void OnLinkUp()
    {
        TimeSpan? downtime = null;
        lock (_statusLock)
        {
            if (_link != LinkState.Up)
            {
                if (_linkDownSince is { } since)
                {
                    downtime = _clock.GetUtcNow() - since;
                }

                _link = LinkState.Up;
                _linkDownSince = null;
            }
        }

        if (downtime is { } d)
        {
            Log.LinkUp(_logger, Name, d);
        }
    }

    private void OnLinkDown(string error, int count, Exception? exception)
    {
        var now = _clock.GetUtcNow();
        var wasDown = true;
        lock (_statusLock)
        {
            _lastError = error;
            _lastErrorAt = now;
            if (_link != LinkState.Down)
            {
                wasDown = false;
                _link = LinkState.Down;
                _linkDownSince = now;
            }
        }

        Interlocked.Increment(ref _retries);
        if (_telemetry.Retries.Enabled)
        {
            var tags = new KeyValuePair<string, object?>[_tags.Length + 1];
            _tags.CopyTo(tags, 0);
            tags[^1] = new(Diagnostics.ForwardingTelemetry.ErrorTypeTag, exception?.GetType().FullName ?? "rejected_for_now");
            _telemetry.Retries.Add(1, tags);
        }

        if (!wasDown)
        {
            Log.LinkDown(_logger, Name, error);
        }
        else if (_logger.IsEnabled(LogLevel.Debug))
        {
            Log.SendFailed(_logger, Name, count, error);
        }
    }

    private static string Truncate(string text) =>
        text.Length <= ForwardingDefaults.MaxErrorLength ? text : text[..ForwardingDefaults.MaxErrorLength];

    /// <summary>The state of one batch across its tries.</summary>
    private sealed class Attempt(Forwarder owner, List<Entry> batch)
    {
        public Forwarder Owner { get; } = owner;

        public List<Entry> Remaining { get; set; } = batch;
    }
}
