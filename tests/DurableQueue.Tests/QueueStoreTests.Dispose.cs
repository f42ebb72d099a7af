using Dapper;

namespace DurableQueue.Tests;

/// <summary>Tests that look at the process's open file handles; they must not run beside tests that clear connection pools.</summary>
[CollectionDefinition(nameof(FileHandleCollection), DisableParallelization = true)]
public sealed class FileHandleCollection
{
}

/// <summary>Closing a store: nothing of it stays open, and later calls are refused.</summary>
[Collection(nameof(FileHandleCollection))]
public sealed class QueueStoreDisposeTests
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Dispose_AfterUse_LeavesNoOpenHandleAndFileCanBeDeletedAndReopened(bool async)
    {
        var clock = new TestClock();
        var path = TestStore.NewPath();
        var store = QueueStore.Open(path, new QueueStoreOptions { TimeProvider = clock });
        var queue = store.GetQueue("q");
        await queue.EnqueueAsync("a");
        await queue.EnqueueAsync("b");
        var message = Assert.Single(await queue.ReceiveAsync());
        await queue.AckAsync(message);
        // Reads use pooled reader connections; these must be closed too.
        await queue.GetCountsAsync();
        await queue.PeekAsync();
        await store.GetQueueNamesAsync();
        if (OperatingSystem.IsLinux())
        {
            // The check below can only pass for the right reason if it sees the handles while the store is open.
            Assert.NotEmpty(OpenHandlesTo(path));
        }

        if (async)
        {
            await store.DisposeAsync();
        }
        else
        {
            store.Dispose();
        }

        Assert.Empty(OpenHandlesTo(path));
        // The last connection to close removes the WAL and shared-memory files; a leaked one would keep them.
        Assert.False(File.Exists(path + "-wal"));
        Assert.False(File.Exists(path + "-shm"));

        File.Delete(path);
        Assert.False(File.Exists(path));
        await using (var reopened = QueueStore.Open(path, new QueueStoreOptions { TimeProvider = clock }))
        {
            Assert.Equal(0, (await reopened.GetQueue("q").GetCountsAsync()).Total);
            Assert.Empty(await reopened.GetQueueNamesAsync());
        }

        Assert.Empty(OpenHandlesTo(path));
        File.Delete(path);
    }

    [Fact]
    public async Task Dispose_Twice_IsHarmless()
    {
        await using var t = TestStore.Create();
        await t.Store.DisposeAsync();
        await t.Store.DisposeAsync();
        t.Store.Dispose();
    }

    [Fact]
    public async Task Dispose_ThenAnyCall_ThrowsObjectDisposed()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q");
        await queue.EnqueueAsync("a");
        var message = Assert.Single(await queue.ReceiveAsync());
        await t.Store.DisposeAsync();

        Assert.Throws<ObjectDisposedException>(() => t.Store.GetQueue("q"));
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await queue.EnqueueAsync("b"));
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await queue.EnqueueBatchAsync([new byte[1]]));
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await queue.ReceiveAsync());
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await queue.AckAsync(message));
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await queue.NackAsync(message));
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await queue.ExtendLeaseAsync(message, TimeSpan.FromSeconds(1)));
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await queue.DeadLetterAsync(message, "why"));
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await queue.PeekAsync());
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await queue.GetCountsAsync());
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await queue.PurgeAsync());
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await queue.GetDeadLettersAsync());
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await queue.RequeueDeadLettersAsync());
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await t.Store.GetQueueNamesAsync());
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await t.Store.ExecuteAsync(_ => { }));
    }

    [Fact]
    public async Task Dispose_WhileReceiveWaits_EndsTheWaitWithObjectDisposed()
    {
        await using var t = TestStore.Create(o => o.PollInterval = TimeSpan.FromHours(1));
        var queue = t.Store.GetQueue("q");
        var receive = queue.ReceiveAsync(waitTime: TimeSpan.FromMinutes(5)).AsTask();
        await t.Clock.TimerCreatedAsync(TimeSpan.FromMinutes(5));

        await t.Store.DisposeAsync();

        await Assert.ThrowsAsync<ObjectDisposedException>(() => receive.WaitAsync(TestStore.Guard));
    }

    /// <summary>The file descriptors of this process that point at the database, its WAL or its shared memory.</summary>
    private static List<string> OpenHandlesTo(string path)
    {
        if (!OperatingSystem.IsLinux())
        {
            // Elsewhere File.Delete of an open file fails, which the test also does.
            return [];
        }

        var full = System.IO.Path.GetFullPath(path);
        var found = new List<string>();
        foreach (var fd in Directory.EnumerateFileSystemEntries("/proc/self/fd"))
        {
            string? target;
            try
            {
                target = new FileInfo(fd).LinkTarget;
            }
            catch (IOException)
            {
                continue;
            }

            if (target is not null && (target == full || target == full + "-wal" || target == full + "-shm"))
            {
                found.Add(target);
            }
        }

        return found;
    }
}
