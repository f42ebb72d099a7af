using DurableQueue.Internal;
using DurableQueue.Storage;

namespace DurableQueue;

public sealed partial class MessageQueue
{
    /// <summary>
    /// Moves every dead letter of this queue back into it with attempts reset, in chunks, reporting the running total
    /// after each committed chunk (for progress displays).
    /// </summary>
    /// <param name="progress">Receives the number of messages requeued so far after each chunk, or <see langword="null"/>.</param>
    /// <param name="cancellationToken">A token to stop between chunks; chunks already committed stay requeued.</param>
    /// <returns>The number of messages requeued.</returns>
    public async ValueTask<long> RequeueDeadLettersAsync(IProgress<long>? progress, CancellationToken cancellationToken = default)
    {
        long total = 0;
        while (true)
        {
            var moved = await _store.WriteAsync(
                context =>
                {
                    var queueId = context.QueueId(Name);
                    var ids = MessageCommands.DeadLetterIds(context, queueId, 0, Defaults.PurgeChunk);
                    foreach (var id in ids)
                    {
                        MessageCommands.RequeueDeadLetter(context, queueId, id);
                    }

                    if (ids.Count > 0)
                    {
                        context.AfterCommit(_state.Arrivals.Pulse);
                    }

                    return ids.Count;
                },
                cancellationToken).ConfigureAwait(false);
            total += moved;
            progress?.Report(total);
            if (moved < Defaults.PurgeChunk)
            {
                return total;
            }
        }
    }

    /// <summary>
    /// Deletes every dead letter of this queue, in chunks, reporting the running total after each committed chunk.
    /// </summary>
    /// <param name="progress">Receives the number of dead letters deleted so far after each chunk, or <see langword="null"/>.</param>
    /// <param name="cancellationToken">A token to stop between chunks; chunks already committed stay purged.</param>
    /// <returns>The number of dead letters deleted.</returns>
    public async ValueTask<long> PurgeDeadLettersAsync(IProgress<long>? progress, CancellationToken cancellationToken = default)
    {
        long total = 0;
        while (true)
        {
            var removed = await _store.WriteAsync(c => MessageCommands.PurgeDeadLetters(c, c.QueueId(Name), Defaults.PurgeChunk), cancellationToken)
                .ConfigureAwait(false);
            total += removed;
            progress?.Report(total);
            if (removed < Defaults.PurgeChunk)
            {
                return total;
            }
        }
    }
}
