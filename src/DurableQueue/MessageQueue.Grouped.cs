using DurableQueue.Internal;
using DurableQueue.Storage;

namespace DurableQueue;

public sealed partial class MessageQueue
{
    /// <summary>A plain enqueue (no deduplication key, no bound) as its group sees it.</summary>
    private sealed record EnqueueItem(MessageQueue Queue, PendingMessage Message);

    /// <summary>An ack of one receipt (<see cref="AckAsync(MessageReceipt, CancellationToken)"/>) or of several (<see cref="AckManyAsync"/>).</summary>
    private sealed record AckItem(MessageQueue Queue, MessageReceipt[] Receipts, bool Single);

    /// <summary>Plain enqueues of any queue of the store, inserted with one statement (see <see cref="WriteGroup"/>).</summary>
    private sealed class EnqueueGroup : WriteGroup
    {
        public static readonly EnqueueGroup Instance = new();

        public override bool DefersToCommit => true;

        public override void Run(WriteContext context, List<WriteOperation> batch, int start, int count)
        {
            var messages = new (long QueueId, PendingMessage Message)[count];
            for (var i = 0; i < count; i++)
            {
                var item = (EnqueueItem)batch[start + i].GroupItem!;
                messages[i] = (item.Queue.QueueIdOf(context), item.Message);
            }

            var ids = context.Commands.EnqueueMany(context, messages);
            var operations = batch.GetRange(start, count);
            if (context.DeferToCommit)
            {
                // The ids are read when the statement runs with the COMMIT.
                context.AfterCommit(() => SetResults(operations, ids));
            }
            else
            {
                SetResults(operations, ids);
            }

            MessageQueue? pulsed = null;
            for (var i = 0; i < count; i++)
            {
                var queue = ((EnqueueItem)batch[start + i].GroupItem!).Queue;
                if (!ReferenceEquals(queue, pulsed))
                {
                    context.AfterCommit(queue._state.Arrivals.Pulse);
                    pulsed = queue;
                }
            }
        }

        private static void SetResults(List<WriteOperation> operations, MessageId[] ids)
        {
            for (var i = 0; i < operations.Count; i++)
            {
                ((WriteOperation<MessageId>)operations[i]).SetResult(ids[i]);
            }
        }
    }

    /// <summary>
    /// Acks of any queue of the store, deleted with one fenced statement. When a receipt matched nothing (its lease was
    /// lost, or it belongs to another queue), or one receipt comes twice, the group fails and each ack runs on its own,
    /// which tells those cases apart exactly as it always did.
    /// </summary>
    private sealed class AckGroup : WriteGroup
    {
        public static readonly AckGroup Instance = new();

        /// <summary>
        /// Gets a value indicating that the acks may go with the COMMIT: the statement then makes the commit fail unless
        /// every receipt matched, and the writer runs the batch again the ordinary way.
        /// </summary>
        public override bool DefersToCommit => true;

        public override void Run(WriteContext context, List<WriteOperation> batch, int start, int count)
        {
            var receipts = new List<(string QueueName, MessageReceipt Receipt)>(count);
            var seen = new HashSet<MessageId>();
            for (var i = 0; i < count; i++)
            {
                var item = (AckItem)batch[start + i].GroupItem!;
                foreach (var receipt in item.Receipts)
                {
                    if (!seen.Add(receipt.Id))
                    {
                        throw new InvalidOperationException($"Message {receipt.Id} is acked twice in one batch.");
                    }

                    receipts.Add((item.Queue.Name, receipt));
                }
            }

            // With the COMMIT: every receipt matches or nothing commits, so the results below hold if it commits.
            var acked = context.Commands.TryAckMany(context, receipts);
            var missed = Array.IndexOf(acked, false);
            if (missed >= 0)
            {
                throw new InvalidOperationException($"The ack of message {receipts[missed].Receipt.Id} matched no leased message.");
            }

            for (var i = 0; i < count; i++)
            {
                var operation = batch[start + i];
                if (((AckItem)operation.GroupItem!).Single)
                {
                    ((WriteOperation<int>)operation).SetResult(0);
                }
                else
                {
                    ((WriteOperation<IReadOnlyList<MessageReceipt>>)operation).SetResult([]);
                }
            }
        }
    }

    /// <summary>A receive as its group sees it.</summary>
    private sealed record ReceiveItem(MessageQueue Queue, int MaxMessages, long VisibilityMs);

    /// <summary>
    /// Receives of any queue of the store. When everything else in the batch goes with the COMMIT too (one round trip
    /// for the whole batch), receives next to each other in the batch of one queue with one visibility timeout lease
    /// with one statement: as many messages as they ask for together, dealt out evenly (<see cref="EvenShares"/>) in
    /// delivery order, the first receive taking the head. They share one lease token; each message's receipt (its id and
    /// the token) is still its own. Otherwise each receive runs on its own.
    /// </summary>
    private sealed class ReceiveGroup : WriteGroup
    {
        public static readonly ReceiveGroup Instance = new();

        public override bool DefersToCommit => true;

        public override void Run(WriteContext context, List<WriteOperation> batch, int start, int count)
        {
            var end = start + count;
            if (!context.DeferToCommit)
            {
                for (var i = start; i < end; i++)
                {
                    batch[i].Execute(context);
                }

                return;
            }

            var first = start;
            while (first < end)
            {
                var item = (ReceiveItem)batch[first].GroupItem!;
                var last = first + 1;
                // At most MaxWriteBatch receives of MaxReceiveBatch messages each: far below int.MaxValue.
                var max = item.MaxMessages;
                while (last < end && batch[last].GroupItem is ReceiveItem next && next.Queue == item.Queue && next.VisibilityMs == item.VisibilityMs)
                {
                    max += next.MaxMessages;
                    last++;
                }

                var operations = batch.GetRange(first, last - first);
                var queue = item.Queue;
                context.Commands.ReceiveAtCommit(
                    context,
                    queue.Name,
                    queue.QueueIdOf(context),
                    max,
                    item.VisibilityMs,
                    (messages, nextVisibleAt) => DealOut(context, operations, messages, nextVisibleAt));
                first = last;
            }
        }

        /// <summary>
        /// Gives each receive its share of the leased messages (<see cref="EvenShares"/>), in delivery order; a receive that
        /// got fewer than it asked for learns when the queue's next message becomes ready.
        /// </summary>
        private static void DealOut(WriteContext context, List<WriteOperation> operations, List<QueueMessage> messages, long? nextVisibleAt)
        {
            var shares = EvenShares.Of(operations.ConvertAll(o => ((ReceiveItem)o.GroupItem!).MaxMessages), messages.Count);
            var taken = 0;
            for (var i = 0; i < operations.Count; i++)
            {
                var operation = operations[i];
                var item = (ReceiveItem)operation.GroupItem!;
                var mine = operations.Count == 1 ? messages : messages.GetRange(taken, shares[i]);
                taken += shares[i];
                item.Queue.NoteFinalLeases(context, mine);
                ((WriteOperation<(List<QueueMessage>, long?)>)operation).SetResult((mine, mine.Count < item.MaxMessages ? nextVisibleAt : null));
            }
        }
    }
}
