namespace DurableQueue.Storage;

/// <summary>
/// A kind of request that the writer may run for several callers at once with set-based statements, on a backend where
/// every statement costs a round trip (<see cref="Driver.DriverCapabilities.GroupedWrites"/>): plain enqueues become one
/// INSERT, acks one DELETE. The writer runs the requests of a batch that share a group together, in one savepoint; when
/// the group fails (any of its requests would fail, or cannot be told apart from the others), the writer rolls the
/// savepoint back and runs each request on its own, as it would without grouping, so that a failing request still
/// fails alone and nothing else changes.
/// </summary>
internal abstract class WriteGroup
{
    /// <summary>
    /// Runs <paramref name="count"/> requests of <paramref name="batch"/> from <paramref name="start"/> (all of this
    /// group) and sets each one's result. Throws when any of them cannot complete so; the writer then undoes the group's
    /// changes and after-commit effects and runs the requests one by one.
    /// </summary>
    public abstract void Run(WriteContext context, List<WriteOperation> batch, int start, int count);

    /// <summary>
    /// Gets a value indicating whether the requests of this group may send their statements with the COMMIT
    /// (<see cref="WriteContext.DeferToCommit"/>) when every request of the batch can: their results are then set when
    /// the COMMIT's reply is read, and a statement that would fail makes the whole commit fail, after which the writer
    /// runs the batch again the ordinary way.
    /// </summary>
    public virtual bool DefersToCommit => false;
}
