using DurableQueue.Internal;
using DurableQueue.Storage;

namespace DurableQueue;

/// <summary>
/// Represents one named queue of a <see cref="QueueStore"/>: enqueue, receive under a lease, settle, inspect.
/// </summary>
/// <remarks>
/// <para>Delivery is at least once: a message is delivered until it is acked, dead-lettered or purged. A message
/// is durable when <see cref="EnqueueAsync(ReadOnlyMemory{byte}, EnqueueOptions?, CancellationToken)"/> completes.</para>
/// <para>Methods return <see cref="ValueTask"/>; await each result once. Cancellation is honoured until the
/// request reaches the writer; after that the write may still commit.</para>
/// </remarks>
public sealed partial class MessageQueue
{
    private readonly QueueStore _store;
    private readonly QueueState _state;

    internal MessageQueue(QueueStore store, QueueState state)
    {
        _store = store;
        _state = state;
    }

    /// <summary>Gets the queue name.</summary>
    public string Name => _state.Name;

    /// <summary>Gets the store this queue lives in.</summary>
    public QueueStore Store => _store;

    /// <summary>Gets the default visibility timeout of receives.</summary>
    public TimeSpan VisibilityTimeout => _state.Options.VisibilityTimeout;

    /// <summary>Gets the default number of deliveries before a message is dead-lettered.</summary>
    public int MaxAttempts => _state.Options.MaxAttempts;

    internal QueueState State => _state;

    /// <summary>
    /// Whether a single enqueue can run without a savepoint of its own: with no deduplication key and a body kept in its
    /// row, its only row change is the INSERT, its last SQL step, and once the queue's row exists (its id is known) no
    /// other change precedes it.
    /// </summary>
    private bool CanSkipSavepoint(in PendingMessage message) => message.DedupKey is null && message.BodyInRow && _state.QueueId != 0;

    private long QueueIdOf(WriteContext context)
    {
        var id = context.QueueId(Name);
        _state.QueueId = id;
        return id;
    }

    /// <summary>Gets what the memory tier holds of this queue, and how often it served receives.</summary>
    /// <returns>A snapshot of the tier's counters for this queue; <see cref="MemoryTierStats.Enabled"/> is false when the tier is off.</returns>
    public MemoryTierStats GetMemoryTierStats()
    {
        var tier = _store.Tier;
        if (tier is null)
        {
            return default;
        }

        var counters = tier.CountersOf(_state.QueueId);
        var cache = tier.Find(_state.QueueId);
        return new MemoryTierStats(
            Enabled: true,
            Bytes: cache?.Bytes ?? 0,
            Messages: cache?.Count ?? 0,
            Hits: counters.Hits,
            Refills: counters.Refills,
            Spilled: cache?.Spilled ?? true);
    }

    /// <summary>
    /// Enqueues a message and completes once it is committed.
    /// </summary>
    /// <param name="body">The message body.</param>
    /// <param name="options">The message options, or <see langword="null"/> for the defaults.</param>
    /// <param name="cancellationToken">A token to cancel the operation before it reaches the writer.</param>
    /// <returns>The id of the new message; with a deduplication key that is already live, the existing message's id.</returns>
    /// <exception cref="ArgumentException">The body is larger than <see cref="QueueStoreOptions.MaxMessageBytes"/>, an option is out of range, both <see cref="EnqueueOptions.Delay"/> and <see cref="EnqueueOptions.NotBefore"/> are set, or a header value is null.</exception>
    /// <exception cref="StorageFullException">The disk or the database is full; nothing was added.</exception>
    /// <exception cref="ObjectDisposedException">The store is disposed.</exception>
    public ValueTask<MessageId> EnqueueAsync(ReadOnlyMemory<byte> body, EnqueueOptions? options = null, CancellationToken cancellationToken = default)
    {
        var message = PendingMessage.Create(body, options, _state.Options.MaxAttempts, _store.Options.MaxMessageBytes);
        if (UsesBackPressurePath)
        {
            return EnqueueOneBoundedAsync(message, cancellationToken);
        }

        return _store.WriteAsync(
            context =>
            {
                var id = context.Commands.Enqueue(context, QueueIdOf(context), message, out _);
                context.AfterCommit(_state.Arrivals.Pulse);
                return id;
            },
            cancellationToken,
            withoutSavepoint: CanSkipSavepoint(message),
            group: message.DedupKey is null ? EnqueueGroup.Instance : null,
            groupItem: message.DedupKey is null ? new EnqueueItem(this, message) : null);
    }

    /// <summary>
    /// Enqueues a message whose body is the UTF-8 encoding of a string, and completes once it is committed.
    /// </summary>
    /// <param name="body">The message text.</param>
    /// <param name="options">The message options, or <see langword="null"/> for the defaults.</param>
    /// <param name="cancellationToken">A token to cancel the operation before it reaches the writer.</param>
    /// <returns>The id of the new message.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="body"/> is <see langword="null"/>.</exception>
    public ValueTask<MessageId> EnqueueAsync(string body, EnqueueOptions? options = null, CancellationToken cancellationToken = default) =>
        EnqueueAsync(PendingMessage.Utf8(body), options, cancellationToken);

    /// <summary>
    /// Enqueues several messages atomically: all of them are committed, or none.
    /// </summary>
    /// <param name="messages">The messages, each with its own options.</param>
    /// <param name="cancellationToken">A token to cancel the operation before it reaches the writer.</param>
    /// <returns>The ids, in the order of <paramref name="messages"/>.</returns>
    /// <exception cref="ArgumentException">The batch is empty, or a message is invalid (nothing is enqueued).</exception>
    public ValueTask<IReadOnlyList<MessageId>> EnqueueBatchAsync(IEnumerable<OutgoingMessage> messages, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var pending = messages
            .Select(m => PendingMessage.Create(m.Body, m.Options, _state.Options.MaxAttempts, _store.Options.MaxMessageBytes))
            .ToArray();
        if (pending.Length == 0)
        {
            throw new ArgumentException(ErrorMessages.EmptyBatch, nameof(messages));
        }

        if (UsesBackPressurePath)
        {
            return EnqueueBatchBoundedAsync(pending, cancellationToken);
        }

        return _store.WriteAsync<IReadOnlyList<MessageId>>(
            context =>
            {
                var queueId = QueueIdOf(context);
                var ids = new MessageId[pending.Length];
                for (var i = 0; i < pending.Length; i++)
                {
                    ids[i] = context.Commands.Enqueue(context, queueId, pending[i], out _);
                }

                context.AfterCommit(_state.Arrivals.Pulse);
                return ids;
            },
            cancellationToken);
    }

    /// <summary>
    /// Enqueues several message bodies with the same options atomically: all of them are committed, or none.
    /// </summary>
    /// <param name="bodies">The message bodies.</param>
    /// <param name="options">The options of every message, or <see langword="null"/> for the defaults.</param>
    /// <param name="cancellationToken">A token to cancel the operation before it reaches the writer.</param>
    /// <returns>The ids, in the order of <paramref name="bodies"/>.</returns>
    /// <exception cref="ArgumentException">The batch is empty, or a message is invalid (nothing is enqueued).</exception>
    public ValueTask<IReadOnlyList<MessageId>> EnqueueBatchAsync(
        IEnumerable<ReadOnlyMemory<byte>> bodies, EnqueueOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(bodies);
        return EnqueueBatchAsync(bodies.Select(b => new OutgoingMessage(b, options)), cancellationToken);
    }
}
