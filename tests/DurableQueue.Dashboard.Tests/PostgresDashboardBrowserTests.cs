using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace DurableQueue.Dashboard.Tests;

/// <summary>The dashboard in a real browser on a store on PostgreSQL: the overview's counts, and the store page without the file-only parts.</summary>
public sealed class PostgresDashboardBrowserTests(BrowserFixture browser) : IClassFixture<BrowserFixture>
{
    [Fact]
    public async Task OverviewAndStorePage_OnPostgres_ShowTheCountsAndNoCompact()
    {
        await using var schema = await PostgresSchema.CreateAsync();
        await using var live = await LiveDashboard.StartAsync(writeActions: true, postgres: schema);
        await StoreFiller.FillAsync(live.Store);
        var page = await browser.NewPageAsync(LiveDashboard.Admin);

        await page.GotoAsync(live.Url("/queues"));
        var orders = page.Locator("tr[data-queue='orders']");
        await Expect(orders.Locator("td[data-col='ready']")).ToHaveTextAsync("7");
        await Expect(orders.Locator("td[data-col='leased']")).ToHaveTextAsync("1");
        await Expect(page.Locator("#card-dead")).ToHaveTextAsync("2");
        await Expect(page.Locator("div:has(> #card-size) > dt")).ToHaveTextAsync("Tables size");

        // Messages arriving anywhere show up without a reload.
        await live.Store.GetQueue("orders").EnqueueAsync("one more");
        await Expect(orders.Locator("td[data-col='ready']")).ToHaveTextAsync("8");

        await page.GotoAsync(live.Url("/queues/#/store"));
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Store", Level = 1 })).ToBeVisibleAsync();
        await Expect(page.Locator("dl.facts dt").First).ToHaveTextAsync("Database");
        await Expect(page.Locator("dl.facts")).ToContainTextAsync("PostgreSQL");
        await Expect(page.Locator("#compact-not-here")).ToContainTextAsync("not on PostgreSQL");
        Assert.Equal(0, await page.GetByRole(AriaRole.Button, new() { Name = "Compact" }).CountAsync());
        Assert.Equal(0, await page.GetByText("WAL size").CountAsync());
        await page.GetByRole(AriaRole.Button, new() { Name = "Verify" }).ClickAsync();
        await Expect(page.Locator("#maintenance-result")).ToContainTextAsync("Healthy: all");
        await Expect(page.Locator("#maintenance-result")).Not.ToContainTextAsync("null");
        await page.ScreenshotAsync(new() { Path = Path.Combine(BrowserFixture.ScreenshotFolder, "store-postgres.png"), FullPage = true });
    }
}
