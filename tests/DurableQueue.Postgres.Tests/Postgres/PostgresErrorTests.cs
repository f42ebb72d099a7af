using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using DurableQueue.Postgres;
using Npgsql;

namespace DurableQueue.Postgres.Tests.Postgres;

/// <summary>Bad input and a missing server: one clear, typed error each, and never a hang.</summary>
[Collection(PostgresCollection.Name)]
public sealed class PostgresErrorTests(PostgresClusterFixture fixture)
{
    [Fact]
    public async Task OpenPostgres_WrongPassword_CannotOpen()
    {
        var good = await fixture.DatabaseForAsync(GetType());
        var wrong = new NpgsqlConnectionStringBuilder(good) { Password = "not-the-password" }.ConnectionString;

        var ex = Assert.Throws<StoreFileException>(() => QueueStore.OpenPostgres(wrong));

        Assert.Equal(StoreFileProblem.CannotOpen, ex.Problem);
        Assert.Contains("28P01", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("not-the-password", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task OpenPostgres_MissingDatabase_CannotOpen()
    {
        var good = await fixture.DatabaseForAsync(GetType());
        var missing = new NpgsqlConnectionStringBuilder(good) { Database = "no_such_database" }.ConnectionString;

        var ex = Assert.Throws<StoreFileException>(() => QueueStore.OpenPostgres(missing));

        Assert.Equal(StoreFileProblem.CannotOpen, ex.Problem);
        Assert.Contains("no_such_database", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Host=127.0.0.1;NoSuchSetting=1")]
    [InlineData("this is not a connection string")]
    [InlineData("Database=app")]
    public void OpenPostgres_MalformedConnectionString_ArgumentException(string connectionString)
    {
        var ex = Assert.Throws<ArgumentException>(() => QueueStore.OpenPostgres(connectionString));
        Assert.Equal("connectionString", ex.ParamName);
    }

    [Fact]
    public void OpenPostgres_ServerDown_StorageUnavailableAtOnce()
    {
        // A loopback port nobody listens on: the connection is refused, as by a server that is down.
        int port;
        using (var listener = new TcpListener(IPAddress.Loopback, 0))
        {
            listener.Start();
            port = ((IPEndPoint)listener.LocalEndpoint).Port;
        }

        var started = Stopwatch.StartNew();
        var ex = Assert.Throws<StorageUnavailableException>(
            () => QueueStore.OpenPostgres($"Host=127.0.0.1;Port={port};Username=postgres;Password=x;Database=postgres;Timeout=5"));

        Assert.Contains($"127.0.0.1:{port}", ex.Message, StringComparison.Ordinal);
        // Not a hang: well inside the connection timeout (a guard, not a speed claim).
        Assert.True(started.Elapsed < TimeSpan.FromSeconds(10), $"took {started.Elapsed}");
    }

    [Fact]
    public async Task OpenPostgres_RoleWithoutRightToCreateTheSchema_NoRights()
    {
        var admin = await fixture.DatabaseForAsync(GetType());
        var database = new NpgsqlConnectionStringBuilder(admin).Database!;
        var role = "reader_" + Guid.NewGuid().ToString("N")[..8];
        await using (var connection = new NpgsqlConnection(admin))
        {
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand(
                $"CREATE ROLE {role} LOGIN PASSWORD 'secret'; REVOKE CREATE ON DATABASE \"{database}\" FROM PUBLIC; " +
                $"REVOKE CREATE ON SCHEMA public FROM PUBLIC;", connection);
            await command.ExecuteNonQueryAsync();
        }

        var limited = fixture.Cluster.ConnectionString(database, role, "secret");
        var ex = Assert.Throws<StoreFileException>(() => QueueStore.OpenPostgres(limited, postgres: new PostgresStoreOptions { Schema = "q_" + role }));

        Assert.Equal(StoreFileProblem.ReadOnly, ex.Problem);
        Assert.Contains("42501", ex.Message, StringComparison.Ordinal);
        Assert.Contains("q_" + role, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task OpenPostgres_SchemaMadeByAnAdministrator_RoleWithTableRightsOnlyWorks()
    {
        var admin = await fixture.DatabaseForAsync(GetType());
        var database = new NpgsqlConnectionStringBuilder(admin).Database!;
        var role = "app_" + Guid.NewGuid().ToString("N")[..8];
        var schema = "q_" + role;
        // The administrator makes the schema (by opening a store once) and grants only what the app needs.
        await (QueueStore.OpenPostgres(admin, postgres: new PostgresStoreOptions { Schema = schema })).DisposeAsync();
        await using (var connection = new NpgsqlConnection(admin))
        {
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand(
                $"CREATE ROLE {role} LOGIN PASSWORD 'secret'; REVOKE CREATE ON DATABASE \"{database}\" FROM PUBLIC; " +
                $"GRANT USAGE ON SCHEMA {schema} TO {role}; GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {role}; " +
                $"GRANT USAGE ON ALL SEQUENCES IN SCHEMA {schema} TO {role};", connection);
            await command.ExecuteNonQueryAsync();
        }

        await using var store = QueueStore.OpenPostgres(
            fixture.Cluster.ConnectionString(database, role, "secret"), postgres: new PostgresStoreOptions { Schema = schema });
        var queue = store.GetQueue("q");
        var id = await queue.EnqueueAsync("hello");
        var message = Assert.Single(await queue.ReceiveAsync());
        Assert.Equal(id, message.Id);
        await queue.AckAsync(message);
    }

    [Fact]
    public async Task WakeUpsRefusedAfterTheCommit_TheWritesStillSucceed()
    {
        var admin = await fixture.DatabaseForAsync(GetType());
        var database = new NpgsqlConnectionStringBuilder(admin).Database!;
        var role = "mute_" + Guid.NewGuid().ToString("N")[..8];
        var schema = "q_" + role;
        await (QueueStore.OpenPostgres(admin, postgres: new PostgresStoreOptions { Schema = schema })).DisposeAsync();
        // A role with every right the store needs but the one to notify: the wake-ups sent after each COMMIT fail.
        await ExecuteAsync(
            admin,
            $"CREATE ROLE {role} LOGIN PASSWORD 'secret'; " +
            $"GRANT USAGE ON SCHEMA {schema} TO {role}; GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {role}; " +
            $"GRANT USAGE ON ALL SEQUENCES IN SCHEMA {schema} TO {role}; REVOKE EXECUTE ON FUNCTION pg_notify(text, text) FROM PUBLIC;");
        try
        {
            await using var store = QueueStore.OpenPostgres(
                fixture.Cluster.ConnectionString(database, role, "secret"), postgres: new PostgresStoreOptions { Schema = schema });
            var queue = store.GetQueue("q");
            var session = (DurableQueue.Postgres.Storage.PostgresWriteSession)store.Writer.Session;

            // A batch that goes whole with its COMMIT, and one that runs statement by statement (with the commit marker).
            var plain = await queue.EnqueueAsync("plain");
            var deduplicated = await queue.EnqueueAsync("deduplicated", new EnqueueOptions { DeduplicationKey = "k" });
            await session.WakeUpsSentAsync();

            Assert.Equal(2, session.FailedWakeUps);
            var received = await queue.ReceiveAsync(maxMessages: 10);
            Assert.Equal([plain, deduplicated], received.Select(m => m.Id));
            await queue.AckManyAsync(received.Select(m => m.Receipt));
            Assert.Equal(0, (await queue.GetCountsAsync()).Ready);
        }
        finally
        {
            await ExecuteAsync(admin, "GRANT EXECUTE ON FUNCTION pg_notify(text, text) TO PUBLIC;");
        }
    }

    [Fact]
    public async Task WakeUpsFailingAtRunTimeAfterTheCommit_EachWriteCommitsOnce()
    {
        var admin = await fixture.DatabaseForAsync(GetType());
        var schema = "q_" + Guid.NewGuid().ToString("N")[..8];
        await using var store = QueueStore.OpenPostgres(
            admin, new QueueStoreOptions { BusyTimeout = TimeSpan.FromMilliseconds(200) }, new PostgresStoreOptions { Schema = schema });
        var queue = store.GetQueue("q");
        var session = (DurableQueue.Postgres.Storage.PostgresWriteSession)store.Writer.Session;
        await queue.EnqueueAsync("before");
        var before = Assert.Single(await queue.ReceiveAsync());
        var failedBefore = session.FailedWakeUps;

        // Another connection holds the table of waiting receivers: the wake-up look after each commit (sent by the store's
        // sender, as these callers lead alone) waits for it and fails at the store's lock timeout, after the write committed.
        await using var holder = new NpgsqlConnection(admin);
        await holder.OpenAsync();
        await using var hold = await holder.BeginTransactionAsync();
        await using (var command = new NpgsqlCommand($"LOCK TABLE {schema}.dq_waiters IN ACCESS EXCLUSIVE MODE", holder, hold))
        {
            await command.ExecuteNonQueryAsync();
        }

        // Each goes whole with its commit: an enqueue, and an ack.
        var lone = await queue.EnqueueAsync("lone");
        var lost = await queue.AckManyAsync([before.Receipt]);
        await session.WakeUpsSentAsync();
        await hold.RollbackAsync();

        // Had a failed look been taken for a refused commit, a write would have run again: the enqueue twice, and the ack
        // finding its message gone.
        Assert.Empty(lost);
        Assert.True(session.FailedWakeUps > failedBefore);
        var received = Assert.Single(await queue.ReceiveAsync(maxMessages: 10));
        Assert.Equal(lone, received.Id);
    }

    private static async Task ExecuteAsync(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    [Fact]
    public async Task OpenPostgres_DatabaseQuota_Refused()
    {
        var connectionString = await fixture.DatabaseForAsync(GetType());
        var ex = Assert.Throws<ArgumentException>(
            () => QueueStore.OpenPostgres(connectionString, new QueueStoreOptions { MaxDatabaseBytes = 1 << 30 }));
        Assert.Equal("options.MaxDatabaseBytes", ex.ParamName);
    }

    [Theory]
    [InlineData("")]
    [InlineData("a\0b")]
    public async Task OpenPostgres_BadSchemaName_ArgumentException(string schema)
    {
        var connectionString = await fixture.DatabaseForAsync(GetType());
        Assert.Throws<ArgumentException>(() => QueueStore.OpenPostgres(connectionString, postgres: new PostgresStoreOptions { Schema = schema }));
    }
}
