using DurableQueue.Postgres;
using DurableQueue.Postgres.Storage;
using Npgsql;

namespace DurableQueue;

/// <summary>
/// Opens queue stores on PostgreSQL: <c>QueueStore.OpenPostgres(connectionString)</c> or
/// <c>QueueStore.Open(dataSource)</c>. Everything after opening is the same as on a SQLite file.
/// </summary>
public static partial class PostgresQueueStore
{
    /// <summary>The extension members of <see cref="QueueStore"/>.</summary>
    extension(QueueStore)
    {
        /// <summary>
        /// Opens a queue store on a PostgreSQL database, creating the queue's schema and tables when they do not exist.
        /// </summary>
        /// <param name="connectionString">An Npgsql connection string, for example <c>Host=db;Database=app;Username=app;Password=...</c>.</param>
        /// <param name="options">The store options, or <see langword="null"/> for the defaults.</param>
        /// <param name="postgres">The PostgreSQL options (schema, safety poll), or <see langword="null"/> for the defaults.</param>
        /// <returns>The open store. Dispose it to close its connections.</returns>
        /// <remarks>
        /// Open one store per process and share it. Stores in other processes and on other hosts may use the same
        /// schema at once: a message is leased by one of them at a time, and waiting receivers everywhere wake within
        /// milliseconds of a commit.
        /// </remarks>
        /// <exception cref="ArgumentException">The connection string is malformed, or an option is out of range.</exception>
        /// <exception cref="StorageUnavailableException">The server cannot be reached; retry once it is up.</exception>
        /// <exception cref="StoreFileException">
        /// The server refused the login or has no such database (<see cref="StoreFileProblem.CannotOpen"/>), the role may
        /// not create the schema or its tables (<see cref="StoreFileProblem.ReadOnly"/>), or the schema is of a newer
        /// version (<see cref="StoreFileProblem.NewerSchema"/>); nothing was changed.
        /// </exception>
        public static QueueStore OpenPostgres(string connectionString, QueueStoreOptions? options = null, PostgresStoreOptions? postgres = null)
        {
            ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
            var (storeOptions, postgresOptions) = Validated(options, postgres);
            var dataSource = PostgresConnections.CreateDataSource(connectionString, nameof(connectionString));
            try
            {
                return OpenOn(dataSource, ownsDataSource: true, storeOptions, postgresOptions);
            }
            catch
            {
                dataSource.Dispose();
                throw;
            }
        }

        /// <summary>
        /// Opens a queue store on the database of an Npgsql data source, creating the queue's schema and tables when they
        /// do not exist. The store borrows the data source: dispose the store first, then the data source.
        /// </summary>
        /// <param name="dataSource">The data source; the store takes its connections from it (one for the writer, one for wake-ups, and pooled readers).</param>
        /// <param name="options">The store options, or <see langword="null"/> for the defaults.</param>
        /// <param name="postgres">The PostgreSQL options (schema, safety poll), or <see langword="null"/> for the defaults.</param>
        /// <returns>The open store. Dispose it to close its connections.</returns>
        /// <exception cref="ArgumentNullException"><paramref name="dataSource"/> is <see langword="null"/>.</exception>
        /// <exception cref="ArgumentException">An option is out of range.</exception>
        /// <exception cref="StorageUnavailableException">The server cannot be reached; retry once it is up.</exception>
        /// <exception cref="StoreFileException">The login, database, rights or schema version do not allow a store; nothing was changed.</exception>
        public static QueueStore Open(NpgsqlDataSource dataSource, QueueStoreOptions? options = null, PostgresStoreOptions? postgres = null)
        {
            ArgumentNullException.ThrowIfNull(dataSource);
            var (storeOptions, postgresOptions) = Validated(options, postgres);
            return OpenOn(dataSource, ownsDataSource: false, storeOptions, postgresOptions);
        }
    }

    private static (QueueStoreOptions, PostgresStoreOptions) Validated(QueueStoreOptions? options, PostgresStoreOptions? postgres)
    {
        var storeOptions = (options ?? new QueueStoreOptions()).Clone();
        storeOptions.Validate();
        if (storeOptions.MaxDatabaseBytes is not null)
        {
            throw new ArgumentException(PostgresErrorMessages.NoDatabaseQuota, "options.MaxDatabaseBytes");
        }

        var postgresOptions = (postgres ?? new PostgresStoreOptions()).Clone();
        postgresOptions.Validate();
        return (storeOptions, postgresOptions);
    }

    private static QueueStore OpenOn(NpgsqlDataSource dataSource, bool ownsDataSource, QueueStoreOptions options, PostgresStoreOptions postgres)
    {
        var sql = new PostgresSql(postgres.Schema);
        var location = PostgresConnections.Location(dataSource);
        using (var connection = PostgresConnections.Open(dataSource, location, postgres.Schema))
        {
            try
            {
                PostgresSchema.Ensure(connection, sql, location);
            }
            catch (Exception ex) when (PostgresErrors.Map(ex, location, postgres.Schema) is var mapped && !ReferenceEquals(mapped, ex))
            {
                throw mapped;
            }
        }

        return new QueueStore(new PostgresDriver(dataSource, ownsDataSource, sql, location, options, postgres), options);
    }
}
