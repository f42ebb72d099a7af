namespace DurableQueue;

/// <summary>
/// Describes one queue of a store at the time statistics were taken.
/// </summary>
/// <param name="Name">The queue name.</param>
/// <param name="Counts">The messages of the queue by state.</param>
/// <param name="OldestReadyAge">How long the oldest ready message has been in the queue, or <see langword="null"/> when none is ready.</param>
/// <param name="Settings">
/// The queue's settings stored in the file by the last app that opened it with explicit options (stores that open it
/// without options use them), or <see langword="null"/> when none are stored. A copy: changing it changes nothing.
/// </param>
public readonly record struct QueueStatistics(string Name, QueueCounts Counts, TimeSpan? OldestReadyAge, QueueOptions? Settings = null);
