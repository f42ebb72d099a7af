using DurableQueue.Dashboard.TestApp;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Playwright;

namespace DurableQueue.Dashboard.Tests;

/// <summary>One headless Debian Chromium for a test class, driven by Playwright. No browser is downloaded.</summary>
public sealed class BrowserFixture : IAsyncLifetime
{
    public const string ChromiumPath = "/usr/bin/chromium";

    private IPlaywright? _playwright;

    public IBrowser Browser { get; private set; } = null!;

    /// <summary>The test output folder for screenshots.</summary>
    public static string ScreenshotFolder { get; } = Directory.CreateDirectory(Path.Combine(AppContext.BaseDirectory, "screenshots")).FullName;

    public async Task InitializeAsync()
    {
        if (!File.Exists(ChromiumPath))
        {
            throw new InvalidOperationException(
                $"Chromium is missing at {ChromiumPath}: the browser tests drive Debian's chromium package (apt-get install chromium); .ci/run installs it.");
        }

        Assertions.SetDefaultExpectTimeout(20_000);
        _playwright = await Playwright.CreateAsync();
        Browser = await _playwright.Chromium.LaunchAsync(new()
        {
            ExecutablePath = ChromiumPath,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        });
    }

    /// <summary>A fresh browser context (own cookies), English number formats, optional extra headers on every request.</summary>
    public async Task<IPage> NewPageAsync(Dictionary<string, string>? headers = null)
    {
        var context = await Browser.NewContextAsync(new()
        {
            Locale = "en-US",
            TimezoneId = "UTC",
            ViewportSize = new() { Width = 1280, Height = 900 },
            ExtraHTTPHeaders = headers,
        });
        context.SetDefaultTimeout(20_000);
        return await context.NewPageAsync();
    }

    public async Task DisposeAsync()
    {
        if (Browser is not null)
        {
            await Browser.DisposeAsync();
        }

        _playwright?.Dispose();
    }
}

/// <summary>The test app on a real Kestrel server on 127.0.0.1 and a free port, on a fresh temp store file (or a PostgreSQL schema).</summary>
internal sealed class LiveDashboard : IAsyncDisposable
{
    public static readonly Dictionary<string, string> Admin = new()
    {
        [DashboardTestApp.UserHeader] = "ada",
        [DashboardTestApp.RolesHeader] = "admin",
    };

    private readonly WebApplication _app;

    private LiveDashboard(WebApplication app, string path, string address)
    {
        _app = app;
        DatabasePath = path;
        Address = address.TrimEnd('/');
    }

    public string DatabasePath { get; }

    public string Address { get; }

    public QueueStore Store => _app.Services.GetRequiredService<QueueStore>();

    public string Url(string path) => Address + path;

    /// <summary>
    /// Starts the app; <paramref name="writeActions"/> names the policy and turns write actions on; with
    /// <paramref name="postgres"/> the store is in that schema instead of a file.
    /// </summary>
    public static async Task<LiveDashboard> StartAsync(
        bool writeActions = false, Action<DashboardOptions>? dashboard = null, PostgresSchema? postgres = null, Action<IServiceCollection>? services = null)
    {
        var path = postgres is null ? TempFiles.NewDatabasePath() : "";
        string[] store = postgres is null
            ? [$"--DurableQueue:Path={path}"]
            : [.. postgres.Settings.Select(s => $"--{s.Key}={s.Value}")];
        var app = DashboardTestApp.Build(
            ["--urls", "http://127.0.0.1:0", .. store],
            b =>
            {
                b.Logging.SetMinimumLevel(LogLevel.Warning);
                services?.Invoke(b.Services);
            },
            o =>
            {
                o.RefreshInterval = TimeSpan.FromMilliseconds(200);
                o.SampleInterval = TimeSpan.FromMilliseconds(200);
                o.HistoryLength = TimeSpan.FromMinutes(1);
                if (writeActions)
                {
                    o.AuthorizationPolicy = DashboardTestApp.Policy;
                    o.EnableWriteActions = true;
                }

                dashboard?.Invoke(o);
            });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        Assert.StartsWith("http://127.0.0.1:", address, StringComparison.Ordinal);
        return new LiveDashboard(app, path, address);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        if (DatabasePath.Length > 0)
        {
            TempFiles.Delete(DatabasePath);
        }
    }
}
