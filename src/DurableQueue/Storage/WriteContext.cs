using DurableQueue.Storage.Driver;

namespace DurableQueue.Storage;

/// <summary>
/// What an operation sees on the writer thread: the backend's write session inside the open batch transaction,
/// its statements, the batch's clock reading, and the list of effects that run only once the batch commits.
/// It knows no backend: SQL lives in the drivers.
/// </summary>
internal sealed class WriteContext
{
    private readonly Dictionary<string, long> _queueIds = new(StringComparer.Ordinal);
    private readonly List<Action> _afterCommit = [];
    private bool? _foreignCommits;

    public WriteContext(IWriteSession session, IMessageCommands commands, TimeProvider timeProvider)
    {
        Session = session;
        Commands = commands;
        TimeProvider = timeProvider;
        Observer = commands as IBatchObserver;
    }

    /// <summary>Gets the backend's write session (connection and transaction control).</summary>
    public IWriteSession Session { get; }

    /// <summary>Gets the statements: the backend's own, or the memory tier layered over them.</summary>
    public IMessageCommands Commands { get; }

    /// <summary>Gets the layer that follows the batch's outcome (the memory tier), or null.</summary>
    internal IBatchObserver? Observer { get; }

    /// <summary>Gets or sets a value indicating whether caller code (a unit-of-work callback) is running on the connection.</summary>
    internal bool InCallerCode
    {
        get => Session.InCallerCode;
        set => Session.InCallerCode = value;
    }

    public TimeProvider TimeProvider { get; }

    /// <summary>Gets or sets the id of the store's session: the first 8 bytes of every lease token it hands out.</summary>
    public long SessionId { get; set; }

    /// <summary>Returns a new lease token that records the session that took the lease.</summary>
    public Guid NewLeaseToken() => Diagnostics.StoreSession.NewLeaseToken(SessionId);

    /// <summary>Gets the batch's clock reading in unix milliseconds; every operation of a batch sees the same instant.</summary>
    public long Now { get; private set; }

    /// <summary>
    /// Gets a value indicating whether the statements being run may be held back and sent with the COMMIT, their results
    /// known only once it ran (a batch whose every request belongs to a <see cref="WriteGroup"/> that allows it). A
    /// backend that cannot defer runs them at once.
    /// </summary>
    public bool DeferToCommit { get; internal set; }

    internal int AfterCommitCount => _afterCommit.Count;

    internal void StartBatch()
    {
        Now = TimeProvider.GetUtcNow().ToUnixTimeMilliseconds();
        _foreignCommits = null;
    }

    /// <summary>
    /// Gets a value indicating whether another connection may have committed since the previous batch that asked;
    /// asked of the session at most once per batch, on first use.
    /// </summary>
    public bool ForeignCommits => _foreignCommits ??= Session.ForeignCommitsSinceLastCheck();

    /// <summary>Registers an effect (a wake-up, a cache update) that runs only if the batch commits.</summary>
    public void AfterCommit(Action action) => _afterCommit.Add(action);

    internal void DiscardAfterCommitFrom(int count) => _afterCommit.RemoveRange(count, _afterCommit.Count - count);

    internal void RunAfterCommit(Action<Exception> onError)
    {
        foreach (var action in _afterCommit)
        {
            try
            {
                action();
            }
            catch (Exception ex)
            {
                onError(ex);
            }
        }

        _afterCommit.Clear();
    }

    internal void ClearAfterCommit() => _afterCommit.Clear();

    /// <summary>
    /// Rolls back to a savepoint that admission or a request opened, and tells the layer above the driver (the
    /// memory tier) that rows it may have followed just rolled back.
    /// </summary>
    public void RollbackToSavepoint(string name)
    {
        if (Session.TransactionActive)
        {
            Session.RollbackToSavepoint(name);
        }

        Observer?.RolledBack();
    }

    /// <summary>Returns the id of a queue, creating its row on first use. Queue rows are never deleted, so the cache stays right.</summary>
    public long QueueId(string name)
    {
        if (_queueIds.TryGetValue(name, out var id))
        {
            return id;
        }

        id = Commands.QueueId(this, name);
        // The row may roll back with this batch; cache it only once committed.
        AfterCommit(() => _queueIds[name] = id);
        return id;
    }
}
