using System.Data.Common;

namespace DurableQueue.Hosting.Storage;

/// <summary>Small helpers to run a statement with named parameters on a connection.</summary>
internal static class SqlExtensions
{
    public static DbCommand Command(this DbConnection connection, string sql, params (string Name, object? Value)[] parameters)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            var parameter = command.CreateParameter();
            parameter.ParameterName = name;
            parameter.Value = value ?? DBNull.Value;
            command.Parameters.Add(parameter);
        }

        return command;
    }

    public static int Execute(this DbConnection connection, string sql, params (string Name, object? Value)[] parameters)
    {
        using var command = connection.Command(sql, parameters);
        return command.ExecuteNonQuery();
    }

    public static object? Scalar(this DbConnection connection, string sql, params (string Name, object? Value)[] parameters)
    {
        using var command = connection.Command(sql, parameters);
        var value = command.ExecuteScalar();
        return value is DBNull ? null : value;
    }
}
