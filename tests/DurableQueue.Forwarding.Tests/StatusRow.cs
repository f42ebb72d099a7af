using Microsoft.Data.Sqlite;

namespace DurableQueue.Forwarding.Tests;

/// <summary>A forwarder's status row as another process reads it: plain SQL on a read-only connection (none before the table exists).</summary>
internal sealed record StatusRow(
    string Name, string Queue, bool Running, string Link, DateTimeOffset LinkSince, string? LastError, long Forwarded, DateTimeOffset? LastForwardedAt, DateTimeOffset WrittenAt)
{
    public static IReadOnlyList<StatusRow> ReadAll(string path)
    {
        var connectionString = new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString();
        using var connection = new SqliteConnection(connectionString);
        connection.Open();
        using (var exists = connection.CreateCommand())
        {
            // Before the forwarder opened its tables there is no row to read.
            exists.CommandText = "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'dqf_status';";
            if ((long)exists.ExecuteScalar()! == 0)
            {
                return [];
            }
        }

        using var command = connection.CreateCommand();
        command.CommandText = "SELECT name, queue, running, link, link_since, last_error, forwarded, last_forwarded_at, written_at FROM dqf_status ORDER BY name;";
        using var reader = command.ExecuteReader();
        var rows = new List<StatusRow>();
        while (reader.Read())
        {
            rows.Add(new StatusRow(
                reader.GetString(0), reader.GetString(1), reader.GetInt64(2) != 0, reader.GetString(3), At(reader.GetInt64(4)),
                reader.IsDBNull(5) ? null : reader.GetString(5), reader.GetInt64(6), reader.IsDBNull(7) ? null : At(reader.GetInt64(7)), At(reader.GetInt64(8))));
        }

        return rows;
    }

    public static async Task<StatusRow> WaitAsync(string path, Func<StatusRow, bool> condition, string what)
    {
        StatusRow? found = null;
        await Wait.UntilAsync(() => (found = ReadAll(path).SingleOrDefault(condition)) is not null, Wait.Long, what);
        return found!;
    }

    private static DateTimeOffset At(long ms) => DateTimeOffset.FromUnixTimeMilliseconds(ms);
}
