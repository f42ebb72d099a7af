namespace DurableQueue.Forwarding;

/// <summary>Specifies what the forwarder knows of its link to the remote side.</summary>
public enum LinkState
{
    /// <summary>Nothing was sent yet.</summary>
    Unknown = 0,

    /// <summary>The last send was confirmed.</summary>
    Up = 1,

    /// <summary>The last send failed in a way a retry can fix (link down, timeout, remote unavailable); sends back off.</summary>
    Down = 2,
}
