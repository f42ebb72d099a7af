using System.Data.Common;
using DurableQueue.BackPressure;

namespace DurableQueue.Storage.Driver;

/// <summary>
/// One storage backend of a store (SQLite file, PostgreSQL database). The queue core (the store, the queue
/// handle, the unit of work, admission and the background duties) talks to a backend through this interface and
/// the ones it hands out, and never through a connection of its own. A driver is made by the backend's factory
/// (<c>QueueStore.Open(path)</c> for SQLite; the PostgreSQL package for PostgreSQL) after the schema is ready.
/// </summary>
/// <remarks>
/// Threading: <see cref="OpenWriteSession"/> is called once per store; that session is used by one thread at a time
/// (the store's writer thread, or a caller leading a commit on its own thread; see <see cref="IWriteSession"/>).
/// <see cref="Read{T}"/> may be called from any thread at once. Every method may throw the
/// driver's mapped exceptions (<see cref="StorageBusyException"/>, <see cref="StorageFullException"/>,
/// <see cref="StorageUnavailableException"/>, ...), never a raw provider exception where a typed one applies.
/// </remarks>
internal interface IStorageDriver : IDisposable
{
    /// <summary>Gets what the store shows as its location: a full file path, or a PostgreSQL database without its password.</summary>
    string Location { get; }

    /// <summary>Gets what the backend can do beyond the common contract.</summary>
    DriverCapabilities Capabilities { get; }

    /// <summary>Gets the SQL dialect of the backend, for layers above the core that keep tables of their own (the hosting package's jobs).</summary>
    StorageKind Kind { get; }

    /// <summary>Opens the store's one write session (connection + transaction control + statements).</summary>
    IWriteSession OpenWriteSession();

    /// <summary>Runs a read on a short-lived reader connection (or a pooled one) and returns its result.</summary>
    T Read<T>(Func<IStoreReader, T> read);

    /// <summary>
    /// Runs SQL of a layer above the core (the hosting package's job tables) on a reader connection. The connection
    /// resolves unqualified <c>dq_</c> table names to the store's tables (PostgreSQL: the store's schema is first on
    /// the search path), exactly as the write session's <see cref="IWriteSession.Connection"/> does.
    /// </summary>
    T ReadConnection<T>(Func<DbConnection, T> read);

    /// <summary>
    /// Starts noticing commits made by other connections (other processes or hosts) and calls
    /// <paramref name="onForeignCommit"/> when there were any (SQLite: <c>data_version</c> polled every
    /// <c>PollInterval</c>; PostgreSQL: LISTEN/NOTIFY with a slow safety poll). Returns the watcher; dispose it to stop.
    /// </summary>
    IDisposable WatchForeignCommits(Action onForeignCommit);

    /// <summary>
    /// Called when a receiver found nothing and is about to wait on a queue, so that commits by other connections wake
    /// it. Returns true when the backend just told the other connections about this store's waiting receivers (then
    /// the receiver must look at the queue once more before it waits: a commit made before they knew sent it no
    /// wake-up). SQLite: nothing to tell (the watcher polls), always false. PostgreSQL: the store's row in
    /// <c>dq_waiters</c>, written when it is missing or getting old, which commits of other stores read to decide
    /// whether to NOTIFY. Takes at most about <paramref name="within"/> (the receiver's remaining wait, real time; at
    /// least a moment): an announcement that cannot be made in that time (no pooled connection free, a slow server) is
    /// given up and counted, and the receiver waits all the same.
    /// </summary>
    ValueTask<bool> AnnounceWaitAsync(string queueName, TimeSpan within, CancellationToken cancellationToken);

    /// <summary>Runs the periodic maintenance on the write session, between transactions (checkpoints, vacuum).</summary>
    void RunMaintenance(IWriteSession session);

    /// <summary>Compacts the store on the write session, between transactions.</summary>
    CompactionResult Compact(IWriteSession session);

    /// <summary>Translates a provider exception into the library's typed exceptions (or returns it unchanged).</summary>
    Exception MapError(Exception exception);

    /// <summary>Called once when the store closes, after the writer stopped: final checkpoint, pools cleared.</summary>
    void Close(IWriteSession session);
}

