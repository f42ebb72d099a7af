using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace DurableQueue.Hosting.Tests;

public sealed class QueueWorkerTests : IDisposable
{
    private readonly TempDb _db = new();
    private readonly Probe _probe = new();

    public void Dispose() => _db.Dispose();

    private Task<TestHost> StartRawAsync(Action<QueueHandlerOptions>? handler = null, Action<IServiceCollection>? services = null, Microsoft.Extensions.Time.Testing.FakeTimeProvider? clock = null) =>
        TestHost.StartAsync(
            _db.Path,
            clock ?? TempDb.NewClock(),
            b => b.AddHandler<RawHandler>("work", handler),
            services: s =>
            {
                s.AddSingleton(_probe);
                services?.Invoke(s);
            });

    [Fact]
    public async Task Handler_Returns_AcksMessageInItsOwnScope()
    {
        await using var host = await TestHost.StartAsync(
            _db.Path, TempDb.NewClock(), b => b.AddHandler<Order, OrderHandler>("orders", TestJson.Default.Order, o => o.Concurrency = 2),
            services: s =>
            {
                s.AddSingleton(_probe);
                s.AddScoped<ScopedCounter>();
            });
        var scopes = new List<int>();
        _probe.OnHandle = (ctx, _) =>
        {
            lock (scopes)
            {
                scopes.Add(ctx.Services.GetRequiredService<ScopedCounter>().Instance);
            }

            return ValueTask.CompletedTask;
        };

        await host.Producer.EnqueueAsync("orders", new Order(1, "tea"), TestJson.Default.Order);
        await host.Producer.EnqueueAsync("orders", new Order(2, "milk"), TestJson.Default.Order);

        Assert.Equal(DeliveryOutcome.Acked, (await host.NextSettledAsync()).Outcome);
        Assert.Equal(DeliveryOutcome.Acked, (await host.NextSettledAsync()).Outcome);
        Assert.Equal(0, (await host.Store.GetQueue("orders").GetCountsAsync()).Total);
        Assert.Equal(2, scopes.Distinct().Count());
    }

    [Fact]
    public async Task Handler_KeepsFailing_RetryDelaysFollowBackoffThenDeadLetters()
    {
        var clock = TempDb.NewClock();
        await using var host = await StartRawAsync(
            o =>
            {
                o.MaxAttempts = 4;
                o.RetryBaseDelay = TimeSpan.FromSeconds(1);
                o.RetryMaxDelay = TimeSpan.FromSeconds(3);
            },
            // Jitter pinned to its upper bound, so the delays are the backoff's ceilings.
            s =>
            {
                s.Replace(ServiceDescriptor.Singleton<IRetryBackoff>(new FullJitterBackoff(new FixedRandom(1.0))));
                s.AddFakeLogging();
            },
            clock);
        _probe.OnHandle = (ctx, _) => throw new InvalidOperationException($"boom {ctx.Message.Attempt}");
        var queue = host.Store.GetQueue("work");
        var id = await queue.EnqueueAsync("job");

        var expected = new[] { 1, 2, 3 };
        foreach (var seconds in expected)
        {
            var (message, outcome) = await host.NextSettledAsync();
            Assert.Equal(DeliveryOutcome.Retrying, outcome);
            var info = await queue.GetMessageAsync(id);
            Assert.NotNull(info);
            Assert.Equal(MessageState.Delayed, info.State);
            Assert.Equal(clock.GetUtcNow() + TimeSpan.FromSeconds(seconds), info.VisibleAt);
            // The last error is the exception's type and message: no stack trace, no source paths.
            Assert.Equal($"System.InvalidOperationException: boom {message.Attempt}", info.LastError);
            clock.Advance(TimeSpan.FromSeconds(seconds));
        }

        var last = await host.NextSettledAsync();
        Assert.Equal(DeliveryOutcome.DeadLettered, last.Outcome);
        Assert.Null(await queue.GetMessageAsync(id));
        var dead = await queue.GetDeadLetterAsync(id);
        Assert.NotNull(dead);
        Assert.Equal(4, dead.Attempts);
        Assert.Equal("System.InvalidOperationException: boom 4", dead.LastError);
        Assert.Equal(4, _probe.Calls);

        // Expected retries log one line each (type and message, no exception object, so no stack); the last attempt's
        // failure is an error with the exception.
        var logs = host.Services.GetFakeLogCollector().GetSnapshot();
        var retries = logs.Where(r => r.Id.Name == "HandlerFailed").ToArray();
        Assert.Equal(3, retries.Length);
        Assert.All(retries, r => Assert.Equal((LogLevel.Warning, (Exception?)null), (r.Level, r.Exception)));
        Assert.All(retries, r => Assert.Single(r.Message.Split('\n')));
        Assert.EndsWith("retrying in 00:00:01: System.InvalidOperationException: boom 1", retries[0].Message, StringComparison.Ordinal);
        var deadLettered = Assert.Single(logs, r => r.Id.Name == "MessageDeadLettered");
        Assert.Equal(LogLevel.Error, deadLettered.Level);
        Assert.Equal("boom 4", deadLettered.Exception?.Message);
        // One handler's exceptions never stop the host.
        Assert.False(host.Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping.IsCancellationRequested);
    }

