using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json;
using DurableQueue.Hosting;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;

namespace DurableQueue.Dashboard.Internal;

/// <summary>The dashboard's endpoints: the page, its files, a JSON API for reads, and (when enabled) the write actions.</summary>
internal sealed class DashboardEndpoints
{
    // The page runs its own script and style only, never inline code; Trusted Types make any assignment of a string
    // to an HTML sink (innerHTML and the like) throw, so text from the store can only ever become text.
    private const string ContentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'; require-trusted-types-for 'script'; trusted-types 'none'";

    private readonly DashboardOptions _options;
    private readonly QueueStore _store;
    private readonly JobClient? _jobs;
    private readonly IAntiforgery? _antiforgery;
    private readonly string? _antiforgeryHeader;
    private readonly DashboardMonitor _monitor;
    private readonly StaticAssets _assets;
    private readonly ILogger _logger;

    public DashboardEndpoints(
        DashboardOptions options, QueueStore store, JobClient? jobs, IAntiforgery? antiforgery, string? antiforgeryHeader, DashboardMonitor monitor, ILogger logger)
    {
        _options = options;
        _store = store;
        _jobs = jobs;
        _antiforgery = antiforgery;
        _antiforgeryHeader = antiforgeryHeader;
        _monitor = monitor;
        _assets = new StaticAssets(options.Title);
        _logger = logger;
    }

    public void Map(RouteGroupBuilder group)
    {
        group.MapGet("/", (Delegate)Page);
        group.MapGet("/assets/{name}", Asset);
        group.MapGet("/api/session", (Delegate)Session);
        group.MapGet("/api/overview", Overview);
        group.MapGet("/api/queues/{name}/messages", Messages);
        group.MapGet("/api/queues/{name}/messages/{id}", Message);
        group.MapGet("/api/queues/{name}/dead-letters", DeadLetters);
        group.MapGet("/api/queues/{name}/dead-letters/{id}", DeadLetter);
        group.MapGet("/api/jobs", Jobs);
        group.MapGet("/api/jobs/{id}", Job);
        group.MapGet("/api/store", (Delegate)Store);
        group.MapGet("/api/forwarders", (Delegate)Forwarders);

        if (_options.EnableWriteActions)
        {
            group.MapPost("/api/queues/{name}/dead-letters/{id}/requeue", RequeueOne).AddEndpointFilter(ValidateAntiforgeryAsync);
            group.MapPost("/api/queues/{name}/dead-letters/requeue", (Delegate)RequeueMany).AddEndpointFilter(ValidateAntiforgeryAsync);
            group.MapPost("/api/queues/{name}/dead-letters/purge", Purge).AddEndpointFilter(ValidateAntiforgeryAsync);
            group.MapPost("/api/jobs/{id}/cancel", CancelJob).AddEndpointFilter(ValidateAntiforgeryAsync);
            group.MapPost("/api/store/verify", (Delegate)Verify).AddEndpointFilter(ValidateAntiforgeryAsync);
            group.MapPost("/api/store/compact", (Delegate)Compact).AddEndpointFilter(ValidateAntiforgeryAsync);
        }
    }

    /// <summary>Runs before every endpoint: security headers, and the local-only rule when no policy is named.</summary>
    public async ValueTask<object?> GuardAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        var headers = http.Response.Headers;
        headers.ContentSecurityPolicy = ContentSecurityPolicy;
        headers.XContentTypeOptions = "nosniff";
        headers.XFrameOptions = "DENY";
        headers["Referrer-Policy"] = "no-referrer";
        headers["Cross-Origin-Resource-Policy"] = "same-origin";
        headers.CacheControl = "no-store";
        if (_options.AuthorizationPolicy is null && !IsLocal(http))
        {
            Log.Refused(_logger, http.Connection.RemoteIpAddress?.ToString(), "not a local request and no authorization policy is configured");
            return Results.Text(DashboardErrors.LocalOnly, "text/plain; charset=utf-8", statusCode: StatusCodes.Status403Forbidden);
        }

