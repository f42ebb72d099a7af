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
    public override QueueModel Run(QueueModel model)
    {
        var after = Apply(model with { Expect = Expected.Nothing });
        // A commit of this store that removed live messages wakes the producers waiting for room.
        return after.AdmitWaiters(roomFreed: model.Live.Keys.Any(id => !after.Live.ContainsKey(id)));
    }

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
            sut.ResolveWaiters(model);
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

/// <summary>A message an operation enqueues, with every enqueue option the model follows.</summary>
/// <param name="DelayMs">Delay from the commit (0: none); not used when <paramref name="NotBeforeOffsetMs"/> is set.</param>
/// <param name="NotBeforeOffsetMs">NotBefore, as an offset from the moment of the call (may be in the past), or null.</param>
/// <param name="DedupKey">The deduplication key, or null.</param>
/// <param name="Header">The value of the one header "h", or null for no headers.</param>
internal sealed record NewMessage(
    string Body, int Priority, long DelayMs, int? MaxAttempts, long? NotBeforeOffsetMs = null, string? DedupKey = null, string? Header = null)
{
    /// <summary>Gets the headers as the model and the checks write them (<c>key=value</c>, ';'-joined), or null.</summary>
    public string? Headers => Header is null ? null : $"h={Header}";

    public EnqueueOptions Options(long nowMs) => new()
    {
        Priority = Priority,
        Delay = NotBeforeOffsetMs is null && DelayMs > 0 ? TimeSpan.FromMilliseconds(DelayMs) : null,
        NotBefore = NotBeforeOffsetMs is { } offset ? DateTimeOffset.FromUnixTimeMilliseconds(nowMs + offset) : null,
        MaxAttempts = MaxAttempts,
        DeduplicationKey = DedupKey,
        Headers = Header is null ? null : new Dictionary<string, string> { ["h"] = Header },
    };

    public override string ToString() =>
        $"p{Priority}{(NotBeforeOffsetMs is { } o ? $" notBefore {(o < 0 ? "" : "+")}{o}ms" : DelayMs > 0 ? $" delay {DelayMs}ms" : "")}" +
        $"{(MaxAttempts is { } m ? $" max {m}" : "")}{(DedupKey is { } k ? $" key {k}" : "")}{(Header is { } h ? $" h={h}" : "")}";
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
    protected override QueueModel Apply(QueueModel model) => model.Enqueue([message], mayWait: !route.Try, otherStore: route.Other);

    protected override void Execute(QueueSut sut, QueueModel expected)
    {
        var options = message.Options(sut.NowMs);
        if (expected.Expect.Outcome == "waiting")
        {
            sut.StartWaiter((int)expected.Expect.Value, async () => [await sut.Queue.EnqueueAsync(message.Body, options)]);
            return;
        }

        var ids = sut.Admission(expected, route.Try, route.Other, async queue =>
        {
            if (route.Try)
            {
                return await queue.TryEnqueueAsync(message.Body, options) is { } id ? [id] : null;
            }

            return [await queue.EnqueueAsync(message.Body, options)];
        });
        sut.CheckAdmitted(expected, ids);
    }

    public override string ToString() => $"{route.Name("Enqueue")}({message}){route.Suffix}";
}

internal sealed class EnqueueBatchOp(ImmutableArray<NewMessage> messages, Route route) : QueueOperation
{
    protected override QueueModel Apply(QueueModel model) => model.Enqueue(messages, mayWait: !route.Try, otherStore: route.Other);

