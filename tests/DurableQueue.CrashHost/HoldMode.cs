using System.Globalization;
using DurableQueue;

namespace DurableQueue.CrashHost;

/// <summary>
/// The "hold" mode, for the recovery report tests: leaves a known state behind, then waits to be killed (or, with
/// close=1, closes the store and exits). It prints
///   ENQ <id>                                       a plain message of queue "work"
///   DELAYED <id> <dueAtMs>                         a delayed message of queue "work"
///   LEASE <queue> <id> <expiresAtMs> <visibilityMs> <attempt> <maxAttempts>   a lease this process holds
///   HELD                                           nothing more will be written; kill now
/// keys: plain, delayed, delayMs, held (leases of "work", visibility heldMs), final (leases on their last attempt in
/// queue "last", visibility finalMs), close (1: dispose the store and exit instead of waiting).
/// </summary>
internal static class HoldMode
{
    public static async Task<int> RunAsync(string[] args)
    {
        var values = args.Skip(2).Select(a => a.Split('=', 2)).ToDictionary(p => p[0], p => p[1], StringComparer.Ordinal);
        int Get(string key, int fallback) => values.TryGetValue(key, out var v) ? int.Parse(v, CultureInfo.InvariantCulture) : fallback;
        var report = new Report();
        var store = QueueStore.Open(args[1]);
        report.Line("READY");
        var work = store.GetQueue("work", new QueueOptions { MaxAttempts = 5 });
        var last = store.GetQueue("last", new QueueOptions { MaxAttempts = 1 });

        for (var i = 0; i < Get("plain", 10); i++)
        {
            report.Line($"ENQ {await work.EnqueueAsync(new byte[] { 1, 2, 3 })}");
        }

        var delay = TimeSpan.FromMilliseconds(Get("delayMs", 2000));
        for (var i = 0; i < Get("delayed", 3); i++)
        {
            var id = await work.EnqueueAsync(new byte[] { 4 }, new EnqueueOptions { Delay = delay });
            var info = await work.GetMessageAsync(id);
            report.Line(string.Create(CultureInfo.InvariantCulture, $"DELAYED {id} {info!.VisibleAt.ToUnixTimeMilliseconds()}"));
        }

        for (var i = 0; i < Get("final", 2); i++)
        {
            await last.EnqueueAsync(new byte[] { 5 });
        }

        // Leases come last: the final receive is the last commit of this process.
        await Lease(work, "work", Get("held", 4), TimeSpan.FromMilliseconds(Get("heldMs", 60_000)), report);
        await Lease(last, "last", Get("final", 2), TimeSpan.FromMilliseconds(Get("finalMs", 60_000)), report);
        report.Line("HELD");

        if (Get("close", 0) == 1)
        {
            await store.DisposeAsync();
            report.Line("DONE");
            return 0;
        }

        await Task.Delay(Timeout.Infinite);
        return 0;
    }

    private static async Task Lease(MessageQueue queue, string name, int count, TimeSpan visibility, Report report)
    {
        if (count == 0)
        {
            return;
        }

        var messages = await queue.ReceiveAsync(count, visibility);
        foreach (var m in messages)
        {
            report.Line(string.Create(
                CultureInfo.InvariantCulture,
                $"LEASE {name} {m.Id} {m.LeaseExpiresAt.ToUnixTimeMilliseconds()} {(long)visibility.TotalMilliseconds} {m.Attempt} {m.MaxAttempts}"));
        }
    }
}
