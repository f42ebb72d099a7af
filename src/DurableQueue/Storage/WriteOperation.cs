namespace DurableQueue.Storage;

/// <summary>
/// One request to the writer. It runs on the writer thread inside the batch transaction, in a savepoint of
/// its own, and its caller is completed only after the commit.
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

    /// <summary>Runs the operation; throwing rolls back its savepoint and fails it alone.</summary>
    public abstract void Execute(WriteContext context);

    /// <summary>Completes the caller after the commit.</summary>
    public abstract void Succeed();

    public abstract void Fail(Exception exception);

    public abstract void Cancel();
}

internal sealed class WriteOperation<T> : WriteOperation
{
    private readonly Func<WriteContext, T> _work;
    private readonly TaskCompletionSource<T> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private T? _result;

    public WriteOperation(Func<WriteContext, T> work, CancellationToken cancellationToken, bool alwaysMarksCommit = false, bool withoutSavepoint = false)
        : base(cancellationToken)
    {
        _work = work;
        AlwaysMarksCommit = alwaysMarksCommit;
        WithoutSavepoint = withoutSavepoint;
    }

    public override bool AlwaysMarksCommit { get; }

    public override bool WithoutSavepoint { get; }

    public Task<T> Task => _completion.Task;

    public override void Execute(WriteContext context) => _result = _work(context);

    public override void Succeed() => _completion.TrySetResult(_result!);

    public override void Fail(Exception exception) => _completion.TrySetException(exception);

    public override void Cancel() => _completion.TrySetCanceled(CancellationToken);
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
