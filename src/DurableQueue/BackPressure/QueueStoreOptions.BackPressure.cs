using System.ComponentModel.DataAnnotations;

namespace DurableQueue;

// Back pressure: the store's disk quota. See docs/backpressure.md.
public sealed partial class QueueStoreOptions
{
    /// <summary>
    /// Gets or sets the largest size, in bytes, that the database file may grow to through this store (a disk quota).
    /// A write that would grow it further fails with a <see cref="StorageFullException"/> and changes nothing.
    /// </summary>
    /// <value>The default value is <see langword="null"/>: limited only by the disk.</value>
    /// <remarks>
    /// <para>Every write of this store is held to the quota by SQLite (<c>PRAGMA max_page_count</c>, whole pages). Enqueues
    /// stop earlier, a reserve of 1/16 of the quota (at least 32 pages) below it, so that receives, acks and nacks, whose
    /// updates may need a fresh page too, still work and can drain a full store.</para>
    /// <para>It bounds the main database file; the WAL comes on top and is truncated to <see cref="JournalSizeLimitBytes"/>
    /// after checkpoints. A value below the file's current size holds it at its current size. Acked and purged messages
    /// free pages for reuse, so enqueues work again as soon as messages leave.</para>
    /// </remarks>
    [Range(1048576L, long.MaxValue)]
    public long? MaxDatabaseBytes { get; set; }
}
