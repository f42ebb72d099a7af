using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using DurableQueue.Hosting.Diagnostics;
using DurableQueue.Hosting.Storage;

namespace DurableQueue.Hosting;

/// <summary>
/// Submits jobs and reads their status and results. A job is a message on a queue with a tracked status; its id is
/// the message id. Get it from the container; it is thread-safe.
/// </summary>
/// <remarks>
/// A job's status row is written in the same transaction as its message, and its final status and result in the same
/// transaction as the ack, so status and queue never disagree. Finished jobs are kept for
/// <see cref="DurableQueueOptions.JobRetention"/>, then removed.
/// </remarks>
public sealed partial class JobClient
{
    private readonly JobStore _jobs;
    private readonly HostingTelemetry _telemetry;

    internal JobClient(JobStore jobs, HostingTelemetry telemetry)
    {
        _jobs = jobs;
        _telemetry = telemetry;
    }

    /// <summary>Submits a job whose argument is serialized as JSON, and completes once it is committed.</summary>
    /// <typeparam name="T">The argument type.</typeparam>
    /// <param name="queueName">The queue whose handler runs the job.</param>
    /// <param name="argument">The job's argument.</param>
    /// <param name="typeInfo">The JSON metadata of <typeparamref name="T"/> (for example from a source-generated context).</param>
    /// <param name="options">The job options (delay, run-at time, priority), or <see langword="null"/> for the defaults.</param>
    /// <param name="cancellationToken">A token to cancel the operation before it reaches the writer.</param>
    /// <returns>The job id.</returns>
    public ValueTask<MessageId> SubmitAsync<T>(
        string queueName, T argument, JsonTypeInfo<T> typeInfo, JobOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(typeInfo);
        return SubmitAsync(queueName, JsonSerializer.SerializeToUtf8Bytes(argument, typeInfo), options, cancellationToken);
    }

