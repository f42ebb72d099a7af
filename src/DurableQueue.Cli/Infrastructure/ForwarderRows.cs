using System.Data.Common;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace DurableQueue.Cli.Infrastructure;

/// <summary>
/// Reads the forwarders' status rows (table <c>dqf_status</c>, written by a running forwarder at most about once a
/// second, and at least every 30 s) with plain SQL on a read-only connection: a store without the table has none, and
/// the table is never created here.
/// </summary>
internal static class ForwarderRows
{
    private const string Columns =
        "SELECT name, queue, running, started_at, link, link_since, last_error, last_error_at, forwarded, last_forwarded_at, written_at FROM ";

    /// <summary>Reads every status row of the store, by name; empty when no forwarder ever ran on it.</summary>
    public static IReadOnlyList<ForwarderRow> Read(string store)
    {
        var target = StoreTarget.Parse(store);
        if (target.ConnectionString is { } connectionString)
        {
            using var connection = new NpgsqlConnection(connectionString);
            connection.Open();
            Execute(connection, "SET default_transaction_read_only = on;");
            var table = Quote(StoreAccess.SchemaName) + ".dqf_status";
            using var exists = connection.CreateCommand();
            exists.CommandText = "SELECT to_regclass(@table) IS NOT NULL;";
            exists.Parameters.Add(new NpgsqlParameter("table", table));
            return exists.ExecuteScalar() is true ? ReadRows(connection, table) : [];
        }

        var connectionStringBuilder = new SqliteConnectionStringBuilder { DataSource = store, Mode = SqliteOpenMode.ReadOnly, Pooling = false };
        using var file = new SqliteConnection(connectionStringBuilder.ToString());
        file.Open();
        using var check = file.CreateCommand();
        check.CommandText = "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'dqf_status';";
        return Convert.ToInt64(check.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture) == 0 ? [] : ReadRows(file, "dqf_status");
    }

    private static List<ForwarderRow> ReadRows(DbConnection connection, string table)
    {
        using var command = connection.CreateCommand();
        command.CommandText = Columns + table + " ORDER BY name;";
        using var reader = command.ExecuteReader();
        var rows = new List<ForwarderRow>();
        while (reader.Read())
        {
            rows.Add(new ForwarderRow(
                reader.GetString(0),
                reader.GetString(1),
                reader.GetInt64(2) != 0,
                At(reader.GetInt64(3)),
                reader.GetString(4),
                At(reader.GetInt64(5)),
                reader.IsDBNull(6) ? null : reader.GetString(6),
                reader.IsDBNull(7) ? null : At(reader.GetInt64(7)),
                reader.GetInt64(8),
                reader.IsDBNull(9) ? null : At(reader.GetInt64(9)),
                At(reader.GetInt64(10))));
        }

        return rows;
    }

    private static void Execute(NpgsqlConnection connection, string sql)
    {
        using var command = new NpgsqlCommand(sql, connection);
        command.ExecuteNonQuery();
    }

    private static string Quote(string identifier) => "\"" + identifier.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    private static DateTimeOffset At(long unixMilliseconds) => DateTimeOffset.FromUnixTimeMilliseconds(unixMilliseconds);
}

/// <summary>One forwarder's status row, as its app last wrote it.</summary>
internal sealed record ForwarderRow(
    string Name,
    string Queue,
    bool Running,
    DateTimeOffset StartedAt,
    string Link,
    DateTimeOffset LinkSince,
    string? LastError,
    DateTimeOffset? LastErrorAt,
    long Forwarded,
    DateTimeOffset? LastForwardedAt,
    DateTimeOffset WrittenAt);
