using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace DurableQueue.Storage.Sqlite;

/// <summary>
/// Binds and steps a statement prepared by <see cref="SqliteWriteSession.Statement"/> through SQLitePCL directly. Errors
/// surface as <see cref="SqliteException"/>, as from Microsoft.Data.Sqlite, so the session maps them the same way.
/// </summary>
internal static class RawStatement
{
    public static void Bind(sqlite3_stmt statement, int index, long value) => Check(statement, raw.sqlite3_bind_int64(statement, index, value));

    public static void Bind(sqlite3_stmt statement, int index, long? value) =>
        Check(statement, value is { } v ? raw.sqlite3_bind_int64(statement, index, v) : raw.sqlite3_bind_null(statement, index));

    public static void Bind(sqlite3_stmt statement, int index, string? value) =>
        Check(statement, value is null ? raw.sqlite3_bind_null(statement, index) : raw.sqlite3_bind_text(statement, index, value));

    // An empty span may reach SQLite as a null pointer, which binds NULL: bind an empty blob explicitly.
    public static void Bind(sqlite3_stmt statement, int index, ReadOnlySpan<byte> value) =>
        Check(statement, value.IsEmpty ? raw.sqlite3_bind_zeroblob(statement, index, 0) : raw.sqlite3_bind_blob(statement, index, value));

    /// <summary>Steps the statement once; returns true when it produced a row (read it, then call <see cref="Reset"/>).</summary>
    public static bool Step(sqlite3_stmt statement)
    {
        var rc = raw.sqlite3_step(statement);
        if (rc == raw.SQLITE_ROW)
        {
            return true;
        }

        if (rc == raw.SQLITE_DONE)
        {
            return false;
        }

        // The statement failed: reset it (which reports the same error) and throw what Microsoft.Data.Sqlite would.
        var db = raw.sqlite3_db_handle(statement);
        raw.sqlite3_reset(statement);
        raw.sqlite3_clear_bindings(statement);
        SqliteException.ThrowExceptionForRC(rc, db);
        return false;
    }

    public static bool IsNull(sqlite3_stmt statement, int column) => raw.sqlite3_column_type(statement, column) == raw.SQLITE_NULL;

    public static string? Text(sqlite3_stmt statement, int column) =>
        IsNull(statement, column) ? null : raw.sqlite3_column_text(statement, column).utf8_to_string();

    public static byte[] Blob(sqlite3_stmt statement, int column) => raw.sqlite3_column_blob(statement, column).ToArray();

    /// <summary>Makes the statement ready for its next use and drops its bindings (no body stays referenced).</summary>
    public static void Reset(sqlite3_stmt statement)
    {
        raw.sqlite3_reset(statement);
        raw.sqlite3_clear_bindings(statement);
    }

    private static void Check(sqlite3_stmt statement, int rc)
    {
        if (rc != raw.SQLITE_OK)
        {
            var db = raw.sqlite3_db_handle(statement);
            raw.sqlite3_clear_bindings(statement);
            SqliteException.ThrowExceptionForRC(rc, db);
        }
    }
}
