using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace DurableQueue.Hosting.Tests;

public sealed class TelemetryTests : IDisposable
{
    private readonly TempDb _db = new();
    private readonly Probe _probe = new();

    public void Dispose() => _db.Dispose();

    [Fact]
    public async Task Metrics_ObservedWithMeterListener()
    {
        // A queue name of its own: other tests' hosts report to listeners too.
        var queueName = $"metered-{Guid.NewGuid():N}"[..20];
        var measurements = new ConcurrentBag<(string Instrument, double Value, Dictionary<string, object?> Tags)>();
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == "DurableQueue")
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        void Record(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            var map = new Dictionary<string, object?>();
            foreach (var tag in tags)
            {
                map[tag.Key] = tag.Value;
            }

            if (Equals(map.GetValueOrDefault("messaging.destination.name"), queueName))
            {
                measurements.Add((instrument.Name, value, map));
            }
        }

        listener.SetMeasurementEventCallback<long>((i, v, t, _) => Record(i, v, t));
        listener.SetMeasurementEventCallback<double>((i, v, t, _) => Record(i, v, t));
        listener.Start();

        await using var host = await TestHost.StartAsync(
            _db.Path, TempDb.NewClock(), b => b.AddHandler<RawHandler>(queueName, o => o.MaxAttempts = 1), services: s => s.AddSingleton(_probe));
        _probe.OnHandle = (ctx, _) => ctx.Message.GetBodyAsString() == "bad" ? throw new FormatException("bad body") : ValueTask.CompletedTask;

        await host.Producer.EnqueueAsync(queueName, "ok"u8.ToArray());
        Assert.Equal(DeliveryOutcome.Acked, (await host.NextSettledAsync()).Outcome);
        await host.Producer.EnqueueAsync(queueName, "bad"u8.ToArray());
        Assert.Equal(DeliveryOutcome.DeadLettered, (await host.NextSettledAsync()).Outcome);

        await host.Services.GetRequiredService<MaintenanceService>().RefreshAsync(default);
        listener.RecordObservableInstruments();

        double Sum(string name) => measurements.Where(m => m.Instrument == name).Sum(m => m.Value);
        Assert.Equal(2, Sum("messaging.client.sent.messages"));
        Assert.Equal(2, Sum("messaging.client.consumed.messages"));
        Assert.Equal(1, Sum("durablequeue.messages.dead_lettered"));

        var processed = measurements.Where(m => m.Instrument == "messaging.process.duration").ToList();
        Assert.Equal(2, processed.Count);
        Assert.Single(processed, m => Equals(m.Tags.GetValueOrDefault("error.type"), typeof(FormatException).FullName));
        Assert.All(processed, m => Assert.Equal("durablequeue", m.Tags["messaging.system"]));

        var operations = measurements.Where(m => m.Instrument == "messaging.client.operation.duration")
            .Select(m => (string)m.Tags["messaging.operation.name"]!).ToHashSet();
        Assert.Superset(new HashSet<string> { "enqueue", "receive", "ack", "nack" }, operations);