    [Fact]
    public async Task TypedHandler_UnreadableBody_DeadLettersAtOnce()
    {
        await using var host = await TestHost.StartAsync(
            _db.Path, TempDb.NewClock(), b => b.AddHandler<Order, OrderHandler>("orders", TestJson.Default.Order),
            services: s =>
            {
                s.AddSingleton(_probe);
                s.AddScoped<ScopedCounter>();
            });
        var queue = host.Store.GetQueue("orders");
        var id = await queue.EnqueueAsync("not json");

        Assert.Equal(DeliveryOutcome.DeadLettered, (await host.NextSettledAsync()).Outcome);
        var dead = await queue.GetDeadLetterAsync(id);
        Assert.NotNull(dead);
        Assert.Equal(1, dead.Attempts);
        Assert.Contains("could not be read as Order", dead.Reason, StringComparison.Ordinal);
        Assert.Equal(0, _probe.Calls);
    }

    [Fact]
    public async Task StopAsync_TimeoutEndsWhileHandlerRuns_HandsMessageBackWithoutSpendingAttempt()
    {
        var clock = TempDb.NewClock();
        var host = await StartRawAsync(o => o.VisibilityTimeout = TimeSpan.FromMinutes(5), clock: clock);
        var cancelled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _probe.OnHandle = async (_, ct) =>
        {
            ct.Register(() => cancelled.TrySetResult());
            // A handler that ignores its token: the hand-back must not wait for it.
            await Task.Delay(Timeout.InfiniteTimeSpan, CancellationToken.None);
        };
        var queue = host.Store.GetQueue("work");
        var id = await queue.EnqueueAsync("slow");
        await _probe.NextStartedAsync();

        // An already-cancelled token: the host's shutdown timeout is over at once.
        await host.StopAsync(new CancellationToken(canceled: true));

        await cancelled.Task.WaitAsync(TestHost.Guard);
        var info = await queue.GetMessageAsync(id);
        Assert.NotNull(info);
        Assert.Equal(MessageState.Ready, info.State);
        Assert.Equal(0, info.Attempts);
        await host.DisposeAsync();

        // A restart picks it up at once, without waiting out the visibility timeout, as its first attempt.
        var probe2 = new Probe();
        await using var restarted = await TestHost.StartAsync(_db.Path, clock, b => b.AddHandler<RawHandler>("work"), services: s => s.AddSingleton(probe2));
        var again = await probe2.NextStartedAsync();
        Assert.Equal(id, again.Id);
        Assert.Equal(1, again.Message.Attempt);
        Assert.Equal(DeliveryOutcome.Acked, (await restarted.NextSettledAsync()).Outcome);
    }

    [Fact]
    public async Task StopAsync_HandlerFinishesWithinTimeout_IsAcked()
    {
        await using var host = await StartRawAsync();
        var lifetime = host.Services.GetRequiredService<IHostApplicationLifetime>();
        _probe.OnHandle = async (_, ct) =>
        {
            // Finish only once the host is stopping: the worker must wait for us.
            await Task.Delay(Timeout.InfiniteTimeSpan, lifetime.ApplicationStopping).ContinueWith(static _ => { }, TaskScheduler.Default);
            Assert.False(ct.IsCancellationRequested);
        };
        var queue = host.Store.GetQueue("work");
        var id = await queue.EnqueueAsync("finishing");
        await _probe.NextStartedAsync();

        await host.StopAsync();

        Assert.Equal(DeliveryOutcome.Acked, (await host.NextSettledAsync()).Outcome);
        Assert.Null(await queue.GetMessageAsync(id));
        Assert.Null(await queue.GetDeadLetterAsync(id));
    }

