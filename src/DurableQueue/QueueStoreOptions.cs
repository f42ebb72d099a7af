using System.ComponentModel.DataAnnotations;
using DurableQueue.Internal;

namespace DurableQueue;

/// <summary>
/// Represents the options of a <see cref="QueueStore"/>.
/// </summary>
/// <remarks>
/// The store copies the options when it opens, so changing them afterwards has no effect.
/// </remarks>
public sealed partial class QueueStoreOptions
{
    /// <summary>
    /// Gets or sets what a completed commit survives.
    /// </summary>
    /// <value>The default value is <see cref="Durability.Full"/>.</value>
    public Durability Durability { get; set; } = Durability.Full;

    /// <summary>
    /// Gets or sets the clock used for visibility timeouts, delays and message times.
    /// </summary>
    /// <value>The default value is <see cref="TimeProvider.System"/>.</value>
    [Required]
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    /// <summary>
    /// Gets or sets the largest message body, in bytes, that the store accepts.
    /// </summary>
    /// <value>The default value is 1 MiB. The value must be between 1 and 256 MiB.</value>
    [Range(1, Defaults.MaxMessageBytesLimit)]
    public int MaxMessageBytes { get; set; } = Defaults.MaxMessageBytes;

    /// <summary>
    /// Gets or sets how long an operation waits for another process that holds the file's write lock
    /// before it fails with a <see cref="StorageBusyException"/>.
    /// </summary>
    /// <value>The default value is 30 seconds.</value>
    /// <remarks>One deadline per write, counted from the call: it covers SQLite's own busy wait and the store's retries,
    /// and time spent queued behind other writes that were waiting for the lock. <see cref="QueueStore.WaitingForWriteLock"/>
    /// reports a wait that lasts a second.</remarks>
    [Range(typeof(TimeSpan), "00:00:00.001", "01:00:00")]
    public TimeSpan BusyTimeout { get; set; } = Defaults.BusyTimeout;

    /// <summary>
    /// Gets or sets how often a waiting receive looks for messages committed by other processes
    /// sharing the file. Commits made through this store wake waiting receivers at once.
    /// </summary>
    /// <value>The default value is 250 milliseconds.</value>
    [Range(typeof(TimeSpan), "00:00:00.001", "01:00:00")]
    public TimeSpan PollInterval { get; set; } = Defaults.PollInterval;

    /// <summary>
    /// Gets or sets how often the store checkpoints the WAL and returns free pages to the file system.
    /// </summary>
    /// <value>The default value is 30 seconds.</value>
    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00")]
    public TimeSpan MaintenanceInterval { get; set; } = Defaults.MaintenanceInterval;

    /// <summary>
    /// Gets or sets the size, in bytes, to which the WAL file is truncated after a checkpoint.
    /// </summary>
    /// <value>The default value is 64 MiB.</value>
    [Range(0, long.MaxValue)]
    public long JournalSizeLimitBytes { get; set; } = Defaults.JournalSizeLimitBytes;

    /// <summary>
    /// Gets or sets the byte budget of the memory tier, shared by all queues of the store: while a queue's backlog fits,
    /// receives are served from memory without reading the disk; past it, the head of each queue stays in memory and the
    /// rest is read back in pages. Zero turns the tier off. The tier changes speed, never behaviour.
    /// </summary>
    /// <value>The default value is 64 MiB.</value>
    [Range(0, long.MaxValue)]
    public long MemoryBudgetBytes { get; set; } = Defaults.MemoryBudgetBytes;

    /// <summary>
    /// Gets or sets the largest body, in bytes, that the memory tier holds; larger bodies stay on disk only and are read
    /// by the receive that leases them.
    /// </summary>
    /// <value>The default value is 64 KiB.</value>
    [Range(0, int.MaxValue)]
    public int MemoryTierMaxMessageBytes { get; set; } = Defaults.MemoryTierMaxMessageBytes;

    internal QueueStoreOptions Clone() => (QueueStoreOptions)MemberwiseClone();

    internal void Validate()
    {
        OptionsValidation.Validate(this, "options");
        if (!Enum.IsDefined(Durability))
        {
            throw new ArgumentOutOfRangeException("options", Durability, ErrorMessages.UnknownDurability(Durability));
        }
    }
}
