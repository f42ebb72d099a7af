namespace DurableQueue;

/// <summary>
/// A snapshot of what the memory tier holds of one queue.
/// </summary>
/// <param name="Enabled">Whether the store has a memory tier (<see cref="QueueStoreOptions.MemoryBudgetBytes"/> above zero).</param>
/// <param name="Bytes">The bytes of this queue held in memory, counted against the store's budget.</param>
/// <param name="Messages">The messages of this queue held in memory (ready, delayed and leased).</param>
/// <param name="Hits">How many messages receives leased from memory, without reading the disk for candidates or bodies.</param>
/// <param name="Refills">How many pages were read from disk into the tier.</param>
/// <param name="Spilled">Whether part of the queue lives on disk only (the backlog outgrew the budget, or was not read back yet).</param>
public readonly record struct MemoryTierStats(bool Enabled, long Bytes, long Messages, long Hits, long Refills, bool Spilled);
