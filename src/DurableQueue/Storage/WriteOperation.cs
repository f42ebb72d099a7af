using System.Threading.Tasks.Sources;

namespace DurableQueue.Storage;

/// <summary>
/// One request to the writer. It runs inside a batch transaction (on the caller's thread when the caller leads the
/// commit, else on the writer thread), in a savepoint of its own unless it cannot fail half-way, and its caller is
/// completed only after the commit.
/// </summary>
internal abstract class WriteOperation
{
    protected WriteOperation(CancellationToken cancellationToken) => CancellationToken = cancellationToken;

    public CancellationToken CancellationToken { get; }

    /// <summary>Gets or sets when the request was submitted (a <see cref="System.Diagnostics.Stopwatch"/> timestamp): its busy deadline counts from here.</summary>
    public long SubmittedAt { get; set; }

    /// <summary>Gets a value indicating whether the operation runs between transactions (checkpoints, vacuum).</summary>
    public virtual bool RunsOutsideTransaction => false;

    /// <summary>Gets a value indicating whether the batch must write its commit marker even without row changes.</summary>
    public virtual bool AlwaysMarksCommit => false;

    /// <summary>
    /// Gets a value indicating whether the operation runs without a savepoint of its own: it makes at most one row
    /// change, in one statement that is its last SQL step (see <see cref="StoreWriter"/> for why that is safe).
    /// </summary>
    public virtual bool WithoutSavepoint => false;

    /// <summary>
    /// Gets a value indicating whether the operation may run on its caller's thread when the writer is idle (the
    /// library's own requests). App code (a unit of work) and maintenance always run on the writer thread.
    /// </summary>
    public virtual bool MayLead => false;

    /// <summary>
    /// Gets the group the request may run in with others of its kind (see <see cref="WriteGroup"/>), or null when it
    /// always runs on its own.
    /// </summary>
    public virtual WriteGroup? Group => null;

    /// <summary>Gets what the group needs of the request (the message, the receipts), or null.</summary>
    public virtual object? GroupItem => null;

    /// <summary>
    /// Gets a value indicating whether the request is worth its group's set-based statement even alone (it carries
    /// several items, like an ack of many receipts).
    /// </summary>
    public virtual bool GroupsAlone => false;

    /// <summary>
    /// Makes <see cref="Succeed"/> and <see cref="Fail"/> keep the outcome instead of completing the caller, until
    /// <see cref="Unhold"/>; returns false when the operation cannot (then it completes its caller at once, as always).
    /// A leader whose commit completes on another thread holds its request, so that the caller's continuation, which
    /// runs on that thread, starts only after the leader gave the write session back.
    /// </summary>
    public virtual bool Hold() => false;

    /// <summary>Ends <see cref="Hold"/>: completes the caller now if the outcome is known, on this thread when it awaits already.</summary>
    public virtual void Unhold()
    {
    }

    /// <summary>Runs the operation; throwing rolls back its savepoint and fails it alone.</summary>
    public abstract void Execute(WriteContext context);

    /// <summary>Completes the caller after the commit.</summary>
    public abstract void Succeed();

    public abstract void Fail(Exception exception);

    public abstract void Cancel();
}

/// <summary>
/// A request with a result. Its caller awaits <see cref="ValueTask"/>: completed already when the caller led the
/// commit itself; otherwise its continuation runs on the caller's scheduling context or the thread pool, never on a
/// thread that holds the write session (a held request's continuation may run on the thread that ended the hold, after
/// it gave the session back; see <see cref="WriteOperation.Hold"/>).
/// </summary>
internal sealed class WriteOperation<T> : WriteOperation, IValueTaskSource<T>
{
    private readonly Func<WriteContext, T> _work;
    private ManualResetValueTaskSourceCore<T> _core = new() { RunContinuationsAsynchronously = true };
    private T? _result;
    private int _completed;
    private bool _holding;
    private bool _held;
    private Exception? _heldFailure;

    public WriteOperation(
        Func<WriteContext, T> work, CancellationToken cancellationToken, bool alwaysMarksCommit = false, bool withoutSavepoint = false, bool mayLead = false,
        WriteGroup? group = null, object? groupItem = null, bool groupsAlone = false)
        : base(cancellationToken)
    {
        _work = work;
        AlwaysMarksCommit = alwaysMarksCommit;
        WithoutSavepoint = withoutSavepoint;
        MayLead = mayLead;
        Group = group;
        GroupItem = groupItem;
        GroupsAlone = groupsAlone;
    }

    public override bool AlwaysMarksCommit { get; }

    public override bool WithoutSavepoint { get; }

    public override bool MayLead { get; }

    public override WriteGroup? Group { get; }

    public override object? GroupItem { get; }

    public override bool GroupsAlone { get; }

    /// <summary>Sets the result of a request its group ran (see <see cref="WriteGroup"/>); a later <see cref="Execute"/> replaces it.</summary>
    public void SetResult(T result) => _result = result;

    /// <summary>Gets the caller's view of the result; await it once.</summary>
    public ValueTask<T> ValueTask => new(this, _core.Version);

    public override void Execute(WriteContext context) => _result = _work(context);

    public override void Succeed()
    {
        if (Interlocked.Exchange(ref _completed, 1) == 0)
        {
            if (_holding)
            {
                _held = true;
                return;
            }

            _core.SetResult(_result!);
        }
    }

    public override void Fail(Exception exception)
    {
        if (Interlocked.Exchange(ref _completed, 1) == 0)
        {
            if (_holding)
            {
                _held = true;
                _heldFailure = exception;
                return;
            }

            _core.SetException(exception);
        }
    }

    public override bool Hold()
    {
        _holding = true;
        return true;
    }

    public override void Unhold()
    {
        _holding = false;
        if (!_held)
        {
            return;
        }

        _held = false;
        // The thread that ends the hold gave the write session back and holds nothing: the caller may go on here, as
        // it would after a raw asynchronous statement (its own scheduling context, if it captured one, still applies).
        _core.RunContinuationsAsynchronously = false;
        if (_heldFailure is { } failure)
        {
            _core.SetException(failure);
        }
        else
        {
            _core.SetResult(_result!);
        }
    }

    public override void Cancel() => Fail(new OperationCanceledException(CancellationToken));

    T IValueTaskSource<T>.GetResult(short token) => _core.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource<T>.GetStatus(short token) => _core.GetStatus(token);

    void IValueTaskSource<T>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}

/// <summary>Work that runs between transactions on the writer's connection (checkpoints, vacuum).</summary>
internal sealed class MaintenanceOperation : WriteOperation
{
    private readonly Action<WriteContext> _work;
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public MaintenanceOperation(Action<WriteContext> work)
        : base(CancellationToken.None) => _work = work;

    public override bool RunsOutsideTransaction => true;

    public Task Task => _completion.Task;

    public override void Execute(WriteContext context) => _work(context);

    public override void Succeed() => _completion.TrySetResult();

    public override void Fail(Exception exception) => _completion.TrySetException(exception);

    public override void Cancel() => _completion.TrySetCanceled();
}
