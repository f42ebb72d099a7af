using DurableQueue.Postgres.Storage;
using DurableQueue.Storage.Driver;
using Npgsql;

namespace DurableQueue.Postgres.Inspection;

/// <summary>
/// The read-only access of a <see cref="StoreInspector"/> to a PostgreSQL store: each read takes a pooled connection
/// of the data source and first makes the session's transactions read-only, so no statement of an inspection can
/// write (the counterpart of SQLite's <c>query_only</c>). Nothing is created or migrated.
/// </summary>
internal sealed class PostgresInspection : IInspectionSource
{
    private const string ReadOnly = "SET default_transaction_read_only = on;";
    private const string ReadWriteAgain = "RESET default_transaction_read_only;";

    private readonly NpgsqlDataSource _dataSource;
    private readonly bool _ownsDataSource;
    private readonly PostgresSql _sql;
    private readonly string _location;

    public PostgresInspection(NpgsqlDataSource dataSource, bool ownsDataSource, PostgresSql sql, string location)
    {
        _dataSource = dataSource;
        _ownsDataSource = ownsDataSource;
        _sql = sql;
        _location = location;
    }

    public StorageKind Kind => StorageKind.Postgres;

    /// <summary>Reads the schema version (0: no queue store in the schema) on a read-only session.</summary>
    public long ReadSchemaVersion() => Run(connection => PostgresSchema.ReadVersion(connection, _sql));

    public T Read<T>(Func<IStoreReader, T> read) =>
        // No writer of this process: nothing left a queue through it, and nothing is there to sweep.
        Run(connection => read(new PostgresReads(_sql, connection, _location, static _ => 0)));

    private T Run<T>(Func<NpgsqlConnection, T> read)
    {
        try
        {
            using var connection = _dataSource.OpenConnection();
            Execute(connection, ReadOnly);
            var result = read(connection);
            if (!_ownsDataSource)
            {
                // A borrowed data source may keep session state across uses (No Reset On Close): hand it back as found.
                Execute(connection, ReadWriteAgain);
            }

            return result;
        }
        catch (Exception ex)
        {
            var mapped = PostgresErrors.Map(ex, _location, _sql.Schema);
            if (ReferenceEquals(mapped, ex))
            {
                throw;
            }

            throw mapped;
        }
    }

    private static void Execute(NpgsqlConnection connection, string text)
    {
        using var command = new NpgsqlCommand(text, connection);
        command.ExecuteNonQuery();
    }

    public void Dispose()
    {
        if (_ownsDataSource)
        {
            _dataSource.Dispose();
        }
    }
}
