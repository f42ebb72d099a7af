namespace DurableQueue.Internal;

/// <summary>
/// A broadcast wake-up: every waiter that took <see cref="WaitTask"/> before a <see cref="Pulse"/> is released by it.
/// Take the task before checking for work, so that a pulse between the check and the wait is not missed.
/// </summary>
internal sealed class AsyncSignal
{
    private TaskCompletionSource _current = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Task WaitTask => Volatile.Read(ref _current).Task;

    public void Pulse()
    {
        var previous = Interlocked.Exchange(ref _current, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        previous.TrySetResult();
    }
}
