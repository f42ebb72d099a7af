using DurableQueue.Internal;
using DurableQueue.Storage;

namespace DurableQueue;

public sealed partial class MessageQueue
{
    /// <summary>Reads messages without leasing them: ready ones in delivery order first, then delayed and leased ones by visibility time.</summary>
    /// <param name="maxMessages">The most messages to return, from 1 to 1000.</param>
    /// <param name="cancellationToken">A token to cancel the operation.</param>
    /// <returns>The messages; empty when the queue is empty.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxMessages"/> is out of range.</exception>
    public ValueTask<IReadOnlyList<MessageInfo>> PeekAsync(int maxMessages = 10, CancellationToken cancellationToken = default)
    {
        Validate.MaxMessages(maxMessages, nameof(maxMessages));
        return _store.ReadAsync<IReadOnlyList<MessageInfo>>(r => r.Peek(Name, _store.NowMs, maxMessages), cancellationToken);
    }

    /// <summary>Reads one message of this queue by id without leasing it.</summary>
    /// <param name="id">The message id.</param>
    /// <param name="cancellationToken">A token to cancel the operation.</param>
    /// <returns>The message, or <see langword="null"/> when it is not in the queue (acked, dead-lettered, purged or never there).</returns>
    public ValueTask<MessageInfo?> GetMessageAsync(MessageId id, CancellationToken cancellationToken = default) =>
        _store.ReadAsync(r => r.Get(Name, id.Value, _store.NowMs), cancellationToken);

    /// <summary>Counts the messages of this queue by state.</summary>
    /// <param name="cancellationToken">A token to cancel the operation.</param>
    /// <returns>The counts; all zero for a queue that never had a message.</returns>
    public ValueTask<QueueCounts> GetCountsAsync(CancellationToken cancellationToken = default) =>
        _store.ReadAsync(r => r.Counts(Name, _store.NowMs), cancellationToken);

    /// <summary>Deletes every message of the queue, leased ones included (dead letters stay). Removal in chunks keeps other writers moving.</summary>
    /// <param name="cancellationToken">A token to stop between chunks; chunks already committed stay purged.</param>
    /// <returns>The number of messages deleted.</returns>
    public ValueTask<long> PurgeAsync(CancellationToken cancellationToken = default) =>
        InChunksAsync(
            c =>
            {
                return c.Commands.Purge(c, c.QueueId(Name), Defaults.PurgeChunk);
            },
            progress: null,
            cancellationToken);

    /// <summary>Lists dead letters of this queue in id order.</summary>
    /// <param name="maxCount">The most dead letters to return, from 1 to 1000.</param>
    /// <param name="after">Return only dead letters with a larger id (for paging), or <see langword="null"/> to start at the first.</param>
    /// <param name="cancellationToken">A token to cancel the operation.</param>
    /// <returns>The dead letters; empty when there are none.</returns>
    public ValueTask<IReadOnlyList<DeadLetter>> GetDeadLettersAsync(int maxCount = 100, MessageId? after = null, CancellationToken cancellationToken = default)
    {
        Validate.MaxMessages(maxCount, nameof(maxCount));
        var afterId = after?.Value ?? 0;
        return _store.ReadAsync<IReadOnlyList<DeadLetter>>(r => r.DeadLetters(Name, afterId, maxCount), cancellationToken);
    }

    /// <summary>Reads one dead letter of this queue by id.</summary>
    /// <param name="id">The message id.</param>
    /// <param name="cancellationToken">A token to cancel the operation.</param>
    /// <returns>The dead letter, or <see langword="null"/> when there is none with that id.</returns>
    public ValueTask<DeadLetter?> GetDeadLetterAsync(MessageId id, CancellationToken cancellationToken = default) =>
        _store.ReadAsync(r => r.GetDeadLetter(Name, id.Value), cancellationToken);

    /// <summary>Moves a dead letter back into the queue with its attempts reset; it keeps its id and becomes ready now.</summary>
    /// <param name="id">The id of the dead letter.</param>
    /// <param name="cancellationToken">A token to cancel the operation before it reaches the writer.</param>
    /// <returns><see langword="true"/> when it was requeued; <see langword="false"/> when there is no such dead letter.</returns>
    public async ValueTask<bool> RequeueDeadLetterAsync(MessageId id, CancellationToken cancellationToken = default)
    {
        _store.ThrowIfDisposed();
        return await _store.WriteAsync(
            context =>
            {
                var requeued = _state.Admission.Requeue(context, _state, context.QueueId(Name), id.Value);
                if (requeued)
                {
                    context.AfterCommit(_state.Arrivals.Pulse);
                }

                return requeued;
            },
            cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Moves every dead letter of this queue back into it with attempts reset, in chunks.</summary>
    /// <param name="cancellationToken">A token to stop between chunks; chunks already committed stay requeued.</param>
    /// <returns>The number of messages requeued.</returns>
    public ValueTask<long> RequeueDeadLettersAsync(CancellationToken cancellationToken = default) =>
        RequeueDeadLettersAsync(progress: null, cancellationToken);

    /// <summary>Deletes every dead letter of this queue, in chunks.</summary>
    /// <param name="cancellationToken">A token to stop between chunks; chunks already committed stay purged.</param>
    /// <returns>The number of dead letters deleted.</returns>
    public ValueTask<long> PurgeDeadLettersAsync(CancellationToken cancellationToken = default) =>
        PurgeDeadLettersAsync(progress: null, cancellationToken);
}
