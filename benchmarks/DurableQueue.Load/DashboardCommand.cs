using System.ComponentModel;
using System.Diagnostics;
using System.Runtime;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using DurableQueue.Dashboard.Internal;
using Spectre.Console;
using Spectre.Console.Cli;

namespace DurableQueue.Load;

public sealed class DashboardSettings : CommandSettings
{
    [CommandOption("-p|--producers")]
    [DefaultValue(4)]
    public int Producers { get; set; }

    [CommandOption("-n|--messages")]
    [Description("Messages per run, shared by the producers (each awaits one EnqueueAsync at a time).")]
    [DefaultValue(4000)]
    public int Messages { get; set; }

    [CommandOption("--pages")]
    [Description("Open dashboard pages, simulated by clients polling the overview every --refresh-ms.")]
    [DefaultValue(5)]
    public int Pages { get; set; }

    [CommandOption("--refresh-ms")]
    [DefaultValue(500)]
    public int RefreshMs { get; set; }

    [CommandOption("--repeat")]
    [DefaultValue(5)]
    public int Repeat { get; set; }

    [CommandOption("--idle-seconds")]
    [Description("Length of each half of the idle measurement: an app holding a backlog of --messages, first with no page open, then with --pages polling; 0 skips it.")]
    [DefaultValue(10)]
    public int IdleSeconds { get; set; }

    [CommandOption("-d|--durability")]
    [Description("Full (fsync on every commit) or Normal.")]
    [DefaultValue(Durability.Full)]
    public Durability Durability { get; set; }
}

/// <summary>
/// Producers with and without open dashboards, in the same run: each round enqueues the same number of messages on a
/// fresh file, once with no dashboard mapped and once with the dashboard on a Kestrel server on 127.0.0.1 and
/// --pages clients polling its overview (what an open page does), alternating; prints the medians, their ratio, and
/// the store readings per page refresh.
/// </summary>
public sealed class DashboardCommand : AsyncCommand<DashboardSettings>
{
    public override async Task<int> ExecuteAsync(CommandContext context, DashboardSettings settings, CancellationToken cancellationToken)
    {
        var without = new List<Round>();
        var with = new List<Round>();
        long refreshes = 0, readings = 0;
        // One round of each, not counted: the first dashboard in the process compiles its endpoints and serializers
        // (JIT), which is a start-up cost, not what an open page costs a running app.
        await RunAsync(settings, pages: 0, (_, _) => { });
        await RunAsync(settings, settings.Pages, (_, _) => { });
        for (var round = 0; round < settings.Repeat; round++)
        {
            without.Add(await RunAsync(settings, pages: 0, (_, _) => { }));
            with.Add(await RunAsync(settings, settings.Pages, (r, q) => { refreshes += r; readings += q; }));
            AnsiConsole.MarkupLine(
                $"round {round + 1}: without {without[^1].MessagesPerSecond:N0} msg/s ({without[^1].CpuMicrosecondsPerMessage:N1} µs CPU/msg), " +
                $"with {settings.Pages} pages {with[^1].MessagesPerSecond:N0} msg/s ({with[^1].CpuMicrosecondsPerMessage:N1} µs CPU/msg)");
        }

        var a = Output.Median(without.Select(r => r.MessagesPerSecond));
        var b = Output.Median(with.Select(r => r.MessagesPerSecond));
        // Rounds alternate, so each pair ran under similar load; the median of the pairs' ratios is the steadier figure.
        var paired = Output.Median(with.Zip(without, (w, o) => w.MessagesPerSecond / o.MessagesPerSecond));
        var cpuA = Output.Median(without.Select(r => r.CpuMicrosecondsPerMessage));
        var cpuB = Output.Median(with.Select(r => r.CpuMicrosecondsPerMessage));
        AnsiConsole.MarkupLine($"median without dashboard: {a:N0} msg/s; with {settings.Pages} open pages every {settings.RefreshMs} ms: {b:N0} msg/s; ratio {b / a:F3}; median of paired ratios {paired:F3}");
        AnsiConsole.MarkupLine($"process CPU per message (producers, store, server and pollers): without {cpuA:N1} µs, with {cpuB:N1} µs; ratio {cpuB / cpuA:F3}");
        AnsiConsole.MarkupLine($"page refreshes: {refreshes:N0}; store readings: {readings:N0} ({(double)readings / Math.Max(1, refreshes):F3} per refresh, sampler included)");
        if (settings.IdleSeconds > 0)
        {
            await IdleCostAsync(settings);
        }

        return 0;
    }

