using System.Diagnostics;
using Microsoft.Extensions.Logging;

namespace DurableQueue.Forwarding;

public sealed partial class Forwarder
{
    /// <summary>
    /// Appends messages to their keys' lanes, in order, and starts the senders of lanes that were idle. All of them go
    /// in at once, so that a sender waiting for its lane to fill wakes once and takes them together.
    /// </summary>
    private void Enqueue(List<Entry> entries)
    {
        List<Lane>? started = null;
        List<TaskCompletionSource>? arrivals = null;
        lock (_lanes)
        {
            foreach (var entry in entries)
            {
                if (!_lanes.TryGetValue(entry.Message.OrderingKey, out var lane))
                {
                    lane = new Lane(this, entry.Message.OrderingKey);
                    _lanes.Add(lane.Key, lane);
                    (started ??= []).Add(lane);
                }

                lane.Pending.Enqueue(entry);
                if (lane.Arrival is { } arrival)
                {
                    lane.Arrival = null;
                    (arrivals ??= []).Add(arrival);
                }
            }
        }

        if (arrivals is not null)
        {
            foreach (var arrival in arrivals)
            {
                arrival.TrySetResult();
            }
        }

        if (started is not null)
        {
            foreach (var lane in started)
            {
                var task = Task.Run(() => RunLaneAsync(lane), CancellationToken.None);
                _laneTasks.TryAdd(task, 0);
                _ = task.ContinueWith(t => _laneTasks.TryRemove(t, out _), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            }
        }
    }

    /// <summary>
    /// Sends a lane's messages until it runs dry; the lane then goes away. Each try (<see cref="PumpAsync"/>) runs under
    /// the retry and circuit-breaker pipeline: a failure backs off and the lane starts again from its first unsettled message.
    /// </summary>
    private async Task RunLaneAsync(Lane lane)
    {
        while (true)
        {
            lock (_lanes)
            {
                if (lane.Pending.Count == 0)
                {
                    _lanes.Remove(lane.Key);
                    return;
                }
            }

            try
            {
                await _pipeline.ExecuteAsync(static (l, ct) => l.Owner.PumpAsync(l, ct), lane, _stopping).ConfigureAwait(false);
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

    /// <summary>
    /// One try at a lane: hands its messages to the sink batch after batch, up to <see cref="ForwardingDefaults.FlightsPerLane"/>
    /// batches in flight when the sink marks each one written (pipelining), and settles outcomes strictly in order: a
    /// message is acked (or dead-lettered) only when every earlier message of its key is. At the first message without
    /// a final outcome, it and everything after it go back to the front of the lane, in order, and the try fails, so
    /// that no message of a key is acked ahead of an earlier one that the remote has not confirmed.
    /// </summary>
    private async ValueTask PumpAsync(Lane lane, CancellationToken cancellationToken)
    {
        var flights = new Queue<Flight>();
        Flight? newest = null;
        try
        {
            while (true)
            {
                // Settle the finished flights at the head, in order; at the first one with a message left unconfirmed, stop.
                while (flights.TryPeek(out var head) && head.Done.IsCompleted)
                {
                    Retire(flights.Dequeue());
                    var failedAt = SettlePrefix(head);
                    if (failedAt >= 0)
                    {
                        await FailAsync(lane, head, failedAt, flights, cancellationToken).ConfigureAwait(false);
                    }

                    OnLinkUp();
                }

                // The next batch of this key may go once the newest one is written in order, or done.
                var ready = newest is null || newest.Done.IsCompleted || newest.Batch.Written.IsCompleted;

                // A lane's first batch always goes; one more before it is confirmed (pipelining) takes one of the few
                // places shared by all lanes, so that many keys do not pile calls onto the one connection.
                var extra = flights.Count > 0;
                var mayTake = ready && flights.Count < ForwardingDefaults.FlightsPerLane && !AnyTroubled(flights);
                if (mayTake && (!extra || TryTakeExtraFlight()))
                {
                    if (TakeBatch(lane) is { } entries)
                    {
                        try
                        {
                            await AcquireAsync(_messageLimiter, _options.MessagesPerSecond, entries.Count, cancellationToken).ConfigureAwait(false);
                            await AcquireAsync(_byteLimiter, _options.BytesPerSecond, entries.Sum(e => (long)e.Message.Body.Length), cancellationToken).ConfigureAwait(false);
                            if (_pacer is not null)
                            {
                                await _pacer.AcquireAsync(entries.Count, cancellationToken).ConfigureAwait(false);
                            }
                        }
                        catch (OperationCanceledException) when (extra)
                        {
                            Interlocked.Decrement(ref _extraFlights);
                            throw;
                        }

                        // The batch follows the newest one still on its way: a sink must send it on the same channel or not at all.
                        var previous = newest is { Done.IsCompleted: false } ? newest.Batch : null;
                        var flight = new Flight(entries, new SendBatch(MessagesOf(entries), owned: true) { Previous = previous }, extra);
                        flights.Enqueue(flight);
                        newest = flight;
                        flight.Done = SendFlightAsync(flight, cancellationToken);
                        continue;
                    }

                    if (extra)
                    {
                        Interlocked.Decrement(ref _extraFlights);
                    }
                }
                else
                {
                    // No batch may go now: do not wait for messages that could not be taken anyway.
                    mayTake = false;
                }

                if (flights.Count == 0)
                {
                    return;
                }

                // Wait for the first of: the head flight done (settle it at once, which frees its window for the
                // receive loop while later batches are still on their way), the newest one written, and, when this
                // lane ran dry with room for one more batch, new messages for it.
                var waits = new List<Task>(3) { flights.Peek().Done };
                if (!ready)
                {
                    waits.Add(newest!.Batch.Written);
                    waits.Add(newest.Done);
                }
                else if (mayTake && ArrivalOf(lane) is { } arrival)
                {
                    waits.Add(arrival);
                }
                else if (mayTake)
                {
                    // Messages arrived since the batch was taken: take them.
                    continue;
                }

                await (waits.Count == 1 ? waits[0] : Task.WhenAny(waits)).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Stopping: keep what was confirmed before the stop, in order; the rest stays leased for the next start.
            await Task.WhenAll(flights.Select(f => f.Done)).ConfigureAwait(false);
            var settling = true;
            while (flights.TryDequeue(out var flight))
            {
                Retire(flight);
                settling = settling && SettlePrefix(flight) < 0;
            }

            throw;
        }
    }

    /// <summary>
    /// A flight ended with a message left unconfirmed: waits for the flights behind it, puts that message and everything
    /// after it back at the front of the lane, in order, and throws so that the lane backs off and tries again.
    /// </summary>
    private async Task FailAsync(Lane lane, Flight failed, int failedAt, Queue<Flight> later, CancellationToken cancellationToken)
    {
        await Task.WhenAll(later.Select(f => f.Done)).ConfigureAwait(false);
        var back = failed.Entries.GetRange(failedAt, failed.Entries.Count - failedAt);
        while (later.TryDequeue(out var flight))
        {
            Retire(flight);
            back.AddRange(flight.Entries);
        }

        PutBack(lane, back);
        // A stop cut the send short: not a failure of the link.
        cancellationToken.ThrowIfCancellationRequested();
        var error = failed.Error;
        var message = Truncate(error is null
            ? failed.Batch.ReasonOf(failedAt) ?? "The sink gave no outcome."
            : $"{error.GetType().Name}: {error.Message}");
        OnLinkDown(message, back.Count, error);
        throw new ForwardingSendException(message, error);
    }

    private bool TryTakeExtraFlight()
    {
        if (Interlocked.Increment(ref _extraFlights) <= ForwardingDefaults.ExtraFlights)
        {
            return true;
        }

        Interlocked.Decrement(ref _extraFlights);
        return false;
    }

    /// <summary>A flight leaves its lane's line: its shared place, if it took one, is free again.</summary>
    private void Retire(Flight flight)
    {
        if (flight.Extra)
        {
            flight.Extra = false;
            Interlocked.Decrement(ref _extraFlights);
        }
    }

    /// <summary>Hands a batch to the sink; never throws (a throw is kept on the flight: nothing unmarked was confirmed).</summary>
    private async Task SendFlightAsync(Flight flight, CancellationToken cancellationToken)
    {
        var start = Stopwatch.GetTimestamp();
        try
        {
            await _sink.SendAsync(flight.Batch, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            flight.Error = ex;
        }

        if (_telemetry.SendDuration.Enabled)
        {
            _telemetry.SendDuration.Record(Stopwatch.GetElapsedTime(start).TotalSeconds, _tags);
        }
    }

    /// <summary>
    /// Returns a task that completes when a message is added to the lane, or <see langword="null"/> when it has
    /// messages already.
    /// </summary>
    private Task? ArrivalOf(Lane lane)
    {
        lock (_lanes)
        {
            if (lane.Pending.Count > 0)
            {
                return null;
            }

            lane.Arrival ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return lane.Arrival.Task;
        }
    }

    private static OutboundMessage[] MessagesOf(List<Entry> entries)
    {
        var messages = new OutboundMessage[entries.Count];
        for (var i = 0; i < messages.Length; i++)
        {
            messages[i] = entries[i].Message;
        }

        return messages;
    }

    private static bool AnyTroubled(Queue<Flight> flights)
    {
        foreach (var flight in flights)
        {
            if (flight.Troubled)
            {
                return true;
            }
        }

        return false;
    }

    private List<Entry>? TakeBatch(Lane lane)
    {
        lock (_lanes)
        {
            var pending = lane.Pending;
            if (pending.Count == 0)
            {
                return null;
            }

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
    }

    /// <summary>Puts messages back at the front of their lane, in order, ahead of what arrived since.</summary>
    private void PutBack(Lane lane, List<Entry> entries)
    {
        lock (_lanes)
        {
            var arrived = lane.Pending.ToArray();
            lane.Pending.Clear();
            foreach (var entry in entries)
            {
                lane.Pending.Enqueue(entry);
            }

            foreach (var entry in arrived)
            {
                lane.Pending.Enqueue(entry);
            }
        }
    }

    /// <summary>
    /// Settles a finished flight's messages in order up to the first one without a final outcome; returns that one's
    /// index, or -1 when every message was confirmed or refused.
    /// </summary>
    private int SettlePrefix(Flight flight)
    {
        var batch = flight.Batch;
        var failedAt = -1;
        List<Entry>? acks = null;
        for (var i = 0; i < batch.Count && failedAt < 0; i++)
        {
            var entry = flight.Entries[i];
            switch (batch.OutcomeOf(i))
            {
                case SendOutcome.Confirmed:
                    entry.Confirmed = true;
                    if (entry.Lease is null)
                    {
                        _settlements.Writer.TryWrite(Settlement.OfScanned(entry, null));
                    }
                    else
                    {
                        (acks ??= new List<Entry>(batch.Count - i)).Add(entry);
                    }

                    break;
                case SendOutcome.Rejected:
                    var reason = Truncate(batch.ReasonOf(i) ?? "Refused by the remote.");
                    entry.Confirmed = true;
                    Log.Rejected(_logger, Name, entry.Message.LocalId.Value, reason);
                    _settlements.Writer.TryWrite(entry.Lease is null ? Settlement.OfScanned(entry, reason) : Settlement.OfDeadLetter(entry, reason));
                    break;
                default:
                    failedAt = i;
                    break;
            }
        }

        // The confirmed messages of the flight go to the settler as one item: acked together, in one or a few commits.
        if (acks is not null)
        {
            _settlements.Writer.TryWrite(Settlement.OfAcks(acks));
        }

        return failedAt;
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
                _linkSince = _clock.GetUtcNow();
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
                _linkSince = now;
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

    /// <summary>One batch of a lane handed to the sink: its messages, the batch the sink marks, and how the call ended.</summary>
    private sealed class Flight(List<Entry> entries, SendBatch batch, bool extra)
    {
        public List<Entry> Entries { get; } = entries;

        public SendBatch Batch { get; } = batch;

        /// <summary>Gets or sets a value indicating whether the flight holds one of the places shared by all lanes.</summary>
        public bool Extra { get; set; } = extra;

        /// <summary>Gets or sets the sink call; it never throws.</summary>
        public Task Done { get; set; } = Task.CompletedTask;

        /// <summary>Gets or sets what the sink call threw, if it did.</summary>
        public Exception? Error { get; set; }

        /// <summary>Gets a value indicating whether the flight failed already: no later batch of the key is started.</summary>
        public bool Troubled => Batch.HasFailure || (Done.IsCompleted && (Error is not null || !Batch.IsSettled));
    }
}
