using System.Globalization;
using Dapper;
using Microsoft.Data.Sqlite;

namespace DurableQueue.Storage;

/// <summary>
/// An explicit, complete compaction on the writer connection between batches: every free page is handed back
/// (incremental vacuum) and the WAL is checkpointed and truncated.
/// </summary>
internal static class Compaction
{
    private static readonly TimeSpan s_checkpointWait = TimeSpan.FromSeconds(2);

    public static CompactionResult Run(SqliteConnection connection, string path, TimeSpan busyTimeout)
    {
        var fileBefore = Length(path);
        var walBefore = Length(path + "-wal");
        var freeBefore = connection.ExecuteScalar<long>(Sql.FreelistCount);
        var incremental = connection.ExecuteScalar<long>(Sql.AutoVacuum) == 2;
        if (incremental && freeBefore > 0)
        {
            ConnectionFactory.Execute(connection, Sql.IncrementalVacuumAll);
        }

        var completed = false;
        var wait = busyTimeout < s_checkpointWait ? busyTimeout : s_checkpointWait;
        try
        {
            ConnectionFactory.Execute(connection, string.Create(CultureInfo.InvariantCulture, $"PRAGMA busy_timeout = {(long)wait.TotalMilliseconds};"));
            using var command = connection.CreateCommand();
            command.CommandText = Sql.CheckpointTruncate;
            using var reader = command.ExecuteReader();
            // Columns: busy (1 when a reader or writer held it back), WAL frames, frames checkpointed.
            completed = reader.Read() && reader.GetInt64(0) == 0;
        }
        catch (SqliteException ex) when (SqliteErrors.IsBusy(ex))
        {
            completed = false;
        }
        finally
        {
            ConnectionFactory.Execute(
                connection, string.Create(CultureInfo.InvariantCulture, $"PRAGMA busy_timeout = {(long)Math.Min(int.MaxValue, busyTimeout.TotalMilliseconds)};"));
        }

        var freeAfter = connection.ExecuteScalar<long>(Sql.FreelistCount);
        return new CompactionResult(fileBefore, walBefore, freeBefore, Length(path), Length(path + "-wal"), freeAfter, completed, incremental);
    }

    private static long Length(string path)
    {
        var info = new FileInfo(path);
        return info.Exists ? info.Length : 0;
    }
}