    /// <summary>
    /// What an open page costs on its own, free of the producers' noise: the process CPU of an app that holds a
    /// backlog and does nothing else, first for --idle-seconds with no page open, then as long with --pages polling.
    /// </summary>
    private static async Task IdleCostAsync(DashboardSettings settings)
    {
        var path = Path.Combine(Path.GetTempPath(), $"dq-dashboard-bench-{Guid.NewGuid():N}.db");
        var builder = WebApplication.CreateBuilder(["--urls", "http://127.0.0.1:0"]);
        builder.Logging.ClearProviders();
        var store = QueueStore.Open(path, new QueueStoreOptions { Durability = settings.Durability });
        builder.Services.AddSingleton(store);
        await using var app = builder.Build();
        app.MapDurableQueueDashboard("/queues", o => o.RefreshInterval = TimeSpan.FromMilliseconds(settings.RefreshMs));
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        var queue = store.GetQueue("bench");
        var body = new byte[256];
        for (var left = settings.Messages; left > 0; left -= 1000)
        {
            await queue.EnqueueBatchAsync(Enumerable.Repeat<ReadOnlyMemory<byte>>(body, Math.Min(1000, left)).Select(b => new OutgoingMessage(b)));
        }

        using var process = Process.GetCurrentProcess();
        var span = TimeSpan.FromSeconds(settings.IdleSeconds);

        // Warm-up, not counted: rounds of polling (every 50 ms at most, since the JIT's tiering counts calls, not time) with
        // as many readings of the store as a page refresh makes, then as long idling, until a round compiles no more
        // methods (at most 60 s). The producer rounds before make few page requests, so without it the measured halves
        // would carry the JIT's re-compilation (tiering) of the request path of Kestrel, HttpClient, the endpoint and the
        // store reading, which runs in the background once the calls are counted (often in the idle half): a cost paid
        // once per process, not per refresh (without the warm-up, it was most of the figure).
        var stretch = TimeSpan.FromSeconds(2);
        var warmUp = Stopwatch.StartNew();
        long compiled;
        do
        {
            compiled = JitInfo.GetCompiledMethodCount();
            await PollAsync(address, settings.Pages, Math.Min(settings.RefreshMs, 50), stretch);
            for (var i = 0; i < 40; i++)
            {
                await store.GetStatisticsAsync();
                await store.GetQueueTotalsAsync();
            }

            await Task.Delay(stretch);
        }
        while (JitInfo.GetCompiledMethodCount() != compiled && warmUp.Elapsed < TimeSpan.FromSeconds(60));

        process.Refresh();
        var start = process.TotalProcessorTime;
        var jitStart = JitInfo.GetCompilationTime();
        await Task.Delay(span);
        process.Refresh();
        var idle = process.TotalProcessorTime - start;
        var idleJit = JitInfo.GetCompilationTime() - jitStart;

        DashboardMonitor.TakeTotalReads();
        process.Refresh();
        start = process.TotalProcessorTime;
        jitStart = JitInfo.GetCompilationTime();
        var refreshes = await PollAsync(address, settings.Pages, settings.RefreshMs, span);
        process.Refresh();
        var polled = process.TotalProcessorTime - start;
        var polledJit = JitInfo.GetCompilationTime() - jitStart;
        var readings = DashboardMonitor.TakeTotalReads();
        await app.StopAsync();
        await store.DisposeAsync();
        foreach (var suffix in new[] { "", "-wal", "-shm" })
        {
            File.Delete(path + suffix);
        }

        var perRefresh = (polled - idle).TotalMilliseconds / Math.Max(1, refreshes);
        AnsiConsole.MarkupLine(
            $"idle app with a backlog of {settings.Messages:N0}: {idle.TotalMilliseconds:N0} ms CPU in {settings.IdleSeconds} s with no page open, " +
            $"{polled.TotalMilliseconds:N0} ms with {settings.Pages} pages ({refreshes:N0} refreshes, {readings:N0} store readings): " +
            $"{perRefresh:N2} ms CPU per page refresh (time in the JIT: {idleJit.TotalMilliseconds:N0} ms idle, {polledJit.TotalMilliseconds:N0} ms polled)");
    }

