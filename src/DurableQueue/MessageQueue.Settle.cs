using DurableQueue.Internal;
using DurableQueue.Storage;

namespace DurableQueue;

public sealed partial class MessageQueue
{
    /// <summary>Acknowledges a message: it is deleted and never delivered again.</summary>
    /// <param name="message">The received message.</param>
    /// <param name="cancellationToken">A token to cancel the operation before it reaches the writer.</param>
    /// <returns>A task that completes once the ack is committed.</returns>
    /// <exception cref="ArgumentException"><paramref name="message"/> was received from another queue; nothing changed.</exception>
    /// <exception cref="LeaseLostException">The lease expired and the message was received again, or it was settled already; nothing changed.</exception>
    public ValueTask AckAsync(QueueMessage message, CancellationToken cancellationToken = default)
    {
        CheckOwnMessage(message);
        return AckAsync(message.Receipt, cancellationToken);
    }

    /// <summary>Acknowledges a message by its receipt: it is deleted and never delivered again.</summary>
    /// <param name="receipt">The receipt of the delivery.</param>
    /// <param name="cancellationToken">A token to cancel the operation before it reaches the writer.</param>
    /// <returns>A task that completes once the ack is committed.</returns>
    /// <remarks>An ack after the lease expired succeeds as long as nobody received the message since.</remarks>
    /// <exception cref="ArgumentException"><paramref name="receipt"/> is the default value, or its lease is on a message of another queue; nothing changed.</exception>
    /// <exception cref="LeaseLostException">The lease expired and the message was received again, or it was settled already; nothing changed.</exception>
    public async ValueTask AckAsync(MessageReceipt receipt, CancellationToken cancellationToken = default)
    {
        Validate.Receipt(receipt, nameof(receipt));
        await _store.WriteAsync(
            context =>
            {
                // One fenced DELETE, then in-memory bookkeeping only: no savepoint needed (see StoreWriter).
                context.Commands.Ack(context, Name, receipt);
                return 0;
            },
            cancellationToken,
            withoutSavepoint: true,
            group: AckGroup.Instance,
            groupItem: new AckItem(this, [receipt], Single: true)).ConfigureAwait(false);
    }

    /// <summary>
    /// Acknowledges several messages in one commit share. Each ack is fenced on its own: a receipt whose lease was
    /// lost is skipped and returned, the others are acked.
    /// </summary>
    /// <param name="receipts">The receipts to ack.</param>
    /// <param name="cancellationToken">A token to cancel the operation before it reaches the writer.</param>
    /// <returns>The receipts whose lease was lost (nothing changed for them); empty when all were acked.</returns>
    /// <exception cref="ArgumentException">A receipt is the default value, or its lease is on a message of another queue; nothing changed.</exception>
    public ValueTask<IReadOnlyList<MessageReceipt>> AckManyAsync(IEnumerable<MessageReceipt> receipts, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(receipts);
        var list = receipts.ToArray();
        foreach (var receipt in list)
        {
            Validate.Receipt(receipt, nameof(receipts));
        }

        return _store.WriteAsync<IReadOnlyList<MessageReceipt>>(
            context =>
            {
                List<MessageReceipt>? lost = null;
                foreach (var receipt in list)
                {
                    try
                    {
                        context.Commands.Ack(context, Name, receipt);
                    }
                    catch (LeaseLostException)
                    {
                        (lost ??= []).Add(receipt);
                    }
                }

                return lost is null ? [] : lost;
            },
            cancellationToken,
            group: AckGroup.Instance,
            groupItem: new AckItem(this, list, Single: false),
            groupsAlone: list.Length > 1);
    }

    /// <summary>
    /// Gives a message back after a failed attempt: it becomes visible again after <paramref name="retryAfter"/>, and the
    /// attempt stays counted. On the last allowed attempt the message moves to the dead-letter store instead.
    /// </summary>
    /// <param name="message">The received message.</param>
    /// <param name="retryAfter">How long until the message can be received again.</param>
    /// <param name="error">The error to record with the message, or <see langword="null"/>.</param>
    /// <param name="cancellationToken">A token to cancel the operation before it reaches the writer.</param>
    /// <returns>Whether the message will be retried or was dead-lettered.</returns>
    /// <exception cref="ArgumentException"><paramref name="message"/> was received from another queue; nothing changed.</exception>
    /// <exception cref="LeaseLostException">The lease was lost; nothing changed.</exception>
    public ValueTask<NackOutcome> NackAsync(QueueMessage message, TimeSpan retryAfter = default, string? error = null, CancellationToken cancellationToken = default)
    {
        CheckOwnMessage(message);
        return NackAsync(message.Receipt, retryAfter, error, cancellationToken);
    }

    /// <summary>
    /// Gives a message back after a failed attempt: it becomes visible again after <paramref name="retryAfter"/>, and the
    /// attempt stays counted. On the last allowed attempt the message moves to the dead-letter store instead.
    /// </summary>
    /// <param name="receipt">The receipt of the delivery.</param>
    /// <param name="retryAfter">How long until the message can be received again.</param>
    /// <param name="error">The error to record with the message, or <see langword="null"/>.</param>
    /// <param name="cancellationToken">A token to cancel the operation before it reaches the writer.</param>
    /// <returns>Whether the message will be retried or was dead-lettered.</returns>
    /// <exception cref="ArgumentException"><paramref name="receipt"/> is the default value, or its lease is on a message of another queue; nothing changed.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="retryAfter"/> is negative.</exception>
    /// <exception cref="LeaseLostException">The lease was lost; nothing changed.</exception>
    public ValueTask<NackOutcome> NackAsync(MessageReceipt receipt, TimeSpan retryAfter = default, string? error = null, CancellationToken cancellationToken = default)
    {
        Validate.Receipt(receipt, nameof(receipt));
        var delayMs = Validate.Delay(retryAfter, nameof(retryAfter));
        return _store.WriteAsync(
            context =>
            {
                var outcome = context.Commands.Nack(context, Name, receipt, delayMs, error);
                if (outcome == NackOutcome.Retrying)
                {
                    context.AfterCommit(_state.Arrivals.Pulse);
                }

                return outcome;
            },
            cancellationToken);
    }

