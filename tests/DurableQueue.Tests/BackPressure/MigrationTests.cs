using Microsoft.Data.Sqlite;
using static DurableQueue.Tests.BackPressure.BackPressureTestKit;

namespace DurableQueue.Tests.BackPressure;

public sealed class MigrationTests
{
    [Fact]
    public async Task Open_Version1FileWithMessages_BackfillsCounters()
    {
        var path = Path.Combine(Path.GetTempPath(), $"dq-test-{Guid.NewGuid():N}.db");
        try
        {
            using (var connection = new SqliteConnection($"Data Source={path};Pooling=False"))
            {
                connection.Open();
                using var stream = typeof(QueueStore).Assembly.GetManifestResourceStream("DurableQueue.Migrations.0001_initial.sql")!;
                using var command = connection.CreateCommand();
                command.CommandText = "PRAGMA journal_mode = WAL;" + new StreamReader(stream).ReadToEnd() +
                    "INSERT INTO dq_meta(key, value) VALUES ('schema_version', 1);" +
                    "INSERT INTO dq_queues(id, name, created_at) VALUES (1, 'q', 0);" +
                    "INSERT INTO dq_messages(queue_id, priority, visible_at, enqueued_at, max_attempts, body) VALUES (1, 4, 0, 0, 5, x'0102'), (1, 4, 0, 0, 5, x'030405');" +
                    "INSERT INTO dq_dead_letters(id, queue_id, priority, enqueued_at, attempts, max_attempts, body, reason, dead_lettered_at) VALUES (99, 1, 4, 0, 5, 5, x'00', 'r', 0);";
                command.ExecuteNonQuery();
            }

            await using var store = QueueStore.Open(path);
            var queue = store.GetQueue("q", Bounded(maxMessages: 3, mode: QueueFullMode.Reject));
            var stats = queue.GetBackPressureStats();
            Assert.Equal(2, stats.Messages);
            Assert.Equal(5, stats.Bytes);
            Assert.Equal(1, stats.DeadLetters);
            await queue.EnqueueAsync("x");
            await Assert.ThrowsAsync<QueueFullException>(async () => await queue.EnqueueAsync("y"));
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            foreach (var suffix in new[] { "", "-wal", "-shm" })
            {
                File.Delete(path + suffix);
            }
        }
    }
}
