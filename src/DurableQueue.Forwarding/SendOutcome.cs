namespace DurableQueue.Forwarding;

/// <summary>Specifies what became of one message of a <see cref="SendBatch"/>.</summary>
public enum SendOutcome
{
    /// <summary>No outcome yet: the message is sent again later.</summary>
    Pending = 0,

    /// <summary>The remote confirmed the message; it is acked locally.</summary>
    Confirmed = 1,

    /// <summary>The remote refused the message for good; it is dead-lettered locally with the reason.</summary>
    Rejected = 2,

    /// <summary>The send failed in a way a retry can fix; the message is sent again after a backoff.</summary>
    Failed = 3,
}