/// <summary>The SQL dialect of a backend.</summary>
internal enum StorageKind
{
    /// <summary>A SQLite database file.</summary>
    Sqlite,

    /// <summary>A PostgreSQL database.</summary>
    Postgres,
}

/// <summary>What a backend supports beyond the common contract.</summary>
/// <param name="StatementRollback">
/// A failing statement leaves the transaction usable and undoes only itself (SQLite), so a request that makes one
/// row change as its last step may run without a savepoint. PostgreSQL aborts the whole transaction on any error:
/// every request needs its savepoint there.
/// </param>
/// <param name="MemoryTier">The memory tier may cache the head of each queue (one writer owns the data: SQLite).</param>
/// <param name="DatabaseQuota">The store can enforce <c>MaxDatabaseBytes</c>.</param>
/// <param name="CommitOutcomeKnown">
/// A COMMIT that reports an error never landed where any connection can see it, so no commit marker could ever prove
/// otherwise and the writer writes none (<see cref="IWriteSession.Commit"/> is called with <c>mark: false</c>). SQLite in
/// WAL mode: the WAL index that makes a commit visible is updated only after the commit's frames were written (and,
/// with <c>synchronous=FULL</c>, synced), and nothing after that point can fail. PostgreSQL: false (a connection lost
/// after COMMIT was sent leaves the outcome open).
/// </param>
/// <param name="GroupedWrites">
/// The writer gathers requests of one kind from several callers into set-based statements (<see cref="WriteGroup"/>):
/// worth it where each statement is a round trip to a server (PostgreSQL), not on an embedded file, where a statement
/// costs microseconds and a savepoint per group would cost more than it saves.
/// </param>
/// <param name="AsyncCommit">
/// A caller that leads a commit awaits its round trip instead of blocking in it (<see cref="IWriteSession.CommitAsync"/>):
/// worth it where the commit waits for a server's reply, not on an embedded file, whose commit is a call on the caller's
/// thread.
/// </param>
internal readonly record struct DriverCapabilities(
    bool StatementRollback, bool MemoryTier, bool DatabaseQuota, bool CommitOutcomeKnown = false, bool GroupedWrites = false, bool AsyncCommit = false);

/// <summary>
/// The writer's connection and the control of its batch transaction. Used by one thread at a time: the writer thread,
/// or a caller leading a commit on its own thread (the writer hands the session from leader to leader under a lock, so
/// a driver needs no locking of its own, but must not keep thread-affine state). The writer calls <see cref="Begin"/>
/// (or <see cref="TryBegin"/>), then per request <see cref="Savepoint"/> .. <see cref="ReleaseSavepoint"/> (or
/// <see cref="RollbackToSavepoint"/>), then <see cref="Commit"/> (or <see cref="Rollback"/>).
/// </summary>
internal interface IWriteSession : IDisposable
{
    /// <summary>Gets the connection the batch runs on; a unit of work hands it to the app for its own SQL.</summary>
    DbConnection Connection { get; }

    /// <summary>Gets the statements of this backend.</summary>
    IMessageCommands Commands { get; }

    /// <summary>
    /// Gets or sets a value indicating whether app code (a unit-of-work callback) is running on the connection; while
    /// it is, the session refuses to let that code end the batch transaction where the backend allows a guard.
    /// </summary>
    bool InCallerCode { get; set; }

    /// <summary>
    /// Begins the batch transaction, waiting for another connection's write lock at most until
    /// <paramref name="deadline"/> (a <see cref="System.Diagnostics.Stopwatch"/> timestamp; one attempt without waiting
    /// when it has passed). The writer computes the deadline from its requests' <c>BusyTimeout</c>.
    /// </summary>
    /// <exception cref="StorageBusyException">The lock was still held at the deadline; nothing was begun.</exception>
    void Begin(long deadline);

    /// <summary>
    /// Begins the batch transaction if that needs no wait, and returns true; returns false, with nothing begun, when
    /// another connection holds the write lock. A caller that leads a commit on its own thread uses it, so that it never
    /// blocks in the busy wait (the writer thread waits instead). A backend whose BEGIN never waits returns <c>Begin()</c>'s
    /// outcome: true, or the exception (the default).
    /// </summary>
    bool TryBegin()
    {
        // A deadline already reached: one attempt without waiting.
        Begin(System.Diagnostics.Stopwatch.GetTimestamp());
        return true;
    }

