using System.Collections.Immutable;
using System.Globalization;
using System.Text;
using FsCheck;
using FsCheck.Experimental;
using FsCheck.Fluent;

namespace DurableQueue.PropertyTests.Model;

/// <summary>
/// One step of a run. <see cref="Run"/> moves the model and records what the store must answer;
/// <see cref="Check"/> does the same on the real store, compares the answer, then compares the whole state.
/// </summary>
internal abstract class QueueOperation : Operation<QueueSut, QueueModel>
{
    public override QueueModel Run(QueueModel model) => Apply(model with { Expect = Expected.Nothing });

    public override Property Check(QueueSut sut, QueueModel model)
    {
        if (sut.Failed)
        {
            // An earlier step already failed; this run is a counter-example as it stands.
            return true.ToProperty();
        }

        try
        {
            Execute(sut, model);
            sut.Verify(model);
            return true.ToProperty();
        }
        catch (Exception ex)
        {
            sut.Failed = true;
            return false.ToProperty().Label($"{this} failed: {ex.GetType().Name}: {ex.Message}\n  model after the step: {model}");
        }
    }

    protected abstract QueueModel Apply(QueueModel model);

    protected abstract void Execute(QueueSut sut, QueueModel expected);

    protected static T Wait<T>(ValueTask<T> task) => task.AsTask().GetAwaiter().GetResult();

    protected static void Wait(ValueTask task) => task.AsTask().GetAwaiter().GetResult();

    protected static string Ms(long ms) => ms % 1000 == 0 ? $"{ms / 1000}s" : $"{ms}ms";

    /// <summary>Runs a settle that the model says must fail with a lost lease, or succeed.</summary>
    protected static bool ExpectLeaseOutcome(QueueModel expected, Action settle)
    {
        if (expected.Expect == Expected.LeaseLost)
        {
            try
            {
                settle();
            }
            catch (LeaseLostException)
            {
                return false;
            }

            throw new ModelMismatchException("the settle succeeded, but its lease was lost (stale receipt accepted)");
        }

        settle();
        return true;
    }
}

internal sealed record NewMessage(string Body, int Priority, long DelayMs, int? MaxAttempts)
{
    public EnqueueOptions Options => new()
    {
        Priority = Priority,
        Delay = DelayMs > 0 ? TimeSpan.FromMilliseconds(DelayMs) : null,
        MaxAttempts = MaxAttempts,
    };

    public (string, int, long, int?) Tuple => (Body, Priority, DelayMs, MaxAttempts);

    public override string ToString() =>
        $"p{Priority}{(DelayMs > 0 ? $" delay {DelayMs}ms" : "")}{(MaxAttempts is { } m ? $" max {m}" : "")}";
}

/// <summary>Which API an enqueue uses and which store it goes through.</summary>
/// <param name="Try">TryEnqueueAsync / TryEnqueueBatchAsync (null when full) instead of the throwing variants.</param>
/// <param name="Other">Through a second store opened on the same file (stands for another process).</param>
internal readonly record struct Route(bool Try, bool Other)
{
    public string Name(string operation) => $"{(Try ? "Try" : "")}{operation}";

    public string Suffix => Other ? " via other store" : "";
}

internal sealed class EnqueueOp(NewMessage message, Route route) : QueueOperation
{
    protected override QueueModel Apply(QueueModel model) => model.Enqueue([message.Tuple]);

    protected override void Execute(QueueSut sut, QueueModel expected)
    {
        var ids = sut.Admission(expected, route.Try, route.Other, async queue =>
        {
            if (route.Try)
            {
                return await queue.TryEnqueueAsync(message.Body, message.Options) is { } id ? [id] : null;
            }

            return [await queue.EnqueueAsync(message.Body, message.Options)];
        });
        sut.CheckAdmitted(expected, ids);
    }

    public override string ToString() => $"{route.Name("Enqueue")}({message}){route.Suffix}";
}

internal sealed class EnqueueBatchOp(ImmutableArray<NewMessage> messages, Route route) : QueueOperation
{
    protected override QueueModel Apply(QueueModel model) => model.Enqueue([.. messages.Select(m => m.Tuple)]);

