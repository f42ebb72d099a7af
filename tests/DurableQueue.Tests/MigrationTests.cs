using Dapper;
using DurableQueue.Storage;
using Microsoft.Data.Sqlite;

namespace DurableQueue.Tests;

/// <summary>
/// Files made by earlier versions are migrated forward when a store opens them; migrations that a build lacks (they
/// land in any order) are recorded and applied by a later build.
/// </summary>
public sealed class MigrationTests : IDisposable
{
    private readonly string _path = TestStore.NewPath();

    [Fact]
    public async Task SchemaVersion2File_MovesLargeBodiesApart_KeepsEverythingElse()
    {
        var large = BodyStorageTests.Body(PendingMessage.BodyInRowMaxBytes + 100, 5);
        var largeDead = BodyStorageTests.Body(PendingMessage.BodyInRowMaxBytes * 3, 6);
        var clock = new TestClock();
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        using (var raw = CreateFile(upTo: 2))
        {
            raw.Execute("INSERT INTO dq_queues(id, name, created_at) VALUES (1, 'q', @now);", new { now });
            raw.Execute(
                "INSERT INTO dq_messages(id, queue_id, priority, visible_at, enqueued_at, attempts, max_attempts, body) VALUES " +
                "(1, 1, 4, @now, @now, 0, 5, x'0102'), (2, 1, 4, @now, @now, 0, 5, @large), " +
                "(3, 1, 4, @later, @now, 1, 5, @large);",
                new { now, later = now + 60_000, large });
            raw.Execute("UPDATE dq_messages SET lease_token = randomblob(16) WHERE id = 3;");
            raw.Execute(
                "INSERT INTO dq_dead_letters(id, queue_id, priority, enqueued_at, attempts, max_attempts, body, reason, dead_lettered_at) " +
                "VALUES (4, 1, 4, @now, 5, 5, @largeDead, 'poison', @now);",
                new { now, largeDead });
            raw.Execute("UPDATE sqlite_sequence SET seq = 4 WHERE name = 'dq_messages';");
            Assert.Equal(2 + large.Length * 2L, raw.ExecuteScalar<long>("SELECT bytes FROM dq_queue_stats WHERE queue_id = 1;"));
        }

        await using (var store = QueueStore.Open(_path, new QueueStoreOptions { TimeProvider = clock }))
        {
            var queue = store.GetQueue("q");
            Assert.Equal(2 + large.Length * 2L, queue.GetBackPressureStats().Bytes);
            var received = await queue.ReceiveAsync(10);
            Assert.Equal([1L, 2L], received.Select(m => m.Id.Value));
            Assert.Equal(large, received[1].Body.ToArray());
            Assert.Equal(largeDead, (await queue.GetDeadLetterAsync(new MessageId(4)))!.Body.ToArray());
            Assert.True((await store.VerifyAsync()).IsHealthy);
        }

        using var check = TestStore.OpenRaw(_path);
        Assert.Equal(SchemaMigrator.LatestVersion, check.ExecuteScalar<long>("SELECT value FROM dq_meta WHERE key = 'schema_version';"));
        // The live large bodies moved out; the dead letter's stays in its row (dead letters are never updated).
        Assert.Equal([2L, 3L], check.Query<long>("SELECT id FROM dq_bodies ORDER BY id;"));
        Assert.Null(check.ExecuteScalar<long?>("SELECT body_size FROM dq_messages WHERE id = 1;"));
        Assert.Equal(large.Length, check.ExecuteScalar<long>("SELECT body_size FROM dq_messages WHERE id = 3;"));
        Assert.Empty(check.ExecuteScalar<byte[]>("SELECT body FROM dq_messages WHERE id = 3;")!);
    }