    /// <summary>Gets a value indicating whether the batch transaction is still open (an I/O error may have ended it).</summary>
    bool TransactionActive { get; }

    /// <summary>
    /// Returns whether another connection (another process or host) may have committed since the previous call (the
    /// first call returns true). The writer asks at most once per batch, inside its transaction, and only where the
    /// answer saves work (the memory tier's cache, the final-lease sweep). SQLite: <c>PRAGMA data_version</c>, which
    /// changes only for other connections' commits; a backend that cannot tell cheaply returns true (the default).
    /// </summary>
    bool ForeignCommitsSinceLastCheck() => true;

    /// <summary>Gets how many round trips to a database server the session made so far (-1 for an embedded file, where there are none).</summary>
    long RoundTrips => -1;

    /// <summary>Gets a counter of row changes made on this connection (only differences are meaningful), or -1 when the backend cannot tell.</summary>
    long ChangeCount { get; }

    /// <summary>Opens a savepoint named <paramref name="name"/> (nested savepoints are allowed).</summary>
    void Savepoint(string name);

    /// <summary>Releases the savepoint <paramref name="name"/>, keeping what it did.</summary>
    void ReleaseSavepoint(string name);

    /// <summary>Rolls back to the savepoint <paramref name="name"/> and releases it.</summary>
    void RollbackToSavepoint(string name);

    /// <summary>
    /// Commits the batch. When <paramref name="mark"/> is set, it first records a commit marker so that a commit
    /// whose outcome is unclear (an error after COMMIT was sent) can be re-read: the method returns normally when the
    /// marker shows the commit landed, and throws when it did not.
    /// </summary>
    void Commit(bool mark);

    /// <summary>
    /// <see cref="Commit"/>, awaiting the round trip where the backend has one (see <see cref="DriverCapabilities.AsyncCommit"/>);
    /// the default commits on the calling thread.
    /// </summary>
    ValueTask CommitAsync(bool mark)
    {
        Commit(mark);
        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// Returns whether <paramref name="exception"/>, thrown by <see cref="Commit"/>, means that the server refused a
    /// statement sent with the COMMIT: nothing of the batch committed, and the session is ready for the next batch.
    /// </summary>
    bool CommitRefused(Exception exception) => false;

    /// <summary>
    /// Returns whether <paramref name="exception"/> means that the server broke a lock conflict between this batch and
    /// another connection's transaction by failing this one (a deadlock, a serialization failure): nothing of the batch
    /// may commit, but the same batch run again from its start can succeed, since rolling it back released what the
    /// other transaction waited for. A lock wait that timed out is not one (its bound is the store's BusyTimeout).
    /// </summary>
    bool IsTransientConflict(Exception exception) => false;

    /// <summary>Rolls the batch back if it is still open; never throws.</summary>
    void Rollback();

    /// <summary>Translates a provider exception into the library's typed exceptions (or returns it unchanged).</summary>
    Exception Map(Exception exception);
}

/// <summary>
/// The queue's writes, run by the writer inside the batch transaction. Every settle is fenced by the lease token and
/// the queue: a row whose token differs is not touched and <see cref="LeaseLostException"/> is thrown; a receipt whose
/// lease is alive in another queue touches nothing either and throws <see cref="ArgumentException"/> (a settle through
/// the wrong queue handle). Times are unix
/// milliseconds from the store's clock (<see cref="WriteContext.Now"/>), never the database's own clock.
/// </summary>
internal interface IMessageCommands
{
    /// <summary>Returns the id of the queue named <paramref name="name"/>, creating its row if needed.</summary>
    long QueueId(WriteContext context, string name);

    /// <summary>
    /// Inserts a message; with a deduplication key that is live, returns the existing message's id, adds nothing and
    /// sets <paramref name="inserted"/> to false.
    /// </summary>
    MessageId Enqueue(WriteContext context, long queueId, in PendingMessage message, out bool inserted);

