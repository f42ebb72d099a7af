using DurableQueue.Testing.Postgres;
using Npgsql;

namespace DurableQueue.Dashboard.Tests;

/// <summary>
/// A schema of its own in the test run's database on the private PostgreSQL cluster (started on first use; a start that
/// fails fails the test with the reason): the app's settings that put its store there, and a drop when done.
/// </summary>
internal sealed class PostgresSchema : IAsyncDisposable
{
    private PostgresSchema(string connectionString, string name)
    {
        ConnectionString = connectionString;
        Name = name;
    }

    public string ConnectionString { get; }

    public string Name { get; }

    /// <summary>The app's configuration for a store in this schema (<c>UsePostgres()</c> in the test app).</summary>
    public Dictionary<string, string?> Settings => new(StringComparer.Ordinal)
    {
        ["ConnectionStrings:DurableQueue"] = ConnectionString,
        ["DurableQueue:Postgres:Schema"] = Name,
    };

    public static async Task<PostgresSchema> CreateAsync() =>
        new(await SharedPostgres.SharedDatabaseAsync(), "dash_" + Guid.NewGuid().ToString("N")[..16]);

    public async ValueTask DisposeAsync()
    {
        await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(ConnectionString) { Pooling = false }.ConnectionString);
        await connection.OpenAsync();
        await using var drop = new NpgsqlCommand($"DROP SCHEMA IF EXISTS \"{Name}\" CASCADE;", connection);
        await drop.ExecuteNonQueryAsync();
    }
}
