using System.Net;

namespace DurableQueue.Forwarding.Http;

/// <summary>Represents the options of an <see cref="HttpSink"/>: the endpoint, the headers, and which answers are final.</summary>
public sealed class HttpSinkOptions
{
    /// <summary>Gets or sets the absolute URL every message is sent to (one request per message).</summary>
    /// <value>The default value is <see langword="null"/>; an endpoint is required.</value>
    public Uri? Endpoint { get; set; }

    /// <summary>Gets or sets the request method.</summary>
    /// <value>The default value is POST.</value>
    public HttpMethod Method { get; set; } = HttpMethod.Post;

    /// <summary>Gets or sets the request header that carries the message id (for the receiver to drop duplicates).</summary>
    /// <value>The default value is <c>Message-Id</c>.</value>
    public string MessageIdHeader { get; set; } = "Message-Id";

    /// <summary>Gets or sets the prefix of the request headers that carry the local message's headers, or <see langword="null"/> to leave them out.</summary>
    /// <value>The default value is <c>X-Dq-</c> (a header <c>device</c> travels as <c>X-Dq-device</c>).</value>
    public string? HeaderPrefix { get; set; } = "X-Dq-";

    /// <summary>Gets or sets the content type of the request body, unless the message has a <c>content-type</c> header.</summary>
    /// <value>The default value is <c>application/octet-stream</c>.</value>
    public string ContentType { get; set; } = "application/octet-stream";

    /// <summary>
    /// Gets or sets a function that tells whether a failure status refuses a message for good (it is dead-lettered);
    /// any other failure is retried.
    /// </summary>
    /// <value>The default treats every 4xx status as final except 408 Request Timeout and 429 Too Many Requests.</value>
    public Func<HttpStatusCode, bool> IsPermanentFailure { get; set; } = static status =>
        (int)status is >= 400 and < 500 && status is not HttpStatusCode.RequestTimeout and not HttpStatusCode.TooManyRequests;

    internal void Validate()
    {
        if (Endpoint is not { IsAbsoluteUri: true })
        {
            throw new ArgumentException("An HTTP sink needs an absolute Endpoint URL.", nameof(Endpoint));
        }

        ArgumentNullException.ThrowIfNull(Method, nameof(Method));
        ArgumentException.ThrowIfNullOrWhiteSpace(MessageIdHeader, nameof(MessageIdHeader));
        ArgumentException.ThrowIfNullOrWhiteSpace(ContentType, nameof(ContentType));
        ArgumentNullException.ThrowIfNull(IsPermanentFailure, nameof(IsPermanentFailure));
    }

    internal HttpSinkOptions Clone() => (HttpSinkOptions)MemberwiseClone();
}
