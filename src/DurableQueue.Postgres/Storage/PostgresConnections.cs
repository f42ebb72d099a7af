using System.Globalization;
using Npgsql;

namespace DurableQueue.Postgres.Storage;

/// <summary>Makes the data source of a store from a connection string, and opens its first connection with typed errors.</summary>
internal static class PostgresConnections
{
    /// <summary>
    /// Builds a data source from a connection string. Settings the string leaves out get the store's defaults:
    /// automatic preparation of the statements the writer repeats, and a keep-alive so that a vanished server is
    /// noticed by an idle connection.
    /// </summary>
    /// <exception cref="ArgumentException">The connection string is malformed or names an unknown setting.</exception>
    public static NpgsqlDataSource CreateDataSource(string connectionString, string parameterName)
    {
        NpgsqlConnectionStringBuilder builder;
        try
        {
            builder = new NpgsqlConnectionStringBuilder(connectionString);
        }
        catch (Exception ex) when (ex is ArgumentException or FormatException or KeyNotFoundException)
        {
            throw new ArgumentException(PostgresErrorMessages.BadConnectionString(ex.Message), parameterName, ex);
        }

        if (string.IsNullOrEmpty(builder.Host))
        {
            throw new ArgumentException(PostgresErrorMessages.BadConnectionString("it names no Host."), parameterName);
        }

        var given = new HashSet<string>(
            connectionString.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(part => part.Split('=', 2)[0].Trim().Replace(" ", "", StringComparison.Ordinal)),
            StringComparer.OrdinalIgnoreCase);
        if (!given.Contains("MaxAutoPrepare"))
        {
            builder.MaxAutoPrepare = 64;
        }

        if (!given.Contains("KeepAlive"))
        {
            builder.KeepAlive = 15;
        }

        return new NpgsqlDataSourceBuilder(builder.ConnectionString).Build();
    }

    /// <summary>Describes where a store lives, without its password: <c>postgresql://user@host:port/database</c>.</summary>
    public static string Location(NpgsqlDataSource dataSource)
    {
        var builder = new NpgsqlConnectionStringBuilder(dataSource.ConnectionString);
        var user = string.IsNullOrEmpty(builder.Username) ? "" : builder.Username + "@";
        return string.Create(CultureInfo.InvariantCulture, $"postgresql://{user}{builder.Host}:{builder.Port}/{builder.Database ?? builder.Username}");
    }

    /// <summary>Opens a connection, turning the reasons it cannot be opened into the library's typed errors.</summary>
    public static NpgsqlConnection Open(NpgsqlDataSource dataSource, string location, string schema)
    {
        try
        {
            return dataSource.OpenConnection();
        }
        catch (Exception ex)
        {
            var mapped = PostgresErrors.Map(ex, location, schema);
            if (ReferenceEquals(mapped, ex))
            {
                throw;
            }

            throw mapped;
        }
    }
}
