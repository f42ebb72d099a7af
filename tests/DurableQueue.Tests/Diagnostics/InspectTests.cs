using System.Security.Cryptography;
using Microsoft.Data.Sqlite;

namespace DurableQueue.Tests.Diagnostics;

public sealed class InspectTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("dq-inspect-").FullName;

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public void MissingFile_ThrowsFileNotFound_AndCreatesNothing()
    {
        var path = Path.Combine(_dir, "missing.db");
        var ex = Assert.Throws<FileNotFoundException>(() => QueueStore.Inspect(path));
        Assert.Contains("does not exist", ex.Message, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(_dir));
    }

    [Fact]
    public void SqliteFileWithoutQueueTables_IsRefused_AndLeftUnchanged()
    {
        var path = Path.Combine(_dir, "app.db");
        using (var c = new SqliteConnection($"Data Source={path};Pooling=False"))
        {
            c.Open();
            using var cmd = c.CreateCommand();
            cmd.CommandText = "CREATE TABLE orders(id INTEGER PRIMARY KEY); INSERT INTO orders VALUES (1);";
            cmd.ExecuteNonQuery();
        }

        var before = Hash(path);
        var ex = Assert.Throws<StoreFileException>(() => QueueStore.Inspect(path));
        Assert.Equal(StoreFileProblem.NotAQueueStore, ex.Problem);
        Assert.Equal(before, Hash(path));
        Assert.Equal(["app.db"], Directory.GetFiles(_dir).Select(Path.GetFileName));
    }

    [Fact]
    public void FileThatIsNotSqlite_IsRefused_AndLeftUnchanged()
    {
        var path = Path.Combine(_dir, "notes.txt");
        File.WriteAllText(path, new string('x', 5000));
        var before = Hash(path);
        var ex = Assert.Throws<StoreFileException>(() => QueueStore.Inspect(path));
        Assert.Equal(StoreFileProblem.NotADatabase, ex.Problem);
        Assert.Equal(before, Hash(path));
    }

    [Fact]
    public async Task NewerSchema_IsRefused_AndLeftUnchanged()
    {
        var path = Path.Combine(_dir, "newer.db");
        await using (var store = QueueStore.Open(path))
        {
            await store.GetQueue("q").EnqueueAsync("x");
        }

        Exec(path, "UPDATE dq_meta SET value = 99 WHERE key = 'schema_version';");
        var before = Hash(path);
        var ex = Assert.Throws<StoreFileException>(() => QueueStore.Inspect(path));
        Assert.Equal(StoreFileProblem.NewerSchema, ex.Problem);
        Assert.Equal(before, Hash(path));
    }

    [Fact]
    public async Task Inspector_ReadsWhatTheStoreWrote_WithoutChangingTheFile()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("orders", new QueueOptions { MaxAttempts = 1 });
        for (var i = 0; i < 5; i++)
        {
            await queue.EnqueueAsync($"m{i}", new EnqueueOptions { Priority = i % 3 });
        }

        await queue.EnqueueAsync("later", new EnqueueOptions { Delay = TimeSpan.FromMinutes(5) });
        var leased = Assert.Single(await queue.ReceiveAsync());
        await queue.NackAsync(leased, TimeSpan.Zero, "boom");
        await t.Store.DisposeAsync();
        SqliteConnection.ClearAllPools();
        var before = Hash(t.Path);

        using (var inspector = QueueStore.Inspect(t.Path, t.Options()))
        {
            Assert.Equal(DurableQueue.Storage.SchemaMigrator.LatestVersion, inspector.SchemaVersion);
            Assert.Equal(["orders"], await inspector.GetQueueNamesAsync());
            Assert.True(await inspector.QueueExistsAsync("orders"));
            Assert.False(await inspector.QueueExistsAsync("nope"));
            var counts = await inspector.GetCountsAsync("orders");
            Assert.Equal(new QueueCounts(4, 1, 0, 1, counts.OldestReadyEnqueuedAt), counts);
            var peeked = await inspector.PeekAsync("orders", 10);
            Assert.Equal(5, peeked.Count);
            Assert.Equal(MessageState.Delayed, peeked[^1].State);
            var dead = Assert.Single(await inspector.GetDeadLettersAsync("orders"));
            Assert.Equal("boom", dead.LastError);
            Assert.NotNull(await inspector.GetDeadLetterAsync("orders", dead.Id));

            var page1 = await inspector.GetMessagesAsync("orders", 3);
            var page2 = await inspector.GetMessagesAsync("orders", 3, page1[^1].Id);
            Assert.Equal(5, page1.Count + page2.Count);
            var ids = page1.Concat(page2).Select(m => m.Id.Value).ToArray();
            Assert.Equal(ids.Order(), ids);
        }

        Assert.Equal(before, Hash(t.Path));
        Assert.False(File.Exists(t.Path + "-wal"));
        Assert.False(File.Exists(t.Path + "-shm"));
        await t.ReopenAsync();
    }

    [Fact]
    public async Task Inspector_SeesCommitsOfAStoreRunningBesideIt()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("jobs");
        await queue.EnqueueAsync("a");
        using var inspector = QueueStore.Inspect(t.Path, t.Options());
        Assert.Equal(1, (await inspector.GetCountsAsync("jobs")).Ready);
        await queue.EnqueueAsync("b");
        Assert.Equal(2, (await inspector.GetCountsAsync("jobs")).Ready);
    }

    [Fact]
    public async Task Inspector_AfterDispose_Throws()
    {
        await using var t = TestStore.Create();
        await t.Store.GetQueue("q").EnqueueAsync("a");
        var inspector = QueueStore.Inspect(t.Path);
        inspector.Dispose();
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await inspector.GetQueueNamesAsync());
    }

    internal static void Exec(string path, string sql)
    {
        using var c = new SqliteConnection($"Data Source={path};Pooling=False");
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }

    private static string Hash(string path) => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path)));
}
