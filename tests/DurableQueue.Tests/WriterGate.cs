namespace DurableQueue.Tests;

/// <summary>
/// Holds the store's single writer inside a unit of work until released, so a test can queue requests behind it
/// and know exactly which of them share the next commit. Synchronises with events, never with sleeps.
/// </summary>
internal sealed class WriterGate
{
    private readonly ManualResetEventSlim _release;
    private readonly Task _unit;

    private WriterGate(ManualResetEventSlim release, Task unit)
    {
        _release = release;
        _unit = unit;
    }

    public static async Task<WriterGate> HoldAsync(QueueStore store, Action<QueueTransaction>? inside = null)
    {
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new ManualResetEventSlim();
        var unit = store.ExecuteAsync(tx =>
        {
            inside?.Invoke(tx);
            entered.SetResult();
            release.Wait(TestStore.Guard);
        }).AsTask();
        await entered.Task.WaitAsync(TestStore.Guard);
        return new WriterGate(release, unit);
    }

    public async Task ReleaseAsync()
    {
        _release.Set();
        await _unit.WaitAsync(TestStore.Guard);
        _release.Dispose();
    }
}
