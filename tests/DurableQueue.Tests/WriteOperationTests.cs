using DurableQueue.Storage;

namespace DurableQueue.Tests;

/// <summary>
/// A held request (a leader whose commit completes on another thread) keeps its outcome until the leader gave the write
/// session back, then completes its caller.
/// </summary>
public sealed class WriteOperationTests
{
    [Fact]
    public async Task Held_Succeeded_CompletesOnlyAtUnhold()
    {
        var operation = new WriteOperation<int>(_ => 42, CancellationToken.None);
        Assert.True(operation.Hold());
        operation.Execute(null!);

        operation.Succeed();

        Assert.False(operation.ValueTask.IsCompleted);
        operation.Unhold();
        Assert.Equal(42, await operation.ValueTask);
    }

    [Fact]
    public async Task Held_Failed_FailsOnlyAtUnhold_WithItsOwnError()
    {
        var operation = new WriteOperation<int>(_ => 42, CancellationToken.None);
        operation.Hold();
        var failure = new StorageUnavailableException("down");

        operation.Fail(failure);
        operation.Succeed();

        Assert.False(operation.ValueTask.IsCompleted);
        operation.Unhold();
        Assert.Same(failure, await Assert.ThrowsAsync<StorageUnavailableException>(async () => await operation.ValueTask));
    }

    [Fact]
    public async Task Unheld_BeforeItsOutcome_CompletesWhenItComes()
    {
        // A leader that could not begin hands its request to the writer thread, which completes it the ordinary way.
        var operation = new WriteOperation<int>(_ => 7, CancellationToken.None);
        operation.Hold();
        operation.Unhold();
        Assert.False(operation.ValueTask.IsCompleted);

        operation.Execute(null!);
        operation.Succeed();

        Assert.Equal(7, await operation.ValueTask.AsTask().WaitAsync(TestStore.Guard));
    }

    [Fact]
    public async Task Unhold_RunsAnAwaitingCallersContinuationOnItsOwnThread()
    {
        var operation = new WriteOperation<int>(_ => 1, CancellationToken.None);
        operation.Hold();
        operation.Execute(null!);
        var awaited = AwaitAsync(operation.ValueTask);
        operation.Succeed();
        Assert.False(awaited.IsCompleted);

        // The thread that ends the hold holds nothing, so the caller goes on there instead of waiting for another.
        var unholder = new Thread(operation.Unhold);
        unholder.Start();
        unholder.Join();

        Assert.True(awaited.IsCompleted);
        Assert.Equal(unholder.ManagedThreadId, await awaited);
    }

    [Fact]
    public async Task NotHeld_RunsAnAwaitingCallersContinuationElsewhere()
    {
        var operation = new WriteOperation<int>(_ => 1, CancellationToken.None);
        operation.Execute(null!);
        var awaited = AwaitAsync(operation.ValueTask);

        var completer = new Thread(operation.Succeed);
        completer.Start();
        completer.Join();

        Assert.NotEqual(completer.ManagedThreadId, await awaited.WaitAsync(TestStore.Guard));
    }

    /// <summary>Awaits without a scheduling context and returns the thread the continuation ran on.</summary>
    private static async Task<int> AwaitAsync(ValueTask<int> task)
    {
        await task.ConfigureAwait(false);
        return Environment.CurrentManagedThreadId;
    }
}
