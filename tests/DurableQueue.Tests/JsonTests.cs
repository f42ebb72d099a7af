using System.Text.Json.Serialization;

namespace DurableQueue.Tests;

public sealed partial class JsonTests
{
    public sealed record Order(string Sku, int Quantity);

    [JsonSerializable(typeof(Order))]
    private sealed partial class Context : JsonSerializerContext;

    [Fact]
    public async Task EnqueueJson_GetBody_RoundTripsWithSourceGeneratedMetadata()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("orders");
        await queue.EnqueueJsonAsync(new Order("A-1", 3), Context.Default.Order);
        await t.Store.ExecuteAsync(tx => tx.EnqueueJson("orders", new Order("B-2", 1), Context.Default.Order));

        var received = await queue.ReceiveAsync(maxMessages: 2);
        Assert.Equal([new Order("A-1", 3), new Order("B-2", 1)], received.Select(m => m.GetBody(Context.Default.Order)));
        Assert.Equal("""{"Sku":"A-1","Quantity":3}""", received[0].GetBodyAsString());
    }
}