    /// <summary>Runs <paramref name="pages"/> clients polling the overview every <paramref name="refreshMs"/> for <paramref name="span"/>; returns the number of refreshes.</summary>
    private static async Task<long> PollAsync(string address, int pages, int refreshMs, TimeSpan span)
    {
        using var stop = new CancellationTokenSource(span);
        return await PollAsync(address, pages, refreshMs, stop.Token);
    }

    /// <summary>Runs <paramref name="pages"/> clients polling the overview every <paramref name="refreshMs"/> until <paramref name="stop"/>; returns the number of refreshes.</summary>
    private static async Task<long> PollAsync(string address, int pages, int refreshMs, CancellationToken stop)
    {
        long refreshes = 0;
        await Task.WhenAll(Enumerable.Range(0, pages).Select(async _ =>
        {
            using var http = new HttpClient { BaseAddress = new Uri(address) };
            while (!stop.IsCancellationRequested)
            {
                (await http.GetAsync("/queues/api/overview")).EnsureSuccessStatusCode();
                Interlocked.Increment(ref refreshes);
                try
                {
                    await Task.Delay(refreshMs, stop);
                }
                catch (OperationCanceledException)
                {
                }
            }
        }));
        return refreshes;
    }

    private readonly record struct Round(double MessagesPerSecond, double CpuMicrosecondsPerMessage);

    private static async Task<Round> RunAsync(DashboardSettings settings, int pages, Action<long, long> report)
    {
        var path = Path.Combine(Path.GetTempPath(), $"dq-dashboard-bench-{Guid.NewGuid():N}.db");
        var builder = WebApplication.CreateBuilder(["--urls", "http://127.0.0.1:0"]);
        builder.Logging.ClearProviders();
        var store = QueueStore.Open(path, new QueueStoreOptions { Durability = settings.Durability });
        builder.Services.AddSingleton(store);
        await using var app = builder.Build();
        if (pages > 0)
        {
            app.MapDurableQueueDashboard("/queues", o => o.RefreshInterval = TimeSpan.FromMilliseconds(settings.RefreshMs));
        }

        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        var queue = store.GetQueue("bench");
        await queue.EnqueueAsync("warm-up");

        using var stop = new CancellationTokenSource();
        var pollers = PollAsync(address, pages, settings.RefreshMs, stop.Token);

        var body = new byte[256];
        var next = 0;
        using var process = Process.GetCurrentProcess();
        var cpuBefore = process.TotalProcessorTime;
        var started = Stopwatch.GetTimestamp();
        await Task.WhenAll(Enumerable.Range(0, settings.Producers).Select(async _ =>
        {
            while (Interlocked.Increment(ref next) <= settings.Messages)
            {
                await queue.EnqueueAsync(body);
            }
        }));
        var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        process.Refresh();
        var cpu = process.TotalProcessorTime - cpuBefore;
        await stop.CancelAsync();
        var refreshes = await pollers;
        await app.StopAsync();
        await store.DisposeAsync();
        foreach (var suffix in new[] { "", "-wal", "-shm" })
        {
            File.Delete(path + suffix);
        }

        // Every reading the dashboard made of the store in this run (page refreshes and the background sampler).
        report(refreshes, DashboardMonitor.TakeTotalReads());
        return new Round(settings.Messages / seconds, cpu.TotalMicroseconds / settings.Messages);
    }
}
