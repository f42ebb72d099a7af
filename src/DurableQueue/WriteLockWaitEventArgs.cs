namespace DurableQueue;

/// <summary>
/// Describes a write that is waiting for the database file's write lock, which another connection (usually another
/// process) holds.
/// </summary>
public sealed class WriteLockWaitEventArgs : EventArgs
{
    internal WriteLockWaitEventArgs(string path, TimeSpan waited, TimeSpan busyTimeout)
    {
        Path = path;
        Waited = waited;
        BusyTimeout = busyTimeout;
    }

    /// <summary>Gets the full path of the database file.</summary>
    public string Path { get; }

    /// <summary>Gets how long the oldest waiting write has waited so far.</summary>
    public TimeSpan Waited { get; }

    /// <summary>Gets how long a write waits in all before it fails with a <see cref="StorageBusyException"/>.</summary>
    public TimeSpan BusyTimeout { get; }
}
