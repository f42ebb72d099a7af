using DurableQueue.Postgres;
using DurableQueue.Postgres.Inspection;
using DurableQueue.Postgres.Storage;
using Npgsql;

namespace DurableQueue;

// Read-only inspection of a PostgreSQL store: what QueueStore.Inspect(path) is for a file (dq's read-only commands).
public static partial class PostgresQueueStore
{
    /// <summary>The inspection members of <see cref="QueueStore"/>.</summary>
    extension(QueueStore)
    {
        /// <summary>
        /// Opens a PostgreSQL store for read-only inspection: the schema is never created, migrated or written (every
        /// transaction of the inspection is read-only), and no writer starts. Use it for tools that look into a store
        /// that apps are using at the same time.
        /// </summary>
        /// <param name="connectionString">An Npgsql connection string, for example <c>Host=db;Database=app;Username=app;Password=...</c>.</param>
        /// <param name="options">Options whose <see cref="QueueStoreOptions.TimeProvider"/> is used; <see langword="null"/> for the defaults.</param>
        /// <param name="postgres">The PostgreSQL options (the schema), or <see langword="null"/> for the defaults.</param>
        /// <returns>The inspector. Dispose it to close its connections.</returns>
        /// <exception cref="ArgumentException">The connection string is malformed, or an option is out of range.</exception>
        /// <exception cref="StorageUnavailableException">The server cannot be reached.</exception>
        /// <exception cref="StoreFileException">
        /// The server refused the login or has no such database (<see cref="StoreFileProblem.CannotOpen"/>), the schema
        /// holds no queue store (<see cref="StoreFileProblem.NotAQueueStore"/>), the role may not read it
        /// (<see cref="StoreFileProblem.ReadOnly"/>), or it is of a newer version (<see cref="StoreFileProblem.NewerSchema"/>).
        /// </exception>
        public static StoreInspector InspectPostgres(string connectionString, QueueStoreOptions? options = null, PostgresStoreOptions? postgres = null)
        {
            ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
            var (storeOptions, postgresOptions) = ValidatedForInspection(options, postgres);
            var dataSource = PostgresConnections.CreateDataSource(connectionString, nameof(connectionString));
            try
            {
                return InspectOn(dataSource, ownsDataSource: true, storeOptions, postgresOptions);
            }
            catch
            {
                dataSource.Dispose();
                throw;
            }
        }

        /// <summary>
        /// Opens the PostgreSQL store of an Npgsql data source for read-only inspection (see
        /// <see cref="InspectPostgres(string, QueueStoreOptions?, PostgresStoreOptions?)"/>). The inspector borrows the
        /// data source: dispose the inspector first, then the data source.
        /// </summary>
        /// <param name="dataSource">The data source.</param>
        /// <param name="options">Options whose <see cref="QueueStoreOptions.TimeProvider"/> is used; <see langword="null"/> for the defaults.</param>
        /// <param name="postgres">The PostgreSQL options (the schema), or <see langword="null"/> for the defaults.</param>
        /// <returns>The inspector.</returns>
        /// <exception cref="ArgumentNullException"><paramref name="dataSource"/> is <see langword="null"/>.</exception>
        /// <exception cref="ArgumentException">An option is out of range.</exception>
        /// <exception cref="StorageUnavailableException">The server cannot be reached.</exception>
        /// <exception cref="StoreFileException">The login, database, rights or schema do not hold a readable queue store; nothing was changed.</exception>
        public static StoreInspector Inspect(NpgsqlDataSource dataSource, QueueStoreOptions? options = null, PostgresStoreOptions? postgres = null)
        {
            ArgumentNullException.ThrowIfNull(dataSource);
            var (storeOptions, postgresOptions) = ValidatedForInspection(options, postgres);
            return InspectOn(dataSource, ownsDataSource: false, storeOptions, postgresOptions);
        }
    }

    private static (QueueStoreOptions, PostgresStoreOptions) ValidatedForInspection(QueueStoreOptions? options, PostgresStoreOptions? postgres)
    {
        // An inspection writes nothing, so a quota (refused by a store on PostgreSQL) does not matter here.
        var storeOptions = (options ?? new QueueStoreOptions()).Clone();
        storeOptions.Validate();
        var postgresOptions = (postgres ?? new PostgresStoreOptions()).Clone();
        postgresOptions.Validate();
        return (storeOptions, postgresOptions);
    }

    private static StoreInspector InspectOn(NpgsqlDataSource dataSource, bool ownsDataSource, QueueStoreOptions options, PostgresStoreOptions postgres)
    {
        var sql = new PostgresSql(postgres.Schema);
        var location = PostgresConnections.Location(dataSource);
        var source = new PostgresInspection(dataSource, ownsDataSource, sql, location);
        var version = source.ReadSchemaVersion();
        if (version == 0)
        {
            throw new StoreFileException(location, StoreFileProblem.NotAQueueStore, PostgresErrorMessages.NoQueueStore(location, postgres.Schema));
        }

        if (version > PostgresSchema.LatestVersion)
        {
            throw new StoreFileException(
                location, StoreFileProblem.NewerSchema, PostgresErrorMessages.NewerSchema(location, postgres.Schema, version, PostgresSchema.LatestVersion));
        }

        return new StoreInspector(location, version, source, options);
    }
}
