namespace DurableQueue.Tests;

/// <summary>Bad input is refused with an ArgumentException that names the parameter, and changes nothing.</summary>
public sealed partial class MessageQueueTests
{
    [Theory]
    [InlineData("has space")]
    [InlineData("-leading-dash")]
    [InlineData(".leading-dot")]
    [InlineData("slash/inside")]
    [InlineData("quote'inside")]
    [InlineData("ümlaut")]
    [InlineData("tab\t")]
    public async Task GetQueue_InvalidName_ThrowsArgumentExceptionNamingName(string name)
    {
        await using var t = TestStore.Create();

        var ex = Assert.Throws<ArgumentException>(() => t.Store.GetQueue(name));

        Assert.Equal("name", ex.ParamName);
        Assert.Contains(name, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GetQueue_NullEmptyOrTooLongName_ThrowsNamingName()
    {
        await using var t = TestStore.Create();

        Assert.Equal("name", Assert.Throws<ArgumentNullException>(() => t.Store.GetQueue(null!)).ParamName);
        Assert.Equal("name", Assert.Throws<ArgumentException>(() => t.Store.GetQueue("")).ParamName);
        Assert.Equal("name", Assert.Throws<ArgumentException>(() => t.Store.GetQueue(new string('a', 129))).ParamName);
    }

    [Theory]
    [InlineData("a")]
    [InlineData("9")]
    [InlineData("orders.v2_eu-west:high")]
    public async Task GetQueue_ValidNames_Work(string name)
    {
        await using var t = TestStore.Create();
        var longest = new string('z', 128);

        await t.Store.GetQueue(name).EnqueueAsync("x");
        await t.Store.GetQueue(longest).EnqueueAsync("x");

        Assert.Equal(new[] { name, longest }.Order(StringComparer.Ordinal), await t.Store.GetQueueNamesAsync());
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    public async Task GetQueue_InvalidOptions_ThrowsArgumentExceptionNamingOptions(int value)
    {
        await using var t = TestStore.Create();

        Assert.Equal("options", Assert.Throws<ArgumentException>(() => t.Store.GetQueue("a", new QueueOptions { VisibilityTimeout = TimeSpan.FromSeconds(value) })).ParamName);
        Assert.Equal("options", Assert.Throws<ArgumentException>(() => t.Store.GetQueue("b", new QueueOptions { MaxAttempts = value })).ParamName);
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(10)]
    [InlineData(int.MaxValue)]
    public async Task EnqueueAsync_PriorityOutOfRange_ThrowsNamingPriority(int priority)
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q");

        var ex = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await queue.EnqueueAsync("x", new EnqueueOptions { Priority = priority }));

        Assert.Equal("options.Priority", ex.ParamName);
        Assert.Equal(0, (await queue.GetCountsAsync()).Total);
    }

    [Fact]
    public async Task EnqueueAsync_InvalidOptions_ThrowNamingTheOption()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q");

        async Task<string?> ParamOf(EnqueueOptions options) =>
            (await Assert.ThrowsAnyAsync<ArgumentException>(async () => await queue.EnqueueAsync("x", options))).ParamName;

        Assert.Equal("options.Delay", await ParamOf(new EnqueueOptions { Delay = TimeSpan.FromMilliseconds(-1) }));
        Assert.Equal("options.MaxAttempts", await ParamOf(new EnqueueOptions { MaxAttempts = 0 }));
        Assert.Equal("options.DeduplicationKey", await ParamOf(new EnqueueOptions { DeduplicationKey = "" }));
        Assert.Equal("options.DeduplicationKey", await ParamOf(new EnqueueOptions { DeduplicationKey = new string('k', 513) }));
        Assert.Equal(0, (await queue.GetCountsAsync()).Total);
    }

    [Fact]
    public async Task EnqueueAsync_BodyOverMaxMessageBytes_ThrowsNamingBody()
    {
        await using var t = TestStore.Create(o => o.MaxMessageBytes = 16);
        var queue = t.Store.GetQueue("q");

        await queue.EnqueueAsync(new byte[16]);
        var ex = await Assert.ThrowsAsync<ArgumentException>(async () => await queue.EnqueueAsync(new byte[17]));
        var text = await Assert.ThrowsAsync<ArgumentException>(async () => await queue.EnqueueAsync(new string('é', 9)));
        await Assert.ThrowsAsync<ArgumentException>(async () => await queue.EnqueueBatchAsync([new byte[1], new byte[17]]));

        Assert.Equal("body", ex.ParamName);
        Assert.Equal("body", text.ParamName);
        Assert.Contains("16", ex.Message, StringComparison.Ordinal);
        Assert.Equal(1, (await queue.GetCountsAsync()).Total);
    }

