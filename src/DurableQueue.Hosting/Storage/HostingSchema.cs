using System.Data.Common;
using System.Globalization;
using System.Reflection;

namespace DurableQueue.Hosting.Storage;

/// <summary>
/// Applies the hosting layer's embedded migrations (<c>Storage/Migrations/NNNN_*.sql</c> for SQLite,
/// <c>Storage/Migrations/Postgres/NNNN_*.sql</c> for PostgreSQL) inside a unit of work of the core store, so that
/// several processes opening the store at once migrate it once. The version lives in the core's <c>dq_meta</c> table
/// under its own key.
/// </summary>
internal static class HostingSchema
{
    private const string SqlitePrefix = "DurableQueue.Hosting.Migrations.";
    private const string PostgresPrefix = "DurableQueue.Hosting.Migrations.Postgres.";
    private static readonly (int Version, string Name)[] s_sqlite = Load(SqlitePrefix);
    private static readonly (int Version, string Name)[] s_postgres = Load(PostgresPrefix);

    public static int LatestVersion => s_sqlite[^1].Version;

    public static ValueTask MigrateAsync(QueueStore store, CancellationToken cancellationToken)
    {
        var postgres = store.Driver.Kind == DurableQueue.Storage.Driver.StorageKind.Postgres;
        var migrations = postgres ? s_postgres : s_sqlite;
        return store.ExecuteAsync(
            tx =>
            {
                if (postgres)
                {
                    // Units of work of several hosts run at once on PostgreSQL (a SQLite file has one writer at a time):
                    // take turns until this transaction ends, then read the version the host before us left. The lock
                    // is per schema (the store's schema is first on the search path).
                    tx.Connection.Execute("SELECT pg_advisory_xact_lock(hashtext('DurableQueue.Hosting migrate ' || current_schema()));");
                }

                Migrate(tx.Connection, store.Path, migrations);
            },
            cancellationToken);
    }

    private static void Migrate(DbConnection connection, string path, (int Version, string Name)[] migrations)
    {
        var current = connection.Scalar(JobSql.ReadVersion) is { } v ? Convert.ToInt64(v, CultureInfo.InvariantCulture) : 0;
        if (current > migrations[^1].Version)
        {
            throw new StoreFileException(path, StoreFileProblem.NewerSchema, HostingErrors.NewerHostingSchema(path, current, migrations[^1].Version));
        }

        foreach (var (version, name) in migrations)
        {
            if (version > current)
            {
                connection.Execute(Read(name));
                connection.Execute(JobSql.WriteVersion, ("@version", version));
            }
        }
    }

    private static (int, string)[] Load(string prefix)
    {
        var names = typeof(HostingSchema).Assembly.GetManifestResourceNames()
            .Where(n => n.StartsWith(prefix, StringComparison.Ordinal) && n.EndsWith(".sql", StringComparison.Ordinal)
                && char.IsAsciiDigit(n[prefix.Length]))
            .Select(n => (int.Parse(n.AsSpan(prefix.Length, 4), NumberStyles.None, CultureInfo.InvariantCulture), n))
            .OrderBy(m => m.Item1)
            .ToArray();
        if (names.Length == 0 || names.Select((m, i) => m.Item1 != i + 1).Any(gap => gap))
        {
            throw new InvalidOperationException("The embedded hosting migrations must be numbered 0001, 0002, ... without gaps.");
        }

        return names;
    }

    private static string Read(string name)
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream(name)!;
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