    protected override void Execute(QueueSut sut, QueueModel expected)
    {
        var outgoing = messages.Select(m => new OutgoingMessage(Encoding.UTF8.GetBytes(m.Body), m.Options)).ToList();
        var ids = sut.Admission(expected, route.Try, route.Other, async queue =>
            route.Try ? await queue.TryEnqueueBatchAsync(outgoing) : await queue.EnqueueBatchAsync(outgoing));
        sut.CheckAdmitted(expected, ids);
    }

    public override string ToString() => $"{route.Name("EnqueueBatch")}({string.Join(", ", messages)}){route.Suffix}";
}

/// <summary>
/// A large batch (hundreds of messages, two priorities), so that the tier's pages of 256 rows, its refills and a
/// whole-queue reload after a foreign commit are exercised with more than one page.
/// </summary>
internal sealed class EnqueueBulkOp(int count) : QueueOperation
{
    private ImmutableArray<NewMessage> Messages =>
        [.. Enumerable.Range(0, count).Select(i => new NewMessage($"b{i % 1000}", i % 3 == 0 ? 2 : 4, 0, null))];

    protected override QueueModel Apply(QueueModel model) => model.Enqueue([.. Messages.Select(m => m.Tuple)]);

    protected override void Execute(QueueSut sut, QueueModel expected)
    {
        var outgoing = Messages.Select(m => new OutgoingMessage(Encoding.UTF8.GetBytes(m.Body), m.Options)).ToList();
        var ids = sut.Admission(expected, tryVariant: false, other: false, async queue => await queue.EnqueueBatchAsync(outgoing));
        sut.CheckAdmitted(expected, ids);
        Coverage.Count("bulk enqueues");
    }

    public override string ToString() => $"EnqueueBulk({count} messages, every third p2, the rest p4)";
}

internal sealed class ReceiveOp(int max, long visibilityMs, bool other = false) : QueueOperation
{
    protected override QueueModel Apply(QueueModel model) => model.Receive(max, visibilityMs);

    protected override void Execute(QueueSut sut, QueueModel expected)
    {
        var queue = other ? sut.OtherQueue : sut.Queue;
        sut.CheckDeliveries(Wait(queue.ReceiveAsync(max, TimeSpan.FromMilliseconds(visibilityMs))), expected);
        if (other)
        {
            Coverage.Count("receives via other store");
        }
    }

    public override string ToString() => $"Receive({max}, vis {Ms(visibilityMs)}){(other ? " via other store" : "")}";
}

/// <summary>
/// ReceiveAllAsync(prefetch): take a few messages, then stop. Taking at most half the prefetch (rounded up), and no
/// more than are ready, keeps it to exactly one leasing receive, so the messages leased ahead and handed back are known.
/// </summary>
internal sealed class StreamReceiveOp(int prefetch, int take, long visibilityMs) : QueueOperation
{
    public override bool Pre(QueueModel model) => take >= 1 && take <= (prefetch + 1) / 2 && take <= model.ReadyInOrder.Count();

    protected override QueueModel Apply(QueueModel model) => model.StreamReceive(prefetch, take, visibilityMs);

    protected override void Execute(QueueSut sut, QueueModel expected)
    {
        var taken = new List<QueueMessage>();
        async Task Consume()
        {
            await foreach (var message in sut.Queue.ReceiveAllAsync(prefetch, TimeSpan.FromMilliseconds(visibilityMs)))
            {
                taken.Add(message);
                if (taken.Count == take)
                {
                    break;
                }
            }
        }

        // Breaking out disposes the stream, which hands back what it leased ahead before this returns.
        // A safety net only: the messages are ready, so the stream delivers them at once.
        Consume().WaitAsync(TimeSpan.FromSeconds(60)).GetAwaiter().GetResult();

        sut.CheckDeliveries(taken, expected);
        Coverage.Count("ReceiveAll steps");
    }

    public override string ToString() => $"ReceiveAll(prefetch {prefetch}, take {take}, vis {Ms(visibilityMs)})";
}

internal sealed class AckOp(int receipt, bool stale, bool other = false) : QueueOperation
{
    public override bool Pre(QueueModel model) => model.Receipts.ContainsKey(receipt);

    protected override QueueModel Apply(QueueModel model) => model.Ack(receipt);