        var depth = measurements.Where(m => m.Instrument == "durablequeue.messages")
            .ToDictionary(m => (string)m.Tags["durablequeue.message.state"]!, m => m.Value);
        Assert.Equal(1, depth["dead_lettered"]);
        Assert.Equal(0, depth["available"]);
        Assert.Contains(measurements, m => m.Instrument == "durablequeue.queue.oldest_message.age");
    }

    [Fact]
    public async Task HealthCheck_BacklogAgeAndDeadLetters_DegradedThenUnhealthy()
    {
        var clock = TempDb.NewClock();
        await using var host = await TestHost.StartAsync(
            _db.Path, clock, _ => { }, services: s => s.AddHealthChecks().AddDurableQueue());
        var health = host.Services.GetRequiredService<HealthCheckService>();
        var queue = host.Store.GetQueue("backlog");

        Assert.Equal(HealthStatus.Healthy, (await health.CheckHealthAsync()).Status);
        await queue.EnqueueAsync("waiting");
        Assert.Equal(HealthStatus.Healthy, (await health.CheckHealthAsync()).Status);

        clock.Advance(TimeSpan.FromMinutes(2));
        var degraded = await health.CheckHealthAsync();
        Assert.Equal(HealthStatus.Degraded, degraded.Status);
        Assert.Contains("backlog", degraded.Entries["durablequeue"].Description, StringComparison.Ordinal);

        clock.Advance(TimeSpan.FromMinutes(10));
        Assert.Equal(HealthStatus.Unhealthy, (await health.CheckHealthAsync()).Status);

        // Drain the backlog; one dead letter alone leaves the queue healthy.
        var message = Assert.Single(await queue.ReceiveAsync());
        await queue.DeadLetterAsync(message, "test");
        Assert.Equal(HealthStatus.Healthy, (await health.CheckHealthAsync()).Status);
    }

    [Fact]
    public async Task HealthCheck_DeadLetters_DegradedByTheRateInTheWindow_NotByTheTotal()
    {
        var clock = TempDb.NewClock();
        await using var host = await TestHost.StartAsync(
            _db.Path, clock, _ => { }, services: s => s.AddHealthChecks().AddDurableQueue());
        var health = host.Services.GetRequiredService<HealthCheckService>();
        var queue = host.Store.GetQueue("poison");
        async Task DeadLetterAsync(int count)
        {
            for (var i = 0; i < count; i++)
            {
                await queue.EnqueueAsync("x");
                await queue.DeadLetterAsync(Assert.Single(await queue.ReceiveAsync()), "test");
            }
        }

        Assert.Equal(HealthStatus.Healthy, (await health.CheckHealthAsync()).Status);

        await DeadLetterAsync(4);
        clock.Advance(TimeSpan.FromMinutes(2));
        var four = await health.CheckHealthAsync();
        Assert.Equal(HealthStatus.Healthy, four.Status);
        Assert.Equal(4L, four.Entries["durablequeue"].Data["poison.dead_lettered_recently"]);

        await DeadLetterAsync(1);
        var degraded = await health.CheckHealthAsync();
        Assert.Equal(HealthStatus.Degraded, degraded.Status);
        Assert.Contains("5 message(s) dead-lettered in the last 5 min", degraded.Entries["durablequeue"].Description, StringComparison.Ordinal);

        // The window moves on: five dead letters wait in the store, none of them new.
        clock.Advance(TimeSpan.FromMinutes(6));
        var later = await health.CheckHealthAsync();
        Assert.Equal(HealthStatus.Healthy, later.Status);
        Assert.Equal(5L, later.Entries["durablequeue"].Data["poison.dead_lettered"]);
    }

    [Fact]
    public async Task HealthCheck_TotalDeadLetterThresholds_WhenConfigured()
    {
        var clock = TempDb.NewClock();
        await using var host = await TestHost.StartAsync(
            _db.Path, clock, _ => { }, o => { o.Health.DeadLettersDegraded = 1; o.Health.DeadLettersUnhealthy = 2; }, s => s.AddHealthChecks().AddDurableQueue());
        var health = host.Services.GetRequiredService<HealthCheckService>();
        var queue = host.Store.GetQueue("poison");

        foreach (var expected in new[] { HealthStatus.Degraded, HealthStatus.Unhealthy })
        {
            await queue.EnqueueAsync("x");
            await queue.DeadLetterAsync(Assert.Single(await queue.ReceiveAsync()), "test");
            Assert.Equal(expected, (await health.CheckHealthAsync()).Status);
        }
    }

    [Fact]
    public async Task ReceiveDuration_ExcludesTheWaitForAMessage_WhichIsRecordedApart()
    {
        var queueName = $"idle-{Guid.NewGuid():N}"[..20];
        var measurements = new ConcurrentBag<(string Instrument, double Value, Dictionary<string, object?> Tags)>();
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == "DurableQueue")
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) =>
        {
            var map = new Dictionary<string, object?>();
            foreach (var tag in tags)
            {
                map[tag.Key] = tag.Value;
            }

            if (Equals(map.GetValueOrDefault("messaging.destination.name"), queueName))
            {
                measurements.Add((instrument.Name, value, map));
            }
        });
        listener.Start();

        await using var host = await TestHost.StartAsync(
            _db.Path, TempDb.NewClock(), b => b.AddHandler<RawHandler>(queueName), services: s => s.AddSingleton(_probe));

        // The worker finds the queue empty and waits. The idle time is what is measured here, so it is real time.
        var idle = TimeSpan.FromSeconds(2);
        await Task.Delay(idle);
        await host.Producer.EnqueueAsync(queueName, "wake up"u8.ToArray());
        Assert.Equal(DeliveryOutcome.Acked, (await host.NextSettledAsync()).Outcome);

        var receives = measurements.Where(m => m.Instrument == "messaging.client.operation.duration" && Equals(m.Tags["messaging.operation.name"], "receive")).ToList();
        var waits = measurements.Where(m => m.Instrument == "durablequeue.receive.wait.duration").ToList();
        Assert.NotEmpty(receives);
        Assert.All(receives, r => Assert.True(r.Value < idle.TotalSeconds, $"a receive took {r.Value:0.###} s: the wait is counted in it"));
        var wait = Assert.Single(waits, w => Equals(w.Tags["durablequeue.wait.outcome"], "message"));
        Assert.True(wait.Value >= receives.Max(r => r.Value), "the wait for the message is longer than any receive");
        Assert.True(wait.Value > idle.TotalSeconds / 2, $"the wait ({wait.Value:0.###} s) covers the idle time");
    }
}

