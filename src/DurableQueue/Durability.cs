namespace DurableQueue;

/// <summary>
/// Specifies what a completed commit survives.
/// </summary>
public enum Durability
{
    /// <summary>
    /// Every commit is synced to disk before the caller is told it completed (SQLite <c>synchronous=FULL</c>
    /// in WAL mode): a committed message survives a process crash and a power loss, as long as the disk
    /// honours fsync.
    /// </summary>
    Full = 0,

    /// <summary>
    /// Commits are written to the WAL but synced only at checkpoints (SQLite <c>synchronous=NORMAL</c>):
    /// a committed message survives a process crash, but the last commits before a power loss or an
    /// operating-system crash may be lost. The database itself stays consistent.
    /// </summary>
    Normal = 1,
}
