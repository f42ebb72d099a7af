using System.Globalization;
using DurableQueue.Internal;
using Microsoft.Data.Sqlite;

namespace DurableQueue.Storage;

/// <summary>
/// Checks a file before the store writes to it, then applies the numbered migrations in
/// <c>Storage/Migrations</c>. The schema version lives in the queue's own <c>dq_meta</c> table, because
/// <c>PRAGMA user_version</c> belongs to the app that shares the file.
/// </summary>
/// <remarks>
/// The schema version is the highest migration applied. Numbers may be missing from a build (migrations are written
/// on parallel branches and land in any order): a migration applied past a number this build does not have records
/// that number in <c>dq_meta</c> (<c>migration_pending:NNNN</c>), and a later build that has it applies it then and
/// removes the record. Such migrations must not depend on each other's order.
/// </remarks>
internal static class SchemaMigrator
{
    private static readonly (int Version, string Name)[] s_migrations = EmbeddedMigrations.Load(typeof(SchemaMigrator).Assembly, "DurableQueue.Migrations.", allowGaps: true);

    public static int LatestVersion => s_migrations[^1].Version;

    /// <summary>
    /// Reads the file without writing anything and refuses it when it is not a database, is damaged, or has a newer
    /// schema. Returns the schema version found (0 for a file without queue tables).
    /// </summary>
    public static long Inspect(SqliteConnection connection, string path)
    {
        try
        {
            using var command = connection.CreateCommand();
            command.CommandText = Sql.SchemaObjectCount;
            command.ExecuteScalar();
            command.CommandText = Sql.MetaTableExists;
            if ((long)command.ExecuteScalar()! == 0)
            {
                return 0;
            }

            command.CommandText = Sql.ReadSchemaVersion;
            var version = command.ExecuteScalar() is long v ? v : 0;
            if (version > LatestVersion)
            {
                throw new StoreFileException(path, StoreFileProblem.NewerSchema, ErrorMessages.NewerSchema(path, version, LatestVersion));
            }

            return version;
        }
        catch (SqliteException ex)
        {
            throw Refuse(ex, path);
        }
    }

    /// <summary>
    /// Runs the checks of opening a file on its connection; on failure closes the connection and throws the typed error
    /// (busy: <see cref="StorageBusyException"/>; anything else SQLite reports: the reason the file is refused).
    /// </summary>
    public static T OpenGuarded<T>(SqliteConnection connection, string path, Func<T> open)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        try
        {
            return open();
        }
        catch (SqliteException ex)
        {
            connection.Dispose();
            throw SqliteErrors.IsBusy(ex) ? SqliteErrors.Map(ex, path, System.Diagnostics.Stopwatch.GetElapsedTime(started)) : Refuse(ex, path);
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    /// <summary>Maps an error met while opening a file to the reason it is refused.</summary>
    public static Exception Refuse(SqliteException ex, string path) => ex.SqliteErrorCode switch
    {
        SqliteErrors.NotADatabase => new StoreFileException(path, StoreFileProblem.NotADatabase, ErrorMessages.NotADatabase(path), ex),
        SqliteErrors.Corrupt => new StoreFileException(path, StoreFileProblem.Corrupt, ErrorMessages.Corrupt(path, ex.Message), ex),
        SqliteErrors.ReadOnly => new StoreFileException(path, StoreFileProblem.ReadOnly, ErrorMessages.ReadOnly(path), ex),
        SqliteErrors.CantOpen => new StoreFileException(path, StoreFileProblem.CannotOpen, ErrorMessages.CannotOpen(path, ex.Message), ex),
        _ when SqliteErrors.IsBusy(ex) => ex,
        _ => new StoreFileException(path, StoreFileProblem.CannotOpen, ErrorMessages.CannotOpen(path, ex.Message), ex),
    };

    /// <summary>
    /// Returns whether the file needs a migration: its version is older than this build's, or it records a skipped
    /// migration that this build has.
    /// </summary>
    public static bool NeedsMigration(SqliteConnection connection, long version) =>
        version < LatestVersion || (version > 0 && PendingKnown(connection, transaction: null).Count > 0);

    /// <summary>Applies every migration newer than the file's version, and every skipped one this build has, in one write transaction.</summary>
    public static void Migrate(SqliteConnection connection, string path)
    {
        using var transaction = connection.BeginTransaction();
        // Re-read inside the write lock: another process may have migrated the file meanwhile.
        var current = Inspect(connection, path);
        var pending = current > 0 ? PendingKnown(connection, transaction) : [];
        var known = s_migrations.Select(m => m.Version).ToHashSet();
        var version = current;
        foreach (var (number, name) in s_migrations)
        {
            if (number <= current && !pending.Contains(number))
            {
                continue;
            }

            using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = EmbeddedMigrations.Read(typeof(SchemaMigrator).Assembly, name);
            command.ExecuteNonQuery();
            if (number <= current)
            {
                Execute(connection, transaction, Sql.DeletePendingMigration, PendingKey(number));
                continue;
            }

            // Numbers this build lacks between the file's version and this one stay to be applied by a build that has them.
            for (var missing = (int)Math.Max(version + 1, 1); missing < number; missing++)
            {
                if (!known.Contains(missing))
                {
                    Execute(connection, transaction, Sql.InsertPendingMigration, PendingKey(missing));
                }
            }

            version = number;
            command.CommandText = Sql.WriteSchemaVersion;
            command.Parameters.AddWithValue("@version", number);
            command.ExecuteNonQuery();
        }

        transaction.Commit();
    }

    private static string PendingKey(int number) => string.Create(CultureInfo.InvariantCulture, $"migration_pending:{number:D4}");

    /// <summary>The skipped migrations recorded in the file that this build has.</summary>
    private static HashSet<int> PendingKnown(SqliteConnection connection, SqliteTransaction? transaction)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = Sql.PendingMigrations;
        var found = new HashSet<int>();
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            var key = reader.GetString(0);
            if (int.TryParse(key.AsSpan("migration_pending:".Length), NumberStyles.None, CultureInfo.InvariantCulture, out var number)
                && s_migrations.Any(m => m.Version == number))
            {
                found.Add(number);
            }
        }

        return found;
    }

    private static void Execute(SqliteConnection connection, SqliteTransaction transaction, string sql, string key)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        command.Parameters.AddWithValue("@key", key);
        command.ExecuteNonQuery();
    }
}