    protected override void Execute(QueueSut sut, QueueModel expected)
    {
        var now = sut.NowMs;
        var outgoing = messages.Select(m => new OutgoingMessage(Encoding.UTF8.GetBytes(m.Body), m.Options(now))).ToList();
        if (expected.Expect.Outcome == "waiting")
        {
            sut.StartWaiter((int)expected.Expect.Value, async () => await sut.Queue.EnqueueBatchAsync(outgoing));
            return;
        }

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

    protected override QueueModel Apply(QueueModel model) => model.Enqueue(Messages);

    protected override void Execute(QueueSut sut, QueueModel expected)
    {
        var outgoing = Messages.Select(m => new OutgoingMessage(Encoding.UTF8.GetBytes(m.Body), m.Options(sut.NowMs))).ToList();
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
                ? Wait(sut.Queue.RequeueDeadLetterAsync(new MessageId(sut.StoreId(one)))) ? 1 : 0
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

    protected override QueueModel Apply(QueueModel model) => model.UnitOfWork(messages, ackReceipt, commit, catchFull);

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
                        list.Add(tx.Enqueue(QueueSut.QueueName, m.Body, m.Options(tx.Now.ToUnixTimeMilliseconds())));
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
                sut.LearnIds(expected.Expect.Ids, ids!, "unit of work");
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

    protected override void Execute(QueueSut sut, QueueModel expected)
    {
        sut.Clock.Advance(TimeSpan.FromMilliseconds(ms));
        // Last-attempt leases that expired must be dead-lettered by the stores' sweep timers, not by a later read or
        // write (every batch sweeps first, which would hide a broken timer): wait for exactly that, reading the file.
        sut.AwaitTimerSweep(expected);
    }

    public override string ToString() => $"Advance({Ms(ms)})";
}

internal sealed class CrashOp : QueueOperation
{
    protected override QueueModel Apply(QueueModel model) => model with { Waiters = [], Expect = Expected.Ok };

    protected override void Execute(QueueSut sut, QueueModel expected) => sut.CrashAndReopen();

    public override string ToString() => "CrashAndReopen";
}

internal sealed class AckManyOp(ImmutableArray<int> receipts) : QueueOperation
{
    public override bool Pre(QueueModel model) => receipts.All(model.Receipts.ContainsKey);

    protected override QueueModel Apply(QueueModel model) => model.AckMany(receipts);

    protected override void Execute(QueueSut sut, QueueModel expected)
    {
        var lost = Wait(sut.Queue.AckManyAsync(receipts.Select(r => sut.Delivery(r).Receipt)));
        var want = expected.Expect.Ids.Select(r => sut.Delivery((int)r).Receipt).ToList();
        QueueSut.Require(lost.SequenceEqual(want), $"AckMany returned {lost.Count} lost receipts, model {want.Count}");
        foreach (var receipt in receipts.Where(r => !expected.Expect.Ids.Contains(r)))
        {
            sut.Settled(receipt, acked: true);
        }

        Coverage.Count(lost.Count > 0 ? "AckMany with lost receipts" : "AckMany all acked");
    }

    public override string ToString() => $"AckMany({string.Join(", ", receipts.Select(r => $"#{r}"))})";
}

internal sealed class PurgeOp : QueueOperation
{
    protected override QueueModel Apply(QueueModel model) => model.Purge();

    protected override void Execute(QueueSut sut, QueueModel expected)
    {
        var removed = Wait(sut.Queue.PurgeAsync());
        QueueSut.Require(removed == expected.Expect.Value, $"purge removed {removed}, model {expected.Expect.Value}");
        sut.Purged(expected.Expect.Ids);
        Coverage.Count("purges");
    }

    public override string ToString() => "Purge()";
}

/// <summary>Where a crash lands in the WAL frames of the write that is committing.</summary>
internal enum CrashCut
{
    /// <summary>Before any frame of the commit reached the file.</summary>
    Before,

    /// <summary>Part way through the frames (a torn frame at the end): the commit frame is missing.</summary>
    Torn,

    /// <summary>After the last frame, the commit frame included: the write landed.</summary>
    After,
}

/// <summary>
/// A crash in the middle of a write: an enqueue batch (or an ack of held receipts) goes to the file, and the process
/// is taken to have died while the write's WAL frames were being written. The crash image is the database file as it
/// was when the commit started plus the WAL cut before, inside or after the commit's frames; the store reopens it
/// (SQLite recovers the WAL) and must hold the state before the write, or after it when the cut kept every frame.
/// The caller never got an answer, so nothing of the write counts as confirmed.
/// </summary>
internal sealed class CrashDuringWriteOp(ImmutableArray<NewMessage> messages, ImmutableArray<int> acks, CrashCut cut, int tornPermille) : QueueOperation
{
    // No producers waiting: an ack would let them in with commits of their own right after the write's.
    public override bool Pre(QueueModel model) =>
        model.Waiters.IsEmpty && acks.All(model.Receipts.ContainsKey) && (acks.IsEmpty ? Written(model) is { Expect.Outcome: "enqueued" } w && w.Expect.DroppedOrEmpty.IsEmpty : acks.All(model.Holds));

    private QueueModel Written(QueueModel model) => acks.IsEmpty ? model.Enqueue(messages) : model.AckMany(acks);

    protected override QueueModel Apply(QueueModel model) => model.CrashedDuring(Written(model), landed: cut == CrashCut.After);

    protected override void Execute(QueueSut sut, QueueModel expected)
    {
        // Before the crash the model's state is the one before the write; a write id missing from it is a new row.
        var changesRows = !acks.IsEmpty || expected.Expect.Ids.Any(id => !expected.Live.ContainsKey(id));
        var ids = sut.CrashDuringWrite(
            cut,
            tornPermille,
            changesRows,
            async queue => acks.IsEmpty
                ? await queue.EnqueueBatchAsync(messages.Select(m => new OutgoingMessage(Encoding.UTF8.GetBytes(m.Body), m.Options(sut.NowMs))).ToList())
                : await AckAll(queue, sut));
        if (cut == CrashCut.After && acks.IsEmpty)
        {
            // The write landed: its messages are in the tables under the ids it returned (never confirmed to a caller).
            sut.LearnIds(expected.Expect.Ids, ids!, "the enqueue that landed before the crash");
        }

        if (cut == CrashCut.After)
        {
            // The acks are in the file: those messages are gone for good, and must never come back.
            foreach (var receipt in acks)
            {
                sut.Settled(receipt, acked: true);
            }
        }
    }

    private async Task<IReadOnlyList<MessageId>?> AckAll(MessageQueue queue, QueueSut sut)
    {
        QueueSut.Require((await queue.AckManyAsync(acks.Select(r => sut.Delivery(r).Receipt))).Count == 0, "an ack of a held receipt was refused");
        return null;
    }

    public override string ToString() =>
        $"CrashDuringWrite({(acks.IsEmpty ? $"EnqueueBatch({string.Join(", ", messages)})" : $"AckMany({string.Join(", ", acks.Select(r => $"#{r}"))})")}, " +
        $"cut {cut}{(cut == CrashCut.Torn ? $" at {tornPermille}‰" : "")})";
}
