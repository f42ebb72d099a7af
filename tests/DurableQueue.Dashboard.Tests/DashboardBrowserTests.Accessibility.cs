using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace DurableQueue.Dashboard.Tests;

/// <summary>Keyboard and screen-reader basics: focus order, one h1 per page, named controls, text contrast (WCAG AA).</summary>
public sealed partial class DashboardBrowserTests
{
    // Run in the page: every problem found, as text. Contrast is the WCAG 2 ratio of each visible text's colour to the
    // first opaque background behind it: 4.5 for normal text, 3 for large text.
    private const string AuditScript = """
        () => {
          const problems = [];
          const h1s = document.querySelectorAll('h1');
          if (h1s.length !== 1) problems.push(`expected one h1, found ${h1s.length}`);
          for (const el of document.querySelectorAll('button, input, select, textarea, a[href]')) {
            if (el.closest('dialog:not([open])')) continue;
            const labels = el.labels ? [...el.labels].map(l => l.textContent).join(' ') : '';
            const name = (el.getAttribute('aria-label') || labels || el.textContent || '').trim();
            if (!name) problems.push(`control without a name: ${el.outerHTML.slice(0, 80)}`);
          }
          const rgb = c => (c.match(/[\d.]+/g) || []).map(Number);
          const channel = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
          const luminance = ([r, g, b]) => 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
          const background = el => {
            for (let e = el; e; e = e.parentElement) {
              const c = rgb(getComputedStyle(e).backgroundColor);
              if (c.length === 3 || (c.length === 4 && c[3] === 1)) return c;
            }
            return [255, 255, 255];
          };
          const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
          const seen = new Set();
          let checked = 0;
          while (walker.nextNode()) {
            const node = walker.currentNode;
            const el = node.parentElement;
            if (!node.textContent.trim() || seen.has(el)) continue;
            seen.add(el);
            if (el.closest('svg, .visually-hidden, [hidden], dialog:not([open]), noscript, .skip')) continue;
            const style = getComputedStyle(el);
            if (style.display === 'none' || style.visibility === 'hidden' || !el.getClientRects().length) continue;
            const fg = luminance(rgb(style.color));
            const bg = luminance(background(el));
            const ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
            const size = parseFloat(style.fontSize);
            const large = size >= 24 || (Number(style.fontWeight) >= 700 && size >= 18.66);
            checked++;
            if (ratio < (large ? 3 : 4.5)) problems.push(`contrast ${ratio.toFixed(2)} for "${node.textContent.trim().slice(0, 40)}"`);
          }
          if (checked < 10) problems.push(`only ${checked} texts were checked`);
          return problems;
        }
        """;

    [Fact]
    public async Task Accessibility_FocusOrderHeadingsNamesAndContrast()
    {
        await using var live = await LiveDashboard.StartAsync(writeActions: true);
        await StoreFiller.FillAsync(live.Store);
        var page = await browser.NewPageAsync(LiveDashboard.Admin);
        await page.GotoAsync(live.Url("/queues/"));
        await Expect(page.Locator("tr[data-queue='mail'] td[data-col='ready']")).ToHaveTextAsync("3");

        // The first Tab reaches the skip link; it moves focus to the content, whose first stop is the first queue.
        await page.Keyboard.PressAsync("Tab");
        await Expect(page.Locator("#skip")).ToBeFocusedAsync();
        await page.Keyboard.PressAsync("Enter");
        await Expect(page.Locator("#main")).ToBeFocusedAsync();
        await page.Keyboard.PressAsync("Tab");
        var mailLink = page.GetByRole(AriaRole.Link, new() { Name = "mail", Exact = true });
        await Expect(mailLink).ToBeFocusedAsync();
        Assert.Empty(await page.EvaluateAsync<string[]>(AuditScript));

        // Following the link by keyboard lands on the queue's page with focus at its top.
        await page.Keyboard.PressAsync("Enter");
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "mail", Level = 1 })).ToBeVisibleAsync();
        await Expect(page.Locator("#main")).ToBeFocusedAsync();
        await Expect(page.Locator("table tbody tr")).ToHaveCountAsync(3);
        Assert.Empty(await page.EvaluateAsync<string[]>(AuditScript));

        foreach (var (hash, heading) in new[] { ("#/queues/mail/dead-letters", "Dead letters of mail"), ("#/jobs", "Jobs"), ("#/store", "Store") })
        {
            await page.GotoAsync(live.Url("/queues/" + hash));
            await Expect(page.GetByRole(AriaRole.Heading, new() { Name = heading, Level = 1 })).ToBeVisibleAsync();
            await Expect(page.Locator("main table, main dl.facts, main p.empty").First).ToBeVisibleAsync();
            Assert.Empty(await page.EvaluateAsync<string[]>(AuditScript));
        }

        // The store's facts are label and value pairs, not text made of elements.
        await Expect(page.Locator("main dl.facts dt").First).ToHaveTextAsync("File");
        await Expect(page.Locator("main dl.facts")).ToContainTextAsync("Journal modewal");

        // The store page's actions show their results.
        await page.GetByRole(AriaRole.Button, new() { Name = "Verify" }).ClickAsync();
        await Expect(page.Locator("#maintenance-result")).ToContainTextAsync("Healthy: all");
        await page.GetByRole(AriaRole.Button, new() { Name = "Compact" }).ClickAsync();
        await Expect(page.Locator("#maintenance-result")).ToContainTextAsync("Returned");
        await page.ScreenshotAsync(new() { Path = Path.Combine(BrowserFixture.ScreenshotFolder, "store.png"), FullPage = true });
    }
}