        return await next(context).ConfigureAwait(false);
    }

    /// <summary>A request from this machine: a loopback address, and no header saying a proxy forwarded it.</summary>
    internal static bool IsLocal(HttpContext http)
    {
        var address = http.Connection.RemoteIpAddress;
        if (address is null)
        {
            return false;
        }

        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        var forwarded = http.Request.Headers;
        return IPAddress.IsLoopback(address)
            && !forwarded.ContainsKey("Forwarded")
            && !forwarded.ContainsKey("X-Forwarded-For")
            && !forwarded.ContainsKey("X-Forwarded-Host");
    }

    private async ValueTask<object?> ValidateAntiforgeryAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        try
        {
            await _antiforgery!.ValidateRequestAsync(context.HttpContext).ConfigureAwait(false);
        }
        catch (AntiforgeryValidationException)
        {
            Log.Refused(_logger, context.HttpContext.Connection.RemoteIpAddress?.ToString(), "no valid antiforgery token on a write action");
            return Error(StatusCodes.Status400BadRequest, DashboardErrors.BadAntiforgery);
        }

        return await next(context).ConfigureAwait(false);
    }

    // ---- The page and its files ----

    private IResult Page(HttpContext http)
    {
        // Relative links in the page need the trailing slash: /queues -> /queues/.
        if (!http.Request.Path.Value!.EndsWith('/'))
        {
            return Results.Redirect(http.Request.PathBase + http.Request.Path + "/");
        }

        return Asset(http, "index.html");
    }

    private IResult Asset(HttpContext http, string name)
    {
        if (!_assets.TryGet(name, out var asset))
        {
            return Results.NotFound();
        }

        var headers = http.Response.Headers;
        headers.CacheControl = "no-cache";
        headers.ETag = asset.ETag;
        if (http.Request.Headers.IfNoneMatch == asset.ETag)
        {
            return Results.StatusCode(StatusCodes.Status304NotModified);
        }

        return Results.Bytes(asset.Content, asset.ContentType);
    }

    // ---- Reads ----

    private IResult Session(HttpContext http)
    {
        string? token = null;
        if (_options.EnableWriteActions)
        {
            token = _antiforgery!.GetAndStoreTokens(http).RequestToken;
            // GetAndStoreTokens allows caching by default; the token is per user and must not be cached.
            http.Response.Headers.CacheControl = "no-store";
        }

        return Results.Json(
            new SessionDto(
                _options.Title,
                _options.EnableWriteActions,
                _options.ShowMessageBodies,
                (int)_options.RefreshInterval.TotalMilliseconds,
                (int)_options.SampleInterval.TotalMilliseconds,
                (int)_options.HistoryLength.TotalSeconds,
                _options.PageSize,
                _jobs is not null,
                token is null ? null : _antiforgeryHeader,
                token),
            DashboardJson.Default.SessionDto);
    }

    private async Task<IResult> Overview(HttpContext http, long? since)
    {
        var snapshot = await _monitor.GetSnapshotAsync(http.RequestAborted).ConfigureAwait(false);
        var statistics = snapshot.Statistics;
        var queues = statistics.Queues.Select(q =>
        {
            var (entered, left) = _monitor.RatesOf(q.Name);
            return new QueueRowDto(
                q.Name,
                q.Counts.Ready,
                q.Counts.Delayed,
                q.Counts.Leased,
                q.Counts.DeadLettered,
                q.OldestReadyAge?.TotalSeconds,
                entered,
                left,
                snapshot.Capacities.TryGetValue(q.Name, out var capacity) ? ToDto(capacity) : null);
        }).ToList();
        var store = new StoreSummaryDto(StoreBackend.Of(statistics), statistics.Path, statistics.FileBytes, statistics.WalBytes, statistics.FreeBytes, statistics.SchemaVersion, statistics.LastMessageId);
        return Results.Json(new OverviewDto(snapshot.TakenAt, store, queues, _monitor.HistorySince(since ?? 0)), DashboardJson.Default.OverviewDto);
    }

    private static CapacityDto ToDto(BackPressureStats stats)
    {
        double used = 0;
        if (stats.MaxMessages is { } maxMessages && maxMessages > 0)
        {
            used = Math.Max(used, (double)stats.Messages / maxMessages);
        }

        if (stats.MaxBytes is { } maxBytes && maxBytes > 0)
        {
            used = Math.Max(used, (double)stats.Bytes / maxBytes);
        }

        return new CapacityDto(stats.MaxMessages, stats.MaxBytes, stats.Messages, stats.Bytes, stats.FullMode.ToString(), used);
    }

    private async Task<IResult> Messages(HttpContext http, string name, string? order, string? after)
    {
        var queue = await FindQueueAsync(name, http.RequestAborted).ConfigureAwait(false);
        if (queue is null)
        {
            return NoQueue();
        }

        var afterId = ParseOptionalId(after);
        if (afterId is -1)
        {
            return Error(StatusCodes.Status400BadRequest, DashboardErrors.BadId);
        }

        // Delivery order has no cursor in the store: it shows the next page to be delivered. Enqueue order pages through all.
        var byDelivery = !string.Equals(order, "enqueue", StringComparison.Ordinal);
        var items = byDelivery
            ? await queue.PeekAsync(_options.PageSize, http.RequestAborted).ConfigureAwait(false)
            : await queue.GetMessagesAsync(_options.PageSize, afterId is 0 ? null : new MessageId(afterId), http.RequestAborted).ConfigureAwait(false);
        long? next = !byDelivery && items.Count == _options.PageSize ? items[^1].Id.Value : null;
        return Results.Json(
            new MessagePageDto(byDelivery ? "delivery" : "enqueue", items.Select(m => ToDto(m, detail: false)).ToList(), next),
            DashboardJson.Default.MessagePageDto);
    }

    private async Task<IResult> Message(HttpContext http, string name, string id)
    {
        var queue = await FindQueueAsync(name, http.RequestAborted).ConfigureAwait(false);
        if (queue is null)
        {
            return NoQueue();
        }

        if (ParseId(id) is not { } messageId)
        {
            return Error(StatusCodes.Status400BadRequest, DashboardErrors.BadId);
        }

        var message = await queue.GetMessageAsync(messageId, http.RequestAborted).ConfigureAwait(false);
        return message is null
            ? Error(StatusCodes.Status404NotFound, "The message is no longer in the queue (acked, dead-lettered or purged).")
            : Results.Json(ToDto(message, detail: true), DashboardJson.Default.MessageDto);
    }

    private MessageDto ToDto(MessageInfo m, bool detail) => new(
        m.Id.Value,
        m.State.ToString(),
        m.Priority,
        m.Attempts,
        m.MaxAttempts,
        m.EnqueuedAt,
        m.VisibleAt,
        m.LastError,
        m.DeduplicationKey,
        m.Body.Length,
        detail ? m.Headers : null,
        detail && _options.ShowMessageBodies ? BodyFormatter.Format(m.Body.Span, _options.MaxBodyBytes) : null);

    private async Task<IResult> DeadLetters(HttpContext http, string name, string? after)
    {
        var queue = await FindQueueAsync(name, http.RequestAborted).ConfigureAwait(false);
        if (queue is null)
        {
            return NoQueue();
        }

        var afterId = ParseOptionalId(after);
        if (afterId is -1)
        {
            return Error(StatusCodes.Status400BadRequest, DashboardErrors.BadId);
        }

        var items = await queue.GetDeadLettersAsync(_options.PageSize, afterId is 0 ? null : new MessageId(afterId), http.RequestAborted).ConfigureAwait(false);
        long? next = items.Count == _options.PageSize ? items[^1].Id.Value : null;
        return Results.Json(new DeadLetterPageDto(items.Select(d => ToDto(d, detail: false)).ToList(), next), DashboardJson.Default.DeadLetterPageDto);
    }

    private async Task<IResult> DeadLetter(HttpContext http, string name, string id)
    {
        var queue = await FindQueueAsync(name, http.RequestAborted).ConfigureAwait(false);
        if (queue is null)
        {
            return NoQueue();
        }

        if (ParseId(id) is not { } messageId)
        {
            return Error(StatusCodes.Status400BadRequest, DashboardErrors.BadId);
        }

        var deadLetter = await queue.GetDeadLetterAsync(messageId, http.RequestAborted).ConfigureAwait(false);
        return deadLetter is null
            ? Error(StatusCodes.Status404NotFound, "There is no such dead letter (requeued or purged).")
            : Results.Json(ToDto(deadLetter, detail: true), DashboardJson.Default.DeadLetterDto);
    }

    private DeadLetterDto ToDto(DeadLetter d, bool detail) => new(
        d.Id.Value,
        d.Priority,
        d.Attempts,
        d.MaxAttempts,
        d.EnqueuedAt,
        d.DeadLetteredAt,
        d.Reason,
        d.LastError,
        d.Body.Length,
        detail ? d.Headers : null,
        detail && _options.ShowMessageBodies ? BodyFormatter.Format(d.Body.Span, _options.MaxBodyBytes) : null);

    private async Task<IResult> Jobs(HttpContext http, string? before)
    {
        if (_jobs is null)
        {
            return Results.Json(new JobPageDto(false, [], null, []), DashboardJson.Default.JobPageDto);
        }

        var beforeId = ParseOptionalId(before);
        if (beforeId is -1)
        {
            return Error(StatusCodes.Status400BadRequest, DashboardErrors.BadId);
        }

        var jobs = await _jobs.GetJobsAsync(_options.PageSize, beforeId is 0 ? null : new MessageId(beforeId), http.RequestAborted).ConfigureAwait(false);
        var schedules = await _jobs.GetRecurringJobsAsync(http.RequestAborted).ConfigureAwait(false);
        long? next = jobs.Count == _options.PageSize ? jobs[^1].Id.Value : null;
        return Results.Json(
            new JobPageDto(
                true,
                jobs.Select(j => ToDto(j, null)).ToList(),
                next,
                schedules.Select(s => new ScheduleDto(s.Name, s.CronExpression, s.QueueName, s.NextOccurrence, s.LastOccurrence)).ToList()),
            DashboardJson.Default.JobPageDto);
    }

    private async Task<IResult> Job(HttpContext http, string id)
    {
        if (_jobs is null)
        {
            return Error(StatusCodes.Status404NotFound, DashboardErrors.JobsUnavailable);
        }

        if (ParseId(id) is not { } jobId)
        {
            return Error(StatusCodes.Status400BadRequest, DashboardErrors.BadId);
        }

        var status = await _jobs.GetStatusAsync(jobId, http.RequestAborted).ConfigureAwait(false);
        if (status is null)
        {
            return Error(StatusCodes.Status404NotFound, "There is no such job (or it was cleaned up after its retention time).");
        }

        string? result = null;
        if (_options.ShowMessageBodies && status.HasResult)
        {
            try
            {
                var element = await _jobs.GetResultAsync(jobId, DashboardJson.Default.JsonElement, http.RequestAborted).ConfigureAwait(false);
                result = element.ValueKind == JsonValueKind.Undefined ? null : element.GetRawText();
                if (result is { Length: var length } && length > _options.MaxBodyBytes)
                {
                    result = result[.._options.MaxBodyBytes];
                }
            }
            catch (JsonException)
            {
                result = null;
            }
        }

        return Results.Json(ToDto(status, result), DashboardJson.Default.JobDto);
    }

    private static JobDto ToDto(JobStatus j, string? result) => new(
        j.Id.Value,
        j.QueueName,
        j.State.ToString(),
        j.IsFinal,
        j.State is JobState.Pending or JobState.Scheduled or JobState.Retrying,
        j.Attempts,
        j.CreatedAt,
        j.RunAt,
        j.StartedAt,
        j.NextAttemptAt,
        j.CompletedAt,
        j.LastError,
        j.HasResult,
        result);

    private async Task<IResult> Store(HttpContext http)
    {
        var s = (await _monitor.GetSnapshotAsync(http.RequestAborted).ConfigureAwait(false)).Statistics;
        return Results.Json(
            new StoreDto(StoreBackend.Of(s), s.Path, s.TakenAt, s.SchemaVersion, s.FileBytes, s.WalBytes, s.PageSize, s.PageCount, s.FreePages, s.FreeBytes, s.JournalMode,
                s.IncrementalVacuum, s.LastMessageId, s.Queues.Count),
            DashboardJson.Default.StoreDto);
    }

    /// <summary>The forwarders running in the app (none without the forwarding package): read from memory, not the store.</summary>
    private static IResult Forwarders(HttpContext http)
    {
        var source = http.RequestServices.GetService(typeof(IForwarderStatusSource)) as IForwarderStatusSource;
        var items = source?.GetForwarderSummaries().Select(f => new ForwarderDto(
            f.Name, f.QueueName, f.Link, f.LinkSince, f.LastError, f.LastErrorAt, f.Forwarded, f.LastForwardedAt, f.ForwardedPerSecond,
            f.Lag.TotalSeconds, f.InFlight, f.Pacing)).ToList() ?? [];
        return Results.Json(new ForwardersDto(items), DashboardJson.Default.ForwardersDto);
    }

    // ---- Write actions (mapped only when enabled; each behind the policy and the antiforgery check) ----

    private async Task<IResult> RequeueOne(HttpContext http, string name, string id)
    {
        var queue = await FindQueueAsync(name, http.RequestAborted).ConfigureAwait(false);
        if (queue is null)
        {
            return NoQueue();
        }

        if (ParseId(id) is not { } messageId)
        {
            return Error(StatusCodes.Status400BadRequest, DashboardErrors.BadId);
        }

        var requeued = await queue.RequeueDeadLetterAsync(messageId, http.RequestAborted).ConfigureAwait(false);
        Audit(http, "requeue", $"{queue.Name} dead letter {messageId}", requeued ? "requeued" : "not found");
        return requeued
            ? Results.Json(new CountDto(1), DashboardJson.Default.CountDto)
            : Error(StatusCodes.Status404NotFound, "There is no such dead letter (requeued or purged already).");
    }

    private async Task<IResult> RequeueMany(HttpContext http, string name)
    {
        var queue = await FindQueueAsync(name, http.RequestAborted).ConfigureAwait(false);
        if (queue is null)
        {
            return NoQueue();
        }

        var request = await ReadJsonAsync(http, DashboardJson.Default.RequeueRequest).ConfigureAwait(false);
        if (request is null || request.All == (request.Ids is { Count: > 0 }) || request.Ids is { Count: > 1000 })
        {
            return Error(StatusCodes.Status400BadRequest, DashboardErrors.NothingSelected);
        }

        long count;
        if (request.All)
        {
            count = await queue.RequeueDeadLettersAsync(http.RequestAborted).ConfigureAwait(false);
        }
        else
        {
            count = 0;
            foreach (var id in request.Ids!.Distinct())
            {
                if (id > 0 && await queue.RequeueDeadLetterAsync(new MessageId(id), http.RequestAborted).ConfigureAwait(false))
                {
                    count++;
                }
            }
        }

        Audit(http, request.All ? "requeue-all" : "requeue-selected", $"{queue.Name} dead letters", $"{count} requeued");
        return Results.Json(new CountDto(count), DashboardJson.Default.CountDto);
    }

    private async Task<IResult> Purge(HttpContext http, string name)
    {
        var queue = await FindQueueAsync(name, http.RequestAborted).ConfigureAwait(false);
        if (queue is null)
        {
            return NoQueue();
        }

        // The confirmation step, enforced here too: the request must repeat the queue's name.
        var request = await ReadJsonAsync(http, DashboardJson.Default.PurgeRequest).ConfigureAwait(false);
        if (!string.Equals(request?.Confirm, queue.Name, StringComparison.Ordinal))
        {
            return Error(StatusCodes.Status400BadRequest, DashboardErrors.ConfirmMismatch);
        }

        var count = await queue.PurgeDeadLettersAsync(http.RequestAborted).ConfigureAwait(false);
        Audit(http, "purge", $"{queue.Name} dead letters", $"{count} deleted");
        return Results.Json(new CountDto(count), DashboardJson.Default.CountDto);
    }

    private async Task<IResult> CancelJob(HttpContext http, string id)
    {
        if (_jobs is null)
        {
            return Error(StatusCodes.Status404NotFound, DashboardErrors.JobsUnavailable);
        }

        if (ParseId(id) is not { } jobId)
        {
            return Error(StatusCodes.Status400BadRequest, DashboardErrors.BadId);
        }

        var cancelled = await _jobs.CancelAsync(jobId, http.RequestAborted).ConfigureAwait(false);
        Audit(http, "cancel", $"job {jobId}", cancelled ? "cancelled" : "not cancellable");
        return cancelled
            ? Results.Json(new CountDto(1), DashboardJson.Default.CountDto)
            : Error(StatusCodes.Status409Conflict, "The job runs, has finished or is unknown; only a waiting job can be cancelled.");
    }

    private async Task<IResult> Verify(HttpContext http)
    {
        var started = Stopwatch.GetTimestamp();
        var result = await _store.VerifyAsync(http.RequestAborted).ConfigureAwait(false);
        var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        Audit(http, "verify", "store", result.IsHealthy ? "healthy" : $"{result.IntegrityErrors.Count + result.Problems.Count} problem(s)");
        return Results.Json(
            new VerifyDto(
                result.IsHealthy,
                [.. result.IntegrityErrors],
                result.Problems.Select(p => new ProblemDto(p.Check, p.Count, p.Description)).ToList(),
                [.. result.Checks],
                seconds),
            DashboardJson.Default.VerifyDto);
    }

    private async Task<IResult> Compact(HttpContext http)
    {
        var statistics = (await _monitor.GetSnapshotAsync(http.RequestAborted).ConfigureAwait(false)).Statistics;
        if (StoreBackend.Of(statistics) == StoreBackend.Postgres)
        {
            // The page offers no compact there; a request that asks anyway gets why, and nothing runs.
            return Error(StatusCodes.Status409Conflict, DashboardErrors.CompactNotOnPostgres);
        }

        var r = await _store.CompactAsync(http.RequestAborted).ConfigureAwait(false);
        Audit(http, "compact", "store", string.Create(CultureInfo.InvariantCulture, $"{r.BytesReturned} bytes returned"));
        return Results.Json(
            new CompactDto(r.FileBytesBefore, r.WalBytesBefore, r.FreePagesBefore, r.FileBytesAfter, r.WalBytesAfter, r.FreePagesAfter, r.BytesReturned,
                r.CheckpointCompleted, r.IncrementalVacuum),
            DashboardJson.Default.CompactDto);
    }

    // ---- Helpers ----

    /// <summary>
    /// Finds a queue of the file by name without opening queues that do not exist: the handle this store opened, or a
    /// new handle for a queue the file holds. Null for any other name (which is never echoed back).
    /// </summary>
    private async ValueTask<MessageQueue?> FindQueueAsync(string name, CancellationToken cancellationToken)
    {
        if (_store.TryGetOpenQueue(name, out var open))
        {
            return open;
        }

        var names = await _store.GetQueueNamesAsync(cancellationToken).ConfigureAwait(false);
        return names.Contains(name, StringComparer.Ordinal) ? _store.GetQueue(name) : null;
    }

    private static async ValueTask<T?> ReadJsonAsync<T>(HttpContext http, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> typeInfo)
        where T : class
    {
        if (!http.Request.HasJsonContentType())
        {
            return null;
        }

        try
        {
            return await http.Request.ReadFromJsonAsync(typeInfo, http.RequestAborted).ConfigureAwait(false);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>Logs a write action with its user, and makes the next page refresh read the store it changed.</summary>
    private void Audit(HttpContext http, string action, string target, string result)
    {
        _monitor.Invalidate();
        Log.Action(_logger, action, target, http.User.Identity?.Name ?? "(anonymous)", result);
    }

    private static MessageId? ParseId(string text) =>
        long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value > 0 ? new MessageId(value) : null;

    /// <summary>Parses an optional cursor id: 0 when absent, -1 when malformed.</summary>
    private static long ParseOptionalId(string? text) =>
        string.IsNullOrEmpty(text) ? 0 : ParseId(text) is { } id ? id.Value : -1;

    private static IResult NoQueue() => Error(StatusCodes.Status404NotFound, "There is no queue of that name in the store.");

    private static IResult Error(int status, string message) => Results.Json(new ErrorDto(message), DashboardJson.Default.ErrorDto, statusCode: status);
}
