using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace DurableQueue;

/// <summary>
/// Typed helpers that store message bodies as JSON with System.Text.Json metadata (source-generated or not).
/// The body stays plain bytes: no type name is written, and a reader chooses the type it expects.
/// </summary>
public static class MessageQueueJsonExtensions
{
    /// <summary>Serializes a value as JSON and enqueues it; completes once it is committed.</summary>
    /// <typeparam name="T">The type of the value.</typeparam>
    /// <param name="queue">The queue.</param>
    /// <param name="value">The value to send.</param>
    /// <param name="typeInfo">The JSON metadata of <typeparamref name="T"/>, for example from a <c>JsonSerializerContext</c>.</param>
    /// <param name="options">The message options, or <see langword="null"/> for the defaults.</param>
    /// <param name="cancellationToken">A token to cancel the operation before it reaches the writer.</param>
    /// <returns>The id of the new message.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="queue"/> or <paramref name="typeInfo"/> is <see langword="null"/>.</exception>
    public static ValueTask<MessageId> EnqueueJsonAsync<T>(
        this MessageQueue queue, T value, JsonTypeInfo<T> typeInfo, EnqueueOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(queue);
        ArgumentNullException.ThrowIfNull(typeInfo);
        return queue.EnqueueAsync(JsonSerializer.SerializeToUtf8Bytes(value, typeInfo), options, cancellationToken);
    }

    /// <summary>Serializes a value as JSON and enqueues it inside a unit of work.</summary>
    /// <typeparam name="T">The type of the value.</typeparam>
    /// <param name="transaction">The unit of work.</param>
    /// <param name="queueName">The name of the queue.</param>
    /// <param name="value">The value to send.</param>
    /// <param name="typeInfo">The JSON metadata of <typeparamref name="T"/>.</param>
    /// <param name="options">The message options, or <see langword="null"/> for the defaults.</param>
    /// <returns>The id the message will have once the unit commits.</returns>
    public static MessageId EnqueueJson<T>(
        this QueueTransaction transaction, string queueName, T value, JsonTypeInfo<T> typeInfo, EnqueueOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(transaction);
        ArgumentNullException.ThrowIfNull(typeInfo);
        return transaction.Enqueue(queueName, JsonSerializer.SerializeToUtf8Bytes(value, typeInfo), options);
    }
}
