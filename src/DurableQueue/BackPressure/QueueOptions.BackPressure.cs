using System.ComponentModel.DataAnnotations;

namespace DurableQueue;

// Back pressure: bounds and full mode of a queue. See docs/backpressure.md.
public sealed partial class QueueOptions
{
    private QueueFullMode _fullMode = QueueFullMode.Wait;

    /// <summary>
    /// Gets or sets the most messages the queue holds, counting ready, delayed and leased ones (dead letters are not counted).
    /// </summary>
    /// <value>The default value is <see langword="null"/>: unbounded.</value>
    /// <remarks>The bound is checked inside the writer's transaction, so it holds across every process sharing the file.</remarks>
    [Range(1L, long.MaxValue)]
    public long? MaxMessages { get; set; }

    /// <summary>
    /// Gets or sets the most body bytes the queue holds, summed over its ready, delayed and leased messages.
    /// </summary>
    /// <value>The default value is <see langword="null"/>: unbounded.</value>
    [Range(1L, long.MaxValue)]
    public long? MaxBytes { get; set; }

    /// <summary>
    /// Gets or sets what an enqueue does when the queue is full. It matters only when <see cref="MaxMessages"/> or
    /// <see cref="MaxBytes"/> is set.
    /// </summary>
    /// <value>The default value is <see cref="QueueFullMode.Wait"/>. <see cref="QueueFullMode.DropOldest"/> is never a default.</value>
    /// <exception cref="ArgumentOutOfRangeException">The value is not a <see cref="QueueFullMode"/>.</exception>
    public QueueFullMode FullMode
    {
        get => _fullMode;
        set
        {
            if (!Enum.IsDefined(value))
            {
                throw new ArgumentOutOfRangeException(nameof(value), value, ErrorMessages.UnknownFullMode(value));
            }

            _fullMode = value;
        }
    }

    /// <summary>
    /// Gets or sets how long an enqueue waits for room in <see cref="QueueFullMode.Wait"/> mode before it fails with a
    /// <see cref="QueueFullException"/>.
    /// </summary>
    /// <value>The default value is <see langword="null"/>: wait until room exists or the enqueue is cancelled.</value>
    [Range(typeof(TimeSpan), "00:00:00", "1.00:00:00")]
    public TimeSpan? FullWaitTimeout { get; set; }

    internal bool IsBounded => MaxMessages is not null || MaxBytes is not null;

    private bool SameBackPressure(QueueOptions other) =>
        MaxMessages == other.MaxMessages && MaxBytes == other.MaxBytes && FullMode == other.FullMode && FullWaitTimeout == other.FullWaitTimeout;
}
