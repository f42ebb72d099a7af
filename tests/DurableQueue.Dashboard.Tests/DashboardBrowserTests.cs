using System.Text.RegularExpressions;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace DurableQueue.Dashboard.Tests;

/// <summary>The dashboard in a real browser (Debian's Chromium through Playwright) against a real Kestrel server.</summary>
public sealed partial class DashboardBrowserTests(BrowserFixture browser) : IClassFixture<BrowserFixture>
{
    [Fact]
    public async Task Overview_ShowsTheCountsOfAFilledStore()
    {
        await using var live = await LiveDashboard.StartAsync();
        await StoreFiller.FillAsync(live.Store);
        var page = await browser.NewPageAsync();

        await page.GotoAsync(live.Url("/queues"));

        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Queues", Level = 1 })).ToBeVisibleAsync();
        var orders = page.Locator("tr[data-queue='orders']");
        await Expect(orders.Locator("td[data-col='ready']")).ToHaveTextAsync("7");
        await Expect(orders.Locator("td[data-col='delayed']")).ToHaveTextAsync("2");
        await Expect(orders.Locator("td[data-col='leased']")).ToHaveTextAsync("1");
        var mail = page.Locator("tr[data-queue='mail']");
        await Expect(mail.Locator("td[data-col='ready']")).ToHaveTextAsync("3");
        await Expect(mail.GetByRole(AriaRole.Link, new() { Name = "2 dead letters of mail" })).ToBeVisibleAsync();
        await Expect(page.Locator("#card-dead")).ToHaveTextAsync("2");
        await page.ScreenshotAsync(new() { Path = Path.Combine(BrowserFixture.ScreenshotFolder, "overview.png"), FullPage = true });

        // The queue's page lists its messages; the markup in bodies and headers stays text.
        await mail.GetByRole(AriaRole.Link, new() { Name = "mail", Exact = true }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "mail", Level = 1 })).ToBeVisibleAsync();
        await Expect(page.Locator("table tbody tr")).ToHaveCountAsync(3);
        await page.Locator("table tbody tr").First.GetByRole(AriaRole.Button).ClickAsync();
        await Expect(page.Locator(".detail")).ToContainTextAsync(StoreFiller.Script);
        Assert.Equal(0, await page.Locator(".detail script").CountAsync());
        Assert.Null(await page.EvaluateAsync<int?>("() => window.__pwned"));
    }

    [Fact]
    public async Task DeadLetter_RequeuedByClicking_ChangesTheStore()
    {
        await using var live = await LiveDashboard.StartAsync(writeActions: true);
        var dead = await StoreFiller.FillAsync(live.Store);
        var mail = live.Store.GetQueue("mail");
        var page = await browser.NewPageAsync(LiveDashboard.Admin);

        await page.GotoAsync(live.Url("/queues/#/queues/mail/dead-letters"));
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Dead letters of mail", Level = 1 })).ToBeVisibleAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = $"Requeue dead letter {dead[0]}", Exact = true }).ClickAsync();
        await Expect(page.Locator("#status")).ToHaveTextAsync("Requeued 1 message to mail.");

        Assert.Null(await mail.GetDeadLetterAsync(dead[0]));
        Assert.NotNull(await mail.GetMessageAsync(dead[0]));
        await Expect(page.Locator("table tbody tr")).ToHaveCountAsync(1);

        // Select the other one and requeue the selection.
        await page.GetByRole(AriaRole.Checkbox, new() { Name = $"Select dead letter {dead[1]}" }).CheckAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Requeue selected (1)" }).ClickAsync();
        await Expect(page.GetByText("No dead letters.")).ToBeVisibleAsync();
        Assert.Equal((5L, 0L), (await mail.GetCountsAsync()) is var c ? (c.Ready, c.DeadLettered) : default);
        await page.ScreenshotAsync(new() { Path = Path.Combine(BrowserFixture.ScreenshotFolder, "requeued.png") });
    }

    [Fact]
    public async Task DeadLetters_PurgedOnlyThroughTheConfirmation()
    {
        await using var live = await LiveDashboard.StartAsync(writeActions: true);
        await StoreFiller.FillAsync(live.Store);
        var mail = live.Store.GetQueue("mail");
        var page = await browser.NewPageAsync(LiveDashboard.Admin);
        await page.GotoAsync(live.Url("/queues/#/queues/mail/dead-letters"));
        await Expect(page.Locator("table tbody tr")).ToHaveCountAsync(2);

        var dialog = page.GetByRole(AriaRole.Dialog, new() { Name = "Purge dead letters" });
        var confirm = dialog.GetByRole(AriaRole.Button, new() { Name = "Purge", Exact = true });
        var input = dialog.GetByLabel("Type the queue name (mail) to confirm");

        // Opened, the wrong name keeps the button disabled; cancelled, nothing is deleted.
        await page.GetByRole(AriaRole.Button, new() { Name = "Purge all…" }).ClickAsync();
        await Expect(dialog).ToBeVisibleAsync();
        await Expect(input).ToBeFocusedAsync();
        await Expect(confirm).ToBeDisabledAsync();
        await input.FillAsync("orders");
        await Expect(confirm).ToBeDisabledAsync();
        await page.ScreenshotAsync(new() { Path = Path.Combine(BrowserFixture.ScreenshotFolder, "purge-confirmation.png") });
        await dialog.GetByRole(AriaRole.Button, new() { Name = "Cancel" }).ClickAsync();
        await Expect(dialog).ToBeHiddenAsync();
        await Expect(page.Locator("#status")).ToHaveTextAsync("Purge cancelled.");
        Assert.Equal(2, (await mail.GetCountsAsync()).DeadLettered);

        // Confirmed with the queue's name, the dead letters are gone.
        await page.GetByRole(AriaRole.Button, new() { Name = "Purge all…" }).ClickAsync();
        await input.FillAsync("mail");
        await Expect(confirm).ToBeEnabledAsync();
        await confirm.ClickAsync();
        await Expect(page.Locator("#status")).ToHaveTextAsync("Purged 2 dead letters of mail.");
        Assert.Equal(0, (await mail.GetCountsAsync()).DeadLettered);
        await Expect(page.GetByText("No dead letters.")).ToBeVisibleAsync();
    }

    [Fact]
    public async Task Overview_MessagesArrive_CountsAndChartChangeWithoutReload()
    {
        await using var live = await LiveDashboard.StartAsync();
        var orders = live.Store.GetQueue("orders");
        var page = await browser.NewPageAsync();
        await page.GotoAsync(live.Url("/queues/"));
        await Expect(page.GetByText("The store has no queue yet")).ToBeVisibleAsync();

        await orders.EnqueueAsync("first");
        var ready = page.Locator("tr[data-queue='orders'] td[data-col='ready']");
        var chart = page.Locator("figure.chart > svg");
        await Expect(ready).ToHaveTextAsync("1");
        await Expect(chart).ToHaveAttributeAsync("aria-label", new Regex("Now: orders: 1\\."));
        var pointsBefore = int.Parse((await chart.GetAttributeAsync("data-points"))!, System.Globalization.CultureInfo.InvariantCulture);

        await orders.EnqueueBatchAsync(Enumerable.Range(0, 24).Select(i => new ReadOnlyMemory<byte>([(byte)i])));
        await Expect(ready).ToHaveTextAsync("25");
        await Expect(chart).ToHaveAttributeAsync("aria-label", new Regex("Now: orders: 25\\."));
        await page.WaitForFunctionAsync(
            "before => Number(document.querySelector('figure.chart > svg').dataset.points) > before", pointsBefore);
        await Expect(page.Locator("figure.chart polyline[data-series='orders']")).ToHaveCountAsync(1);
        Assert.Equal(1, await page.EvaluateAsync<int>("() => performance.getEntriesByType('navigation').length"));
        await page.ScreenshotAsync(new() { Path = Path.Combine(BrowserFixture.ScreenshotFolder, "live-update.png") });
    }

    [Fact]
    public async Task Request_WithoutThePolicy_IsRefused()
    {
        await using var live = await LiveDashboard.StartAsync(writeActions: true);
        await StoreFiller.FillAsync(live.Store);

        // Requests from browser contexts: without a user, and with a user outside the policy's role.
        var anonymous = await browser.NewPageAsync();
        Assert.Equal(401, (await anonymous.APIRequest.GetAsync(live.Url("/queues/"))).Status);
        Assert.Equal(401, (await anonymous.APIRequest.GetAsync(live.Url("/queues/api/overview"))).Status);

        var viewer = await browser.NewPageAsync(new() { ["X-Test-User"] = "bob", ["X-Test-Roles"] = "viewer" });
        Assert.Equal(403, (await viewer.APIRequest.GetAsync(live.Url("/queues/"))).Status);
        var refused = await viewer.APIRequest.GetAsync(live.Url("/queues/api/overview"));
        Assert.Equal(403, refused.Status);
        Assert.DoesNotContain("orders", await refused.TextAsync(), StringComparison.Ordinal);

        var admin = await browser.NewPageAsync(LiveDashboard.Admin);
        Assert.Equal(200, (await admin.GotoAsync(live.Url("/queues/")))!.Status);
        await Expect(admin.GetByRole(AriaRole.Heading, new() { Name = "Queues", Level = 1 })).ToBeVisibleAsync();
        await Expect(admin.Locator("#mode")).ToHaveTextAsync("Write actions on");
        await Expect(admin.Locator("tr[data-queue='orders'] td[data-col='ready']")).ToHaveTextAsync("7");
    }
}
