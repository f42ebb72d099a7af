using Microsoft.Extensions.Logging;

namespace DurableQueue.Forwarding;

public sealed partial class Forwarder
{
    /// <summary>
    /// Applies outcomes to the local queue, many at a time: acks in one commit share, dead letters, and the start-up
    /// scan's records. Only a storage failure stops it (and the forwarder); a lost lease is logged and skipped.
    /// </summary>
    private async Task SettleLoopAsync()
    {
        var reader = _settlements.Reader;
        var acks = new List<Entry>();
        var others = new List<Settlement>();
        var scanned = new List<Settlement>();
        try
        {
            while (await reader.WaitToReadAsync(CancellationToken.None).ConfigureAwait(false))
            {
                while (reader.TryRead(out var item))
                {
                    switch (item.Kind)
                    {
                        case SettlementKind.Acks:
                            acks.AddRange(item.Entries!);
                            break;
                        case SettlementKind.Scanned:
                            scanned.Add(item);
                            break;
                        default:
                            others.Add(item);
                            break;
                    }
                }

                await SettleAcksAsync(acks).ConfigureAwait(false);
                await SettleScannedAsync(scanned).ConfigureAwait(false);
                await Task.WhenAll(others.Select(SettleOneAsync)).ConfigureAwait(false);
                acks.Clear();
                scanned.Clear();
                others.Clear();
            }
        }
        catch (Exception ex)
        {
            // A storage failure: nothing more can be settled. Stop the forwarder; what is unsettled stays in the queue.
            _fatal = ex;
            _settlements.Writer.TryComplete();
            _stop?.Cancel();
        }
    }

    private async Task SettleAcksAsync(List<Entry> acks)
    {
        if (acks.Count == 0)
        {
            return;
        }

        // Acked in chunks, concurrently: the writer takes them into one or a few commits, and the app's enqueues in between.
        var chunks = await Task.WhenAll(acks.Chunk(ForwardingDefaults.LocalChunk).Select(chunk =>
            RetryBusyAsync(() => _queue.AckManyAsync(chunk.Select(a => a.Lease!.Receipt), LocalToken())))).ConfigureAwait(false);
        var lostSet = chunks.Any(c => c.Count > 0) ? chunks.SelectMany(c => c).ToHashSet() : null;
        foreach (var ack in acks)
        {
            var receipt = ack.Lease!.Receipt;
            if (lostSet?.Contains(receipt) == true)
            {
                Log.LeaseLost(_logger, Name, receipt.Id.Value);
            }

            _held.TryRemove(receipt, out _);
        }

        // All at once: the receive loop then leases a whole chunk in one commit instead of one message per commit.
        _slots.Release(acks.Count);

        var forwarded = acks.Count - (lostSet?.Count ?? 0);
        Interlocked.Add(ref _forwarded, forwarded);
        if (forwarded > 0)
        {
            Interlocked.Exchange(ref _lastForwardedAtMs, _clock.GetUtcNow().ToUnixTimeMilliseconds());
        }
        if (_telemetry.Forwarded.Enabled && forwarded > 0)
        {
            _telemetry.Forwarded.Add(forwarded, _tags);
        }
    }

    private async Task SettleScannedAsync(List<Settlement> scanned)
    {
        if (scanned.Count == 0)
        {
            return;
        }

        await RetryBusyAsync(async () =>
        {
            await _log.RecordAsync(scanned.ConvertAll(s => (s.Entry!.Message.LocalId.Value, s.Reason)), LocalToken()).ConfigureAwait(false);
            return 0;
        }).ConfigureAwait(false);
        foreach (var item in scanned)
        {
            _recovered[item.Entry!.Message.LocalId.Value] = item.Reason;
            if (item.Reason is null)
            {
                Interlocked.Increment(ref _forwarded);
            }
            else
            {
                Interlocked.Increment(ref _deadLettered);
            }
        }

        if (Interlocked.Add(ref _recoveryPending, -scanned.Count) <= 0)
        {
            _recoveryDone?.TrySetResult();
        }
    }

    private async Task SettleOneAsync(Settlement item)
    {
        try
        {
            switch (item.Kind)
            {
                case SettlementKind.DeadLetter:
                    await RetryBusyAsync(async () =>
                    {
                        await _queue.DeadLetterAsync(item.Entry!.Lease!.Receipt, item.Reason!, LocalToken()).ConfigureAwait(false);
                        return 0;
                    }).ConfigureAwait(false);
                    CountDeadLetter();
                    break;
                case SettlementKind.Recovered:
                    await RetryBusyAsync(async () =>
                    {
                        await _log.SettleAsync(item.Message!, item.Reason, LocalToken()).ConfigureAwait(false);
                        return 0;
                    }).ConfigureAwait(false);
                    _recovered.TryRemove(item.Message!.Id.Value, out _);
                    break;
            }
        }
        catch (LeaseLostException)
        {
            Log.LeaseLost(_logger, Name, (item.Message ?? item.Entry!.Lease!).Id.Value);
        }
        finally
        {
            Release((item.Message ?? item.Entry!.Lease!).Receipt);
        }
    }