    protected override void Execute(QueueSut sut, QueueModel expected)
    {
        var delivery = sut.Delivery(receipt);
        if (ExpectLeaseOutcome(expected, () =>
            {
                if (other)
                {
                    sut.WithOtherStore(async queue => { await queue.AckAsync(delivery.Receipt); return true; });
                }
                else
                {
                    Wait(sut.Queue.AckAsync(delivery));
                }
            }))
        {
            sut.Settled(receipt, acked: true);
        }

        if (other)
        {
            Coverage.Count("acks via other store");
        }
    }

    public override string ToString() => $"{(stale ? "Stale" : "")}Ack(#{receipt}){(other ? " via other store" : "")}";
}

internal sealed class NackOp(int receipt, long delayMs, string? error, bool stale) : QueueOperation
{
    public override bool Pre(QueueModel model) => model.Receipts.ContainsKey(receipt);

    protected override QueueModel Apply(QueueModel model) => model.Nack(receipt, delayMs, error);

    protected override void Execute(QueueSut sut, QueueModel expected)
    {
        NackOutcome outcome = default;
        if (ExpectLeaseOutcome(expected, () => outcome = Wait(sut.Queue.NackAsync(sut.Delivery(receipt), TimeSpan.FromMilliseconds(delayMs), error))))
        {
            var want = expected.Expect.Outcome == "dead-lettered" ? NackOutcome.DeadLettered : NackOutcome.Retrying;
            QueueSut.Require(outcome == want, $"nack returned {outcome}, model {want}");
            sut.Settled(receipt, acked: false);
        }
    }

    public override string ToString() => $"{(stale ? "Stale" : "")}Nack(#{receipt}, retry {Ms(delayMs)}, error {error ?? "null"})";
}

internal sealed class ExtendOp(int receipt, long visibilityMs, bool stale) : QueueOperation
{
    public override bool Pre(QueueModel model) => model.Receipts.ContainsKey(receipt);

    protected override QueueModel Apply(QueueModel model) => model.Extend(receipt, visibilityMs);

    protected override void Execute(QueueSut sut, QueueModel expected)
    {
        DateTimeOffset until = default;
        if (ExpectLeaseOutcome(expected, () => until = Wait(sut.Queue.ExtendLeaseAsync(sut.Delivery(receipt).Receipt, TimeSpan.FromMilliseconds(visibilityMs)))))
        {
            QueueSut.Require(until.ToUnixTimeMilliseconds() == expected.Expect.Value, $"extend returned {until.ToUnixTimeMilliseconds()}, model {expected.Expect.Value}");
            sut.Extended(receipt, until.ToUnixTimeMilliseconds());
        }
    }

    public override string ToString() => $"{(stale ? "Stale" : "")}Extend(#{receipt}, vis {Ms(visibilityMs)})";
}

internal sealed class DeadLetterOp(int receipt, bool stale) : QueueOperation
{
    public override bool Pre(QueueModel model) => model.Receipts.ContainsKey(receipt);

    protected override QueueModel Apply(QueueModel model) => model.DeadLetter(receipt, "bad input");

    protected override void Execute(QueueSut sut, QueueModel expected)
    {
        if (ExpectLeaseOutcome(expected, () => Wait(sut.Queue.DeadLetterAsync(sut.Delivery(receipt).Receipt, "bad input"))))
        {
            sut.Settled(receipt, acked: false);
        }
    }

    public override string ToString() => $"{(stale ? "Stale" : "")}DeadLetter(#{receipt})";
}

internal sealed class RequeueOp(long? id) : QueueOperation
{
    protected override QueueModel Apply(QueueModel model) => model.RequeueDeadLetters(id);

    protected override void Execute(QueueSut sut, QueueModel expected)
    {
        long count;
        try
        {
            count = id is { } one
                ? Wait(sut.Queue.RequeueDeadLetterAsync(new MessageId(one))) ? 1 : 0
                : Wait(sut.Queue.RequeueDeadLettersAsync());
        }
        catch (QueueFullException ex)
        {
            QueueSut.Require(expected.Expect == Expected.Full && !ex.NeverFits, $"requeue threw QueueFullException (NeverFits={ex.NeverFits}), model {expected.Expect}");
            Coverage.Count("requeues refused (full)");
            return;
        }

        QueueSut.Require(expected.Expect != Expected.Full, $"requeued {count}, model: the queue is full");
        QueueSut.Require(count == expected.Expect.Value, $"requeued {count}, model {expected.Expect.Value}");
    }

