using System.Security.Cryptography;
using System.Text;
using DurableQueue.Internal;
using Npgsql;

namespace DurableQueue.Postgres.Storage;

/// <summary>
/// Creates the queue's schema and applies the numbered migrations in <c>Migrations/</c>, under an advisory lock:
/// hosts that start at once take turns, and each re-reads the version after it got the lock, so every
/// migration runs exactly once. A schema of a newer version is refused and left as it is. The version lives in the
/// schema's own <c>dq_meta</c> table.
/// </summary>
internal static class PostgresSchema
{
    private static readonly (int Version, string Name)[] s_migrations = EmbeddedMigrations.Load(typeof(PostgresSchema).Assembly, "DurableQueue.Postgres.Migrations.");

    public static int LatestVersion => s_migrations[^1].Version;

    /// <summary>
    /// Makes the schema current. A schema already at the latest version is only read (so a role without the right to
    /// create anything can use a schema an administrator made). Returns the version found before any migration
    /// (0 for a new schema).
    /// </summary>
    public static long Ensure(NpgsqlConnection connection, PostgresSql sql, string location)
    {
        var found = ReadVersion(connection, sql);
        Refuse(found, sql, location);
        if (found == LatestVersion)
        {
            return found;
        }

        // A session-level advisory lock, taken outside the migration's transaction: the transaction then starts after
        // the wait, so it sees the catalog as the host before us left it. (Waiting on a transaction-scoped lock inside
        // the transaction leaves the backend's catalog caches as they were before the wait, and the tables another host
        // just created would look missing.) The lock is released at the end, or by the server if the connection drops.
        var key = MigrationLockKey(sql.Schema);
        Advisory(connection, "SELECT pg_advisory_lock($1);", key);
        try
        {
            using var transaction = connection.BeginTransaction();
            // Re-read under the lock: another host may have migrated meanwhile.
            var current = ReadVersion(connection, sql);
            Refuse(current, sql, location);
            if (current == 0 && !Scalar<bool>(connection, sql.SchemaExists, sql.Schema))
            {
                Execute(connection, sql.CreateSchema);
            }

            foreach (var (version, name) in s_migrations)
            {
                if (version <= current)
                {
                    continue;
                }

                Execute(connection, sql.ForSchema(EmbeddedMigrations.Read(typeof(PostgresSchema).Assembly, name)));
                using var write = new NpgsqlCommand(sql.WriteSchemaVersion, connection, transaction);
                write.Parameters.Add(new NpgsqlParameter<long> { TypedValue = version });
                write.ExecuteNonQuery();
            }

            transaction.Commit();
        }
        finally
        {
            if (connection.State == System.Data.ConnectionState.Open)
            {
                Advisory(connection, "SELECT pg_advisory_unlock($1);", key);
            }
        }

        return found;
    }

    private static void Advisory(NpgsqlConnection connection, string text, long key)
    {
        using var command = new NpgsqlCommand(text, connection);
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = key });
        command.ExecuteNonQuery();
    }

    /// <summary>Reads the schema version without writing anything: 0 when the schema or its tables do not exist.</summary>
    public static long ReadVersion(NpgsqlConnection connection, PostgresSql sql)
    {
        if (!Scalar<bool>(connection, sql.MetaTableExists))
        {
            return 0;
        }

        using var command = new NpgsqlCommand(sql.ReadSchemaVersion, connection);
        return command.ExecuteScalar() is long version ? version : 0;
    }

    /// <summary>The advisory lock key of a schema's migrations: stable across processes and versions of this library.</summary>
    public static long MigrationLockKey(string schema) => StableKey("DurableQueue.Postgres migrate " + schema);

    /// <summary>The first lock key (class) of a schema's per-queue admission locks; the second key is the queue id.</summary>
    public static int AdmissionLockClass(string schema) => (int)StableKey("DurableQueue.Postgres admit " + schema);

    private static long StableKey(string text) => BitConverter.ToInt64(SHA256.HashData(Encoding.UTF8.GetBytes(text)), 0);

    private static void Refuse(long version, PostgresSql sql, string location)
    {
        if (version > LatestVersion)
        {
            throw new StoreFileException(
                location, StoreFileProblem.NewerSchema, PostgresErrorMessages.NewerSchema(location, sql.Schema, version, LatestVersion));
        }
    }

    private static T Scalar<T>(NpgsqlConnection connection, string text, string? argument = null)
    {
        using var command = new NpgsqlCommand(text, connection);
        if (argument is not null)
        {
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = argument });
        }

        return (T)command.ExecuteScalar()!;
    }

    private static void Execute(NpgsqlConnection connection, string text)
    {
        using var command = new NpgsqlCommand(text, connection);
        command.ExecuteNonQuery();
    }
}
