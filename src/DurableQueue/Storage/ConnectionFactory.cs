using System.Globalization;
using Microsoft.Data.Sqlite;

namespace DurableQueue.Storage;

/// <summary>
/// Opens the store's connections with the settings every connection needs. PRAGMAs such as busy_timeout
/// are per connection and pooled handles keep whatever the last user set, so they run on every open.
/// </summary>
internal sealed class ConnectionFactory
{
    private readonly string _writerConnectionString;
    private readonly string _readerConnectionString;
    private readonly string _readerPragmas;
    private readonly string _writerPragmas;

    public ConnectionFactory(string path, QueueStoreOptions options)
    {
        Path = path;
        // Microsoft.Data.Sqlite retries a busy statement on its own until CommandTimeout runs out; SQLite's busy
        // handler (busy_timeout) does the waiting here, so its loop is kept to one second on top.
        _writerConnectionString = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = false,
            DefaultTimeout = 1,
        }.ToString();
        _readerConnectionString = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWrite,
            Pooling = true,
            DefaultTimeout = 1,
        }.ToString();

        var busyMs = (long)Math.Min(int.MaxValue, options.BusyTimeout.TotalMilliseconds);
        var synchronous = options.Durability == Durability.Full ? "FULL" : "NORMAL";
        _readerPragmas = string.Create(CultureInfo.InvariantCulture, $"PRAGMA busy_timeout = {busyMs};");
        // temp_store = MEMORY on the writer: every request of a batch runs in a savepoint, and SQLite keeps the page
        // images a savepoint may roll back to in a sub-journal that spills to a temporary FILE past 64 KiB (a big
        // batch, an ack of many); that file is then created, written page by page and deleted in every such batch,
        // which cost more writes than the WAL itself. In memory it holds at most one original copy of each page the
        // open savepoint changes (released with the savepoint), the size of what the batch dirties in the page cache
        // anyway. The writer runs no VACUUM (only incremental vacuum), so no temporary database copy lands in memory;
        // application SQL in a unit of work that needs a large temporary sort or index builds it in memory too.
        // Reader connections keep the default.
        _writerPragmas = string.Create(
            CultureInfo.InvariantCulture,
            $"PRAGMA busy_timeout = {busyMs}; PRAGMA synchronous = {synchronous}; PRAGMA foreign_keys = ON; " +
            $"PRAGMA journal_size_limit = {options.JournalSizeLimitBytes}; PRAGMA wal_autocheckpoint = 1000; PRAGMA temp_store = MEMORY;");
    }

    public string Path { get; }

    public SqliteConnection OpenWriter()
    {
        var connection = new SqliteConnection(_writerConnectionString);
        connection.Open();
        return connection;
    }

    public void ConfigureWriter(SqliteConnection connection) => Execute(connection, _writerPragmas);

    public SqliteConnection OpenReader()
    {
        var connection = new SqliteConnection(_readerConnectionString);
        try
        {
            connection.Open();
            Execute(connection, _readerPragmas);
            return connection;
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    /// <summary>Closes the pooled reader handles so that no file handle outlives the store.</summary>
    public void ClearReaderPool()
    {
        using var connection = new SqliteConnection(_readerConnectionString);
        SqliteConnection.ClearPool(connection);
    }

    public static void Execute(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }
}
