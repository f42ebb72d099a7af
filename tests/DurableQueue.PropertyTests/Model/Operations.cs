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

internal sealed class EnqueueOp(NewMessage message) : QueueOperation
{
    protected override QueueModel Apply(QueueModel model) => model.Enqueue([message.Tuple]);

    protected override void Execute(QueueSut sut, QueueModel expected)
    {
        var id = Wait(sut.Queue.EnqueueAsync(message.Body, message.Options));
        QueueSut.Require(id.Value == expected.Expect.Ids[0], $"enqueue returned id {id}, model {expected.Expect.Ids[0]}");
        sut.ConfirmEnqueued([id.Value]);
    }

    public override string ToString() => $"Enqueue({message})";
}

internal sealed class EnqueueBatchOp(ImmutableArray<NewMessage> messages) : QueueOperation
{
    protected override QueueModel Apply(QueueModel model) => model.Enqueue([.. messages.Select(m => m.Tuple)]);

    protected override void Execute(QueueSut sut, QueueModel expected)
    {
        var ids = Wait(sut.Queue.EnqueueBatchAsync(messages.Select(m => new OutgoingMessage(Encoding.UTF8.GetBytes(m.Body), m.Options))));
        QueueSut.Require(ids.Select(i => i.Value).SequenceEqual(expected.Expect.Ids), $"batch returned [{string.Join(",", ids)}], model [{string.Join(",", expected.Expect.Ids)}]");
        sut.ConfirmEnqueued(ids.Select(i => i.Value));
    }

    public override string ToString() => $"EnqueueBatch({string.Join(", ", messages)})";
}

internal sealed class ReceiveOp(int max, long visibilityMs) : QueueOperation
{
    protected override QueueModel Apply(QueueModel model) => model.Receive(max, visibilityMs);

    protected override void Execute(QueueSut sut, QueueModel expected)
    {
        var messages = Wait(sut.Queue.ReceiveAsync(max, TimeSpan.FromMilliseconds(visibilityMs)));
        var ids = messages.Select(m => m.Id.Value).ToList();
        QueueSut.Require(ids.SequenceEqual(expected.Expect.Ids), $"received [{string.Join(",", ids)}], model (in delivery order) [{string.Join(",", expected.Expect.Ids)}]");
        var firstReceipt = expected.NextReceipt - messages.Count;
        for (var i = 0; i < messages.Count; i++)
        {
            var m = messages[i];
            var model = expected.Live[m.Id.Value];
            QueueSut.Require(m.Attempt == model.Attempts && m.MaxAttempts == model.MaxAttempts && m.IsLastAttempt == (model.Attempts >= model.MaxAttempts),
                $"message {m.Id} attempt {m.Attempt}/{m.MaxAttempts}, model {model.Attempts}/{model.MaxAttempts}");
            QueueSut.Require(m.GetBodyAsString() == model.Body && m.Priority == model.Priority, $"message {m.Id} body/priority differ");
            QueueSut.Require(m.LeaseExpiresAt.ToUnixTimeMilliseconds() == model.VisibleAt, $"message {m.Id} lease expiry differs");
            sut.Received(firstReceipt + i, m);
        }
    }

    public override string ToString() => $"Receive({max}, vis {Ms(visibilityMs)})";
}

internal sealed class AckOp(int receipt, bool stale) : QueueOperation
{
    public override bool Pre(QueueModel model) => model.Receipts.ContainsKey(receipt);

    protected override QueueModel Apply(QueueModel model) => model.Ack(receipt);

    protected override void Execute(QueueSut sut, QueueModel expected)
    {
        if (ExpectLeaseOutcome(expected, () => Wait(sut.Queue.AckAsync(sut.Delivery(receipt)))))
        {
            sut.Settled(receipt, acked: true);
        }
    }

    public override string ToString() => $"{(stale ? "Stale" : "")}Ack(#{receipt})";
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
        long count = id is { } one
            ? Wait(sut.Queue.RequeueDeadLetterAsync(new MessageId(one))) ? 1 : 0
            : Wait(sut.Queue.RequeueDeadLettersAsync());
        QueueSut.Require(count == expected.Expect.Value, $"requeued {count}, model {expected.Expect.Value}");
    }

    public override string ToString() => id is { } one ? $"RequeueDeadLetter({one})" : "RequeueDeadLetters()";
}

internal sealed class UnitOfWorkOp(ImmutableArray<NewMessage> messages, int? ackReceipt, bool commit) : QueueOperation
{
    public override bool Pre(QueueModel model) => ackReceipt is not { } r || model.Receipts.ContainsKey(r);

    protected override QueueModel Apply(QueueModel model) => model.UnitOfWork([.. messages.Select(m => m.Tuple)], ackReceipt, commit);

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
                var list = messages.Select(m => tx.Enqueue(QueueSut.QueueName, m.Body, m.Options)).ToList();
                if (ack is not null)
                {
                    tx.Ack(ack);
                }

                return commit ? list : throw new DeliberateRollbackException();
            }));
        }
        catch (Exception ex) when (ex is LeaseLostException or DeliberateRollbackException)
        {
            failure = ex;
        }

        switch (expected.Expect.Outcome)
        {
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
                if (ackReceipt is { } acked)
                {
                    sut.Settled(acked, acked: true);
                }

                break;
        }
    }

    public override string ToString() =>
        $"UnitOfWork(app row, enqueue [{string.Join(", ", messages)}]{(ackReceipt is { } r ? $", ack #{r}" : "")}, {(commit ? "commit" : "throw")})";
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