public sealed class OptionsTests : IDisposable
{
    private readonly TempDb _db = new();

    public void Dispose() => _db.Dispose();

    [Fact]
    public void QueueHandlerOptions_Ctor_Defaults()
    {
        var options = new QueueHandlerOptions();
        Assert.Equal(1, options.Concurrency);
        Assert.Equal(TimeSpan.FromSeconds(30), options.VisibilityTimeout);
        Assert.Equal(5, options.MaxAttempts);
        Assert.Equal(TimeSpan.FromSeconds(1), options.RetryBaseDelay);
        Assert.Equal(TimeSpan.FromMinutes(5), options.RetryMaxDelay);
    }

    [Fact]
    public void DurableQueueOptions_Ctor_Defaults()
    {
        var options = new DurableQueueOptions();
        Assert.Null(options.Path);
        Assert.Equal(Durability.Full, options.Durability);
        Assert.Equal(TimeSpan.FromMilliseconds(250), options.PollInterval);
        Assert.Equal(TimeSpan.FromSeconds(30), options.BusyTimeout);
        Assert.Equal(TimeSpan.FromDays(1), options.JobRetention);
        Assert.Equal(TimeSpan.FromMinutes(1), options.CleanupInterval);
        Assert.Equal(TimeSpan.FromSeconds(1), options.JobPollInterval);
        Assert.Equal(TimeSpan.FromSeconds(15), options.MonitorInterval);
        Assert.True(options.RunMissedRecurringJobs);
        Assert.Equal(TimeSpan.FromMinutes(1), options.Health.OldestMessageAgeDegraded);
        Assert.Equal(TimeSpan.FromMinutes(10), options.Health.OldestMessageAgeUnhealthy);
        Assert.Equal(TimeSpan.FromMinutes(5), options.Health.DeadLetterWindow);
        Assert.Equal(5, options.Health.NewDeadLettersDegraded);
        Assert.Null(options.Health.NewDeadLettersUnhealthy);
        Assert.Null(options.Health.DeadLettersDegraded);
        Assert.Null(options.Health.DeadLettersUnhealthy);
        Assert.Null(options.TimeProvider);
    }

