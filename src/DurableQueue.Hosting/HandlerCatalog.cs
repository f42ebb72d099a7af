using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Cronos;

namespace DurableQueue.Hosting;

/// <summary>The handlers and recurring jobs registered on one service collection.</summary>
internal sealed class HandlerCatalog
{
    private readonly Dictionary<string, HandlerRegistration> _handlers = new(StringComparer.Ordinal);
    private readonly Dictionary<string, RecurringJob> _recurring = new(StringComparer.Ordinal);

    public IEnumerable<HandlerRegistration> Handlers => _handlers.Values;

    public IReadOnlyCollection<RecurringJob> RecurringJobs => _recurring.Values;

    public bool HasHandler(string queueName) => _handlers.ContainsKey(queueName);

    public void Add(HandlerRegistration registration)
    {
        if (!_handlers.TryAdd(registration.QueueName, registration))
        {
            throw new InvalidOperationException(HostingErrors.DuplicateHandler(registration.QueueName));
        }
    }

    public void Add(RecurringJob job)
    {
        if (!_recurring.TryAdd(job.Name, job))
        {
            throw new InvalidOperationException(HostingErrors.DuplicateSchedule(job.Name));
        }
    }
}

/// <summary>How to run the handler of one queue: resolve it from the message's scope, call it, return the job result bytes.</summary>
internal sealed record HandlerRegistration(
    string QueueName,
    bool ReturnsResult,
    Func<IServiceProvider, MessageContext, CancellationToken, ValueTask<byte[]?>> Invoke)
{
    /// <summary>Reads a message body as <typeparamref name="T"/> with its JSON metadata; never a type name from the payload.</summary>
    public static T Deserialize<T>(QueueMessage message, JsonTypeInfo<T> typeInfo)
    {
        T? value;
        try
        {
            value = message.GetBody(typeInfo);
        }
        catch (JsonException ex)
        {
            throw new UnreadableMessageException(HostingErrors.UnreadableBody(typeof(T).Name, ex.Message), ex);
        }

        return value ?? throw new UnreadableMessageException(HostingErrors.NullBody(typeof(T).Name));
    }
}

/// <summary>A recurring job: a cron expression that enqueues a message on a queue once per occurrence.</summary>
internal sealed record RecurringJob(string Name, string Cron, CronExpression Expression, string QueueName, RecurringJobOptions Options)
{
    /// <summary>Gets the first occurrence strictly after <paramref name="afterMs"/>, or long.MaxValue when there is none.</summary>
    public long NextAfter(long afterMs) =>
        Expression.GetNextOccurrence(DateTimeOffset.FromUnixTimeMilliseconds(afterMs), Options.TimeZone, inclusive: false)?.ToUnixTimeMilliseconds()
        ?? long.MaxValue;
}

/// <summary>A message body that cannot be read: retrying cannot help, so it is dead-lettered at once.</summary>
internal sealed class UnreadableMessageException(string message, Exception? inner = null) : Exception(message, inner);
