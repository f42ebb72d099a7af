using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Time.Testing;

namespace DurableQueue.Tests;

/// <summary>A store on a fresh temp file with a fake clock; the file and its WAL are deleted on dispose.</summary>
internal sealed class TestStore : IAsyncDisposable
{
    private TestStore(string path, FakeTimeProvider clock, QueueStore store)
    {
        Path = path;
        Clock = clock;
        Store = store;
    }

    public string Path { get; }

    public FakeTimeProvider Clock { get; }

    public QueueStore Store { get; private set; }

    public static TestStore Create(Action<QueueStoreOptions>? configure = null)
    {
        var path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"dq-test-{Guid.NewGuid():N}.db");
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        var options = new QueueStoreOptions { TimeProvider = clock };
        configure?.Invoke(options);
        return new TestStore(path, clock, QueueStore.Open(path, options));
    }

    public QueueStoreOptions Options(Action<QueueStoreOptions>? configure = null)
    {
        var options = new QueueStoreOptions { TimeProvider = Clock };
        configure?.Invoke(options);
        return options;
    }

    /// <summary>Closes the store cleanly and opens the same file again.</summary>
    public async Task ReopenAsync(Action<QueueStoreOptions>? configure = null)
    {
        await Store.DisposeAsync();
        Store = QueueStore.Open(Path, Options(configure));
    }

    public async ValueTask DisposeAsync()
    {
        await Store.DisposeAsync();
        SqliteConnection.ClearAllPools();
        foreach (var suffix in new[] { "", "-wal", "-shm" })
        {
            File.Delete(Path + suffix);
        }
    }
}
