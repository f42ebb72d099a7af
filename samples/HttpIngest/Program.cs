// HttpIngest: an HTTP edge in front of a bounded queue.
//   POST /jobs        -> 202 Accepted + Location: /jobs/{id}     (the job is durable when this answer is sent)
//                     -> 503 Service Unavailable + Retry-After    (the queue is full; nothing was stored)
//   GET  /jobs/{id}   -> {"state": "ready" | "delayed" | "leased" | "dead-lettered" | "done"}
//                     -> 404 for an id that was never a job here, 400 for one that is not an id at all
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
// The app's own table in the queue's file: the ids of finished jobs, written in the same transaction as their ack.
await store.ExecuteAsync(tx => DoneJobs.CreateTable(tx.Connection));
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

app.MapGet("/jobs/{id}", async (string id, MessageQueue queue, QueueStore store, CancellationToken cancellationToken) =>
{
    if (!long.TryParse(id, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var value) || value <= 0)
    {
        return Results.Problem(title: "Not a job id.", detail: $"'{id}' is not a job id: ids are whole numbers from 1.", statusCode: StatusCodes.Status400BadRequest);
    }

    var messageId = new MessageId(value);
    if (await queue.GetMessageAsync(messageId, cancellationToken) is { } message)
    {
        var state = message.State switch
        {
            MessageState.Ready => "ready",
            MessageState.Delayed => "delayed",
            _ => "leased",
        };
        return Results.Ok(new { id = value, state, attempts = message.Attempts });
    }

    if (await queue.GetDeadLetterAsync(messageId, cancellationToken) is { } dead)
    {
        return Results.Ok(new { id = value, state = "dead-lettered", reason = dead.Reason, error = dead.LastError });
    }

    if (DoneJobs.Contains(store.Path, value))
    {
        return Results.Ok(new { id = value, state = "done" });
    }

    return Results.Problem(title: "No such job.", detail: $"There is no job {value}.", statusCode: StatusCodes.Status404NotFound);
});

app.MapGet("/stats", (MessageQueue queue) => Results.Ok(queue.GetBackPressureStats()));

app.Lifetime.ApplicationStopped.Register(store.Dispose);
await app.RunAsync();
return 0;
