using System.Runtime.CompilerServices;
using DurableQueue.Internal;

namespace DurableQueue;

public sealed partial class MessageQueue
{
    private static readonly TimeSpan s_streamWait = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Streams messages as they arrive, each under its own lease, leasing a few ahead so that a consumer that acks one
    /// by one does not wait for a receive commit each time.
    /// </summary>
    /// <param name="prefetch">How many messages to lease ahead, from 1 to 1000. Prefetched messages' leases run while they wait in the buffer.</param>
    /// <param name="visibilityTimeout">The visibility timeout of each lease, or <see langword="null"/> for the queue's default.</param>
    /// <param name="cancellationToken">A token that ends the stream.</param>
    /// <returns>An endless stream of leased messages; it ends when the token is cancelled or the consumer stops.</returns>
    /// <remarks>
    /// Settle each message as with <see cref="ReceiveAsync"/>. When the consumer stops enumerating (break, dispose or
    /// cancellation), messages that were leased ahead but never handed out are given back at once without spending an attempt.
    /// </remarks>
    public async IAsyncEnumerable<QueueMessage> ReceiveAllAsync(
        int prefetch = 8, TimeSpan? visibilityTimeout = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        Validate.MaxMessages(prefetch, nameof(prefetch));
        if (visibilityTimeout is { } timeout)
        {
            Validate.Timeout(timeout, nameof(visibilityTimeout));
        }

        var buffer = new Queue<QueueMessage>(prefetch);
        Task<IReadOnlyList<QueueMessage>>? pending = null;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        try
        {
            while (true)
            {
                // Lease the next batch while the consumer works on the current one.
                if (pending is null && buffer.Count <= prefetch / 2)
                {
                    pending = ReceiveAsync(prefetch - buffer.Count, visibilityTimeout, s_streamWait, stop.Token).AsTask();
                }

                if (buffer.Count == 0 || pending is { IsCompleted: true })
                {
                    var received = await pending!.ConfigureAwait(false);
                    pending = null;
                    foreach (var message in received)
                    {
                        buffer.Enqueue(message);
                    }

                    continue;
                }

                yield return buffer.Dequeue();
            }
        }
        finally
        {
            // Ends a receive still waiting for messages; one that already leased some completes with them.
            await stop.CancelAsync().ConfigureAwait(false);
            await HandBackAsync(buffer, pending).ConfigureAwait(false);
        }
    }

    private async Task HandBackAsync(Queue<QueueMessage> buffer, Task<IReadOnlyList<QueueMessage>>? pending)
    {
        var unused = new List<QueueMessage>(buffer);
        if (pending is not null)
        {
            try
            {
                unused.AddRange(await pending.ConfigureAwait(false));
            }
            catch (OperationCanceledException)
            {
            }
            catch (ObjectDisposedException)
            {
                return;
            }
        }

        foreach (var message in unused)
        {
            try
            {
                // Not the consumer's token: a stop must not lose the hand-back.
                await ReleaseAsync(message.Receipt, CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is LeaseLostException or ObjectDisposedException)
            {
                // Expired and taken by someone else, or the store closed: the lease runs out on its own.
            }
        }
    }
}
