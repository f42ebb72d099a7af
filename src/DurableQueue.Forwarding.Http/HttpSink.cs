using System.Net.Http.Headers;

namespace DurableQueue.Forwarding.Http;

/// <summary>
/// Sends each message as one HTTP request and confirms it on a 2xx answer. The messages of a batch go one after the
/// other (a request starts when the previous one was answered), so the receiver sees them in order; the first retryable
/// failure ends the batch, and the rest waits for the retry.
/// </summary>
/// <remarks>
/// Retries with jitter, timeouts and the circuit breaker of a single request belong to the <see cref="HttpClient"/>'s
/// handlers (<c>ToHttp</c> adds the standard resilience handler); what still fails after them is retried by the
/// forwarder, later. An answer that <see cref="HttpSinkOptions.IsPermanentFailure"/> calls final dead-letters the
/// message with its status and the start of the answer's body.
/// </remarks>
public sealed class HttpSink : IMessageSink
{
    private const int MaxReasonBody = 300;
    private readonly HttpClient _client;
    private readonly HttpSinkOptions _options;

    /// <summary>Initializes a new instance of the <see cref="HttpSink"/> class.</summary>
    /// <param name="client">The client to send with (from HttpClientFactory, with its resilience handler); the sink does not dispose it.</param>
    /// <param name="options">The options; they are copied.</param>
    /// <exception cref="ArgumentException">An option is invalid.</exception>
    public HttpSink(HttpClient client, HttpSinkOptions options)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(options);
        _options = options.Clone();
        _options.Validate();
        _client = client;
    }

    /// <inheritdoc/>
    public async ValueTask SendAsync(SendBatch batch, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(batch);
        for (var i = 0; i < batch.Count; i++)
        {
            using var request = Build(batch.Messages[i]);
            HttpResponseMessage response;
            try
            {
                response = await _client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (!(ex is OperationCanceledException && cancellationToken.IsCancellationRequested))
            {
                batch.Fail(i, $"{ex.GetType().Name}: {ex.Message}");
                return;
            }

            using (response)
            {
                if (response.IsSuccessStatusCode)
                {
                    batch.Confirm(i);
                    continue;
                }

                var reason = $"HTTP {(int)response.StatusCode} {response.ReasonPhrase}: {await ReadStartAsync(response, cancellationToken).ConfigureAwait(false)}".TrimEnd(' ', ':');
                if (_options.IsPermanentFailure(response.StatusCode))
                {
                    batch.Reject(i, reason);
                    continue;
                }

                batch.Fail(i, reason);
                return;
            }
        }
    }

    /// <inheritdoc/>
    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    private HttpRequestMessage Build(OutboundMessage message)
    {
        var request = new HttpRequestMessage(_options.Method, _options.Endpoint) { Content = new ReadOnlyMemoryContent(message.Body) };
        request.Headers.TryAddWithoutValidation(_options.MessageIdHeader, message.MessageId);
        var contentType = _options.ContentType;
        foreach (var (name, value) in message.Headers)
        {
            if (name.Equals("content-type", StringComparison.OrdinalIgnoreCase))
            {
                contentType = value;
            }
            else if (_options.HeaderPrefix is { } prefix)
            {
                request.Headers.TryAddWithoutValidation(prefix + name, value);
            }
        }

        request.Content.Headers.ContentType = MediaTypeHeaderValue.TryParse(contentType, out var parsed) ? parsed : new MediaTypeHeaderValue("application/octet-stream");
        return request;
    }

    private static async Task<string> ReadStartAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        try
        {
            var text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
            text = text.ReplaceLineEndings(" ").Trim();
            return text.Length <= MaxReasonBody ? text : text[..MaxReasonBody];
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException)
        {
            return "";
        }
    }
}
