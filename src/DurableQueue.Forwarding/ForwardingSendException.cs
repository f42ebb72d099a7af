namespace DurableQueue.Forwarding;

/// <summary>The exception a failed send try throws inside the forwarder, so that its retry strategy backs off and tries again.</summary>
internal sealed class ForwardingSendException : Exception
{
    public ForwardingSendException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}
