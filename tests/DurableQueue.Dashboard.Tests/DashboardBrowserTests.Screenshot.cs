using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.Time.Testing;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace DurableQueue.Dashboard.Tests;

/// <summary>The picture in the docs: an hour of traffic on four queues, sampled once a minute on a fake clock.</summary>
public sealed partial class DashboardBrowserTests
{
    [Fact]
    public async Task Overview_AnHourOfTraffic_ChartsEveryQueue()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var live = await LiveDashboard.StartAsync(dashboard: o =>
        {
            o.TimeProvider = clock;
            o.SampleInterval = TimeSpan.FromMinutes(1);
            o.HistoryLength = TimeSpan.FromHours(1);
            o.RefreshInterval = TimeSpan.FromSeconds(2);
        });
        var store = live.Store;
        var emails = store.GetQueue("emails", new QueueOptions { MaxMessages = 400 });
        var reports = store.GetQueue("reports");
        var orders = store.GetQueue("orders");
        var audit = store.GetQueue("audit");
        using var http = new HttpClient { BaseAddress = new Uri(live.Address) };
        long lastT = 0;
        for (var minute = 0; minute <= 60; minute++)
        {
            // A morning peak on orders, a steady trickle on audit, emails draining slowly, a batch of reports at 40 min.
            await AddAsync(orders, (int)(40 * Math.Exp(-Math.Pow((minute - 25) / 9.0, 2))), 12, 0);
            await AddAsync(audit, 6, 5, 0);
            await AddAsync(emails, minute < 30 ? 9 : 2, 5, minute % 9 == 4 ? 1 : 0);
            await AddAsync(reports, minute == 40 ? 60 : 0, 3, 0);
            if (minute > 0)
            {
                clock.Advance(TimeSpan.FromMinutes(1));
            }

            lastT = await NextSampleAsync(http, lastT);
        }

        var page = await browser.NewPageAsync();
        await page.GotoAsync(live.Url("/queues/"));
        var chart = page.Locator("figure.chart > svg");
        // 61 samples: one when the app started (no queue yet), then one a minute; each queue appears from its first message on.
        await Expect(chart).ToHaveAttributeAsync("data-points", "60");
        await Expect(page.Locator("figure.chart polyline")).ToHaveCountAsync(4);
        await Expect(page.Locator("tr[data-queue='emails'] td[data-col='capacity'] meter")).ToHaveCountAsync(1);
        await Expect(page.Locator("tr[data-queue='orders'] td[data-col='in']")).Not.ToHaveTextAsync("–");
        var path = Path.Combine(BrowserFixture.ScreenshotFolder, "dashboard.png");
        await page.ScreenshotAsync(new() { Path = path, FullPage = true });

        // DQ_UPDATE_DOCS_SCREENSHOT=1 refreshes the picture in docs/ from this run.
        if (Environment.GetEnvironmentVariable("DQ_UPDATE_DOCS_SCREENSHOT") == "1")
        {
            File.Copy(path, Path.Combine(RepositoryRoot(), "docs", "dashboard.png"), overwrite: true);
        }
    }

    /// <summary>Enqueues <paramref name="add"/> messages, acks up to <paramref name="settle"/>, dead-letters <paramref name="kill"/>.</summary>
    private static async Task AddAsync(MessageQueue queue, int add, int settle, int kill)
    {
        if (add > 0)
        {
            await queue.EnqueueBatchAsync(Enumerable.Range(0, add).Select(i => new ReadOnlyMemory<byte>([(byte)i])));
        }

        foreach (var message in await queue.ReceiveAsync(settle + kill))
        {
            if (kill-- > 0)
            {
                await queue.DeadLetterAsync(message, "The mail server refused the address.");
            }
            else
            {
                await queue.AckAsync(message);
            }
        }
    }

    /// <summary>Asks the dashboard for history until the sampler's next sample is there (each ask is a real round trip).</summary>
    private static async Task<long> NextSampleAsync(HttpClient http, long after)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (true)
        {
            var overview = await http.GetFromJsonAsync<JsonElement>($"/queues/api/overview?since={after}");
            var history = overview.GetProperty("history");
            if (history.GetArrayLength() > 0)
            {
                return history[history.GetArrayLength() - 1].GetProperty("t").GetInt64();
            }

            Assert.True(DateTime.UtcNow < deadline, "the sampler took no sample after the clock moved");
        }
    }

    private static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "DurableQueue.sln")))
        {
            directory = directory.Parent;
        }

        return directory?.FullName ?? throw new InvalidOperationException("The repository root (DurableQueue.sln) was not found above the test binaries.");
    }
}
