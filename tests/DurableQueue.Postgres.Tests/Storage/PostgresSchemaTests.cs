using DurableQueue.Postgres.Storage;
using Npgsql;

namespace DurableQueue.Postgres.Tests.Storage;

[Collection(PostgresCollection.Name)]
public sealed class PostgresSchemaTests(PostgresClusterFixture fixture)
{
    [Fact]
    public async Task Ensure_NewSchema_CreatesItAtLatestVersion()
    {
        await using var harness = await Harness.CreateAsync(fixture, GetType(), migrate: false);
        await using var connection = harness.DataSource.OpenConnection();
        Assert.Equal(0, PostgresSchema.ReadVersion(connection, harness.Sql));

        Assert.Equal(0, PostgresSchema.Ensure(connection, harness.Sql, harness.Location));

        Assert.Equal(PostgresSchema.LatestVersion, PostgresSchema.ReadVersion(connection, harness.Sql));
        await using var command = new NpgsqlCommand(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = $1 AND table_name LIKE 'dq\\_%';", connection);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = harness.Sql.Schema });
        Assert.Equal(7L, await command.ExecuteScalarAsync()); // schema 2 added dq_queue_settings, schema 3 dq_waiters
    }

    [Fact]
    public async Task Ensure_ManyHostsAtOnce_MigrateOnceWithoutErrors()
    {
        await using var harness = await Harness.CreateAsync(fixture, GetType(), migrate: false);
        // Eight connections start together, as hosts of a fleet would; the advisory lock lets one migrate.
        using var start = new Barrier(8);
        var found = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(() =>
        {
            using var connection = harness.DataSource.OpenConnection();
            start.SignalAndWait(Harness.Guard);
            return PostgresSchema.Ensure(connection, harness.Sql, harness.Location);
        })));

        // Every host saw either nothing (and may have migrated under the lock) or the finished schema.
        Assert.All(found, v => Assert.True(v == 0 || v == PostgresSchema.LatestVersion));
        await using var connection = harness.DataSource.OpenConnection();
        Assert.Equal(PostgresSchema.LatestVersion, PostgresSchema.ReadVersion(connection, harness.Sql));
    }

    [Fact]
    public async Task Ensure_NewerSchema_RefusedAndLeftAlone()
    {
        await using var harness = await Harness.CreateAsync(fixture, GetType());
        await using var connection = harness.DataSource.OpenConnection();
        var newer = PostgresSchema.LatestVersion + 1;
        await using (var bump = new NpgsqlCommand($"UPDATE {harness.Sql.QuotedSchema}.dq_meta SET value = {newer} WHERE key = 'schema_version';", connection))
        {
            Assert.Equal(1, await bump.ExecuteNonQueryAsync());
        }

        var ex = Assert.Throws<StoreFileException>(() => PostgresSchema.Ensure(connection, harness.Sql, harness.Location));

        Assert.Equal(StoreFileProblem.NewerSchema, ex.Problem);
        Assert.Contains(harness.Sql.Schema, ex.Message, StringComparison.Ordinal);
        Assert.Equal(newer, PostgresSchema.ReadVersion(connection, harness.Sql));
    }

    [Fact]
    public async Task Ensure_SchemaNameNeedingQuotes_Works()
    {
        await using var harness = await Harness.CreateAsync(fixture, GetType(), migrate: false);
        var sql = new PostgresSql("My \"odd\" Schema " + Guid.NewGuid().ToString("N")[..6]);
        await using var connection = harness.DataSource.OpenConnection();

        PostgresSchema.Ensure(connection, sql, harness.Location);

        Assert.Equal(PostgresSchema.LatestVersion, PostgresSchema.ReadVersion(connection, sql));
    }
}