    [Fact]
    public async Task SchemaVersion2File_GetsTheSettingsTable_KeepsItsMessages()
    {
        var now = new TestClock().GetUtcNow().ToUnixTimeMilliseconds();
        using (var raw = CreateFile(upTo: 2))
        {
            raw.Execute("INSERT INTO dq_queues(id, name, created_at) VALUES (1, 'q', @now);", new { now });
            raw.Execute(
                "INSERT INTO dq_messages(id, queue_id, priority, visible_at, enqueued_at, attempts, max_attempts, body) " +
                "VALUES (1, 1, 4, @now, @now, 0, 5, x'6f6c64');",
                new { now });
        }

        using (var inspector = QueueStore.Inspect(_path))
        {
            // An inspection never migrates: a version 2 file has no settings to show.
            Assert.Equal(2, inspector.SchemaVersion);
            Assert.Null(Assert.Single((await inspector.GetStatisticsAsync()).Queues).Settings);
        }

        await using (var store = QueueStore.Open(_path))
        {
            var queue = store.GetQueue("q", new QueueOptions { MaxAttempts = 3 });
            await queue.EnqueueAsync("new");
            Assert.Equal(2, (await queue.GetCountsAsync()).Total);
            Assert.Equal("old"u8.ToArray(), Assert.Single(await queue.PeekAsync(1)).Body.ToArray());
        }

        using var check = TestStore.OpenRaw(_path);
        Assert.Equal(SchemaMigrator.LatestVersion, check.ExecuteScalar<long>("SELECT value FROM dq_meta WHERE key = 'schema_version';"));
        Assert.Equal(3, check.ExecuteScalar<long>("SELECT max_attempts FROM dq_queue_settings WHERE queue_name = 'q';"));
    }

    [Fact]
    public async Task NewFile_RecordsTheMigrationNumbersThisBuildLacks()
    {
        await using (QueueStore.Open(_path))
        {
        }

        using var raw = TestStore.OpenRaw(_path);
        var missing = Enumerable.Range(1, SchemaMigrator.LatestVersion)
            .Where(n => !Migrations().Contains(n))
            .Select(n => $"migration_pending:{n:D4}");
        Assert.Equal(missing, raw.Query<string>("SELECT key FROM dq_meta WHERE key LIKE 'migration_pending:%' ORDER BY key;"));
    }

    [Fact]
    public async Task SkippedMigration_IsAppliedByABuildThatHasIt()
    {
        // A file at schema version 2 that a build lacking migration 0005 took past it (to a version this build knows).
        using (var raw = CreateFile(upTo: 3))
        {
            raw.Execute("UPDATE dq_meta SET value = @v WHERE key = 'schema_version';", new { v = SchemaMigrator.LatestVersion });
            raw.Execute("INSERT INTO dq_meta(key, value) VALUES ('migration_pending:0005', 1);");
        }

        await using (var store = QueueStore.Open(_path))
        {
            var queue = store.GetQueue("q");
            var body = BodyStorageTests.Body(PendingMessage.BodyInRowMaxBytes * 2, 1);
            await queue.EnqueueAsync(body);
            Assert.Equal(body, Assert.Single(await queue.ReceiveAsync()).Body.ToArray());
        }

        using var check = TestStore.OpenRaw(_path);
        Assert.Equal(0, check.ExecuteScalar<long>("SELECT count(*) FROM dq_meta WHERE key = 'migration_pending:0005';"));
        Assert.Equal(1, check.ExecuteScalar<long>("SELECT count(*) FROM dq_bodies;"));
        Assert.Equal(SchemaMigrator.LatestVersion, check.ExecuteScalar<long>("SELECT value FROM dq_meta WHERE key = 'schema_version';"));
    }

    /// <summary>Makes a file as an earlier version left it: the embedded migrations up to <paramref name="upTo"/>.</summary>
    private SqliteConnection CreateFile(int upTo)
    {
        var raw = TestStore.OpenRaw(_path);
        raw.Execute("PRAGMA journal_mode = WAL;");
        foreach (var number in Migrations().Where(n => n <= upTo))
        {
            raw.Execute(ReadMigration(number));
            raw.Execute(
                "INSERT INTO dq_meta(key, value) VALUES ('schema_version', @number) ON CONFLICT(key) DO UPDATE SET value = excluded.value;",
                new { number });
        }

        return raw;
    }

    private static IEnumerable<int> Migrations() =>
        typeof(QueueStore).Assembly.GetManifestResourceNames()
            .Where(n => n.StartsWith("DurableQueue.Migrations.", StringComparison.Ordinal))
            .Select(n => int.Parse(n.AsSpan("DurableQueue.Migrations.".Length, 4), System.Globalization.CultureInfo.InvariantCulture));

    private static string ReadMigration(int number)
    {
        var assembly = typeof(QueueStore).Assembly;
        var name = assembly.GetManifestResourceNames().Single(n => n.StartsWith($"DurableQueue.Migrations.{number:D4}_", StringComparison.Ordinal));
        using var reader = new StreamReader(assembly.GetManifestResourceStream(name)!);
        return reader.ReadToEnd();
    }

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        foreach (var suffix in new[] { "", "-wal", "-shm" })
        {
            File.Delete(_path + suffix);
        }
    }
}