    [Fact]
    public async Task EnqueueAsync_NullBodyOrBatch_ThrowsArgumentNull()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q");

        Assert.Equal("body", (await Assert.ThrowsAsync<ArgumentNullException>(async () => await queue.EnqueueAsync((string)null!))).ParamName);
        Assert.Equal("messages", (await Assert.ThrowsAsync<ArgumentNullException>(async () => await queue.EnqueueBatchAsync((IEnumerable<OutgoingMessage>)null!))).ParamName);
        Assert.Equal("messages", (await Assert.ThrowsAsync<ArgumentException>(async () => await queue.EnqueueBatchAsync(Array.Empty<OutgoingMessage>()))).ParamName);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(1001)]
    public async Task ReceiveAndPeek_MaxMessagesOutOfRange_ThrowNamingIt(int max)
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q");
        await queue.EnqueueAsync("x");

        Assert.Equal("maxMessages", (await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await queue.ReceiveAsync(max))).ParamName);
        Assert.Equal("maxMessages", (await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await queue.PeekAsync(max))).ParamName);
        Assert.Equal("maxCount", (await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await queue.GetDeadLettersAsync(max))).ParamName);
        Assert.Equal(0, Assert.Single(await queue.PeekAsync()).Attempts);
    }

    [Fact]
    public async Task ReceiveAsync_MaxMessagesAtTheLimit_Works()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q");
        await queue.EnqueueBatchAsync(Enumerable.Range(0, 1001).Select(i => new ReadOnlyMemory<byte>(BitConverter.GetBytes(i))));

        Assert.Equal(1000, (await queue.ReceiveAsync(1000)).Count);
        Assert.Single(await queue.ReceiveAsync(1000));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1000)]
    public async Task ReceiveAndExtend_VisibilityTimeoutNotPositive_ThrowNamingIt(int milliseconds)
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q");
        await queue.EnqueueAsync("x");
        var timeout = TimeSpan.FromMilliseconds(milliseconds);

        var receive = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await queue.ReceiveAsync(visibilityTimeout: timeout));
        Assert.Equal(0, Assert.Single(await queue.PeekAsync()).Attempts);
        var message = Assert.Single(await queue.ReceiveAsync());
        var extend = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await queue.ExtendLeaseAsync(message, timeout));

        Assert.Equal("visibilityTimeout", receive.ParamName);
        Assert.Equal("visibilityTimeout", extend.ParamName);
        Assert.Equal(message.LeaseExpiresAt, Assert.Single(await queue.PeekAsync()).VisibleAt);
    }

    [Fact]
    public async Task SettleAndWait_BadArguments_ThrowNamingTheParameter()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q");
        await queue.EnqueueAsync("x");
        var message = Assert.Single(await queue.ReceiveAsync());

        Assert.Equal("waitTime", (await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await queue.ReceiveAsync(waitTime: TimeSpan.FromSeconds(-1)))).ParamName);
        Assert.Equal("retryAfter", (await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await queue.NackAsync(message, TimeSpan.FromSeconds(-1)))).ParamName);
        Assert.Equal("receipt", (await Assert.ThrowsAsync<ArgumentException>(async () => await queue.AckAsync(default(MessageReceipt)))).ParamName);
        Assert.Equal("receipts", (await Assert.ThrowsAsync<ArgumentException>(async () => await queue.AckManyAsync([message.Receipt, default]))).ParamName);
        Assert.Equal("message", (await Assert.ThrowsAsync<ArgumentNullException>(async () => await queue.AckAsync((QueueMessage)null!))).ParamName);
        Assert.Equal("reason", (await Assert.ThrowsAnyAsync<ArgumentException>(async () => await queue.DeadLetterAsync(message, ""))).ParamName);
        Assert.Equal("reason", (await Assert.ThrowsAnyAsync<ArgumentException>(async () => await queue.DeadLetterAsync(message, null!))).ParamName);

        // Nothing was settled by the refused calls.
        var info = Assert.Single(await queue.PeekAsync());
        Assert.Equal((MessageState.Leased, 1), (info.State, info.Attempts));
        await queue.AckAsync(message);
    }

    [Theory]
    [InlineData("")]
    [InlineData("12")]
    [InlineData("0.0123456789abcdef0123456789abcdef")]
    [InlineData("12.00000000000000000000000000000000")]
    [InlineData("12.not-a-guid")]
    public void MessageReceiptParse_Garbage_ThrowsFormatException(string text)
    {
        Assert.Throws<FormatException>(() => MessageReceipt.Parse(text));
    }
}
