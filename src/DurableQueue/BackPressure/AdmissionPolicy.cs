using DurableQueue.Internal;
using DurableQueue.Storage;
using DurableQueue.Storage.Driver;

namespace DurableQueue.BackPressure;

/// <summary>
/// How a queue admits new messages, chosen once when the store first sees the queue: unbounded (a plain insert),
/// under the store's database quota (an insert the quota check may undo), or bounded (the capacity check, and the
/// producer line of Wait mode). Every way a message enters a queue (enqueue, batch, unit of work, requeue of a dead
/// letter) asks the queue's policy, so no path checks bounds on its own.
/// </summary>
internal abstract class AdmissionPolicy
{
    public static AdmissionPolicy Choose(QueueStore store, QueueState state) =>
        state.Options.IsBounded ? new Bounded(store, store.CapacityOf(state))
        : store.HasDatabaseQuota ? Quota.Instance
        : Unbounded.Instance;

    /// <summary>Gets a value indicating whether admission never refuses: an enqueue is a plain insert.</summary>
    public virtual bool Unlimited => false;

    /// <summary>Gets the capacity state of a bounded queue, or null.</summary>
    public virtual CapacityState? Capacity => null;

    /// <summary>Inserts one message inside a unit of work (no waiting: a bounded queue that is full throws <see cref="QueueFullException"/>).</summary>
    public abstract MessageId EnqueueInTransaction(WriteContext context, QueueState state, long queueId, PendingMessage message);

    /// <summary>Moves a dead letter back into the queue if there is room (never waits, never drops); false when there is no such dead letter.</summary>
    public abstract bool Requeue(WriteContext context, QueueState state, long queueId, long id);

    /// <summary>No bound and no quota.</summary>
    private sealed class Unbounded : AdmissionPolicy
    {
        public static readonly Unbounded Instance = new();

        public override bool Unlimited => true;

        public override MessageId EnqueueInTransaction(WriteContext context, QueueState state, long queueId, PendingMessage message) =>
            context.Commands.Enqueue(context, queueId, message, out _);

        public override bool Requeue(WriteContext context, QueueState state, long queueId, long id) =>
            context.Commands.RequeueDeadLetter(context, queueId, id);
    }

    /// <summary>No bound on the queue, but a store quota that an insert may cross.</summary>
    private sealed class Quota : AdmissionPolicy
    {
        public static readonly Quota Instance = new();

        public override MessageId EnqueueInTransaction(WriteContext context, QueueState state, long queueId, PendingMessage message)
        {
            context.Session.Savepoint(SavepointNames.Admission);
            try
            {
                var id = Admission.InsertWithinQuota(context, queueId, message);
                context.Session.ReleaseSavepoint(SavepointNames.Admission);
                return id;
            }
            catch
            {
                Admission.UndoSavepoint(context);
                throw;
            }
        }

        public override bool Requeue(WriteContext context, QueueState state, long queueId, long id) =>
            context.Commands.RequeueDeadLetter(context, queueId, id);
    }

    /// <summary>A queue with MaxMessages and/or MaxBytes.</summary>
    private sealed class Bounded(QueueStore store, CapacityState capacity) : AdmissionPolicy
    {
        public override CapacityState Capacity => capacity;

        public override MessageId EnqueueInTransaction(WriteContext context, QueueState state, long queueId, PendingMessage message)
        {
            var result = Admission.Admit(context, capacity, queueId, [message], Admission.InsertWithinQuota, waiter: null, store.ReportDropped);
            if (!result.Admitted)
            {
                capacity.CountRejected();
                throw result.ToException(state.Name, result.Limit == QueueLimit.MaxBytes ? message.Body.Length : 1);
            }

            return result.Ids![0];
        }

        public override bool Requeue(WriteContext context, QueueState state, long queueId, long id)
        {
            if (Admission.Guard(context, capacity, queueId, () => context.Commands.RequeueDeadLetter(context, queueId, id), out var wrote) is { } full)
            {
                capacity.CountRejected();
                throw full.ToException(state.Name);
            }

            return wrote;
        }
    }
}
