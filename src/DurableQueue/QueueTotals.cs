namespace DurableQueue;

/// <summary>
/// Running totals of one queue, read from the file: both only grow, so two readings a known time apart give the
/// queue's arrival and departure rates, across every process that shares the store.
/// </summary>
/// <param name="Name">The queue name.</param>
/// <param name="Entered">Messages that ever entered the queue: enqueued, or requeued from the dead-letter store.</param>
/// <param name="Left">Messages that ever left the queue: acked, dead-lettered, purged or dropped.</param>
/// <remarks>The counts start when the file's queue counters were created (a file upgraded from an older schema starts with its messages of that time); <see cref="Entered"/> minus <see cref="Left"/> is the number of live messages.</remarks>
public readonly record struct QueueTotals(string Name, long Entered, long Left);
