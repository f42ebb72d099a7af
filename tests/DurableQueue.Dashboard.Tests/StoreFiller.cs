namespace DurableQueue.Dashboard.Tests;

/// <summary>Puts a known set of messages into a store: what the dashboard must then show.</summary>
internal static class StoreFiller
{
    public const string Script = "<script>window.__pwned = 1</script>";

    /// <summary>orders: 7 ready, 2 delayed, 1 leased; mail: 3 ready and 2 dead letters whose texts are markup.</summary>
    public static async Task<IReadOnlyList<MessageId>> FillAsync(QueueStore store)
    {
        var orders = store.GetQueue("orders");
        await orders.EnqueueBatchAsync(Enumerable.Range(1, 8).Select(i => new OutgoingMessage(
            System.Text.Encoding.UTF8.GetBytes($"{{\"order\":{i}}}"),
            new EnqueueOptions { Headers = new Dictionary<string, string> { ["source"] = "shop" } })));
        await orders.EnqueueAsync("later 1", new EnqueueOptions { Delay = TimeSpan.FromHours(1) });
        await orders.EnqueueAsync("later 2", new EnqueueOptions { Delay = TimeSpan.FromHours(1) });
        Assert.Single(await orders.ReceiveAsync(1, visibilityTimeout: TimeSpan.FromHours(1)));

        var mail = store.GetQueue("mail");
        await mail.EnqueueBatchAsync(Enumerable.Range(1, 5).Select(i => new OutgoingMessage(
            System.Text.Encoding.UTF8.GetBytes(Script + i),
            new EnqueueOptions { MaxAttempts = 1, Headers = new Dictionary<string, string> { [Script] = Script } })));
        // One attempt each: a nack dead-letters at once, with its error; the other is dead-lettered with a reason.
        var received = await mail.ReceiveAsync(2);
        Assert.Equal(NackOutcome.DeadLettered, await mail.NackAsync(received[0], TimeSpan.Zero, "<img src=x onerror=alert(1)>"));
        await mail.DeadLetterAsync(received[1], Script);
        var dead = received.Select(m => m.Id).ToList();

        var counts = await mail.GetCountsAsync();
        Assert.Equal((3L, 2L), (counts.Ready, counts.DeadLettered));
        return dead;
    }
}
