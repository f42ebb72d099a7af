using Dapper;

namespace DurableQueue.Tests;

/// <summary>
/// Bodies larger than the row limit are written once, apart from the row that every lease rewrites, and follow the
/// message through its whole life: receive, nack, extend, dead letter and back, ack, purge. What it costs in WAL bytes
/// is measured by the load tool's <c>bodies</c> command, not here.
/// </summary>
public sealed class BodyStorageTests
{
    private const int Large = Storage.PendingMessage.BodyInRowMaxBytes + 1;

    [Theory]
    [InlineData(0)]
    [InlineData(Storage.PendingMessage.BodyInRowMaxBytes)]
    public async Task SmallBody_StaysInItsRow(int size)
    {
        await using var t = TestStore.Create();
        var id = await t.Store.GetQueue("q").EnqueueAsync(Body(size, 1));

        using var raw = t.OpenRaw();
        var row = raw.QuerySingle<(long? BodySize, byte[] Body)>("SELECT body_size, body FROM dq_messages WHERE id = @id;", new { id = id.Value });
        Assert.Null(row.BodySize);
        Assert.Equal(Body(size, 1), row.Body);
        Assert.Equal(0, raw.ExecuteScalar<long>("SELECT count(*) FROM dq_bodies;"));
    }

    [Theory]
    [InlineData(Large)]
    [InlineData(300 * 1024)]
    public async Task LargeBody_IsKeptApart_AndEveryDeliveryReadsIt(int size)
    {
        await using var t = TestStore.Create(o => o.MemoryBudgetBytes = 0);
        var queue = t.Store.GetQueue("q", new QueueOptions { MaxAttempts = 5 });
        var body = Body(size, 7);
        var id = await queue.EnqueueAsync(body);

        using var raw = t.OpenRaw();
        var row = raw.QuerySingle<(long? BodySize, byte[] Body)>("SELECT body_size, body FROM dq_messages WHERE id = @id;", new { id = id.Value });
        Assert.Equal(size, row.BodySize);
        Assert.Empty(row.Body);
        Assert.Equal(body, raw.ExecuteScalar<byte[]>("SELECT body FROM dq_bodies WHERE id = @id;", new { id = id.Value }));
        Assert.Equal(size, queue.GetBackPressureStats().Bytes);

        var first = Assert.Single(await queue.ReceiveAsync());
        Assert.Equal(body, first.Body.ToArray());
        await queue.NackAsync(first);
        var second = Assert.Single(await queue.ReceiveAsync());
        Assert.Equal(body, second.Body.ToArray());
        await queue.ExtendLeaseAsync(second, TimeSpan.FromMinutes(1));
        Assert.Equal(body, (await queue.GetMessageAsync(id))!.Body.ToArray());
        Assert.Equal(body, Assert.Single(await queue.PeekAsync(1)).Body.ToArray());

        await queue.AckAsync(second);
        Assert.Equal(0, raw.ExecuteScalar<long>("SELECT count(*) FROM dq_bodies;"));
        Assert.Equal(0, queue.GetBackPressureStats().Bytes);
        Assert.True((await t.Store.VerifyAsync()).IsHealthy);
    }

    [Fact]
    public async Task LargeBody_ServedFromTheMemoryTier_IsTheSame()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q");
        var body = Body(Large * 2, 3);
        await queue.EnqueueAsync(body);
        await t.ReopenAsync();
        queue = t.Store.GetQueue("q");

        // After a reopen the tier reads the lane back from disk, body included.
        var message = Assert.Single(await queue.ReceiveAsync());

        Assert.Equal(body, message.Body.ToArray());
        Assert.True(queue.GetMemoryTierStats().Refills > 0);
    }

    [Fact]
    public async Task LargeBody_MovesToTheDeadLettersAndBack_WithoutACopy()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q");
        var body = Body(Large, 9);
        var id = await queue.EnqueueAsync(body);
        await queue.DeadLetterAsync(Assert.Single(await queue.ReceiveAsync()), "poison");

        using var raw = t.OpenRaw();
        Assert.Equal(1, raw.ExecuteScalar<long>("SELECT count(*) FROM dq_bodies WHERE id = @id;", new { id = id.Value }));
        Assert.Equal(body, (await queue.GetDeadLetterAsync(id))!.Body.ToArray());
        Assert.Equal(body, Assert.Single(await queue.GetDeadLettersAsync()).Body.ToArray());

        Assert.True(await queue.RequeueDeadLetterAsync(id));
        Assert.Equal(1, raw.ExecuteScalar<long>("SELECT count(*) FROM dq_bodies WHERE id = @id;", new { id = id.Value }));
        var again = Assert.Single(await queue.ReceiveAsync());
        Assert.Equal(body, again.Body.ToArray());

        await queue.DeadLetterAsync(again, "poison again");
        await queue.PurgeDeadLettersAsync();
        Assert.Equal(0, raw.ExecuteScalar<long>("SELECT count(*) FROM dq_bodies;"));
        Assert.True((await t.Store.VerifyAsync()).IsHealthy);
    }

    [Fact]
    public async Task Purge_DeletesBodiesKeptApart()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q");
        await queue.EnqueueBatchAsync(new ReadOnlyMemory<byte>[] { Body(Large, 1), Body(10, 2), Body(Large, 3) });

        await queue.PurgeAsync();

        using var raw = t.OpenRaw();
        Assert.Equal(0, raw.ExecuteScalar<long>("SELECT count(*) FROM dq_bodies;"));
        Assert.True((await t.Store.VerifyAsync()).IsHealthy);
    }

    [Fact]
    public async Task LargeBodyWithADuplicateKey_WritesNoSecondBody()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q");
        var options = new EnqueueOptions { DeduplicationKey = "k" };
        var first = await queue.EnqueueAsync(Body(Large, 1), options);

        var second = await queue.EnqueueAsync(Body(Large, 2), options);

        Assert.Equal(first, second);
        using var raw = t.OpenRaw();
        Assert.Equal(1, raw.ExecuteScalar<long>("SELECT count(*) FROM dq_bodies;"));
        Assert.Equal(Body(Large, 1), Assert.Single(await queue.ReceiveAsync()).Body.ToArray());
    }

    [Fact]
    public async Task LargeBodyInAFailingUnitOfWork_LeavesNothing()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q");

        await Assert.ThrowsAsync<InvalidOperationException>(async () => await t.Store.ExecuteAsync(tx =>
        {
            tx.Enqueue("q", Body(Large, 1));
            throw new InvalidOperationException("roll back");
        }));

        using var raw = t.OpenRaw();
        Assert.Equal(0, raw.ExecuteScalar<long>("SELECT count(*) FROM dq_bodies;"));
        Assert.Equal(0, (await queue.GetCountsAsync()).Ready);
    }

    internal static byte[] Body(int size, byte seed)
    {
        var body = new byte[size];
        for (var i = 0; i < body.Length; i++)
        {
            body[i] = (byte)(seed + (i * 31));
        }

        return body;
    }
}
