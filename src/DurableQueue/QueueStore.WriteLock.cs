namespace DurableQueue;

// Waiting for another connection's write lock: the report of a long wait.
public sealed partial class QueueStore
{
    /// <summary>
    /// Occurs when writes of this store have waited about a second for the file's write lock, which another connection
    /// holds; they go on waiting until <see cref="QueueStoreOptions.BusyTimeout"/> and then fail with a
    /// <see cref="StorageBusyException"/>. Raised at most once per writer transaction, on a thread-pool thread;
    /// DurableQueue.Hosting logs it as a warning.
    /// </summary>
    public event EventHandler<WriteLockWaitEventArgs>? WaitingForWriteLock;

    private void OnWaitingForWriteLock(TimeSpan waited)
    {
        if (WaitingForWriteLock is { } handler)
        {
            var args = new WriteLockWaitEventArgs(Path, waited, Options.BusyTimeout);
            // Off the writer thread: the writer is in the middle of its wait.
            ThreadPool.QueueUserWorkItem(static s => s.handler(s.store, s.args), (handler, store: this, args), preferLocal: false);
        }
    }
}
