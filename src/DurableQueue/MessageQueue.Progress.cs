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
    public ValueTask<long> RequeueDeadLettersAsync(IProgress<long>? progress, CancellationToken cancellationToken = default) =>
        InChunksAsync(
            context =>
            {
                var queueId = context.QueueId(Name);
                var ids = context.Commands.DeadLetterIds(context, queueId, 0, Defaults.PurgeChunk);
                foreach (var id in ids)
                {
                    _state.Admission.Requeue(context, _state, queueId, id);
                }

                if (ids.Count > 0)
                {
                    context.AfterCommit(_state.Arrivals.Pulse);
                }

                return ids.Count;
            },
            progress,
            cancellationToken);

    /// <summary>
    /// Deletes every dead letter of this queue, in chunks, reporting the running total after each committed chunk.
    /// </summary>
    /// <param name="progress">Receives the number of dead letters deleted so far after each chunk, or <see langword="null"/>.</param>
    /// <param name="cancellationToken">A token to stop between chunks; chunks already committed stay purged.</param>
    /// <returns>The number of dead letters deleted.</returns>
    public ValueTask<long> PurgeDeadLettersAsync(IProgress<long>? progress, CancellationToken cancellationToken = default) =>
        InChunksAsync(c => c.Commands.PurgeDeadLetters(c, c.QueueId(Name), Defaults.PurgeChunk), progress, cancellationToken);

    /// <summary>
    /// Runs a bulk change as a series of writer requests of at most <see cref="Defaults.PurgeChunk"/> rows each, so that
    /// other writers move between chunks; stops when a chunk comes back short.
    /// </summary>
    private async ValueTask<long> InChunksAsync(Func<WriteContext, int> chunk, IProgress<long>? progress, CancellationToken cancellationToken)
    {
        long total = 0;
        while (true)
        {
            var done = await _store.WriteAsync(chunk, cancellationToken).ConfigureAwait(false);
            total += done;
            progress?.Report(total);
            if (done < Defaults.PurgeChunk)
            {
                return total;
            }
        }
    }
}