    /// <summary>
    /// Leases up to <paramref name="max"/> ready messages in delivery order (priority, visible_at, id), counting an
    /// attempt each; <paramref name="nextVisibleAt"/> is the next time a message of the queue becomes ready when fewer
    /// than <paramref name="max"/> were found (null when none is waiting, or when <paramref name="max"/> were found).
    /// </summary>
    List<QueueMessage> Receive(WriteContext context, string queueName, long queueId, int max, long visibilityMs, out long? nextVisibleAt);

    /// <summary>
    /// Leases as <see cref="Receive"/> does, with the statements sent with the COMMIT (<see cref="WriteContext.DeferToCommit"/>):
    /// <paramref name="leased"/> gets the messages and the next ready time when they ran, before the commit returns. Only
    /// a backend with grouped writes (<see cref="DriverCapabilities.GroupedWrites"/>) is asked.
    /// </summary>
    void ReceiveAtCommit(WriteContext context, string queueName, long queueId, int max, long visibilityMs, Action<List<QueueMessage>, long?> leased) =>
        throw new NotSupportedException("This backend runs every receive at once.");

    /// <summary>
    /// Inserts messages that have no deduplication key, in order, and returns their ids in the same order (ascending).
    /// A backend that can does it in one statement; the others insert them one by one (<see cref="OneByOne"/>). With
    /// <see cref="WriteContext.DeferToCommit"/>, a backend may send the statement with the COMMIT and fill the returned
    /// array in when it ran (read it in an after-commit action).
    /// </summary>
    MessageId[] EnqueueMany(WriteContext context, IReadOnlyList<(long QueueId, PendingMessage Message)> messages);

    /// <summary>Deletes the leased message.</summary>
    void Ack(WriteContext context, string queueName, MessageReceipt receipt);

    /// <summary>
    /// Deletes the leased messages whose receipts still hold their lease in the named queue, each fenced as
    /// <see cref="Ack"/> is, and returns which were deleted; a receipt that matched nothing changes nothing and is left
    /// to the caller to look at (<see cref="Ack"/> tells why). A backend that can does it in one statement; the others
    /// ack them one by one (<see cref="OneByOne"/>). The receipts must be distinct. With <see cref="WriteContext.DeferToCommit"/>,
    /// a backend may send the statement with the COMMIT, which then fails unless every receipt matched, and return all
    /// true.
    /// </summary>
    bool[] TryAckMany(WriteContext context, IReadOnlyList<(string QueueName, MessageReceipt Receipt)> receipts);

    /// <summary>Makes the leased message ready again after <paramref name="retryAfterMs"/>, or dead-letters it after its last attempt.</summary>
    NackOutcome Nack(WriteContext context, string queueName, MessageReceipt receipt, long retryAfterMs, string? error);

    /// <summary>Extends the lease to now + <paramref name="visibilityMs"/>; returns the new expiry.</summary>
    long Extend(WriteContext context, string queueName, MessageReceipt receipt, long visibilityMs);

    /// <summary>Moves the leased message to the dead letters with <paramref name="reason"/>.</summary>
    void DeadLetter(WriteContext context, string queueName, MessageReceipt receipt, string reason);

    /// <summary>Hands the leased message back at once without spending its attempt (graceful shutdown).</summary>
    void Release(WriteContext context, string queueName, MessageReceipt receipt);

    /// <summary>Dead-letters every expired lease on its last attempt (of every queue); returns how many moved.</summary>
    int SweepExpiredFinalLeases(WriteContext context);

    /// <summary>Returns the earliest expiry of a lease on its last attempt, or null when there is none.</summary>
    long? NextFinalLeaseExpiry(WriteContext context);

    /// <summary>Moves a dead letter back into its queue with its attempts reset; false when there is no such dead letter.</summary>
    bool RequeueDeadLetter(WriteContext context, long queueId, long id);

    /// <summary>Returns up to <paramref name="limit"/> dead-letter ids of the queue greater than <paramref name="after"/>, ascending.</summary>
    List<long> DeadLetterIds(WriteContext context, long queueId, long after, int limit);

    /// <summary>Deletes up to <paramref name="limit"/> live messages of the queue (leased ones too); returns how many.</summary>
    int Purge(WriteContext context, long queueId, int limit);

