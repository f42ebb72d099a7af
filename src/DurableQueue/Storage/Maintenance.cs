using System.Diagnostics;
using System.Globalization;
using Microsoft.Data.Sqlite;

namespace DurableQueue.Storage;

/// <summary>
/// Keeps the file small under steady load: returns free pages to the file system (incremental vacuum) and
/// checkpoints the WAL so that it is truncated back to <c>journal_size_limit</c>. Runs on the writer thread
/// between batches, never inside one.
/// </summary>
internal static class Maintenance
{
    private const int VacuumThresholdPages = 256;
    private const int VacuumPagesPerRun = 2048;

    public static void Run(SqliteConnection connection, TimeSpan busyTimeout)
    {
        long free;
        using (var command = connection.CreateCommand())
        {
            command.CommandText = Sql.FreelistCount;
            free = (long)command.ExecuteScalar()!;
        }

        if (free > VacuumThresholdPages)
        {
            ConnectionFactory.Execute(
                connection,
                string.Create(CultureInfo.InvariantCulture, $"PRAGMA incremental_vacuum({Math.Min(free, VacuumPagesPerRun)});"));
        }

        Checkpoint(connection, busyTimeout);
    }

    /// <summary>
    /// Tries a TRUNCATE checkpoint with a short busy wait (it waits for readers), falling back to PASSIVE, which
    /// never waits. A reader holding an old snapshot only delays truncation to the next run.
    /// </summary>
    public static void Checkpoint(SqliteConnection connection, TimeSpan busyTimeout)
    {
        try
        {
            ConnectionFactory.Execute(connection, "PRAGMA busy_timeout = 50;");
            using var command = connection.CreateCommand();
            command.CommandText = Sql.CheckpointTruncate;
            bool busy;
            using (var reader = command.ExecuteReader())
            {
                busy = reader.Read() && reader.GetInt64(0) != 0;
            }

            if (busy)
            {
                command.CommandText = Sql.CheckpointPassive;
                command.ExecuteNonQuery();
            }
        }
        catch (SqliteException ex)
        {
            Trace.TraceWarning("DurableQueue: checkpoint failed: {0}", ex.Message);
        }
        finally
        {
            var ms = (long)Math.Min(int.MaxValue, busyTimeout.TotalMilliseconds);
            ConnectionFactory.Execute(connection, string.Create(CultureInfo.InvariantCulture, $"PRAGMA busy_timeout = {ms};"));
        }
    }
}
