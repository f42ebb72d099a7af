namespace DurableQueue;

/// <summary>
/// Describes messages that a <see cref="QueueFullMode.DropOldest"/> queue deleted to make room.
/// </summary>
public sealed class MessagesDroppedEventArgs : EventArgs
{
    internal MessagesDroppedEventArgs(string queueName, IReadOnlyList<MessageId> messageIds)
    {
        QueueName = queueName;
        MessageIds = messageIds;
    }

    /// <summary>Gets the name of the queue.</summary>
    public string QueueName { get; }

    /// <summary>Gets the ids of the dropped messages, oldest first; they were deleted in a committed transaction.</summary>
    public IReadOnlyList<MessageId> MessageIds { get; }
}