    private void CountDeadLetter()
    {
        Interlocked.Increment(ref _deadLettered);
        if (_telemetry.DeadLettered.Enabled)
        {
            _telemetry.DeadLettered.Add(1, _tags);
        }
    }

    /// <summary>Frees a held message's window slot once it is settled locally.</summary>
    private void Release(MessageReceipt receipt)
    {
        _held.TryRemove(receipt, out _);
        _slots.Release();
    }

    /// <summary>Settles are not cancelled by a stop: a confirmed message must be acked. Each gets its own deadline.</summary>
    private static CancellationToken LocalToken() => new CancellationTokenSource(ForwardingDefaults.SettleTimeout).Token;

    /// <summary>Another process held the file's write lock past the busy timeout: wait a little and try again.</summary>
    private async Task<T> RetryBusyAsync<T>(Func<ValueTask<T>> write)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await write().ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is StorageBusyException || (ex is OperationCanceledException && attempt < 3))
            {
                Log.LocalStepFailed(_logger, ex, Name);
                await Task.Delay(ForwardingDefaults.BusyRetryDelay, _clock, CancellationToken.None).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// Renews the leases of held messages before they run out (a message waiting for the link keeps its place and its
    /// attempts), and refreshes the status: the queue's oldest ready message and the forwarding rate.
    /// </summary>
    private async Task KeepLoopAsync(CancellationToken stopping)
    {
        var interval = _options.LeaseDuration / 3;
        if (interval > ForwardingDefaults.MaxTickInterval)
        {
            interval = ForwardingDefaults.MaxTickInterval;
        }

        using var timer = new PeriodicTimer(interval, _clock);
        while (await timer.WaitForNextTickAsync(stopping).ConfigureAwait(false))
        {
            var now = _clock.GetUtcNow();
            var renewBefore = now + (_options.LeaseDuration * 2 / 3);
            var due = _held.Values.Where(e => e.Lease!.LeaseExpiresAt <= renewBefore).ToList();
            await Task.WhenAll(due.Select(RenewAsync)).ConfigureAwait(false);
            try
            {
                var counts = await _queue.GetCountsAsync(stopping).ConfigureAwait(false);
                _oldestReady = counts.OldestReadyEnqueuedAt;
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                Log.LocalStepFailed(_logger, ex, Name);
            }

            var forwarded = Interlocked.Read(ref _forwarded);
            var seconds = (now - _rateSince).TotalSeconds;
            if (seconds > 0)
            {
                _rate = (forwarded - _rateForwarded) / seconds;
            }

            _rateForwarded = forwarded;
            _rateSince = now;
        }
    }

    private async Task RenewAsync(Entry entry)
    {
        try
        {
            await _queue.ExtendLeaseAsync(entry.Lease!, _options.LeaseDuration, LocalToken()).ConfigureAwait(false);
        }
        catch (LeaseLostException)
        {
            if (_held.ContainsKey(entry.Lease!.Receipt))
            {
                Log.LeaseLost(_logger, Name, entry.Lease.Id.Value);
            }
        }
        catch (Exception ex) when (ex is StorageBusyException or OperationCanceledException)
        {
            // The next tick tries again, well before the lease runs out.
            Log.LocalStepFailed(_logger, ex, Name);
        }
    }

    private enum SettlementKind
    {
        Acks,
        DeadLetter,
        Scanned,
        Recovered,
    }

    /// <summary>One outcome to apply locally.</summary>
    private readonly record struct Settlement(SettlementKind Kind, Entry? Entry, QueueMessage? Message, string? Reason, List<Entry>? Entries = null)
    {
        /// <summary>Confirmed leased messages of one flight, in order.</summary>
        public static Settlement OfAcks(List<Entry> entries) => new(SettlementKind.Acks, null, null, null, entries);

        public static Settlement OfDeadLetter(Entry entry, string reason) => new(SettlementKind.DeadLetter, entry, null, reason);

        /// <summary>A message of the start-up scan was confirmed (reason null) or refused.</summary>
        public static Settlement OfScanned(Entry entry, string? reason) => new(SettlementKind.Scanned, entry, null, reason);

        /// <summary>The queue handed back a message that the start-up scan sent: ack or dead-letter it, forget its record.</summary>
        public static Settlement OfRecovered(QueueMessage message, string? reason) => new(SettlementKind.Recovered, null, message, reason);
    }
}
