namespace DurableQueue;

// Recovery after an unclean end. See docs/operations.md.
public sealed partial class QueueStoreOptions
{
    /// <summary>
    /// Gets or sets a value indicating whether leases left by a process that ended without closing its store (a crash,
    /// a kill, a power cut) are released as this store opens, instead of when their visibility timeout ends.
    /// </summary>
    /// <value>The default value is <see langword="false"/>.</value>
    /// <remarks>
    /// <para>Turn it on when one process at a time uses the file, so that a restart does not wait out long visibility
    /// timeouts. The attempt that the ended process started stays counted (its handler may have run), and a message on its
    /// last attempt is dead-lettered at once, as it would be when the lease expired.</para>
    /// <para>A session counts as ended only when its process is seen to be gone on this machine; sessions of another
    /// machine or container are never released early. <see cref="QueueStore.Recovery"/> reports what was found.</para>
    /// </remarks>
    public bool ReleaseLeasesOfEndedSessions { get; set; }

    /// <summary>Gets or sets the id of the store session that owns this copy of the options; the prefix of its lease tokens.</summary>
    internal long SessionId { get; set; }
}
