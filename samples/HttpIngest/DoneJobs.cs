using System.Data.Common;
using Microsoft.Data.Sqlite;

namespace HttpIngest;

/// <summary>
/// The ids of finished jobs, in a table of the app's own beside the queue's (acked messages are deleted, so the queue
/// alone cannot tell a finished job from one that never existed). A real service would also expire old rows.
/// </summary>
public static class DoneJobs
{
    public static void CreateTable(DbConnection connection) =>
        Execute(connection, "CREATE TABLE IF NOT EXISTS ingest_done_jobs (id INTEGER PRIMARY KEY);", 0);

    public static void Add(DbConnection connection, long id) =>
        Execute(connection, "INSERT OR IGNORE INTO ingest_done_jobs (id) VALUES (@id);", id);

    /// <summary>Reads on a connection of its own: a read needs no turn on the queue's writer (WAL lets readers run beside it).</summary>
    public static bool Contains(string databasePath, long id)
    {
        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = databasePath, Mode = SqliteOpenMode.ReadOnly }.ToString());
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT count(*) FROM ingest_done_jobs WHERE id = @id;";
        command.Parameters.AddWithValue("@id", id);
        return (long)command.ExecuteScalar()! > 0;
    }

    private static void Execute(DbConnection connection, string sql, long id)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        var parameter = command.CreateParameter();
        parameter.ParameterName = "@id";
        parameter.Value = id;
        command.Parameters.Add(parameter);
        command.ExecuteNonQuery();
    }
}
