using Microsoft.Data.Sqlite;

namespace DurableQueue.Tests;

/// <summary>A store on a fresh temp file with a fake clock; the file and its WAL are deleted on dispose.</summary>
internal sealed class TestStore : IAsyncDisposable
{
    /// <summary>A real-time bound on awaits that should finish at once; it only turns a hang into a failure.</summary>
    public static readonly TimeSpan Guard = TimeSpan.FromSeconds(20);

    private readonly List<QueueStore> _others = [];

    private TestStore(string path, TestClock clock, QueueStore store)
    {
        Path = path;
        Clock = clock;
        Store = store;
    }

    public string Path { get; }

    public TestClock Clock { get; }

    public QueueStore Store { get; private set; }

    public static string NewPath() => System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"dq-test-{Guid.NewGuid():N}.db");

    public static TestStore Create(Action<QueueStoreOptions>? configure = null)
    {
        var path = NewPath();
        var clock = new TestClock();
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

    /// <summary>Opens a second store on the same file, as another process would; it is disposed with this one.</summary>
    public QueueStore OpenSecond(Action<QueueStoreOptions>? configure = null)
    {
        var store = QueueStore.Open(Path, Options(configure));
        _others.Add(store);
        return store;
    }

    /// <summary>Opens a plain, unpooled connection on the file, as a tool outside the store would.</summary>
    public SqliteConnection OpenRaw() => OpenRaw(Path);

    public static SqliteConnection OpenRaw(string path)
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString());
        connection.Open();
        return connection;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var other in _others)
        {
            await other.DisposeAsync();
        }

        await Store.DisposeAsync();
        DeleteFiles(Path);
    }

    public static void DeleteFiles(string path)
    {
        SqliteConnection.ClearAllPools();
        foreach (var suffix in new[] { "", "-wal", "-shm" })
        {
            File.Delete(path + suffix);
        }
    }
}