    /// <summary>Deletes one live message of the queue by id, whatever its state (a leased one too); false when there is none.</summary>
    bool DeleteLive(WriteContext context, long queueId, long id);

    /// <summary>Deletes up to <paramref name="limit"/> dead letters of the queue; returns how many.</summary>
    int PurgeDeadLetters(WriteContext context, long queueId, int limit);

    /// <summary>Reads the queue's running totals that bounded queues check (kept in step with every change).</summary>
    QueueStatsRow QueueStats(WriteContext context, long queueId);

    /// <summary>Returns the ready messages of the queue that DropOldest may remove, oldest first: (id, body bytes).</summary>
    IEnumerable<(long Id, long Bytes)> DroppableOldest(WriteContext context, long queueId);

    /// <summary>Deletes one live message by id (DropOldest).</summary>
    void DeleteMessage(WriteContext context, long id);

    /// <summary>Throws <see cref="StorageFullException"/> when the store is past its enqueue quota (backends without a quota do nothing).</summary>
    void CheckQuota(WriteContext context);

    /// <summary>
    /// Stores the settings of the queue named <paramref name="queueName"/> (replacing any stored before), for stores
    /// that open the queue without options. Times are kept in whole milliseconds. Does not create the queue.
    /// </summary>
    void StoreQueueSettings(WriteContext context, string queueName, QueueOptions options);
}

/// <summary>The set-based writes of <see cref="IMessageCommands"/> done one request at a time, for backends without a set-based statement.</summary>
internal static class OneByOne
{
    public static MessageId[] EnqueueMany(IMessageCommands commands, WriteContext context, IReadOnlyList<(long QueueId, PendingMessage Message)> messages)
    {
        var ids = new MessageId[messages.Count];
        for (var i = 0; i < ids.Length; i++)
        {
            ids[i] = commands.Enqueue(context, messages[i].QueueId, messages[i].Message, out _);
        }

        return ids;
    }

    public static bool[] TryAckMany(IMessageCommands commands, WriteContext context, IReadOnlyList<(string QueueName, MessageReceipt Receipt)> receipts)
    {
        var acked = new bool[receipts.Count];
        for (var i = 0; i < acked.Length; i++)
        {
            try
            {
                commands.Ack(context, receipts[i].QueueName, receipts[i].Receipt);
                acked[i] = true;
            }
            catch (Exception ex) when (ex is LeaseLostException or ArgumentException)
            {
                acked[i] = false;
            }
        }

        return acked;
    }
}

/// <summary>The queue's reads, on a reader connection. Times are unix milliseconds from the store's clock.</summary>
internal interface IStoreReader
{
    QueueCounts Counts(string queueName, long now);

    List<MessageInfo> Peek(string queueName, long now, int limit);

    MessageInfo? Get(string queueName, long id, long now);

    List<DeadLetter> DeadLetters(string queueName, long after, int limit);

    DeadLetter? GetDeadLetter(string queueName, long id);

    List<string> QueueNames();

    bool AnyExpiredFinalLease(long now);

    bool QueueExists(string queueName);

    List<MessageInfo> MessagesAfter(string queueName, long after, int limit, long now);

    QueueStatsRow QueueStatsByName(string queueName);

    StoreStatistics Statistics(long now);

    StoreVerification Verify(long now);

    /// <summary>Returns the settings stored for the queue (see <see cref="IMessageCommands.StoreQueueSettings"/>), or null when none are.</summary>
    QueueOptions? QueueSettings(string queueName);
}

/// <summary>
/// A layer over a driver's statements that keeps state beside the rows (the memory tier) and must follow the
/// batch's outcome: the writer tells it when a batch starts, when each request starts and ends, and when changes it
/// may have followed were rolled back.
/// </summary>
internal interface IBatchObserver
{
    /// <summary>Called at the start of every batch, inside its transaction (e.g. to notice other connections' commits).</summary>
    void BatchStarting(WriteContext context);

    /// <summary>Called before each request of the batch.</summary>
    void StepStarting();

    /// <summary>Returns whether the request that just ran changed the layer's state.</summary>
    bool StepChanged();

    /// <summary>Called when changes the layer may have followed were rolled back (a savepoint, or the whole batch).</summary>
    void RolledBack();
}
