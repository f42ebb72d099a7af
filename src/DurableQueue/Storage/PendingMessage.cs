using DurableQueue.Internal;

namespace DurableQueue.Storage;

/// <summary>A validated message on its way to the writer; the body is a private copy.</summary>
internal readonly record struct PendingMessage(
    byte[] Body, int Priority, long? DelayMs, long? NotBeforeMs, int MaxAttempts, string? DedupKey, string? Headers)
{
    public static PendingMessage Create(ReadOnlyMemory<byte> body, EnqueueOptions? options, int defaultMaxAttempts, int maxBodyBytes)
    {
        if (body.Length > maxBodyBytes)
        {
            throw new ArgumentException(ErrorMessages.BodyTooLarge(body.Length, maxBodyBytes), nameof(body));
        }

        var priority = options?.Priority ?? Defaults.Priority;
        if (priority is < Defaults.MinPriority or > Defaults.MaxPriority)
        {
            throw new ArgumentOutOfRangeException("options.Priority", priority, ErrorMessages.PriorityOutOfRange(priority));
        }

        var maxAttempts = options?.MaxAttempts ?? defaultMaxAttempts;
        if (maxAttempts is < 1 or > Defaults.MaxAttemptsLimit)
        {
            throw new ArgumentOutOfRangeException("options.MaxAttempts", maxAttempts, ErrorMessages.MaxAttemptsOutOfRange(maxAttempts));
        }

        if (options is { Delay: not null, NotBefore: not null })
        {
            throw new ArgumentException(ErrorMessages.DelayAndNotBefore, nameof(options));
        }

        long? delayMs = null;
        if (options?.Delay is { } delay)
        {
            if (delay < TimeSpan.Zero)
            {
                throw new ArgumentOutOfRangeException("options.Delay", delay, ErrorMessages.NegativeDelay(delay));
            }

            delayMs = (long)Math.Ceiling(delay.TotalMilliseconds);
        }

        var dedup = options?.DeduplicationKey;
        if (dedup is not null)
        {
            if (dedup.Length == 0)
            {
                throw new ArgumentException(ErrorMessages.EmptyDedupKey, "options.DeduplicationKey");
            }

            if (dedup.Length > Defaults.MaxDeduplicationKeyLength)
            {
                throw new ArgumentException(ErrorMessages.DedupKeyTooLong(dedup.Length), "options.DeduplicationKey");
            }
        }

        return new PendingMessage(
            body.ToArray(), priority, delayMs, options?.NotBefore?.ToUnixTimeMilliseconds(), maxAttempts, dedup,
            HeaderCodec.Encode(options?.Headers));
    }

    /// <summary>
    /// The largest body kept in the message's own row. A larger one is written once, apart from the row whose lease
    /// state every receive, nack and extension rewrites (SQLite: table dq_bodies, schema version 5); enqueuing it then
    /// takes two statements, so it needs a savepoint of its own.
    /// </summary>
    public const int BodyInRowMaxBytes = 2048;

    /// <summary>Gets a value indicating whether the body is kept in the message's row (see <see cref="BodyInRowMaxBytes"/>).</summary>
    public bool BodyInRow => Body.Length <= BodyInRowMaxBytes;

    public long VisibleAt(long now)
    {
        var visible = now;
        if (DelayMs is { } delay)
        {
            visible = Math.Max(visible, now + delay);
        }

        if (NotBeforeMs is { } notBefore)
        {
            visible = Math.Max(visible, notBefore);
        }

        return visible;
    }

    public static ReadOnlyMemory<byte> Utf8(string body)
    {
        ArgumentNullException.ThrowIfNull(body);
        return System.Text.Encoding.UTF8.GetBytes(body);
    }
}