    /// <summary>Submits a job with a raw body, and completes once it is committed.</summary>
    /// <param name="queueName">The queue whose handler runs the job.</param>
    /// <param name="body">The message body.</param>
    /// <param name="options">The job options, or <see langword="null"/> for the defaults.</param>
    /// <param name="cancellationToken">A token to cancel the operation before it reaches the writer.</param>
    /// <returns>The job id; with a deduplication key that is live, the existing job's id.</returns>
    /// <exception cref="ArgumentException">The queue name or an option is invalid.</exception>
    public async ValueTask<MessageId> SubmitAsync(string queueName, ReadOnlyMemory<byte> body, JobOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(queueName);
        options ??= new JobOptions();
        await _jobs.EnsureReadyAsync(cancellationToken).ConfigureAwait(false);
        _jobs.GetQueue(queueName);

        var headers = new Dictionary<string, string>(StringComparer.Ordinal) { [TelemetryNames.JobHeader] = "1" };
        using var activity = HostingTelemetry.StartSend(queueName, headers);
        var enqueue = new EnqueueOptions
        {
            Delay = options.Delay,
            NotBefore = options.RunAt,
            Priority = options.Priority,
            MaxAttempts = options.MaxAttempts,
            DeduplicationKey = options.DeduplicationKey,
            Headers = headers,
        };
        var start = Stopwatch.GetTimestamp();
        try
        {
            var id = await _jobs.Store.ExecuteAsync(
                tx =>
                {
                    var now = tx.Now;
                    var id = tx.Enqueue(queueName, body, enqueue);
                    var runAt = Later(options.RunAt, options.Delay is { } d ? now + d : null);
                    JobStore.InsertJob(tx.Connection, id, queueName, now.ToUnixTimeMilliseconds(), runAt > now ? runAt?.ToUnixTimeMilliseconds() : null);
                    return id;
                },
                cancellationToken).ConfigureAwait(false);
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

    /// <summary>Reads a job's status.</summary>
    /// <param name="jobId">The job id.</param>
    /// <param name="cancellationToken">A token to cancel the operation.</param>
    /// <returns>The status, or <see langword="null"/> when the job is unknown or was cleaned up after its retention time.</returns>
    public ValueTask<JobStatus?> GetStatusAsync(MessageId jobId, CancellationToken cancellationToken = default) =>
        _jobs.GetStatusAsync(jobId, cancellationToken);

    /// <summary>Reads a succeeded job's result.</summary>
    /// <typeparam name="T">The result type.</typeparam>
    /// <param name="jobId">The job id.</param>
    /// <param name="typeInfo">The JSON metadata of <typeparamref name="T"/>.</param>
    /// <param name="cancellationToken">A token to cancel the operation.</param>
    /// <returns>The result, or the default value when the job has not succeeded (yet), stored no result, or was cleaned up.</returns>
    public async ValueTask<T?> GetResultAsync<T>(MessageId jobId, JsonTypeInfo<T> typeInfo, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(typeInfo);
        var bytes = await _jobs.GetResultAsync(jobId, cancellationToken).ConfigureAwait(false);
        return bytes is null ? default : JsonSerializer.Deserialize(bytes, typeInfo);
    }

    /// <summary>Waits until a job succeeded, was dead-lettered or was cancelled.</summary>
    /// <param name="jobId">The job id.</param>
    /// <param name="cancellationToken">A token to stop waiting.</param>
    /// <returns>The final status.</returns>
    /// <remarks>A job finished in this process wakes the wait at once; one finished by another process is seen within <see cref="DurableQueueOptions.JobPollInterval"/>.</remarks>
    /// <exception cref="JobFailedException">The job is unknown or was cleaned up.</exception>
    public async ValueTask<JobStatus> WaitForCompletionAsync(MessageId jobId, CancellationToken cancellationToken = default) =>
        await _jobs.WaitAsync(jobId, cancellationToken).ConfigureAwait(false)
        ?? throw new JobFailedException(null, HostingErrors.JobNotFound(jobId));

    /// <summary>Waits until a job finished and returns its result.</summary>
    /// <typeparam name="T">The result type.</typeparam>
    /// <param name="jobId">The job id.</param>
    /// <param name="typeInfo">The JSON metadata of <typeparamref name="T"/>.</param>
    /// <param name="cancellationToken">A token to stop waiting.</param>
    /// <returns>The result; the default value when the job succeeded without one.</returns>
    /// <exception cref="JobFailedException">The job was dead-lettered or cancelled, or is unknown.</exception>
    public async ValueTask<T?> WaitForResultAsync<T>(MessageId jobId, JsonTypeInfo<T> typeInfo, CancellationToken cancellationToken = default)
    {
        var status = await WaitForCompletionAsync(jobId, cancellationToken).ConfigureAwait(false);
        if (status.State != JobState.Succeeded)
        {
            throw new JobFailedException(status, HostingErrors.JobNotSucceeded(jobId, status.State, status.LastError));
        }

        return await GetResultAsync(jobId, typeInfo, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Cancels a job that has not started, or that waits for a retry: it will not run again. A running job is not
    /// interrupted.
    /// </summary>
    /// <param name="jobId">The job id.</param>
    /// <param name="cancellationToken">A token to cancel the operation before it reaches the writer.</param>
    /// <returns><see langword="true"/> when the job was cancelled; <see langword="false"/> when it runs, has finished or is unknown.</returns>
    /// <remarks>
    /// The job's message stays in its queue until it comes due; the worker then removes it without running it.
    /// </remarks>
    public async ValueTask<bool> CancelAsync(MessageId jobId, CancellationToken cancellationToken = default)
    {
        await _jobs.EnsureReadyAsync(cancellationToken).ConfigureAwait(false);
        var cancelled = await _jobs.Store.ExecuteAsync(
            tx => _jobs.Cancel(tx.Connection, jobId, tx.Now.ToUnixTimeMilliseconds()), cancellationToken).ConfigureAwait(false);
        if (cancelled)
        {
            _jobs.NotifyFinished(jobId);
        }

        return cancelled;
    }

    private static DateTimeOffset? Later(DateTimeOffset? a, DateTimeOffset? b) =>
        a is null ? b : b is null ? a : a > b ? a : b;
}