    /// <summary>
    /// Extends a lease: the message stays invisible to others for <paramref name="visibilityTimeout"/> from now.
    /// </summary>
    /// <param name="message">The received message; its <see cref="QueueMessage.LeaseExpiresAt"/> is updated.</param>
    /// <param name="visibilityTimeout">The new time to keep the lease, counted from now.</param>
    /// <param name="cancellationToken">A token to cancel the operation before it reaches the writer.</param>
    /// <returns>The new lease expiry.</returns>
    /// <exception cref="ArgumentException"><paramref name="message"/> was received from another queue; nothing changed.</exception>
    /// <exception cref="LeaseLostException">The lease was lost; nothing changed.</exception>
    public async ValueTask<DateTimeOffset> ExtendLeaseAsync(QueueMessage message, TimeSpan visibilityTimeout, CancellationToken cancellationToken = default)
    {
        CheckOwnMessage(message);
        var until = await ExtendLeaseAsync(message.Receipt, visibilityTimeout, cancellationToken).ConfigureAwait(false);
        message.LeaseExpiresAt = until;
        return until;
    }

    /// <summary>
    /// Extends a lease: the message stays invisible to others for <paramref name="visibilityTimeout"/> from now.
    /// </summary>
    /// <param name="receipt">The receipt of the delivery.</param>
    /// <param name="visibilityTimeout">The new time to keep the lease, counted from now.</param>
    /// <param name="cancellationToken">A token to cancel the operation before it reaches the writer.</param>
    /// <returns>The new lease expiry.</returns>
    /// <exception cref="ArgumentException"><paramref name="receipt"/> is the default value, or its lease is on a message of another queue; nothing changed.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="visibilityTimeout"/> is not positive or longer than 7 days.</exception>
    /// <exception cref="LeaseLostException">The lease was lost; nothing changed.</exception>
    public async ValueTask<DateTimeOffset> ExtendLeaseAsync(MessageReceipt receipt, TimeSpan visibilityTimeout, CancellationToken cancellationToken = default)
    {
        Validate.Receipt(receipt, nameof(receipt));
        var ms = Validate.Timeout(visibilityTimeout, nameof(visibilityTimeout));
        var until = await _store.WriteAsync(
            context =>
            {
                var until = context.Commands.Extend(context, Name, receipt, ms);
                // If this is a last-attempt lease, the sweep timer must follow the new expiry.
                context.AfterCommit(() => _store.ScheduleSweep(until));
                return until;
            },
            cancellationToken).ConfigureAwait(false);
        return DateTimeOffset.FromUnixTimeMilliseconds(until);
    }

    /// <summary>Moves a received message to the dead-letter store at once, with a reason.</summary>
    /// <param name="message">The received message.</param>
    /// <param name="reason">Why the message cannot be processed.</param>
    /// <param name="cancellationToken">A token to cancel the operation before it reaches the writer.</param>
    /// <returns>A task that completes once the move is committed.</returns>
    /// <exception cref="ArgumentException"><paramref name="message"/> was received from another queue; nothing changed.</exception>
    /// <exception cref="LeaseLostException">The lease was lost; nothing changed.</exception>
    public ValueTask DeadLetterAsync(QueueMessage message, string reason, CancellationToken cancellationToken = default)
    {
        CheckOwnMessage(message);
        return DeadLetterAsync(message.Receipt, reason, cancellationToken);
    }

    /// <summary>Moves a received message to the dead-letter store at once, with a reason.</summary>
    /// <param name="receipt">The receipt of the delivery.</param>
    /// <param name="reason">Why the message cannot be processed.</param>
    /// <param name="cancellationToken">A token to cancel the operation before it reaches the writer.</param>
    /// <returns>A task that completes once the move is committed.</returns>
    /// <exception cref="ArgumentException"><paramref name="receipt"/> is the default value or its lease is on a message of another queue (nothing changed), or <paramref name="reason"/> is empty.</exception>
    /// <exception cref="LeaseLostException">The lease was lost; nothing changed.</exception>
    public async ValueTask DeadLetterAsync(MessageReceipt receipt, string reason, CancellationToken cancellationToken = default)
    {
        Validate.Receipt(receipt, nameof(receipt));
        ArgumentException.ThrowIfNullOrWhiteSpace(reason);
        await _store.WriteAsync(
            context =>
            {
                context.Commands.DeadLetter(context, Name, receipt, reason);
                return 0;
            },
            cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Hands a message back at once without spending its attempt (used by a worker that shuts down).</summary>
    internal async ValueTask ReleaseAsync(MessageReceipt receipt, CancellationToken cancellationToken = default)
    {
        Validate.Receipt(receipt, nameof(receipt));
        await _store.WriteAsync(
            context =>
            {
                context.Commands.Release(context, Name, receipt);
                context.AfterCommit(_state.Arrivals.Pulse);
                return 0;
            },
            cancellationToken).ConfigureAwait(false);
    }

    /// <summary>A message received from another queue is a programming error, whatever the state of its lease.</summary>
    private void CheckOwnMessage(QueueMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        if (!string.Equals(message.QueueName, Name, StringComparison.Ordinal))
        {
            throw new ArgumentException(ErrorMessages.WrongQueue(message.Id, message.QueueName, Name), nameof(message));
        }
    }
}
