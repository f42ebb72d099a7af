using DurableQueue.Postgres;
using Microsoft.Data.Sqlite;
using Spectre.Console;

namespace DurableQueue.Cli.Infrastructure;

/// <summary>
/// Opens stores the way each kind of command needs: read-only for inspections, through the library for writes. A
/// store is a SQLite file or a PostgreSQL database (<see cref="StoreTarget"/> tells them apart); both get the same rules.
/// </summary>
internal static class StoreAccess
{
    private static int s_waitReported;

    /// <summary>Gets or sets the store options of this run (<c>--busy-timeout</c>); set once before the command runs.</summary>
    public static QueueStoreOptions Options { get; set; } = new();

    /// <summary>Gets or sets the PostgreSQL schema of this run (<c>--schema</c>), or <see langword="null"/> for the library's default.</summary>
    public static string? Schema { get; set; }

    /// <summary>Gets the PostgreSQL schema this run uses: <c>--schema</c>, or the library's default.</summary>
    public static string SchemaName => Schema ?? PostgresStoreOptions.DefaultSchema;

    private static PostgresStoreOptions PostgresOptions() => Schema is null ? new PostgresStoreOptions() : new PostgresStoreOptions { Schema = Schema };

    /// <summary>Opens the store read-only; it is never created, migrated or changed.</summary>
    public static StoreInspector Inspect(string store)
    {
        var target = StoreTarget.Parse(store);
        if (target.ConnectionString is { } connectionString)
        {
            return QueueStore.InspectPostgres(connectionString, Options, PostgresOptions());
        }

        RefuseFolder(store);
        return QueueStore.Inspect(store, Options);
    }

    /// <summary>Refuses a PostgreSQL store for a command that works on a SQLite file only (exit 2), saying why in one line.</summary>
    public static void RequireFile(string store, string command, string why)
    {
        if (StoreTarget.Parse(store).IsPostgres)
        {
            throw new CliException(ExitCodes.Usage, $"{command} works on a SQLite file only: {why}");
        }
    }

    /// <summary>A folder is a bad file (exit 3), whatever the library makes of it.</summary>
    private static void RefuseFolder(string path)
    {
        if (Directory.Exists(path))
        {
            throw new CliException(ExitCodes.BadFile, $"'{Path.GetFullPath(path)}' is a folder; give the path of a database file");
        }
    }

    /// <summary>
    /// Runs SQLite's own check on a read-only connection (never through the queue tables, which may be unreadable):
    /// <c>quick_check</c> or the full <c>integrity_check</c>. Returns the problems it reports; empty when the file is sound.
    /// When the check of the whole file stops at damage it cannot step over, each table is checked on its own, so that
    /// the report names the damaged tables.
    /// </summary>
    public static IReadOnlyList<string> CheckIntegrity(string path, bool quick)
    {
        var connectionString = new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString();
        using var connection = new SqliteConnection(connectionString);
        connection.Open();
        var pragma = quick ? "quick_check" : "integrity_check";
        try
        {
            var lines = Strings(connection, $"PRAGMA {pragma}(100);");
            return lines is ["ok"] ? [] : lines;
        }
        catch (SqliteException whole) when (whole.SqliteErrorCode == 11) // SQLITE_CORRUPT
        {
            var findings = new List<string>();
            foreach (var table in Strings(connection, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name;"))
            {
                try
                {
                    var lines = Strings(connection, $"PRAGMA {pragma}(\"{table.Replace("\"", "\"\"", StringComparison.Ordinal)}\");");
                    findings.AddRange(lines is ["ok"] ? [] : lines.Select(l => $"{table}: {l}"));
                }
                catch (SqliteException ex) when (ex.SqliteErrorCode == 11)
                {
                    findings.Add($"{table}: {ex.Message}");
                }
            }

            return findings.Count > 0 ? findings : [whole.Message];
        }
    }

    private static List<string> Strings(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        var lines = new List<string>();
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            lines.Add(reader.GetString(0));
        }

