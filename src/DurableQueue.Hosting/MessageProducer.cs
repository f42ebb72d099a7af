using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using DurableQueue.Hosting.Diagnostics;
using DurableQueue.Hosting.Storage;

namespace DurableQueue.Hosting;

/// <summary>
/// Enqueues plain (untracked) messages for hosted handlers, carrying the caller's trace context in the
/// <c>traceparent</c> header. Get it from the container; it is thread-safe.
/// </summary>
public sealed class MessageProducer
{
    private readonly JobStore _jobs;
    private readonly HostingTelemetry _telemetry;

    internal MessageProducer(JobStore jobs, HostingTelemetry telemetry)
    {
        _jobs = jobs;
        _telemetry = telemetry;
    }

    /// <summary>Enqueues a message serialized as JSON, and completes once it is committed.</summary>
    /// <typeparam name="T">The message type.</typeparam>
    /// <param name="queueName">The queue name.</param>
    /// <param name="message">The message.</param>
    /// <param name="typeInfo">The JSON metadata of <typeparamref name="T"/>.</param>
    /// <param name="options">The message options (delay, run-at time, priority, headers), or <see langword="null"/>.</param>
    /// <param name="cancellationToken">A token to cancel the operation before it reaches the writer.</param>
    /// <returns>The message id.</returns>
    public ValueTask<MessageId> EnqueueAsync<T>(
        string queueName, T message, JsonTypeInfo<T> typeInfo, EnqueueOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(typeInfo);
        return EnqueueAsync(queueName, JsonSerializer.SerializeToUtf8Bytes(message, typeInfo), options, cancellationToken);
    }

    /// <summary>Enqueues a message with a raw body, and completes once it is committed.</summary>
    /// <param name="queueName">The queue name.</param>
    /// <param name="body">The message body.</param>
    /// <param name="options">The message options, or <see langword="null"/>.</param>
    /// <param name="cancellationToken">A token to cancel the operation before it reaches the writer.</param>
    /// <returns>The message id.</returns>
    public async ValueTask<MessageId> EnqueueAsync(string queueName, ReadOnlyMemory<byte> body, EnqueueOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(queueName);
        var queue = _jobs.GetQueue(queueName);
        var headers = options?.Headers is { } given
            ? new Dictionary<string, string>(given, StringComparer.Ordinal)
            : new Dictionary<string, string>(StringComparer.Ordinal);
        using var activity = HostingTelemetry.StartSend(queueName, headers);
        var enqueue = new EnqueueOptions
        {
            Priority = options?.Priority ?? EnqueueOptions.DefaultPriority,
            Delay = options?.Delay,
            NotBefore = options?.NotBefore,
            MaxAttempts = options?.MaxAttempts,
            DeduplicationKey = options?.DeduplicationKey,
            Headers = headers,
        };
        var start = Stopwatch.GetTimestamp();
        try
        {
            var id = await queue.EnqueueAsync(body, enqueue, cancellationToken).ConfigureAwait(false);
            _telemetry.RecordOperation(queueName, "enqueue", "send", start);
            _telemetry.Count(_telemetry.SentMessages, queueName);
            activity?.SetTag(TelemetryNames.MessageId, id.Value);
            return id;
        }
        catch (Exception ex)
        {
            _telemetry.RecordOperation(queueName, "enqueue", "send", start, ex);
            activity?.SetStatus(ActivityStatusCode.Error, ex.Message);
            throw;
        }
    }
}
