// HttpIngest: an HTTP edge in front of a bounded queue.
//   POST /jobs        -> 202 Accepted + Location: /jobs/{id}     (the job is durable when this answer is sent)
//                     -> 503 Service Unavailable + Retry-After    (the queue is full; nothing was stored)
//   GET  /jobs/{id}   -> {"state": "ready" | "delayed" | "leased" | "dead-lettered" | "done"}
// A small background consumer works the jobs off. Run the server:
//   dotnet run -- --Port 5080 --Capacity 100 --WorkMs 50
// and a client that retries 503s with exponential backoff and full jitter:
//   dotnet run -- --client http://127.0.0.1:5080 --Jobs 200
using DurableQueue;
using HttpIngest;

if (args.Length > 1 && args[0] == "--client")
{
    return await IngestClient.RunAsync(new Uri(args[1]), args);
}

var builder = WebApplication.CreateBuilder(args);
var settings = builder.Configuration.Get<IngestSettings>() ?? new IngestSettings();
builder.WebHost.UseUrls($"http://127.0.0.1:{settings.Port}");
builder.Logging.SetMinimumLevel(LogLevel.Warning);
builder.Logging.AddFilter("Microsoft.Hosting.Lifetime", LogLevel.Information);

var store = QueueStore.Open(settings.Db ?? Path.Combine(Path.GetTempPath(), "httpingest.db"));
var jobs = store.GetQueue("jobs", new QueueOptions
{
    MaxMessages = settings.Capacity,
    FullMode = QueueFullMode.Reject, // an HTTP edge answers at once; the client waits, not a server thread
    MaxAttempts = 3,
});
builder.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.Converters.Add(new System.Text.Json.Serialization.JsonStringEnumConverter()));
builder.Services.AddSingleton(store);
builder.Services.AddSingleton(jobs);
builder.Services.AddSingleton(settings);
if (settings.Consumer)
{
    builder.Services.AddHostedService<JobConsumer>();
}

var app = builder.Build();

app.MapPost("/jobs", async (HttpRequest request, MessageQueue queue, CancellationToken cancellationToken) =>
{
    using var body = new MemoryStream();
    await request.Body.CopyToAsync(body, cancellationToken);
    try
    {
        var id = await queue.EnqueueAsync(body.ToArray(), cancellationToken: cancellationToken);
        return Results.Accepted($"/jobs/{id}", new { id = id.Value, status = $"/jobs/{id}" });
    }
    catch (QueueFullException full)
    {
        // Retry-After is whole seconds (RFC 9110); round up so that clients never come back too early.
        var seconds = Math.Max(1, (int)Math.Ceiling(full.RetryAfter.TotalSeconds));
        request.HttpContext.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return Results.Problem(
            title: "The job queue is full.",
            detail: $"Retry after {seconds} s.",
            statusCode: StatusCodes.Status503ServiceUnavailable);
    }
});

app.MapGet("/jobs/{id:long}", async (long id, MessageQueue queue, CancellationToken cancellationToken) =>
{
    var messageId = new MessageId(id);
    if (await queue.GetMessageAsync(messageId, cancellationToken) is { } message)
    {
        var state = message.State switch
        {
            MessageState.Ready => "ready",
            MessageState.Delayed => "delayed",
            _ => "leased",
        };
        return Results.Ok(new { id, state, attempts = message.Attempts });
    }

    if (await queue.GetDeadLetterAsync(messageId, cancellationToken) is { } dead)
    {
        return Results.Ok(new { id, state = "dead-lettered", reason = dead.Reason, error = dead.LastError });
    }

    // Acked rows are deleted and ids are never reused: a job we handed out that is gone is done.
    return Results.Ok(new { id, state = "done" });
});

app.MapGet("/stats", (MessageQueue queue) => Results.Ok(queue.GetBackPressureStats()));

app.Lifetime.ApplicationStopped.Register(store.Dispose);
await app.RunAsync();
return 0;
