using DurableQueue.Storage;
using DurableQueue.Storage.Driver;

namespace DurableQueue.Background;

/// <summary>
/// Runs the backend's periodic maintenance (SQLite: WAL checkpoint and incremental vacuum) on the writer, between
/// transactions, every <see cref="QueueStoreOptions.MaintenanceInterval"/>.
/// </summary>
internal sealed class MaintenanceScheduler : IDisposable
{
    private readonly IStorageDriver _driver;
    private readonly StoreWriter _writer;
    private readonly ITimer _timer;
    private int _disposed;

    public MaintenanceScheduler(TimeProvider clock, TimeSpan interval, IStorageDriver driver, StoreWriter writer)
    {
        _driver = driver;
        _writer = writer;
        _timer = clock.CreateTimer(static s => ((MaintenanceScheduler)s!).OnDue(), this, interval, interval);
    }

    private void OnDue()
    {
        if (Volatile.Read(ref _disposed) == 0)
        {
            _writer.Submit(new MaintenanceOperation(c => _driver.RunMaintenance(c.Session)));
        }
    }

    public void Dispose()
    {
        Volatile.Write(ref _disposed, 1);
        _timer.Dispose();
    }
}
