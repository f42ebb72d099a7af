using Npgsql;

namespace DurableQueue.Postgres.Tests;

/// <summary>The test cluster itself: it runs, gives each class its own database, and survives a crash and a restart.</summary>
[Collection(PostgresCollection.Name)]
public sealed class PostgresClusterTests(PostgresClusterFixture fixture)
{
    [Fact]
    public async Task DatabaseForAsync_SameClass_SameDatabaseOnLoopback()
    {
        var first = await fixture.DatabaseForAsync(GetType());
        var second = await fixture.DatabaseForAsync(GetType());
        Assert.Equal(first, second);

        await using var connection = new NpgsqlConnection(first);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT current_database(), inet_server_addr()::text, current_setting('server_version_num')::int;", connection);
        await using var reader = await command.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        Assert.Equal(new NpgsqlConnectionStringBuilder(first).Database, reader.GetString(0));
        Assert.StartsWith("127.0.0.1", reader.GetString(1), StringComparison.Ordinal);
        Assert.InRange(reader.GetInt32(2), 150000, 159999);
    }

    [Fact]
    public async Task DatabaseForAsync_OtherClass_OtherDatabase()
    {
        var mine = await fixture.DatabaseForAsync(GetType());
        var other = await fixture.DatabaseForAsync(typeof(PostgresClusterFixture));
        Assert.NotEqual(new NpgsqlConnectionStringBuilder(mine).Database, new NpgsqlConnectionStringBuilder(other).Database);
    }

    [Fact]
    public async Task StopImmediate_ThenStartAgain_KeepsCommittedRows()
    {
        // A cluster of its own: stopping the shared one would break the other classes.
        await using var cluster = await PostgresCluster.StartAsync(new PostgresClusterOptions { Durable = true, MaxConnections = 20 });
        var connectionString = await cluster.CreateDatabaseAsync("crash");
        await using (var connection = new NpgsqlConnection(connectionString))
        {
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand("CREATE TABLE t(x int); INSERT INTO t VALUES (42);", connection);
            await command.ExecuteNonQueryAsync();
        }

        await cluster.StopAsync(immediate: true);
        Assert.False(cluster.IsRunning);
        await using (var refused = new NpgsqlConnection(connectionString))
        {
            await Assert.ThrowsAsync<NpgsqlException>(() => refused.OpenAsync());
        }

        await cluster.StartAgainAsync();
        await using (var connection = new NpgsqlConnection(connectionString))
        {
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand("SELECT x FROM t;", connection);
            Assert.Equal(42, await command.ExecuteScalarAsync());
        }

        var root = cluster.Root;
        await cluster.DisposeAsync();
        Assert.False(Directory.Exists(root));
    }

    [Fact]
    public async Task StartAsync_MissingBinaries_FailsWithReason()
    {
        var missing = Path.Combine(Path.GetTempPath(), "no-postgres-here");
        var ex = await Assert.ThrowsAsync<PostgresClusterException>(
            () => PostgresCluster.StartAsync(new PostgresClusterOptions { BinDirectory = missing }));
        Assert.Contains("initdb", ex.Message, StringComparison.Ordinal);
        Assert.Contains(missing, ex.Message, StringComparison.Ordinal);
    }
}
