// DurableQueue quick start: messages survive a crash.
// Each run first finishes whatever the previous run left behind, then enqueues new work,
// takes some of it under a lease and "crashes" (exits without acking or closing the store).
using DurableQueue;

var path = Path.Combine(Path.GetTempPath(), "durablequeue-quickstart.db");
var store = QueueStore.Open(path);
var orders = store.GetQueue("orders", new QueueOptions { VisibilityTimeout = TimeSpan.FromSeconds(2) });

var counts = await orders.GetCountsAsync();
Console.WriteLine($"Opened {path}: {counts.Ready} ready, {counts.Leased} leased by a crashed run, {counts.Delayed} delayed.");

// 1. Finish what the last run left. Leases held by the crashed process expire after the
//    visibility timeout (2 s here), and those messages are delivered again.
if (counts.Total > 0)
{
    Console.WriteLine("Recovering: waiting for the crashed run's leases to expire...");
    while ((await orders.GetCountsAsync()).Total > 0)
    {
        foreach (var message in await orders.ReceiveAsync(maxMessages: 10, waitTime: TimeSpan.FromSeconds(3)))
        {
            Console.WriteLine($"  processing {message.GetBodyAsString()} (attempt {message.Attempt})");
            await orders.AckAsync(message);
        }
    }

    Console.WriteLine("Recovered: every message of the last run was processed exactly as enqueued.");
}

// 2. New work: five orders, durable once EnqueueAsync returns.
for (var i = 1; i <= 5; i++)
{
    var id = await orders.EnqueueAsync($"order #{Random.Shared.Next(1000, 9999)}");
    Console.WriteLine($"Enqueued message {id}.");
}

// 3. Take three under a lease, finish only one, then crash before acking the other two.
var leased = await orders.ReceiveAsync(maxMessages: 3);
await orders.AckAsync(leased[0]);
Console.WriteLine($"Processed and acked {leased[0].GetBodyAsString()}.");
Console.WriteLine($"Leased {leased.Count - 1} more, and now the process crashes without acking them or closing the store.");
Console.WriteLine("Run it again: the two leased messages and the two never received come back. Nothing is lost.");
Environment.Exit(0);
