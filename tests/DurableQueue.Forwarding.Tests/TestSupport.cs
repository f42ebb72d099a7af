using System.Diagnostics;
using Microsoft.Extensions.Time.Testing;

namespace DurableQueue.Forwarding.Tests;

/// <summary>Fake clocks for the tests: they stand still until a test moves them.</summary>
internal static class Clocks
{
    /// <summary>A fake clock at the start of 2026 (UTC).</summary>
    public static FakeTimeProvider Fake() => new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
}

/// <summary>A store on a temp file in its own temp folder, deleted on dispose.</summary>
internal sealed class TempStore : IAsyncDisposable
{
    private TempStore(string directory, QueueStore store)
    {
        Directory = directory;
        Store = store;
    }

    public string Directory { get; }

    public string FilePath => Path.Combine(Directory, "queue.db");

    public QueueStore Store { get; private set; }

    public static TempStore Create(QueueStoreOptions? options = null)
    {
        var directory = System.IO.Directory.CreateTempSubdirectory("dq-fwd-").FullName;
        return new TempStore(directory, QueueStore.Open(Path.Combine(directory, "queue.db"), options));
    }

    /// <summary>A forwarded queue: many attempts, since a kill while the forwarder holds a message spends one.</summary>
    public MessageQueue Queue(string name = "telemetry") => Store.GetQueue(name, new QueueOptions { MaxAttempts = 100_000 });

    public async ValueTask DisposeAsync()
    {
        await Store.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        System.IO.Directory.Delete(Directory, recursive: true);
    }
}

internal static class Wait
{
    /// <summary>Looks at a condition until it holds (every 20 ms); fails the test with <paramref name="what"/> after the timeout.</summary>
    public static async Task UntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string what)
    {
        var watch = Stopwatch.StartNew();
        while (!await condition())
        {
            if (watch.Elapsed > timeout)
            {
                Assert.Fail($"Timed out after {timeout.TotalSeconds:0} s waiting for {what}.");
            }

            await Task.Delay(20);
        }
    }

    public static Task UntilAsync(Func<bool> condition, TimeSpan timeout, string what) =>
        UntilAsync(() => Task.FromResult(condition()), timeout, what);

    /// <summary>Waits, woken by each release of <paramref name="signal"/> (one per arrival), until the condition holds; fails after the timeout.</summary>
    public static async Task ForSignalAsync(SemaphoreSlim signal, Func<bool> condition, TimeSpan timeout, Func<string> what)
    {
        using var deadline = new CancellationTokenSource(timeout);
        while (!condition())
        {
            try
            {
                await signal.WaitAsync(deadline.Token);
            }
            catch (OperationCanceledException)
            {
                Assert.Fail($"Timed out after {timeout.TotalSeconds:0} s waiting for {what()}.");
            }
        }
    }

    public static readonly TimeSpan Long = TimeSpan.FromSeconds(60);
}

/// <summary>Runs a forwarder in the background and stops it on dispose.</summary>
internal sealed class RunningForwarder : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();

    public RunningForwarder(Forwarder forwarder)
    {
        Forwarder = forwarder;
        Task = forwarder.RunAsync(_stop.Token);
    }

    public Forwarder Forwarder { get; }

    public Task Task { get; }

    public async Task StopAsync()
    {
        await _stop.CancelAsync();
        await Task.WaitAsync(TimeSpan.FromSeconds(30));
    }

    public async ValueTask DisposeAsync()
    {
        if (!Task.IsCompleted)
        {
            await StopAsync();
        }

        _stop.Dispose();
    }
}

internal static class Order
{
    /// <summary>
    /// Checks that, per key, the first arrival of each message comes in local id order (enqueue order): a duplicate may
    /// come later, never a first copy out of turn. Returns the number of duplicates.
    /// </summary>
    public static int AssertFirstArrivalsInOrder<T>(IEnumerable<T> arrivals, Func<T, string> key, Func<T, long> localId)
    {
        var seen = new HashSet<long>();
        var last = new Dictionary<string, long>(StringComparer.Ordinal);
        var duplicates = 0;
        foreach (var arrival in arrivals)
        {
            var id = localId(arrival);
            if (!seen.Add(id))
            {
                duplicates++;
                continue;
            }

            var k = key(arrival);
            if (last.TryGetValue(k, out var previous))
            {
                Assert.True(id > previous, $"key '{k}': message {id} arrived first after message {previous}, out of enqueue order");
            }

            last[k] = id;
        }

        return duplicates;
    }
}
