using System.Diagnostics;

namespace DurableQueue.Forwarding;

/// <summary>
/// Represents the messages of one call to <see cref="IMessageSink.SendAsync"/> and the outcome of each.
/// </summary>
/// <remarks>
/// <para>Each message's outcome can be set once; the marks are thread-safe, so a sink may set them from the
/// continuations of concurrent sends.</para>
/// <para>Pipelining: a sink that has handed every message of the batch, in order, to its one ordered channel calls
/// <see cref="MarkWritten"/>; the forwarder may then hand it the next batch of the same ordering key (with
/// <see cref="Previous"/> set to this one) before this one is confirmed. A sink that never calls it gets the next batch
/// of a key only after <see cref="IMessageSink.SendAsync"/> returned.</para>
/// </remarks>
public sealed class SendBatch
{
    private readonly OutboundMessage[] _messages;
    private readonly int[] _outcomes;
    private readonly string?[] _reasons;
    private readonly TaskCompletionSource _written = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile bool _hasFailure;

    /// <summary>Initializes a new instance of the <see cref="SendBatch"/> class.</summary>
    /// <param name="messages">The messages, in order.</param>
    /// <exception cref="ArgumentException"><paramref name="messages"/> is empty.</exception>
    public SendBatch(IReadOnlyList<OutboundMessage> messages)
    {
        ArgumentNullException.ThrowIfNull(messages);
        if (messages.Count == 0)
        {
            throw new ArgumentException("A send batch needs at least one message.", nameof(messages));
        }

        _messages = [.. messages];
        _outcomes = new int[_messages.Length];
        _reasons = new string?[_messages.Length];
    }

    /// <summary>Initializes a new instance of the <see cref="SendBatch"/> class that owns <paramref name="messages"/> (no copy).</summary>
    internal SendBatch(OutboundMessage[] messages, bool owned)
    {
        Debug.Assert(owned, "Only for an array that no one else holds.");
        Debug.Assert(messages.Length > 0, "A send batch needs at least one message.");
        _messages = messages;
        _outcomes = new int[messages.Length];
        _reasons = new string?[messages.Length];
    }

    /// <summary>
    /// Gets the batch of the same ordering key that this one follows while that one is still unconfirmed (it was handed
    /// to the sink before and marked written), or <see langword="null"/>.
    /// </summary>
    /// <remarks>
    /// The remote must see this batch's messages after those of <see cref="Previous"/>. A sink that would have to send
    /// them over another channel than the one <see cref="Previous"/> went on (its connection was lost meanwhile) must
    /// not send them: mark them failed, and the forwarder sends both again, in order, after a backoff.
    /// </remarks>
    public SendBatch? Previous { get; init; }

    /// <summary>Gets or sets what the sink wants to remember of this batch (for instance the connection it went on).</summary>
    /// <value>Free for the sink's use; the forwarder never reads it. The default is <see langword="null"/>.</value>
    public object? SinkState { get; set; }

    /// <summary>Gets the messages, in the order the remote must see them.</summary>
    public IReadOnlyList<OutboundMessage> Messages => _messages;

    /// <summary>Gets the number of messages.</summary>
    public int Count => _messages.Length;

    /// <summary>Gets the total size of the message bodies, in bytes.</summary>
    public long Bytes
    {
        get
        {
            long bytes = 0;
            foreach (var message in _messages)
            {
                bytes += message.Body.Length;
            }

            return bytes;
        }
    }

    /// <summary>Marks a message as confirmed by the remote.</summary>
    /// <param name="index">The message's index in <see cref="Messages"/>.</param>
    /// <returns><see langword="true"/> when this call set the outcome; <see langword="false"/> when it was set already.</returns>
    public bool Confirm(int index) => Set(index, SendOutcome.Confirmed, null);

    /// <summary>Marks a message as refused by the remote for good: it is dead-lettered locally with the reason.</summary>
    /// <param name="index">The message's index in <see cref="Messages"/>.</param>
    /// <param name="reason">Why the remote refused it, as the dead letter records it.</param>
    /// <returns><see langword="true"/> when this call set the outcome; <see langword="false"/> when it was set already.</returns>
    /// <exception cref="ArgumentException"><paramref name="reason"/> is empty.</exception>
    public bool Reject(int index, string reason)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(reason);
        return Set(index, SendOutcome.Rejected, reason);
    }

    /// <summary>Marks a message as failed in a way a retry can fix: it is sent again after a backoff.</summary>
    /// <param name="index">The message's index in <see cref="Messages"/>.</param>
    /// <param name="error">What went wrong, for the forwarder's status and logs.</param>
    /// <returns><see langword="true"/> when this call set the outcome; <see langword="false"/> when it was set already.</returns>
    public bool Fail(int index, string error) => Set(index, SendOutcome.Failed, error);

    /// <summary>
    /// Tells the forwarder that every message of this batch has been handed, in order, to the sink's one ordered
    /// channel (the remote sees them before anything written to that channel later), so the next batch of the same
    /// ordering key may be handed to the sink before this one is confirmed.
    /// </summary>
    /// <remarks>Call it once the last message is written, before waiting for the confirmations; calling it again has no effect.</remarks>
    public void MarkWritten() => _written.TrySetResult();

    /// <summary>Gets a task that completes when the sink marked the batch written.</summary>
    internal Task Written => _written.Task;

    /// <summary>Gets a value indicating whether every message has a final outcome (confirmed or rejected).</summary>
    internal bool IsSettled
    {
        get
        {
            for (var i = 0; i < _outcomes.Length; i++)
            {
                if (OutcomeOf(i) is not (SendOutcome.Confirmed or SendOutcome.Rejected))
                {
                    return false;
                }
            }

            return true;
        }
    }

    /// <summary>Gets a value indicating whether a message of the batch was marked failed.</summary>
    internal bool HasFailure => _hasFailure;

    /// <summary>Gets the outcome of a message.</summary>
    /// <param name="index">The message's index in <see cref="Messages"/>.</param>
    /// <returns>The outcome; <see cref="SendOutcome.Pending"/> when none was set.</returns>
    public SendOutcome OutcomeOf(int index) => (SendOutcome)Volatile.Read(ref _outcomes[index]);

    /// <summary>Gets the reason of a rejection or the error of a failure.</summary>
    /// <param name="index">The message's index in <see cref="Messages"/>.</param>
    /// <returns>The text given with the outcome, or <see langword="null"/>.</returns>
    public string? ReasonOf(int index)
    {
        lock (_reasons)
        {
            return _reasons[index];
        }
    }

    private bool Set(int index, SendOutcome outcome, string? reason)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, _messages.Length);
        lock (_reasons)
        {
            if (_outcomes[index] != 0)
            {
                return false;
            }

            _reasons[index] = reason;
            Volatile.Write(ref _outcomes[index], (int)outcome);
            if (outcome == SendOutcome.Failed)
            {
                _hasFailure = true;
            }

            return true;
        }
    }
}
