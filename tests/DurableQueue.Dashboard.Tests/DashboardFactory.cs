using System.Net.Http.Json;
using System.Text.Json;
using DurableQueue.Dashboard.TestApp;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace DurableQueue.Dashboard.Tests;

/// <summary>
/// The test app in memory on a fresh temp store file (deleted on dispose), or on a fresh schema of a PostgreSQL database
/// (dropped on dispose), configured by settings.
/// </summary>
internal sealed class DashboardFactory : WebApplicationFactory<Program>
{
    private readonly Dictionary<string, string?> _settings;
    private readonly Action<IServiceCollection>? _services;
    private readonly PostgresSchema? _postgres;

    public DashboardFactory(Dictionary<string, string?>? settings = null, Action<IServiceCollection>? services = null, PostgresSchema? postgres = null)
    {
        // The app's clock (store and dashboard): figures are shared between requests for half the refresh interval of
        // this clock, so a test moves it on to see what it just wrote.
        Clock = new FakeTimeProvider(new DateTimeOffset(2026, 3, 1, 12, 0, 0, TimeSpan.Zero));
        _postgres = postgres;
        DatabasePath = postgres is null ? TempFiles.NewDatabasePath() : "";
        _settings = new Dictionary<string, string?>(settings ?? [], StringComparer.Ordinal);
        foreach (var (key, value) in postgres?.Settings ?? new Dictionary<string, string?> { ["DurableQueue:Path"] = DatabasePath })
        {
            _settings[key] = value;
        }

        _services = services;
    }

    public string DatabasePath { get; }

    public FakeTimeProvider Clock { get; }

    /// <summary>Moves the clock past the age at which the dashboard reads the store again.</summary>
    public void Later() => Clock.Advance(TimeSpan.FromSeconds(5));

    public QueueStore Store => Services.GetRequiredService<QueueStore>();

    /// <summary>A client whose requests come from loopback, as a browser on the same machine.</summary>
    public HttpClient Local(string? user = null, string? roles = null) => Client("127.0.0.1", user, roles);

    public HttpClient Client(string remoteIp, string? user = null, string? roles = null)
    {
        var client = CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = true });
        client.DefaultRequestHeaders.Add(DashboardTestApp.RemoteIpHeader, remoteIp);
        if (user is not null)
        {
            client.DefaultRequestHeaders.Add(DashboardTestApp.UserHeader, user);
        }

        if (roles is not null)
        {
            client.DefaultRequestHeaders.Add(DashboardTestApp.RolesHeader, roles);
        }

        return client;
    }

    /// <summary>An admin client that fetched the page's antiforgery token and sends it with every request.</summary>
    public async Task<HttpClient> AdminWithTokenAsync()
    {
        var client = Local("ada", "admin");
        var session = await client.GetFromJsonAsync<JsonElement>("/queues/api/session");
        client.DefaultRequestHeaders.Add(session.GetProperty("antiforgeryHeader").GetString()!, session.GetProperty("antiforgeryToken").GetString());
        return client;
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        foreach (var (key, value) in _settings)
        {
            builder.UseSetting(key, value);
        }

        builder.ConfigureServices(s => s.AddSingleton<TimeProvider>(Clock));
        if (_services is not null)
        {
            builder.ConfigureServices(_services);
        }
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        if (_postgres is null)
        {
            TempFiles.Delete(DatabasePath);
        }
    }
}

internal static class TempFiles
{
    public static string NewDatabasePath() => Path.Combine(Path.GetTempPath(), $"dq-dashboard-{Guid.NewGuid():N}.db");

    public static void Delete(string path)
    {
        SqliteConnection.ClearAllPools();
        foreach (var suffix in new[] { "", "-wal", "-shm" })
        {
            File.Delete(path + suffix);
        }
    }
}
