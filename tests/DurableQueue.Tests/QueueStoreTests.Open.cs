using System.Text;
using Dapper;

namespace DurableQueue.Tests;

/// <summary>Opening a store on a file, refusing files it must not touch, and closing it cleanly.</summary>
public sealed partial class QueueStoreTests
{
    [Fact]
    public async Task Open_NewPath_CreatesFileInWalMode()
    {
        await using var t = TestStore.Create();

        Assert.True(File.Exists(t.Path));
        Assert.Equal(System.IO.Path.GetFullPath(t.Path), t.Store.Path);
        using var raw = t.OpenRaw();
        Assert.Equal("wal", raw.ExecuteScalar<string>("PRAGMA journal_mode;"));
        Assert.Equal(DurableQueue.Storage.SchemaMigrator.LatestVersion, raw.ExecuteScalar<long>("SELECT value FROM dq_meta WHERE key = 'schema_version';"));
    }

    [Fact]
    public void Open_ParentFolderMissing_ThrowsDirectoryNotFoundAndCreatesNothing()
    {
        var folder = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"dq-missing-{Guid.NewGuid():N}");
        var path = System.IO.Path.Combine(folder, "queue.db");

        Assert.Throws<DirectoryNotFoundException>(() => QueueStore.Open(path));
        Assert.False(Directory.Exists(folder));
    }

    [Fact]
    public void Open_PathIsFolder_ThrowsArgumentExceptionNamingPath()
    {
        var folder = Directory.CreateTempSubdirectory("dq-folder-").FullName;
        try
        {
            var ex = Assert.Throws<ArgumentException>(() => QueueStore.Open(folder));
            Assert.Equal("path", ex.ParamName);
            Assert.Empty(Directory.EnumerateFileSystemEntries(folder));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    public void Open_EmptyPath_ThrowsArgumentExceptionNamingPath(string path)
    {
        var ex = Assert.Throws<ArgumentException>(() => QueueStore.Open(path));
        Assert.Equal("path", ex.ParamName);
    }

    [Fact]
    public void Open_NullPath_ThrowsArgumentNull()
    {
        var ex = Assert.Throws<ArgumentNullException>(() => QueueStore.Open(null!));
        Assert.Equal("path", ex.ParamName);
    }

    [Fact]
    public void Open_NotADatabase_ThrowsStoreFileExceptionAndLeavesFileUnchanged()
    {
        var path = TestStore.NewPath();
        var bytes = Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat("this is a text file, not a database. ", 100)));
        File.WriteAllBytes(path, bytes);
        try
        {
            var ex = Assert.Throws<StoreFileException>(() => QueueStore.Open(path));

            Assert.Equal(StoreFileProblem.NotADatabase, ex.Problem);
            Assert.Equal(System.IO.Path.GetFullPath(path), ex.Path);
            Assert.Equal(bytes, File.ReadAllBytes(path));
            Assert.False(File.Exists(path + "-wal"));
        }
        finally
        {
            TestStore.DeleteFiles(path);
        }
    }

    [Fact]
    public async Task Open_NewerSchemaVersion_ThrowsStoreFileExceptionAndLeavesFileUnchanged()
    {
        var path = TestStore.NewPath();
        try
        {
            await QueueStore.Open(path).DisposeAsync();
            using (var raw = TestStore.OpenRaw(path))
            {
                raw.Execute("UPDATE dq_meta SET value = 999 WHERE key = 'schema_version';");
            }

            var before = File.ReadAllBytes(path);

            var ex = Assert.Throws<StoreFileException>(() => QueueStore.Open(path));

            Assert.Equal(StoreFileProblem.NewerSchema, ex.Problem);
            Assert.Contains("999", ex.Message, StringComparison.Ordinal);
            Assert.Equal(before, File.ReadAllBytes(path));
            using var check = TestStore.OpenRaw(path);
            Assert.Equal(999, check.ExecuteScalar<long>("SELECT value FROM dq_meta WHERE key = 'schema_version';"));
        }
        finally
        {
            TestStore.DeleteFiles(path);
        }
    }

    [Fact]
    public async Task Open_CorruptSchemaPage_ThrowsStoreFileExceptionAndLeavesFileUnchanged()
    {
        var path = TestStore.NewPath();
        try
        {
            await QueueStore.Open(path).DisposeAsync();
            var bytes = File.ReadAllBytes(path);
            // Keep the 100-byte file header (so it still looks like SQLite) and wreck the rest of page 1: the schema.
            for (var i = 100; i < 4096; i++)
            {
                bytes[i] = 0xA5;
            }

            File.WriteAllBytes(path, bytes);

            var ex = Assert.Throws<StoreFileException>(() => QueueStore.Open(path));

            Assert.Equal(StoreFileProblem.Corrupt, ex.Problem);
            Assert.Equal(bytes, File.ReadAllBytes(path));
        }
        finally
        {
            TestStore.DeleteFiles(path);
        }
    }

    [Fact]
    public async Task Open_ExistingAppDatabase_KeepsAppTablesAndUserVersion()
    {
        var path = TestStore.NewPath();
        try
        {
            using (var raw = TestStore.OpenRaw(path))
            {
                raw.Execute("CREATE TABLE orders(id INTEGER PRIMARY KEY, item TEXT NOT NULL); INSERT INTO orders(item) VALUES ('tea'); PRAGMA user_version = 7;");
            }

            await using (var store = QueueStore.Open(path))
            {
                var queue = store.GetQueue("work");
                await queue.EnqueueAsync("x");
                Assert.Single(await queue.ReceiveAsync());
            }

            using var check = TestStore.OpenRaw(path);
            Assert.Equal("tea", check.ExecuteScalar<string>("SELECT item FROM orders;"));
            Assert.Equal(7, check.ExecuteScalar<long>("PRAGMA user_version;"));
            Assert.Equal("wal", check.ExecuteScalar<string>("PRAGMA journal_mode;"));
        }
        finally
        {
            TestStore.DeleteFiles(path);
        }
    }

    [Fact]
    public async Task Open_InvalidOptions_ThrowsArgumentExceptionNamingOptions()
    {
        var path = TestStore.NewPath();
        var ex = Assert.Throws<ArgumentException>(() => QueueStore.Open(path, new QueueStoreOptions { MaxMessageBytes = 0 }));
        Assert.Equal("options", ex.ParamName);
        var ex2 = Assert.Throws<ArgumentOutOfRangeException>(() => QueueStore.Open(path, new QueueStoreOptions { Durability = (Durability)42 }));
        Assert.Equal("options", ex2.ParamName);
        Assert.False(File.Exists(path));
        await Task.CompletedTask;
    }

    [Fact]
    public async Task Open_OptionsChangedAfterOpen_HaveNoEffect()
    {
        var options = new QueueStoreOptions { MaxMessageBytes = 8 };
        var path = TestStore.NewPath();
        try
        {
            await using var store = QueueStore.Open(path, options);
            options.MaxMessageBytes = 1024;

            var ex = await Assert.ThrowsAsync<ArgumentException>(async () => await store.GetQueue("q").EnqueueAsync(new byte[9]));
            Assert.Equal("body", ex.ParamName);
        }
        finally
        {
            TestStore.DeleteFiles(path);
        }
    }

    [Fact]
    public async Task GetQueue_SeveralNames_KeepsMessagesApartAndListsAllNames()
    {
        await using var t = TestStore.Create();
        var orders = t.Store.GetQueue("orders");
        var mails = t.Store.GetQueue("mails");

        var orderId = await orders.EnqueueAsync("order");
        var mailId = await mails.EnqueueAsync("mail");

        var fromOrders = Assert.Single(await orders.ReceiveAsync(10));
        var fromMails = Assert.Single(await mails.ReceiveAsync(10));
        Assert.Equal((orderId, "order"), (fromOrders.Id, fromOrders.GetBodyAsString()));
        Assert.Equal((mailId, "mail"), (fromMails.Id, fromMails.GetBodyAsString()));
        Assert.Equal("orders", fromOrders.QueueName);
        Assert.Equal(["mails", "orders"], await t.Store.GetQueueNamesAsync());
        // Reads are per queue.
        Assert.Null(await mails.GetMessageAsync(orderId));
    }

    [Fact]
    public async Task GetQueue_SameNameDifferentOptions_ThrowsInvalidOperation()
    {
        await using var t = TestStore.Create();
        t.Store.GetQueue("q", new QueueOptions { MaxAttempts = 3 });

        Assert.Throws<InvalidOperationException>(() => t.Store.GetQueue("q", new QueueOptions { MaxAttempts = 4 }));
        Assert.Equal(3, t.Store.GetQueue("q").MaxAttempts);
        Assert.Equal(3, t.Store.GetQueue("q", new QueueOptions { MaxAttempts = 3 }).MaxAttempts);
    }

    [Fact]
    public async Task Open_TwoStoresOnOneFile_SeeEachOthersMessagesAndLeases()
    {
        await using var t = TestStore.Create();
        var other = t.OpenSecond();
        var a = t.Store.GetQueue("q");
        var b = other.GetQueue("q");

        var first = await a.EnqueueAsync("one");
        var second = await b.EnqueueAsync("two");

        Assert.Equal(2, (await b.GetCountsAsync()).Ready);
        var leasedByB = Assert.Single(await b.ReceiveAsync());
        Assert.Equal(first, leasedByB.Id);
        var leasedByA = Assert.Single(await a.ReceiveAsync(10));
        Assert.Equal(second, leasedByA.Id);
        Assert.Empty(await a.ReceiveAsync(10));

        // Settling works from either store: the receipt is all that matters.
        await a.AckAsync(leasedByB.Receipt);
        await b.AckAsync(leasedByA);
        Assert.Equal(0, (await a.GetCountsAsync()).Total);
    }
}
