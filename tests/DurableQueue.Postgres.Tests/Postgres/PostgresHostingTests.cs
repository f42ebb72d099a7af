using DurableQueue.Hosting;
using DurableQueue.Hosting.Tests;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace DurableQueue.Postgres.Tests.Postgres;

/// <summary>The hosting layer on PostgreSQL: several app instances starting at once, and the one-line configuration.</summary>
public sealed class PostgresHostingTests
{
    [Fact]
    public async Task HostingSchema_ManyStoresMigratingAtOnce_MigrateOnceWithoutErrors()
    {
        using var db = new TempDb();
        var connectionString = new Npgsql.NpgsqlConnectionStringBuilder(db.Path) { SearchPath = null }.ConnectionString;
        var stores = Enumerable.Range(0, 6)
            .Select(_ => QueueStore.OpenPostgres(connectionString, postgres: new PostgresStoreOptions { Schema = db.Schema }))
            .ToList();
        try
        {
            using var start = new Barrier(stores.Count);
            await Task.WhenAll(stores.Select(store => Task.Run(async () =>
            {
                start.SignalAndWait(TestHost.Guard);
                await DurableQueue.Hosting.Storage.HostingSchema.MigrateAsync(store, default);
            })));
        }
        finally
        {
            foreach (var store in stores)
            {
                await store.DisposeAsync();
            }
        }

        Assert.Equal(0, db.Scalar("SELECT count(*) FROM dq_jobs;"));
    }

    [Fact]
    public async Task Hosts_StartingAtOnce_MigrateOnceAndAllRun()
    {
        using var db = new TempDb();
        var clock = TempDb.NewClock();
        var probe = new Probe();

        var hosts = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => TestHost.StartAsync(
            db.Path, clock, b => b.AddHandler<RawHandler>("work"), services: s => s.AddSingleton(probe))));
        try
        {
            var id = await hosts[0].Store.GetQueue("work").EnqueueAsync("one");
            Assert.Equal(id, (await probe.NextStartedAsync()).Id);
            Assert.Equal(0, db.Scalar("SELECT count(*) FROM dq_jobs;"));
        }
        finally
        {
            foreach (var host in hosts)
            {
                await host.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task UsePostgres_ConnectionStringFromConfiguration_OpensTheStoreThere()
    {
        using var db = new TempDb();
        var connectionString = new Npgsql.NpgsqlConnectionStringBuilder(db.Path) { SearchPath = null }.ConnectionString;
        using var host = new HostBuilder()
            .ConfigureAppConfiguration(c => c.AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["ConnectionStrings:DurableQueue"] = connectionString,
                ["DurableQueue:Postgres:Schema"] = db.Schema,
            }))
            .ConfigureServices(s => s.AddDurableQueue().UsePostgres())
            .Build();
        await host.StartAsync();

        var store = host.Services.GetRequiredService<QueueStore>();
        await store.GetQueue("q").EnqueueAsync("configured");

        Assert.StartsWith("postgresql://", store.Path, StringComparison.Ordinal);
        Assert.Equal(1, db.Scalar("SELECT count(*) FROM dq_messages;"));
        await host.StopAsync();
    }
}