    [Fact]
    public async Task LeaseRenewal_SlowHandler_MessageIsNotRedelivered()
    {
        var clock = TempDb.NewClock();
        await using var host = await StartRawAsync(
            o =>
            {
                o.VisibilityTimeout = TimeSpan.FromSeconds(10);
                o.Concurrency = 2;
            },
            clock: clock);
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _probe.OnHandle = async (_, _) => await gate.Task;
        var queue = host.Store.GetQueue("work");
        var id = await queue.EnqueueAsync("slow");
        await _probe.NextStartedAsync();
        var start = clock.GetUtcNow();

        clock.Advance(TimeSpan.FromSeconds(8));
        var (_, until) = await host.NextExtendedAsync();
        Assert.Equal(start + TimeSpan.FromSeconds(18), until);

        // Past the first lease's expiry (10 s): still leased, so no second delivery is possible.
        clock.Advance(TimeSpan.FromSeconds(7));
        var info = await queue.GetMessageAsync(id);
        Assert.NotNull(info);
        Assert.Equal(MessageState.Leased, info.State);
        Assert.Equal(1, info.Attempts);

        gate.SetResult();
        Assert.Equal(DeliveryOutcome.Acked, (await host.NextSettledAsync()).Outcome);
        Assert.Equal(1, _probe.Calls);
    }

    [Fact]
    public async Task LeaseRenewal_LeaseLost_CancelsHandlerToken()
    {
        var clock = TempDb.NewClock();
        await using var host = await StartRawAsync(o => o.VisibilityTimeout = TimeSpan.FromSeconds(10), clock: clock);
        var cancelled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _probe.OnHandle = async (_, ct) =>
        {
            ct.Register(() => cancelled.TrySetResult());
            await Task.Delay(Timeout.InfiniteTimeSpan, ct);
        };
        var queue = host.Store.GetQueue("work");
        await queue.EnqueueAsync("doomed");
        await _probe.NextStartedAsync();

        // Someone else took the lease (as after an expiry and a redelivery elsewhere).
#if POSTGRES
        _db.Execute("UPDATE dq_messages SET lease_token = gen_random_uuid();");
#else
        _db.Execute("UPDATE dq_messages SET lease_token = randomblob(16);");
#endif
        clock.Advance(TimeSpan.FromSeconds(8));

        await cancelled.Task.WaitAsync(TestHost.Guard);
        Assert.Equal(DeliveryOutcome.LeaseLost, (await host.NextSettledAsync()).Outcome);
    }

    [Fact]
    public async Task CompleteAsync_CommitsAppWritesWithTheAck()
    {
#if POSTGRES
        _db.Execute("CREATE TABLE app_orders(id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, item text NOT NULL);");
#else
        _db.Execute("CREATE TABLE app_orders(id INTEGER PRIMARY KEY, item TEXT NOT NULL);");
#endif
        await using var host = await StartRawAsync(o => o.MaxAttempts = 1);
        _probe.OnHandle = async (ctx, ct) =>
        {
            var body = ctx.Message.GetBodyAsString();
            await ctx.CompleteAsync(
                tx =>
                {
                    using var command = tx.Connection.CreateCommand();
                    command.CommandText = "INSERT INTO app_orders(item) VALUES (@item);";
                    var item = command.CreateParameter();
                    item.ParameterName = "@item";
                    item.Value = body;
                    command.Parameters.Add(item);
                    command.ExecuteNonQuery();
                    if (body == "bad")
                    {
                        throw new InvalidOperationException("rejected");
                    }
                },
                ct);
        };
        var queue = host.Store.GetQueue("work");
        var good = await queue.EnqueueAsync("good");
        Assert.Equal(DeliveryOutcome.Acked, (await host.NextSettledAsync()).Outcome);
        var bad = await queue.EnqueueAsync("bad");
        Assert.Equal(DeliveryOutcome.DeadLettered, (await host.NextSettledAsync()).Outcome);

        Assert.Equal(1, _db.Scalar("SELECT count(*) FROM app_orders WHERE item = 'good';"));
        Assert.Equal(0, _db.Scalar("SELECT count(*) FROM app_orders WHERE item = 'bad';"));
        Assert.Null(await queue.GetMessageAsync(good));
        Assert.NotNull(await queue.GetDeadLetterAsync(bad));
    }
}
