using DurableQueue.Storage.Driver;
using Microsoft.Data.Sqlite;

namespace DurableQueue.Storage.Sqlite;

/// <summary>The read-only connection of an inspection of a SQLite file (opened with <c>PRAGMA query_only</c>).</summary>
internal sealed class SqliteInspection(SqliteConnection connection, string path) : IInspectionSource
{
    private readonly SqliteReader _reader = new(connection, path);

    /// <summary>Gets the connection (the durability doctor reads the file's facts on it).</summary>
    public SqliteConnection Connection => connection;

    public StorageKind Kind => StorageKind.Sqlite;

    public T Read<T>(Func<IStoreReader, T> read)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        try
        {
            return read(_reader);
        }
        catch (SqliteException ex) when (ex.SqliteErrorCode is SqliteErrors.Corrupt or SqliteErrors.NotADatabase)
        {
            throw SchemaMigrator.Refuse(ex, path);
        }
        catch (SqliteException ex)
        {
            throw SqliteErrors.Map(ex, path, System.Diagnostics.Stopwatch.GetElapsedTime(started));
        }
    }

    public void Dispose() => connection.Dispose();
}
