// A small web app with DurableQueue: a producer, two handlers (one fails now and then), a recurring job, a job whose
// result is awaited, the queue health on GET /health and the dashboard on /queues (open
// http://127.0.0.1:5000/queues/ while it runs). Run it from the repository root with
// `dotnet run --project samples/WorkerService`, stop it with Ctrl+C, start it again: it picks up where it stopped.
using System.Text.Json.Serialization;
using DurableQueue;
using DurableQueue.Hosting;

// Settings (appsettings.json) are read from the app's folder, so the app starts the same from any working directory.
var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
builder.Services.AddDurableQueue(options =>
    {
        // A relative path in the settings is taken from the app's folder too (not from the working directory).
        if (options.Path is { } path)
        {
            options.Path = Path.GetFullPath(path, builder.Environment.ContentRootPath);
        }
    })
    .AddHandler<Email, EmailHandler>("emails", SampleJson.Default.Email)
    .AddJobHandler<ReportRequest, Report, ReportHandler>("reports", SampleJson.Default.ReportRequest, SampleJson.Default.Report)
    .AddHandler<HeartbeatHandler>("maintenance")
    // Every 10 seconds (six fields: seconds first). Each occurrence fires once, even with several copies running.
    .AddRecurringJob("heartbeat", "*/10 * * * * *", "maintenance", o => o.Format = Cronos.CronFormat.IncludeSeconds);
// The store logs its recovery report when it opens: one line after a clean stop, what was left after a crash or kill.
builder.Services.AddHealthChecks().AddDurableQueue().AddDurableQueueDurability();
builder.Services.AddHostedService<Producer>();

var app = builder.Build();
// Read-only, bodies hidden, and answered only for requests from this machine: the defaults.
app.MapDurableQueueDashboard("/queues");
// Healthy, Degraded or Unhealthy with each queue's figures (JSON); 503 when unhealthy.
app.MapHealthChecks("/health", new Microsoft.AspNetCore.Diagnostics.HealthChecks.HealthCheckOptions { ResponseWriter = HealthReportWriter.WriteAsync });
await app.RunAsync();

internal sealed record Email(int Number, string To);

internal sealed record ReportRequest(int From, int To);

internal sealed record Report(int Count, long Sum);

[JsonSerializable(typeof(Email))]
[JsonSerializable(typeof(ReportRequest))]
[JsonSerializable(typeof(Report))]
internal sealed partial class SampleJson : JsonSerializerContext;

/// <summary>Sends an email; fails about one time in four, to show retries with backoff and, now and then, a dead letter.</summary>
internal sealed class EmailHandler(ILogger<EmailHandler> logger) : IMessageHandler<Email>
{
    public async ValueTask HandleAsync(Email message, MessageContext context, CancellationToken cancellationToken)
    {
        await Task.Delay(TimeSpan.FromMilliseconds(200), cancellationToken);
        if (Random.Shared.Next(4) == 0)
        {
            throw new InvalidOperationException($"The mail server refused email #{message.Number} (attempt {context.Message.Attempt}).");
        }

        logger.LogInformation("Sent email #{Number} to {To} (attempt {Attempt} of {MaxAttempts}).",
            message.Number, message.To, context.Message.Attempt, context.Message.MaxAttempts);
    }
}

/// <summary>A job with a result: sums a range of numbers.</summary>
internal sealed class ReportHandler : IJobHandler<ReportRequest, Report>
{
    public async ValueTask<Report> HandleAsync(ReportRequest argument, MessageContext context, CancellationToken cancellationToken)
    {
        await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
        long sum = 0;
        for (var i = argument.From; i <= argument.To; i++)
        {
            sum += i;
        }

        return new Report(argument.To - argument.From + 1, sum);
    }
}

/// <summary>Handles the recurring job's occurrences.</summary>
internal sealed class HeartbeatHandler(ILogger<HeartbeatHandler> logger) : IMessageHandler
{
    public ValueTask HandleAsync(MessageContext context, CancellationToken cancellationToken)
    {
        context.Message.Headers.TryGetValue("dq-occurrence", out var occurrence);
        logger.LogInformation("Heartbeat for occurrence {Occurrence} (job {JobId}).", occurrence, context.Id);
        return ValueTask.CompletedTask;
    }
}

/// <summary>Enqueues an email every second, and submits a report job every 15 seconds and awaits its result.</summary>
internal sealed class Producer(MessageProducer producer, JobClient jobs, QueueStore store, ILogger<Producer> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var emails = store.GetQueue("emails");
        var counts = await emails.GetCountsAsync(stoppingToken);
        logger.LogInformation("Starting on {Path}: {Ready} email(s) waiting and {Dead} dead letter(s) from earlier runs.",
            store.Path, counts.Ready + counts.Delayed, counts.DeadLettered);

        var number = 0;
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                number++;
                await producer.EnqueueAsync("emails", new Email(number, $"user{number}@example.com"), SampleJson.Default.Email, cancellationToken: stoppingToken);
                if (number % 15 == 1)
                {
                    _ = AwaitReportAsync(number, stoppingToken);
                }

                await Task.Delay(TimeSpan.FromSeconds(1), stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private async Task AwaitReportAsync(int upTo, CancellationToken stoppingToken)
    {
        try
        {
            var id = await jobs.SubmitAsync("reports", new ReportRequest(1, upTo * 1000), SampleJson.Default.ReportRequest, cancellationToken: stoppingToken);
            logger.LogInformation("Submitted report job {JobId}: {State}.", id, (await jobs.GetStatusAsync(id, stoppingToken))?.State);
            var report = await jobs.WaitForResultAsync(id, SampleJson.Default.Report, stoppingToken);
            logger.LogInformation("Report job {JobId} done: {Count} numbers sum to {Sum}.", id, report!.Count, report.Sum);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        catch (JobFailedException ex)
        {
            logger.LogWarning("Report job failed: {Message}", ex.Message);
        }
    }
}

/// <summary>Writes a health report as JSON: the overall status, then each check with its description and figures.</summary>
internal static class HealthReportWriter
{
    public static Task WriteAsync(HttpContext context, Microsoft.Extensions.Diagnostics.HealthChecks.HealthReport report)
    {
        var body = new
        {
            status = report.Status.ToString(),
            checks = report.Entries.ToDictionary(
                e => e.Key,
                e => new { status = e.Value.Status.ToString(), description = e.Value.Description, data = e.Value.Data }),
        };
        return context.Response.WriteAsJsonAsync(body);
    }
}
