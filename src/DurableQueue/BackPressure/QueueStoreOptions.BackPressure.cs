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
    /// Enforced by SQLite (<c>PRAGMA max_page_count</c>) on this store's write connection, rounded up to whole pages.
    /// It bounds the main database file; the WAL comes on top and is truncated to <see cref="JournalSizeLimitBytes"/>
    /// after checkpoints. A value below the file's current size holds it at its current size. Deleting messages frees
    /// pages for reuse, so the store works again as soon as messages are acked or purged.
    /// </remarks>
    [Range(65536L, long.MaxValue)]
    public long? MaxDatabaseBytes { get; set; }
}
