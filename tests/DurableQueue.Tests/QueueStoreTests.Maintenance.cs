using Dapper;

namespace DurableQueue.Tests;

/// <summary>Maintenance: acked rows do not pile up, the WAL is truncated and free pages go back to the file system.</summary>
public sealed partial class QueueStoreTests
{
    [Fact]
    public async Task Maintenance_SteadyEnqueueAndAck_WalAndFileStayBounded()
    {
        var interval = TimeSpan.FromMinutes(1);
        await using var t = TestStore.Create(o => o.MaintenanceInterval = interval);
        var queue = t.Store.GetQueue("q");
        var body = new ReadOnlyMemory<byte>(new byte[2000]);
        var walBefore = new List<long>();
        var walAfter = new List<long>();
        var fileAfter = new List<long>();

        for (var cycle = 0; cycle < 4; cycle++)
        {
            for (var round = 0; round < 3; round++)
            {
                await queue.EnqueueBatchAsync(Enumerable.Repeat(body, 200));
                var received = await queue.ReceiveAsync(200);
                Assert.Empty(await queue.AckManyAsync(received.Select(m => m.Receipt)));
            }

            walBefore.Add(new FileInfo(t.Path + "-wal").Length);
            // The maintenance timer fires inside Advance and queues its work on the writer; any later request of the
            // writer (here a receive that finds nothing and so writes nothing) completes after it.
            t.Clock.Advance(interval);
            Assert.Empty(await queue.ReceiveAsync());
            walAfter.Add(new FileInfo(t.Path + "-wal").Length);
            fileAfter.Add(new FileInfo(t.Path).Length);
        }

        using var raw = t.OpenRaw();
        Assert.Equal(0, raw.ExecuteScalar<long>("SELECT count(*) FROM dq_messages;"));
        // Without maintenance the WAL holds megabytes of frames; each run truncates it.
        Assert.All(walBefore, size => Assert.True(size > 1_000_000, $"WAL before maintenance: {size} bytes"));
        Assert.All(walAfter, size => Assert.True(size < 64 * 1024, $"WAL after maintenance: {size} bytes"));
        // 2.4 MB pass through the queue in all; the file holds the peak of 200 live messages (400 kB) plus at most
        // the 1 MB of free pages that maintenance leaves for reuse, and does not grow from cycle to cycle.
        Assert.All(fileAfter, size => Assert.True(size < 2_000_000, $"file after maintenance: {size} bytes"));
        Assert.True(fileAfter[^1] <= fileAfter[0], $"file grew from {fileAfter[0]} to {fileAfter[^1]} bytes");
        Assert.True(raw.ExecuteScalar<long>("PRAGMA freelist_count;") <= 256);
    }

    [Fact]
    public async Task Maintenance_AfterABacklogIsDrained_ReturnsFreePagesToTheFileSystem()
    {
        var interval = TimeSpan.FromMinutes(1);
        await using var t = TestStore.Create(o => o.MaintenanceInterval = interval);
        var queue = t.Store.GetQueue("q");
        var body = new ReadOnlyMemory<byte>(new byte[2000]);
        for (var i = 0; i < 3; i++)
        {
            await queue.EnqueueBatchAsync(Enumerable.Repeat(body, 500));
        }

        while (await queue.ReceiveAsync(500) is { Count: > 0 } received)
        {
            Assert.Empty(await queue.AckManyAsync(received.Select(m => m.Receipt)));
        }

        var drained = OnDisk(t.Path);
        t.Clock.Advance(interval);
        Assert.Empty(await queue.ReceiveAsync());
        var after = OnDisk(t.Path);

        Assert.True(drained > 3_000_000, $"file and WAL after draining: {drained} bytes");
        Assert.True(after < 200_000, $"file and WAL after maintenance: {after} bytes (was {drained})");
    }

    private static long OnDisk(string path) =>
        new FileInfo(path).Length + (File.Exists(path + "-wal") ? new FileInfo(path + "-wal").Length : 0);
}
