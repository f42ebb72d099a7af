namespace DurableQueue.Tests;

public sealed class SmokeTests
{
    [Fact]
    public async Task EnqueueReceiveAck_RoundTrip_LeavesQueueEmpty()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("orders");

        var id = await queue.EnqueueAsync("hello");
        var received = Assert.Single(await queue.ReceiveAsync());
        Assert.Equal(id, received.Id);
        Assert.Equal("hello", received.GetBodyAsString());
        Assert.Equal(1, received.Attempt);

        await queue.AckAsync(received);
        Assert.Equal(0, (await queue.GetCountsAsync()).Total);
        Assert.Empty(await queue.ReceiveAsync());
    }
}
