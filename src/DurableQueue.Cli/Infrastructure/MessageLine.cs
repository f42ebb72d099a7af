using System.Text.Json;
using System.Text.Json.Serialization;

namespace DurableQueue.Cli.Infrastructure;

/// <summary>
/// One message as a JSON line: the format of export, import and the --json output of peek and dead.
/// Import reads body (required), bodyEncoding, priority, visibleAt or delay, maxAttempts, headers and
/// deduplicationKey; the other fields are informational.
/// </summary>
internal sealed class MessageLine
{
    public long? Id { get; set; }

    public string? State { get; set; }

    public int? Priority { get; set; }

    public DateTimeOffset? EnqueuedAt { get; set; }

    public DateTimeOffset? VisibleAt { get; set; }

    public string? Delay { get; set; }

    public int? Attempts { get; set; }

    public int? MaxAttempts { get; set; }

    public string? DeduplicationKey { get; set; }

    public Dictionary<string, string>? Headers { get; set; }

    public string? LastError { get; set; }

    public string? Reason { get; set; }

    public DateTimeOffset? DeadLetteredAt { get; set; }

    public int? Size { get; set; }

    public string? BodyEncoding { get; set; }

    public string? Body { get; set; }

    public static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public static readonly JsonSerializerOptions IndentedJson = new(Json) { WriteIndented = true };

    public static MessageLine From(MessageInfo m, bool base64) => new MessageLine
    {
        Id = m.Id.Value,
        State = m.State.ToString().ToLowerInvariant(),
        Priority = m.Priority,
        EnqueuedAt = m.EnqueuedAt,
        VisibleAt = m.VisibleAt,
        Attempts = m.Attempts,
        MaxAttempts = m.MaxAttempts,
        DeduplicationKey = m.DeduplicationKey,
        Headers = m.Headers.Count == 0 ? null : new Dictionary<string, string>(m.Headers),
        LastError = m.LastError,
        Size = m.Body.Length,
    }.WithBody(m.Body.Span, base64);

    public static MessageLine From(DeadLetter d, bool base64) => new MessageLine
    {
        Id = d.Id.Value,
        State = "dead",
        Priority = d.Priority,
        EnqueuedAt = d.EnqueuedAt,
        Attempts = d.Attempts,
        MaxAttempts = d.MaxAttempts,
        Headers = d.Headers.Count == 0 ? null : new Dictionary<string, string>(d.Headers),
        LastError = d.LastError,
        Reason = d.Reason,
        DeadLetteredAt = d.DeadLetteredAt,
        Size = d.Body.Length,
    }.WithBody(d.Body.Span, base64);

    private MessageLine WithBody(ReadOnlySpan<byte> body, bool base64)
    {
        if (!base64 && Format.TryText(body, out var text))
        {
            BodyEncoding = "utf8";
            Body = text;
        }
        else
        {
            BodyEncoding = "base64";
            Body = Convert.ToBase64String(body);
        }

        return this;
    }

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>Reads an import line into a message for the library; throws <see cref="CliException"/> (bad input) with the reason.</summary>
    public static OutgoingMessage Parse(string line, long lineNumber, EnqueueOptions defaults)
    {
        MessageLine? m;
        try
        {
            m = JsonSerializer.Deserialize<MessageLine>(line, Json);
        }
        catch (JsonException ex)
        {
            throw new CliException(ExitCodes.BadInput, $"line {lineNumber}: not a JSON message line ({ex.Message.Split(" Path:", 2)[0].TrimEnd('.')})");
        }

        if (m?.Body is null)
        {
            throw new CliException(ExitCodes.BadInput, $"line {lineNumber}: the \"body\" field is missing");
        }

        byte[] body;
        switch (m.BodyEncoding?.ToLowerInvariant())
        {
            case null or "utf8" or "text":
                body = System.Text.Encoding.UTF8.GetBytes(m.Body);
                break;
            case "base64":
                try
                {
                    body = Convert.FromBase64String(m.Body);
                }
                catch (FormatException)
                {
                    throw new CliException(ExitCodes.BadInput, $"line {lineNumber}: the body is not valid base64");
                }

                break;
            default:
                throw new CliException(ExitCodes.BadInput, $"line {lineNumber}: unknown bodyEncoding '{m.BodyEncoding}' (use utf8 or base64)");
        }

        var options = new EnqueueOptions
        {
            Priority = m.Priority ?? defaults.Priority,
            MaxAttempts = m.MaxAttempts ?? defaults.MaxAttempts,
            DeduplicationKey = m.DeduplicationKey,
            Headers = m.Headers ?? defaults.Headers,
            Delay = defaults.Delay,
        };
        if (m.Delay is not null)
        {
            options.Delay = Format.ParseDuration(m.Delay, $"line {lineNumber}: delay");
        }

        // A leased message's visibleAt is its lease expiry in the old file: in the new one it is ready at once.
        if (m.VisibleAt is { } visibleAt && m.State is not ("leased" or "dead"))
        {
            // A message takes a delay or a point in time, not both: with both, the later one.
            if (options.Delay is { } delay)
            {
                var delayed = TimeProvider.System.GetUtcNow() + delay;
                visibleAt = delayed > visibleAt ? delayed : visibleAt;
                options.Delay = null;
            }

            options.NotBefore = visibleAt;
        }

        return new OutgoingMessage(body, options);
    }
}
