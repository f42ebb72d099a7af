using DurableQueue.PropertyTests.Crash;
using Microsoft.Data.Sqlite;
using Xunit.Abstractions;

namespace DurableQueue.PropertyTests.Faults;

/// <summary>
/// A full disk or database: the write that does not fit fails with <see cref="StorageFullException"/>, everything
/// committed before stays, and the store works again once there is room.
/// </summary>
public sealed class DiskFullTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("dq-full-").FullName;

    /// <summary>A real ENOSPC: the store lives on a 2 MiB tmpfs that also holds a filler file we can delete.</summary>
    [RootFact]
    public async Task RealFullDisk_FailsTyped_KeepsCommitted_RecoversWhenRoomIsMade()
    {
        var mount = Path.Combine(_directory, "small");
        Directory.CreateDirectory(mount);
        var (exit, text) = FaultEnvironment.Run("mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", mount);
        try
        {
            // The attribute let the test run, so the machine must be able to mount: a failure here is a failure.
            Assert.True(exit == 0, $"Mounting a 2 MiB tmpfs failed (exit {exit}): {text.Trim()}. This test needs root on Linux and the right to mount.");
            var filler = Path.Combine(mount, "filler");
            await File.WriteAllBytesAsync(filler, new byte[512 * 1024]);
            await FillAndRecover(Path.Combine(mount, "full.db"), makeRoom: _ =>
            {
                File.Delete(filler);
                return Task.CompletedTask;
            });
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            FaultEnvironment.Run("umount", mount);
        }
    }

    /// <summary>The same through PRAGMA max_page_count on the store's write connection: runs anywhere.</summary>
    [Fact]
    public async Task DatabaseSizeLimit_FailsTyped_KeepsCommitted_RecoversWhenRaised()
    {
        await FillAndRecover(Path.Combine(_directory, "limited.db"), limit: true, makeRoom: store =>
            store.ExecuteAsync(tx => Pragma(tx.Connection, "PRAGMA max_page_count = 1073741823;")).AsTask());
    }

    private async Task FillAndRecover(string file, Func<QueueStore, Task> makeRoom, bool limit = false)
    {
        var confirmed = new List<long>();
        await using (var store = QueueStore.Open(file))
        {
            var queue = store.GetQueue("work");
            confirmed.Add((await queue.EnqueueAsync(new byte[100])).Value);
            if (limit)
            {
                await store.ExecuteAsync(tx => Pragma(tx.Connection, "PRAGMA max_page_count = 150;"));
            }

            StorageFullException? full = null;
            var random = new Random(1);
            for (var i = 0; i < 5_000 && full is null; i++)
            {
                try
                {
                    if (i % 3 == 0)
                    {
                        var ids = await queue.EnqueueBatchAsync(Enumerable.Range(0, 4).Select(_ => (ReadOnlyMemory<byte>)new byte[random.Next(500, 9000)]));
                        confirmed.AddRange(ids.Select(id => id.Value));
                    }
                    else
                    {
                        confirmed.Add((await queue.EnqueueAsync(new byte[random.Next(500, 9000)])).Value);
                    }
                }
                catch (StorageFullException ex)
                {
                    full = ex;
                }
            }

            Assert.NotNull(full);
            output.WriteLine($"{confirmed.Count} messages committed, then: {full.Message}");
            // Still full: fails again the same way, and reads still work.
            await Assert.ThrowsAsync<StorageFullException>(async () => await queue.EnqueueAsync(new byte[600_000]));
            Assert.Equal(confirmed.Count, (await queue.GetCountsAsync()).Total);

            await makeRoom(store);
            var after = await queue.EnqueueAsync(new byte[5_000]);
            confirmed.Add(after.Value);
            var received = await queue.ReceiveAsync(10);
            Assert.Equal(10, received.Count);
        }

        Assert.Equal("ok", StoreFile.IntegrityCheck(file));
        var present = StoreFile.Messages(file);
        Assert.All(confirmed, id => Assert.True(present.ContainsKey(id), $"committed message {id} is missing"));
    }

    private static int Pragma(System.Data.Common.DbConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteScalar();
        return 0;
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}
