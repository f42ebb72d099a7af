using DurableQueue.Forwarding;
using DurableQueue.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace DurableQueue.Dashboard.Tests;

/// <summary>The overview's forwarders section in the browser.</summary>
public sealed partial class DashboardBrowserTests
{
    [Fact]
    public async Task Overview_AppWithAForwarder_ShowsItsLinkAndLastErrorAsText()
    {
        await using var live = await LiveDashboard.StartAsync(
            services: s => s.AddDurableQueue().AddForwarder("telemetry", f => f.ToSink(_ => new UnreachableSink())));
        await live.Store.GetQueue("telemetry").EnqueueAsync("reading 1");
        var page = await browser.NewPageAsync();

        await page.GotoAsync(live.Url("/queues"));

        var section = page.Locator("#forwarders");
        await Expect(section.GetByRole(AriaRole.Heading, new() { Name = "Forwarders", Level = 2 })).ToBeVisibleAsync();
        var row = section.Locator("tr[data-forwarder='telemetry']");
        await Expect(row.Locator("td").Nth(1)).ToHaveTextAsync("Down");
        await Expect(row).ToContainTextAsync(UnreachableSink.Error);
        Assert.Equal(0, await section.Locator("b").CountAsync());
        await Expect(row.GetByRole(AriaRole.Link, new() { Name = "telemetry" })).ToBeVisibleAsync();
        await page.ScreenshotAsync(new() { Path = Path.Combine(BrowserFixture.ScreenshotFolder, "overview-forwarders.png"), FullPage = true });
    }

    [Fact]
    public async Task Overview_AForwarderThatWaitsForThePace_IsMarkedPacing_OnlyThatOne()
    {
        var source = new FixedForwarderStatusSource(
            FixedForwarderStatusSource.Summary("telemetry", pacing: true),
            FixedForwarderStatusSource.Summary("orders", pacing: false));
        await using var live = await LiveDashboard.StartAsync(services: s => s.AddSingleton<IForwarderStatusSource>(source));
        var page = await browser.NewPageAsync();

        await page.GotoAsync(live.Url("/queues"));

        var section = page.Locator("#forwarders");
        await Expect(section.Locator("tr[data-forwarder='telemetry'] td").Nth(1)).ToHaveTextAsync("Up (pacing)");
        await Expect(section.Locator("tr[data-forwarder='orders'] td").Nth(1)).ToHaveTextAsync("Up");
        await Expect(section.Locator("[data-pacing]")).ToHaveCountAsync(1);
    }

    [Fact]
    public async Task Overview_AppWithoutForwarders_HidesTheSection()
    {
        await using var live = await LiveDashboard.StartAsync();
        await StoreFiller.FillAsync(live.Store);
        var page = await browser.NewPageAsync();

        await page.GotoAsync(live.Url("/queues"));

        await Expect(page.Locator("tr[data-queue='orders']")).ToBeVisibleAsync();
        await Expect(page.Locator("#forwarders")).ToBeHiddenAsync();
    }
}
