using Microsoft.Data.Sqlite;

namespace DurableQueue.Storage.Sqlite;

/// <summary>Reaches the SQLite session of a write context, for code that exists only on SQLite (its statements, the memory tier).</summary>
internal static class SqliteContextExtensions
{
    /// <summary>Returns the session's prepared command for the statement.</summary>
    public static SqliteCommand Command(this WriteContext context, string sql) => ((SqliteWriteSession)context.Session).Command(sql);
}

/// <summary>Binds parameters of prepared SQLite commands.</summary>
internal static class SqliteCommandExtensions
{
    /// <summary>Sets a parameter, adding it on first use so that prepared commands keep their parameter objects.</summary>
    public static SqliteCommand Bind(this SqliteCommand command, string name, object? value)
    {
        var parameters = command.Parameters;
        var index = parameters.IndexOf(name);
        if (index >= 0)
        {
            parameters[index].Value = value ?? DBNull.Value;
        }
        else
        {
            parameters.AddWithValue(name, value ?? DBNull.Value);
        }

        return command;
    }
}
