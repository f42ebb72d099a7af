using DurableQueue.BackPressure;
using DurableQueue.Internal;
using DurableQueue.Storage;

namespace DurableQueue;

// Back pressure on the queue handle: bounded enqueue (Wait / Reject / DropOldest), TryEnqueue, stats.
// The hooks into the rest of the handle are one line each, marked "back pressure".
public sealed partial class MessageQueue
{
    /// <summary>Gets the most messages the queue holds, or <see langword="null"/> when unbounded.</summary>
    public long? MaxMessages => _state.Options.MaxMessages;

    /// <summary>Gets the most body bytes the queue holds, or <see langword="null"/> when unbounded.</summary>
    public long? MaxBytes => _state.Options.MaxBytes;

    /// <summary>Gets what an enqueue does when the queue is full.</summary>
    public QueueFullMode FullMode => _state.Options.FullMode;

    /// <summary>
    /// Enqueues a message if the queue has room now, without waiting; completes once it is committed.
    /// </summary>
    /// <param name="body">The message body.</param>
    /// <param name="options">The message options, or <see langword="null"/> for the defaults.</param>
    /// <param name="cancellationToken">A token to cancel the operation before it reaches the writer.</param>
    /// <returns>The id of the new message, or <see langword="null"/> when the queue is full (nothing was added).</returns>
    /// <remarks>
    /// On an unbounded queue this is <see cref="EnqueueAsync(ReadOnlyMemory{byte}, EnqueueOptions?, CancellationToken)"/>.
    /// In <see cref="QueueFullMode.DropOldest"/> mode it drops as that mode does, and returns <see langword="null"/> only
    /// when too few ready messages can be dropped. It never waits, and never goes ahead of producers already waiting.
    /// </remarks>
    /// <exception cref="QueueFullException">The message is larger than <see cref="QueueOptions.MaxBytes"/>, so it can never fit.</exception>
    /// <exception cref="StorageFullException">The disk or the database is full; nothing was added.</exception>
    public async ValueTask<MessageId?> TryEnqueueAsync(ReadOnlyMemory<byte> body, EnqueueOptions? options = null, CancellationToken cancellationToken = default)
    {
        var message = PendingMessage.Create(body, options, _state.Options.MaxAttempts, _store.Options.MaxMessageBytes);
        var ids = await EnqueueBoundedAsync([message], throwWhenFull: false, cancellationToken).ConfigureAwait(false);
        return ids?[0];
    }

    /// <summary>
    /// Enqueues a message whose body is the UTF-8 encoding of a string if the queue has room now, without waiting.
    /// </summary>
    /// <param name="body">The message text.</param>
    /// <param name="options">The message options, or <see langword="null"/> for the defaults.</param>
    /// <param name="cancellationToken">A token to cancel the operation before it reaches the writer.</param>
    /// <returns>The id of the new message, or <see langword="null"/> when the queue is full (nothing was added).</returns>
    public ValueTask<MessageId?> TryEnqueueAsync(string body, EnqueueOptions? options = null, CancellationToken cancellationToken = default) =>
        TryEnqueueAsync(PendingMessage.Utf8(body), options, cancellationToken);

    /// <summary>
    /// Enqueues several messages atomically if the queue has room for all of them now, without waiting.
    /// </summary>
    /// <param name="messages">The messages, each with its own options.</param>
    /// <param name="cancellationToken">A token to cancel the operation before it reaches the writer.</param>
    /// <returns>The ids in the order of <paramref name="messages"/>, or <see langword="null"/> when they do not all fit (nothing was added).</returns>
    /// <exception cref="ArgumentException">The batch is empty, or a message is invalid.</exception>
    /// <exception cref="QueueFullException">The batch is larger than a bound of the queue, so it can never fit.</exception>
    public ValueTask<IReadOnlyList<MessageId>?> TryEnqueueBatchAsync(IEnumerable<OutgoingMessage> messages, CancellationToken cancellationToken = default)
    {
        var pending = PendingBatch(messages);
        return ToReadOnly(EnqueueBoundedAsync(pending, throwWhenFull: false, cancellationToken));
    }

    /// <summary>
    /// Gets the queue's capacity in use and the counters of back pressure (rejected, waited, dropped, time waited),
    /// for metrics and health checks.
    /// </summary>
    /// <returns>A snapshot; the used counts are read from the file and include other processes' messages.</returns>
    /// <remarks>DurableQueue.Hosting maps the snapshot to instruments of its <c>Meter</c>; core has no metrics dependency.</remarks>
    /// <exception cref="ObjectDisposedException">The store is disposed.</exception>
    public BackPressureStats GetBackPressureStats()
    {
        _store.ThrowIfDisposed();
        var row = _store.ReadQueueStats(Name);
        return _store.CapacityOf(_state).Snapshot(row.Messages, row.Bytes, row.DeadLetters);
    }

    /// <summary>Gets a value indicating whether enqueues take the back-pressure path: the queue is bounded, or the store has a quota.</summary>
    private bool UsesBackPressurePath => !_state.Admission.Unlimited;

