using System.Security.Cryptography;
using Microsoft.Data.Sqlite;

namespace DurableQueue.PropertyTests.Crash;

/// <summary>Reads a store file directly, the way a check after a crash must: no queue code in between.</summary>
internal static class StoreFile
{
    public static string IntegrityCheck(string path)
    {
        using var connection = Open(path, SqliteOpenMode.ReadWrite);
        using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA integrity_check;";
        return string.Join("; ", Read(command, r => r.GetString(0)));
    }

    /// <summary>Every message in the file, live or dead-lettered, with its attempts.</summary>
    public static Dictionary<long, (int Attempts, bool Dead)> Messages(string path)
    {
        using var connection = Open(path, SqliteOpenMode.ReadOnly);
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT id, attempts, 0 FROM dq_messages UNION ALL SELECT id, attempts, 1 FROM dq_dead_letters;";
        return Read(command, r => (r.GetInt64(0), r.GetInt32(1), r.GetInt32(2) == 1)).ToDictionary(t => t.Item1, t => (t.Item2, t.Item3));
    }

    public static SqliteConnection Open(string path, SqliteOpenMode mode)
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Mode = mode, Pooling = false }.ToString());
        connection.Open();
        return connection;
    }

    public static string Hash(string path) => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path)));

    /// <summary>The file and its WAL and shared-memory companions, for comparing before and after.</summary>
    public static string HashWithCompanions(string path) =>
        string.Join("|", new[] { "", "-wal", "-shm" }.Select(s => File.Exists(path + s) ? Hash(path + s) : "absent"));

    private static List<T> Read<T>(SqliteCommand command, Func<SqliteDataReader, T> row)
    {
        var list = new List<T>();
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            list.Add(row(reader));
        }

        return list;
    }
}