    [Fact]
    public async Task Start_MissingPath_FailsValidation()
    {
        using var host = new HostBuilder().ConfigureServices(s => s.AddDurableQueue()).Build();
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());
        Assert.Contains("Path", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_UseStore_NeedsNoPath_AndOpensThroughIt()
    {
        var opened = 0;
        using var host = new HostBuilder()
            .ConfigureServices(s => s.AddDurableQueue().UseStore((_, options) =>
            {
                opened++;
                return QueueStore.Open(_db.Path, options);
            }))
            .Build();
        await host.StartAsync();
        var store = host.Services.GetRequiredService<QueueStore>();
        await store.GetQueue("work").EnqueueAsync("x");
        Assert.Equal(1, opened);
        Assert.Equal(System.IO.Path.GetFullPath(_db.Path), store.Path);
        await host.StopAsync();
    }

    [Fact]
    public async Task Start_InvalidHandlerOptions_FailsValidation()
    {
        using var host = TestHost.Build(_db.Path, TempDb.NewClock(), b => b.AddHandler<RawHandler>("work", o => o.Concurrency = 0), services: s => s.AddSingleton(new Probe()));
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());
        Assert.Contains("Concurrency", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Options_BoundFromConfiguration()
    {
        using var host = new HostBuilder()
            .ConfigureAppConfiguration(c => c.AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["DurableQueue:Path"] = _db.Path,
                ["DurableQueue:JobRetention"] = "02:00:00",
                ["DurableQueue:Health:DeadLettersUnhealthy"] = "7",
                ["DurableQueue:Queues:work:Concurrency"] = "3",
                ["DurableQueue:Queues:work:MaxAttempts"] = "9",
            }))
            .ConfigureServices(s => s.AddDurableQueue().AddHandler<RawHandler>("work", o => o.RetryBaseDelay = TimeSpan.FromSeconds(2)))
            .Build();

        var options = host.Services.GetRequiredService<IOptions<DurableQueueOptions>>().Value;
        Assert.Equal(_db.Path, options.Path);
        Assert.Equal(TimeSpan.FromHours(2), options.JobRetention);
        Assert.Equal(7, options.Health.DeadLettersUnhealthy);
        var handler = host.Services.GetRequiredService<IOptionsMonitor<QueueHandlerOptions>>().Get("work");
        Assert.Equal(3, handler.Concurrency);
        Assert.Equal(9, handler.MaxAttempts);
        Assert.Equal(TimeSpan.FromSeconds(2), handler.RetryBaseDelay);
    }

    [Fact]
    public void AddHandler_SameQueueTwice_Throws()
    {
        var builder = new ServiceCollection().AddDurableQueue();
        builder.AddHandler<RawHandler>("work");
        Assert.Throws<InvalidOperationException>(() => builder.AddHandler<RawHandler>("work"));
    }
}

public sealed class BackoffTests
{
    [Theory]
    [InlineData(1, 1)]
    [InlineData(2, 2)]
    [InlineData(3, 4)]
    [InlineData(4, 8)]
    [InlineData(5, 10)]
    [InlineData(1000, 10)]
    public void Ceiling_DoublesPerAttemptUpToTheCap(int attempt, int expectedSeconds) =>
        Assert.Equal(TimeSpan.FromSeconds(expectedSeconds), FullJitterBackoff.Ceiling(attempt, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(10)));

    [Fact]
    public void GetDelay_FullJitter_StaysWithinZeroAndCeiling()
    {
        var backoff = new FullJitterBackoff();
        var seen = new HashSet<TimeSpan>();
        for (var i = 0; i < 1000; i++)
        {
            var delay = backoff.GetDelay(3, TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(1));
            Assert.InRange(delay, TimeSpan.Zero, TimeSpan.FromSeconds(4));
            seen.Add(delay);
        }

        // Jitter: not one fixed value.
        Assert.True(seen.Count > 100);
        Assert.Equal(TimeSpan.Zero, new FullJitterBackoff(new FixedRandom(0)).GetDelay(5, TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(1)));
        Assert.Equal(TimeSpan.Zero, backoff.GetDelay(5, TimeSpan.Zero, TimeSpan.FromMinutes(1)));
    }
}