    private PendingMessage[] PendingBatch(IEnumerable<OutgoingMessage> messages)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var pending = messages
            .Select(m => PendingMessage.Create(m.Body, m.Options, _state.Options.MaxAttempts, _store.Options.MaxMessageBytes))
            .ToArray();
        if (pending.Length == 0)
        {
            throw new ArgumentException(ErrorMessages.EmptyBatch, nameof(messages));
        }

        return pending;
    }

    private static async ValueTask<IReadOnlyList<MessageId>?> ToReadOnly(ValueTask<MessageId[]?> task) => await task.ConfigureAwait(false);

    private async ValueTask<MessageId> EnqueueOneBoundedAsync(PendingMessage message, CancellationToken cancellationToken)
    {
        var ids = await EnqueueBoundedAsync([message], throwWhenFull: true, cancellationToken).ConfigureAwait(false);
        return ids![0];
    }

    private async ValueTask<IReadOnlyList<MessageId>> EnqueueBatchBoundedAsync(PendingMessage[] pending, CancellationToken cancellationToken) =>
        (await EnqueueBoundedAsync(pending, throwWhenFull: true, cancellationToken).ConfigureAwait(false))!;

    /// <summary>
    /// The enqueue of a bounded queue. The check runs on the writer inside the transaction (exact across processes);
    /// in Wait mode a producer that found no room joins the queue's line in writer order and tries again, when it is
    /// first in line, after a commit here frees room or every PollInterval (commits of other processes).
    /// </summary>
    private async ValueTask<MessageId[]?> EnqueueBoundedAsync(PendingMessage[] pending, bool throwWhenFull, CancellationToken cancellationToken)
    {
        if (_state.Admission.Capacity is not { } capacity)
        {
            return await _store.WriteAsync(c => InsertAll(c, pending), cancellationToken).ConfigureAwait(false);
        }

        cancellationToken.ThrowIfCancellationRequested();
        var wait = throwWhenFull && _state.Options.FullMode == QueueFullMode.Wait;
        var waiter = wait ? new Waiter() : null;
        var clock = _store.Clock;
        var started = clock.GetTimestamp();
        var deadline = _state.Options.FullWaitTimeout is { } timeout ? clock.GetUtcNow() + timeout : (DateTimeOffset?)null;
        var waited = false;
        AdmitResult last = default;
        try
        {
            while (true)
            {
                // Take the signal before trying, so that room freed between the try and the wait is not missed.
                var changed = capacity.Changed;
                if (waiter?.Node is null || capacity.MayTry(waiter))
                {
                    last = await _store.WriteAsync(
                        c => Admission.Admit(c, capacity, c.QueueId(Name), pending, InsertOne, waiter, _store.ReportDropped),
                        cancellationToken).ConfigureAwait(false);
                    if (last.Admitted)
                    {
                        return last.Ids;
                    }

                    if (last.NeverFits)
                    {
                        throw last.ToException(Name, last.Limit == QueueLimit.MaxBytes ? pending.Sum(m => (long)m.Body.Length) : pending.Length);
                    }

                    if (!wait)
                    {
                        capacity.CountRejected();
                        return throwWhenFull ? throw last.ToException(Name) : null;
                    }
                }

                waited = true;
                var now = clock.GetUtcNow();
                if (deadline is { } end && now >= end)
                {
                    capacity.CountRejected();
                    throw new QueueFullException(
                        Name, last.Limit, last.Capacity, last.RetryAfter,
                        ErrorMessages.QueueFullWaitTimedOut(Name, last.Limit, last.Capacity, _state.Options.FullWaitTimeout!.Value));
                }

                var sleep = _store.Options.PollInterval;
                if (deadline is { } until && until - now < sleep)
                {
                    sleep = until - now;
                }

                await WaitForRoomAsync(changed, sleep, cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            if (waiter is not null)
            {
                capacity.Leave(waiter);
            }

            if (waited)
            {
                capacity.CountWaited(clock.GetElapsedTime(started));
            }
        }
    }

    private async Task WaitForRoomAsync(Task changed, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var delay = Task.Delay(timeout, _store.Clock, cancel.Token);
        await Task.WhenAny(changed, delay).ConfigureAwait(false);
        await cancel.CancelAsync().ConfigureAwait(false);
        cancellationToken.ThrowIfCancellationRequested();
        _store.ThrowIfDisposed();
    }

    private MessageId[] InsertAll(WriteContext context, PendingMessage[] pending)
    {
        var queueId = context.QueueId(Name);
        var ids = new MessageId[pending.Length];
        for (var i = 0; i < pending.Length; i++)
        {
            ids[i] = InsertOne(context, queueId, pending[i]);
        }

        return ids;
    }

    // Keep in step with the unbounded insert in MessageQueue.EnqueueAsync (wake-ups, memory tier).
    private MessageId InsertOne(WriteContext context, long queueId, PendingMessage message)
    {
        var id = Admission.InsertWithinQuota(context, queueId, message);
        context.AfterCommit(_state.Arrivals.Pulse);
        return id;
    }
}