    public override string ToString() => id is { } one ? $"RequeueDeadLetter({one})" : "RequeueDeadLetters()";
}

internal sealed class UnitOfWorkOp(ImmutableArray<NewMessage> messages, int? ackReceipt, bool commit, bool catchFull = false) : QueueOperation
{
    public override bool Pre(QueueModel model) => ackReceipt is not { } r || model.Receipts.ContainsKey(r);

    protected override QueueModel Apply(QueueModel model) => model.UnitOfWork([.. messages.Select(m => m.Tuple)], ackReceipt, commit, catchFull);

    protected override void Execute(QueueSut sut, QueueModel expected)
    {
        var ack = ackReceipt is { } r ? sut.Delivery(r) : null;
        IReadOnlyList<MessageId>? ids = null;
        Exception? failure = null;
        try
        {
            ids = Wait(sut.Store.ExecuteAsync(tx =>
            {
                QueueSut.Exec(tx.Connection, "INSERT INTO app_rows(note) VALUES (@note);", ("@note", "order"));
                var list = new List<MessageId>();
                foreach (var m in messages)
                {
                    try
                    {
                        list.Add(tx.Enqueue(QueueSut.QueueName, m.Body, m.Options));
                    }
                    catch (QueueFullException) when (catchFull)
                    {
                        // The refused enqueue must leave no row even though the unit goes on and commits.
                        Coverage.Count("unit-of-work enqueues refused and caught");
                    }
                }

                if (ack is not null)
                {
                    tx.Ack(ack);
                }

                return commit ? list : throw new DeliberateRollbackException();
            }));
        }
        catch (Exception ex) when (ex is LeaseLostException or DeliberateRollbackException or QueueFullException)
        {
            failure = ex;
        }

        switch (expected.Expect.Outcome)
        {
            case "full":
                QueueSut.Require(failure is QueueFullException { NeverFits: false }, $"unit of work gave {failure?.GetType().Name ?? "success"}, model: queue full");
                Coverage.Count("units of work refused (full)");
                break;
            case "lease-lost":
                QueueSut.Require(failure is LeaseLostException, $"unit of work gave {failure?.GetType().Name ?? "success"}, model: lease lost");
                break;
            case "rolled-back":
                QueueSut.Require(failure is DeliberateRollbackException, $"unit of work gave {failure?.GetType().Name ?? "success"}, model: rolled back");
                break;
            default:
                QueueSut.Require(failure is null, $"unit of work failed with {failure?.GetType().Name}, model: committed");
                QueueSut.Require(ids!.Select(i => i.Value).SequenceEqual(expected.Expect.Ids), "unit of work ids differ");
                sut.ConfirmEnqueued(ids!.Select(i => i.Value));
                sut.AwaitDropped(expected.Expect.DroppedOrEmpty);
                if (ackReceipt is { } acked)
                {
                    sut.Settled(acked, acked: true);
                }

                break;
        }
    }

    public override string ToString() =>
        $"UnitOfWork(app row, enqueue [{string.Join(", ", messages)}]{(catchFull ? " catching QueueFullException" : "")}{(ackReceipt is { } r ? $", ack #{r}" : "")}, {(commit ? "commit" : "throw")})";
}

internal sealed class AdvanceOp(long ms) : QueueOperation
{
    protected override QueueModel Apply(QueueModel model) => model.Advance(ms);

    protected override void Execute(QueueSut sut, QueueModel expected) => sut.Clock.Advance(TimeSpan.FromMilliseconds(ms));

    public override string ToString() => $"Advance({Ms(ms)})";
}

internal sealed class CrashOp : QueueOperation
{
    protected override QueueModel Apply(QueueModel model) => model with { Expect = Expected.Ok };

    protected override void Execute(QueueSut sut, QueueModel expected) => sut.CrashAndReopen();

    public override string ToString() => "CrashAndReopen";
}
