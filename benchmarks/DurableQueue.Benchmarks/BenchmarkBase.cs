using BenchmarkDotNet.Attributes;
using DurableQueue.BenchmarkShared;

namespace DurableQueue.Benchmarks;

/// <summary>A fresh queue file and a fresh raw SQLite file (same synchronous setting) per benchmark case.</summary>
public abstract class BenchmarkBase
{
    protected const int BodySize = 256;

    private string _directory = "";

    protected QueueStore Store { get; private set; } = null!;

    protected MessageQueue Queue { get; private set; } = null!;

    protected RawStore Raw { get; private set; } = null!;

    protected byte[] Body { get; } = CreateBody();

    protected virtual Durability StoreDurability => Durability.Full;

    [GlobalSetup]
    public void GlobalSetup()
    {
        _directory = Path.Combine(Path.GetTempPath(), "dq-bench-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_directory);
        var options = new QueueStoreOptions { Durability = StoreDurability };
        ConfigureStore(options);
        Store = QueueStore.Open(Path.Combine(_directory, "queue.db"), options);
        Queue = Store.GetQueue("bench");
        Raw = RawStore.Open(Path.Combine(_directory, "raw.db"), StoreDurability == Durability.Full);
    }

    /// <summary>Adjusts the store's options before it is opened (e.g. the memory budget).</summary>
    /// <summary>The raw baseline's consumer: claims up to <paramref name="batch"/> rows and deletes them, one commit each, until none is left.</summary>
    protected void RawDrain(int batch)
    {
        var token = Guid.NewGuid().ToByteArray();
        while (true)
        {
            var claimed = Raw.Claim(batch, token);
            if (claimed.Count == 0)
            {
                return;
            }

            Raw.Delete(claimed, token);
        }
    }

    protected virtual void ConfigureStore(QueueStoreOptions options)
    {
    }

    [GlobalCleanup]
    public void GlobalCleanup()
    {
        Store.Dispose();
        Raw.Dispose();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }

    protected static async Task RunConcurrently(int workers, Func<int, Task> work)
    {
        var tasks = new Task[workers];
        for (var i = 0; i < workers; i++)
        {
            var index = i;
            tasks[i] = Task.Run(() => work(index));
        }

        await Task.WhenAll(tasks);
    }

    protected void FillQueue(int count)
    {
        for (var i = 0; i < count; i += 100)
        {
            var bodies = Enumerable.Repeat((ReadOnlyMemory<byte>)Body, Math.Min(100, count - i)).ToArray();
            Queue.EnqueueBatchAsync(bodies).AsTask().GetAwaiter().GetResult();
        }
    }

    protected void FillRaw(int count)
    {
        for (var i = 0; i < count; i += 100)
        {
            Raw.Insert(Enumerable.Repeat(Body, Math.Min(100, count - i)).ToArray());
        }
    }

    private static byte[] CreateBody()
    {
        var body = new byte[BodySize];
        new Random(42).NextBytes(body);
        return body;
    }
}