        return lines;
    }

    /// <summary>
    /// Opens the file through the library for a write. Without <paramref name="create"/> the file must already be a
    /// queue store (checked read-only first, so a wrong path is never turned into a new file).
    /// </summary>
    public static QueueStore OpenForWrite(string path, bool create = false, bool canCreate = false)
    {
        var target = StoreTarget.Parse(path);
        if (target.ConnectionString is { } connectionString)
        {
            return OpenPostgresForWrite(target, connectionString, create, canCreate);
        }

        RefuseFolder(path);
        if (!create)
        {
            try
            {
                using (QueueStore.Inspect(path))
                {
                }
            }
            catch (FileNotFoundException) when (canCreate)
            {
                throw new CliException(ExitCodes.BadFile, $"'{Path.GetFullPath(path)}' does not exist; pass --create to create it");
            }
        }
        else if (File.Exists(path))
        {
            try
            {
                using (QueueStore.Inspect(path))
                {
                }
            }
            catch (StoreFileException ex) when (ex.Problem == StoreFileProblem.NotAQueueStore)
            {
                // --create may add the queue tables to an app's own database, as the library does on open.
            }
        }

        // Once per run: the store reports each write (the open's too) that waits a second for the lock.
        Options.OnWaitingForWriteLock ??= static wait =>
        {
            if (Interlocked.Exchange(ref s_waitReported, 1) == 0)
            {
                Console.Error.WriteLine(
                    $"dq: waiting for the write lock on '{wait.Path}': another process holds it; giving up after {Format.Duration(wait.BusyTimeout)} (--busy-timeout)");
            }
        };
        return QueueStore.Open(path, Options);
    }

    /// <summary>
    /// Opens a PostgreSQL store for a write. Without <paramref name="create"/> the schema must already hold a queue store
    /// (checked read-only first, so a mistyped database or schema is never turned into a new store).
    /// </summary>
    private static QueueStore OpenPostgresForWrite(StoreTarget target, string connectionString, bool create, bool canCreate)
    {
        if (!create)
        {
            try
            {
                using (QueueStore.InspectPostgres(connectionString, Options, PostgresOptions()))
                {
                }
            }
            catch (StoreFileException ex) when (canCreate && ex.Problem == StoreFileProblem.NotAQueueStore)
            {
                throw new CliException(
                    ExitCodes.BadFile, $"schema '{PostgresOptions().Schema}' of {target.Display} holds no queue store; pass --create to create it");
            }
        }

        return QueueStore.OpenPostgres(connectionString, Options, PostgresOptions());
    }

    public static async Task RequireQueueAsync(StoreInspector inspector, string queue, CancellationToken cancellationToken)
    {
        if (!await inspector.QueueExistsAsync(queue, cancellationToken).ConfigureAwait(false))
        {
            throw new CliException(ExitCodes.NotFound, $"queue '{queue}' does not exist in '{inspector.Path}'");
        }
    }

    /// <summary>Opens the input of a command that reads messages: the named file, or standard input when none is named.</summary>
    public static Stream OpenInput(string? path, string optionName) =>
        path is null ? Console.OpenStandardInput()
        : File.Exists(path) ? File.OpenRead(path)
        : Directory.Exists(path) ? throw new CliException(ExitCodes.Usage, $"{optionName}: '{path}' is a folder; give a file")
        : throw new CliException(ExitCodes.Usage, $"{optionName}: '{path}' does not exist");

    /// <summary>
    /// Asks before a change that cannot be undone; <paramref name="yes"/> skips the question. Without a terminal to ask
    /// on, it refuses (exit 2). Returns false when the answer is no.
    /// </summary>
    public static async Task<bool> ConfirmAsync(bool yes, string question, string refusal, CancellationToken cancellationToken)
    {
        if (yes)
        {
            return true;
        }

        if (!Consoles.InputIsTerminal || !Consoles.ErrorIsTerminal)
        {
            throw new CliException(ExitCodes.Usage, $"refusing to {refusal} without confirmation; run in a terminal or pass --yes");
        }

        return await Consoles.Error.ConfirmAsync(Spectre.Console.Markup.Escape(question), defaultValue: false, cancellationToken).ConfigureAwait(false);
    }
}
