using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace DurableQueue.Hosting.Tests;

/// <summary>The hosted store's recovery report (log line and metrics) and the durability health check.</summary>
public sealed class RecoveryAndDurabilityTests : IDisposable
{
    private readonly TempDb _db = new();
    private readonly Probe _probe = new();
    private readonly LogSink _logs = new();

    public void Dispose() => _db.Dispose();

    [Fact]
    public async Task HostedStore_CleanStarts_LogOneLineEach()
    {
        var clock = TempDb.NewClock();
        await using (var first = await StartAsync(clock))
        {
            await first.Producer.EnqueueAsync("work", "x"u8.ToArray());
            Assert.Equal(DeliveryOutcome.Acked, (await first.NextSettledAsync()).Outcome);
        }

        var opened = Assert.Single(_logs.Records, r => r.Id.Id is 40 or 41);
        Assert.Equal((40, LogLevel.Information), (opened.Id.Id, opened.Level));
        Assert.EndsWith("opened: new file: nothing to recover", opened.Message, StringComparison.Ordinal);

        _logs.Queue.Clear();
        clock.Advance(TimeSpan.FromMinutes(5));
        await using (await StartAsync(clock))
        {
            var again = Assert.Single(_logs.Records, r => r.Id.Id is 40 or 41);
            Assert.Equal((40, LogLevel.Information), (again.Id.Id, again.Level));
            Assert.Contains("opened: clean start: the previous session closed its store (last commit 2026-01-01 00:00:00.000Z); closed for 300 s", again.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task HostedStore_AfterAKilledProcess_LogsTheReport_CountsIt_AndReleasesTheLeases()
    {
        // A child process leases three messages for ten minutes and is killed with SIGKILL.
        var held = await LeaveLeasesBehindAsync(_db.Path, count: 3);

        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var measurements = new ConcurrentBag<(string Instrument, long Value, string? End)>();
        var hostBuilt = TestHost.Build(_db.Path, clock, b => b.AddHandler<RawHandler>("work"), o => o.ReleaseLeasesOfEndedSessions = true, Services);
        var factory = hostBuilt.Services.GetRequiredService<IMeterFactory>();
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Scope == factory && instrument.Name.StartsWith("durablequeue.store.", StringComparison.Ordinal))
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<long>((i, v, tags, _) =>
        {
            string? end = null;
            foreach (var tag in tags)
            {
                end = tag.Key == "durablequeue.store.previous_end" ? (string?)tag.Value : end;
            }

            measurements.Add((i.Name, v, end));
        });
        listener.Start();

        var settled = new ConcurrentBag<long>();
        var events = hostBuilt.Services.GetRequiredService<WorkerEvents>();
        var all = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        events.Settled += (m, o) =>
        {
            settled.Add(m.Id.Value);
            if (settled.Count == held.Count)
            {
                all.TrySetResult();
            }
        };
        await hostBuilt.StartAsync();
        try
        {
            // Released at once: handled now, not after the ten-minute visibility timeout (the clock does not move).
            await all.Task.WaitAsync(TestHost.Guard);
            Assert.Equal(held.Order(), settled.Order());
        }
        finally
        {
            await hostBuilt.StopAsync();
            hostBuilt.Dispose();
        }

        var recovered = Assert.Single(_logs.Records, r => r.Id.Id is 40 or 41);
        Assert.Equal((41, LogLevel.Warning), (recovered.Id.Id, recovered.Level));
        Assert.Contains("unclean end: 1 session(s) ended without closing the store", recovered.Message, StringComparison.Ordinal);
        Assert.Contains("3 lease(s) left, released at once", recovered.Message, StringComparison.Ordinal);
        Assert.Contains(("durablequeue.store.starts", 1L, "unclean"), measurements);
        Assert.Contains(("durablequeue.store.recovered_leases", 3L, (string?)null), measurements);
    }

    [Fact]
    public async Task DurabilityHealthCheck_FollowsTheDoctorsWorstFinding()
    {
        await using var host = await StartAsync(
            TempDb.NewClock(), s => s.AddHealthChecks().AddDurableQueueDurability(options: new DiagnoseOptions { MinimumFreeDiskBytes = 0 }));
        var health = host.Services.GetRequiredService<HealthCheckService>();

        var report = await health.CheckHealthAsync();
        var entry = report.Entries["durablequeue-durability"];
        Assert.True(entry.Status == HealthStatus.Healthy, entry.Description);
        Assert.Equal((await host.Store.DiagnoseAsync()).FileSystem, entry.Data["file_system"]);

        // A second store in this process with Durability.Normal: a warning, so degraded.
        await using (var normal = QueueStore.Open(_db.Path, new QueueStoreOptions { Durability = Durability.Normal }))
        {
            entry = (await health.CheckHealthAsync()).Entries["durablequeue-durability"];
            Assert.Equal(HealthStatus.Degraded, entry.Status);
            Assert.Contains("WARNING durability-normal", entry.Description, StringComparison.Ordinal);
            Assert.True(entry.Data.ContainsKey("stores-with-different-options"));
        }

        // A store whose quota the data already exceeds: an error, so unhealthy.
        await host.Store.GetQueue("bulk").EnqueueBatchAsync(Enumerable.Range(0, 24).Select(_ => (ReadOnlyMemory<byte>)new byte[64 * 1024]));
        await using (var capped = QueueStore.Open(_db.Path, new QueueStoreOptions { MaxDatabaseBytes = 1024 * 1024 }))
        {
            entry = (await health.CheckHealthAsync()).Entries["durablequeue-durability"];
            Assert.Equal(HealthStatus.Unhealthy, entry.Status);
            Assert.Contains("ERROR database-quota-reached", entry.Description, StringComparison.Ordinal);
        }
    }

    private Task<TestHost> StartAsync(FakeTimeProvider clock, Action<IServiceCollection>? services = null) =>
        TestHost.StartAsync(_db.Path, clock, b => b.AddHandler<RawHandler>("work"), services: s =>
        {
            Services(s);
            services?.Invoke(s);
        });

    private void Services(IServiceCollection services)
    {
        services.AddSingleton(_probe);
        services.AddLogging(b => b.AddProvider(_logs));
    }

    /// <summary>Runs the crash host in "hold" mode, waits until it holds its leases, kills it; returns the leased ids.</summary>
    private static async Task<List<long>> LeaveLeasesBehindAsync(string path, int count)
    {
        var info = new ProcessStartInfo(Environment.ProcessPath is { } p && Path.GetFileNameWithoutExtension(p) == "dotnet" ? p : "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var arg in new[]
        {
            Path.Combine(AppContext.BaseDirectory, "DurableQueue.CrashHost.dll"), "hold", path,
            $"plain={count}", "delayed=0", $"held={count}", "heldMs=600000", "final=0",
        })
        {
            info.ArgumentList.Add(arg);
        }

        using var process = Process.Start(info)!;
        var leased = new List<long>();
        var reading = Task.Run(async () =>
        {
            while (await process.StandardOutput.ReadLineAsync() is { } line)
            {
                if (line.StartsWith("LEASE ", StringComparison.Ordinal))
                {
                    leased.Add(long.Parse(line.Split(' ')[2], System.Globalization.CultureInfo.InvariantCulture));
                }
                else if (line == "HELD")
                {
                    return true;
                }
            }

            return false;
        });
        bool reachedHeld;
        try
        {
            reachedHeld = await reading.WaitAsync(TimeSpan.FromSeconds(60));
        }
        finally
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }

        Assert.True(reachedHeld, "the crash host ended before it held its leases: " + await process.StandardError.ReadToEndAsync());
        Assert.Equal(count, leased.Count);
        return leased;
    }

    private sealed class LogSink : ILoggerProvider
    {
        public ConcurrentQueue<(EventId Id, LogLevel Level, string Message)> Queue { get; } = new();

        public List<(EventId Id, LogLevel Level, string Message)> Records
        {
            get
            {
                var list = Queue.ToList();
                return list;
            }
        }

        public ILogger CreateLogger(string categoryName) => new Sink(this, categoryName);

        public void Dispose()
        {
        }

        private sealed class Sink(LogSink owner, string category) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state)
                where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                if (category.StartsWith("DurableQueue", StringComparison.Ordinal))
                {
                    owner.Queue.Enqueue((eventId, logLevel, formatter(state, exception)));
                }
            }
        }
    }
}
