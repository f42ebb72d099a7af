using System.Data.Common;
using System.Globalization;
using Microsoft.Data.Sqlite;

namespace DurableQueue.PropertyTests.Model;

/// <summary>The store on a SQLite file: a temp folder per run, crashes simulated on copies of the file and its WAL.</summary>
internal sealed partial class QueueSut
{
    private string _directory = "";

    public string FilePath { get; private set; } = "";

    private void CreateFolder()
    {
        _directory = Path.Combine(Path.GetTempPath(), $"dq-model-{Guid.NewGuid():N}");
        Directory.CreateDirectory(_directory);
        FilePath = Path.Combine(_directory, "store-0.db");
    }

    /// <summary>A read-only connection on the file, for the checks that read the tables directly.</summary>
    private SqliteConnection OpenSqliteReader()
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = FilePath, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString());
        connection.Open();
        return connection;
    }

    /// <summary>
    /// Copies the database, WAL and shared-memory files as a killed process would leave them on disk, throws the old
    /// store away and opens the copy, which makes SQLite recover the WAL as it does after a crash. Nothing is
    /// checkpointed into the copy.
    /// </summary>
    private void CrashSqlite()
    {
        var next = Path.Combine(_directory, $"store-{++_generation}.db");
        foreach (var suffix in new[] { "", "-wal", "-shm" })
        {
            if (File.Exists(FilePath + suffix))
            {
                File.Copy(FilePath + suffix, next + suffix);
            }
        }

        ReplaceStore(next);
    }

    private void ReplaceStore(string next)
    {
        Store.Dispose();
        DeleteFiles(FilePath);
        FilePath = next;
        ReopenAfterCrash();
    }

    /// <summary>
    /// The database file is copied as the commit starts (from the commit hook, before SQLite writes the commit's WAL
    /// frames), and after the write the WAL is cut before, inside or after the frames the commit appended. The store is
    /// thrown away and the image opened, so SQLite recovers the WAL from the cut file: a torn or missing commit frame must
    /// leave no trace of the write.
    /// </summary>
    private IReadOnlyList<MessageId>? CrashDuringWriteSqlite(CrashCut cut, int tornPermille, Func<MessageQueue, Task<IReadOnlyList<MessageId>?>> write)
    {
        var next = Path.Combine(_directory, $"store-{++_generation}.db");
        var session = (DurableQueue.Storage.Sqlite.SqliteWriteSession)Store.Writer.Session;
        byte[]? walBefore = null;
        var commits = 0;
        session.Committing = () =>
        {
            if (commits++ == 0)
            {
                File.Copy(FilePath, next);
                walBefore = File.Exists(FilePath + "-wal") ? File.ReadAllBytes(FilePath + "-wal") : [];
            }
        };
        IReadOnlyList<MessageId>? ids;
        try
        {
            ids = write(Queue).GetAwaiter().GetResult();
        }
        finally
        {
            session.Committing = null;
        }

        Require(commits == 1 && walBefore is not null, $"the write took {commits} commits, expected one");
        var walAfter = File.ReadAllBytes(FilePath + "-wal");
        // The commit's frames start where the file first differs: at the old end of the WAL, over an earlier torn tail
        // that recovery had dropped, or at the start when the commit restarted the WAL after a full checkpoint (the
        // database file then holds everything before it). A torn write leaves the old bytes after the cut.
        var start = walAfter.AsSpan().CommonPrefixLength(walBefore);
        // A write that changed no row (a deduplicated enqueue) commits no frames: every cut is the state before it.
        byte[] image = start == walAfter.Length ? walBefore! : cut switch
        {
            CrashCut.After => walAfter,
            CrashCut.Torn => Torn(walAfter, walBefore!, start + (int)((long)(walAfter.Length - start - 1) * tornPermille / 1000)),
            _ => walBefore!,
        };
        File.WriteAllBytes(next + "-wal", image);
        Coverage.Count($"crashes during a write, cut {cut}{(start < 32 ? " (WAL restarted)" : "")}");
        ReplaceStore(next);
        return ids;
    }

    private static byte[] Torn(byte[] after, byte[] before, int cut) =>
        [.. after.AsSpan(0, cut), .. before.Length > cut ? before.AsSpan(cut) : []];

    /// <summary>
    /// When no other store writes the file, the tier must agree with it exactly: each priority lane holds the rows of
    /// that priority up to its bound (all of them when complete), in delivery order, with the rows' visible time, and
    /// the body where it keeps one. A tier that is stale, holds a ghost or misses a row fails here, before any batch
    /// could refresh it.
    /// </summary>
    private void CheckTierMatchesFile(DbConnection fileReader)
    {
        // The tier changes inside a batch, before its COMMIT reaches the file, and a batch may be running now that the
        // step did not wait for: a waiting producer tries again on its own thread when the clock moves. Only a
        // difference that outlasts the batches in flight counts (an empty request queued behind them on the writer).
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                CompareTierWithFile(fileReader);
                return;
            }
            catch (ModelMismatchException) when (attempt < 3)
            {
                Coverage.Count("tier compared again after the writer's batch in flight");
                AwaitWriterIdle(Store);
            }
        }
    }

    private void CompareTierWithFile(DbConnection fileReader)
    {
        if (Store.Tier is not { } tier || fileReader is not SqliteConnection connection)
        {
            return;
        }

        long queueId;
        using (var command = connection.CreateCommand())
        {
            command.CommandText = "SELECT id FROM dq_queues WHERE name = @name;";
            command.Parameters.AddWithValue("@name", QueueName);
            if (command.ExecuteScalar() is not long found)
            {
                return;
            }

            queueId = found;
        }

        if (tier.Find(queueId) is not { } cache)
        {
            return;
        }

        var rows = new List<(long Id, int Priority, long VisibleAt, byte[] Body)>();
        using (var command = connection.CreateCommand())
        {
            command.CommandText = "SELECT id, priority, visible_at, body FROM dq_messages WHERE queue_id = @queue ORDER BY priority, visible_at, id;";
            command.Parameters.AddWithValue("@queue", queueId);
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                rows.Add((reader.GetInt64(0), reader.GetInt32(1), reader.GetInt64(2), reader.GetFieldValue<byte[]>(3)));
            }
        }

        for (var priority = 0; priority < DurableQueue.Memory.QueueCache.Priorities; priority++)
        {
            var lane = cache.LaneOf(priority);
            var expected = rows.Where(r => r.Priority == priority
                    && (lane.Complete || r.VisibleAt < lane.BoundVisible || (r.VisibleAt == lane.BoundVisible && r.Id <= lane.BoundId)))
                .Select(r => string.Create(CultureInfo.InvariantCulture, $"{r.Id}@{r.VisibleAt - QueueModel.Start}"))
                .ToList();
            var cached = lane.Set.Select(e => string.Create(CultureInfo.InvariantCulture, $"{e.Id}@{e.VisibleAt - QueueModel.Start}")).ToList();
            RequireEqual(expected, cached, $"the memory tier's lane {priority} ({(lane.Complete ? "complete" : "prefix")})");
            foreach (var entry in lane.Set)
            {
                Require(entry.Body is null || entry.Body.AsSpan().SequenceEqual(rows.First(r => r.Id == entry.Id).Body), $"the memory tier holds another body for message {entry.Id}");
            }
        }

        Coverage.Count("tier states compared with the file");
    }

    private static void DeleteFiles(string path)
    {
        foreach (var suffix in new[] { "", "-wal", "-shm" })
        {
            File.Delete(path + suffix);
        }
    }

    private void DeleteFolder()
    {
        if (_directory.Length > 0 && Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }
}
