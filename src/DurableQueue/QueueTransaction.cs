using DurableQueue.Internal;
using DurableQueue.Storage;
using System.Data.Common;

namespace DurableQueue;

/// <summary>
/// A unit of work on the store's writer: the app's own SQL on the same file, enqueues and settles, committed as one
/// transaction. Use it only inside the callback of <see cref="QueueStore.ExecuteAsync{T}(Func{QueueTransaction, T}, CancellationToken)"/>.
/// </summary>
/// <remarks>
/// <para>Run the app's SQL on <see cref="Connection"/> (with Dapper or plain commands, no transaction object needed):
/// the transaction is already open. Throw to roll everything back; never commit or roll back yourself.</para>
/// <para>Acks are fenced by the lease token: when a lease was lost, <see cref="Ack(QueueMessage)"/> throws
/// <see cref="LeaseLostException"/> and the whole unit rolls back even if the exception is caught, so a handler whose
/// lease was lost cannot commit its side effects twice.</para>
/// </remarks>
public sealed class QueueTransaction
{
    private readonly WriteContext _context;
    private readonly QueueStore _store;
    private bool _active = true;

    internal QueueTransaction(WriteContext context, QueueStore store)
    {
        _context = context;
        _store = store;
    }

    /// <summary>Gets the store's write connection, inside the open transaction.</summary>
    public DbConnection Connection
    {
        get
        {
            ThrowIfInactive();
            return _context.Session.Connection;
        }
    }

    /// <summary>Gets the time of this transaction, as the queue records it.</summary>
    public DateTimeOffset Now => DateTimeOffset.FromUnixTimeMilliseconds(_context.Now);

    internal LeaseLostException? LostLease { get; private set; }

    /// <summary>Enqueues a message; it becomes visible when the unit of work commits.</summary>
    /// <param name="queueName">The name of the queue.</param>
    /// <param name="body">The message body.</param>
    /// <param name="options">The message options, or <see langword="null"/> for the defaults.</param>
    /// <returns>The id the message will have once the unit commits.</returns>
    /// <exception cref="ArgumentException">The queue name, body or an option is invalid.</exception>
    public MessageId Enqueue(string queueName, ReadOnlyMemory<byte> body, EnqueueOptions? options = null)
    {
        Validate.QueueName(queueName, nameof(queueName));
        ThrowIfInactive();
        var state = _store.StateOf(queueName);
        var message = PendingMessage.Create(body, options, state.Options.MaxAttempts, _store.Options.MaxMessageBytes);
        var id = state.Admission.EnqueueInTransaction(_context, state, _context.QueueId(queueName), message);
        _context.AfterCommit(state.Arrivals.Pulse);
        return id;
    }

    /// <summary>Enqueues a message whose body is the UTF-8 encoding of a string.</summary>
    /// <param name="queueName">The name of the queue.</param>
    /// <param name="body">The message text.</param>
    /// <param name="options">The message options, or <see langword="null"/> for the defaults.</param>
    /// <returns>The id the message will have once the unit commits.</returns>
    public MessageId Enqueue(string queueName, string body, EnqueueOptions? options = null) =>
        Enqueue(queueName, PendingMessage.Utf8(body), options);

    /// <summary>Acknowledges a received message as part of the unit of work.</summary>
    /// <param name="message">The received message.</param>
    /// <exception cref="LeaseLostException">The lease was lost; the whole unit of work will roll back.</exception>
    public void Ack(QueueMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        ThrowIfInactive();
        Fenced(() => _context.Commands.Ack(_context, message.QueueName, message.Receipt));
    }

    /// <summary>Gives a received message back for a retry as part of the unit of work.</summary>
    /// <param name="message">The received message.</param>
    /// <param name="retryAfter">How long until the message can be received again.</param>
    /// <param name="error">The error to record, or <see langword="null"/>.</param>
    /// <returns>Whether the message will be retried or was dead-lettered.</returns>
    /// <exception cref="LeaseLostException">The lease was lost; the whole unit of work will roll back.</exception>
    public NackOutcome Nack(QueueMessage message, TimeSpan retryAfter = default, string? error = null)
    {
        ArgumentNullException.ThrowIfNull(message);
        var delayMs = Validate.Delay(retryAfter, nameof(retryAfter));
        ThrowIfInactive();
        var outcome = NackOutcome.Retrying;
        Fenced(() => outcome = _context.Commands.Nack(_context, message.QueueName, message.Receipt, delayMs, error));
        _context.AfterCommit(_store.StateOf(message.QueueName).Arrivals.Pulse);
        return outcome;
    }

    /// <summary>Moves a received message to the dead-letter store as part of the unit of work.</summary>
    /// <param name="message">The received message.</param>
    /// <param name="reason">Why the message cannot be processed.</param>
    /// <exception cref="LeaseLostException">The lease was lost; the whole unit of work will roll back.</exception>
    public void DeadLetter(QueueMessage message, string reason)
    {
        ArgumentNullException.ThrowIfNull(message);
        ArgumentException.ThrowIfNullOrWhiteSpace(reason);
        ThrowIfInactive();
        Fenced(() => _context.Commands.DeadLetter(_context, message.QueueName, message.Receipt, reason));
    }

    /// <summary>Deletes one live message by id as part of the unit of work, whatever its state (a leased one too).</summary>
    /// <param name="queueName">The name of the queue.</param>
    /// <param name="id">The message id.</param>
    /// <returns><see langword="true"/> when the message was deleted; <see langword="false"/> when the queue has no live message with that id.</returns>
    /// <remarks>A consumer that holds the message's lease gets <see cref="LeaseLostException"/> when it settles it.</remarks>
    /// <exception cref="ArgumentException"><paramref name="queueName"/> is invalid.</exception>
    public bool Delete(string queueName, MessageId id)
    {
        Validate.QueueName(queueName, nameof(queueName));
        ThrowIfInactive();
        return _context.Commands.DeleteLive(_context, _context.QueueId(queueName), id.Value);
    }

    /// <summary>Hands a received message back at once without spending its attempt (a worker shutting down).</summary>
    internal void Release(QueueMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        ThrowIfInactive();
        Fenced(() => _context.Commands.Release(_context, message.QueueName, message.Receipt));
        _context.AfterCommit(_store.StateOf(message.QueueName).Arrivals.Pulse);
    }

    private void Fenced(Action settle)
    {
        try
        {
            settle();
        }
        catch (LeaseLostException ex)
        {
            // A lost lease dooms the unit even if the caller catches this: its side effects must not commit.
            LostLease ??= ex;
            throw;
        }
    }

    internal void Complete() => _active = false;

    private void ThrowIfInactive()
    {
        if (!_active)
        {
            throw new InvalidOperationException(ErrorMessages.TransactionNotActive);
        }
    }
}
