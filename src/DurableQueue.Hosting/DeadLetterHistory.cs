namespace DurableQueue.Hosting;

/// <summary>
/// Remembers each queue's dead-letter count over time, sampled by the health check and by the metrics refresh, so that
/// the health check can tell how many messages were dead-lettered within its window (a rate, not a total).
/// </summary>
/// <remarks>
/// New dead letters are the increases between consecutive samples; a decrease (a requeue or purge of dead letters) is
/// not counted as new ones, and increases between two samples are seen net of requeues in between. The first sample of
/// the file is the baseline: dead letters older than this process do not count as new. A queue that appears later
/// started with none.
/// </remarks>
internal sealed class DeadLetterHistory
{
    private readonly Dictionary<string, List<(DateTimeOffset At, long Count)>> _samples = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();
    private DateTimeOffset? _firstSample;

    /// <summary>
    /// Records one sample of every queue of the file and returns, per queue, the number of messages dead-lettered within
    /// the window before <paramref name="now"/>.
    /// </summary>
    public IReadOnlyDictionary<string, long> Observe(IEnumerable<(string Queue, long DeadLettered)> queues, DateTimeOffset now, TimeSpan window)
    {
        lock (_lock)
        {
            var first = _firstSample is null;
            _firstSample ??= now;
            var recent = new Dictionary<string, long>(StringComparer.Ordinal);
            foreach (var (queue, deadLettered) in queues)
            {
                if (!_samples.TryGetValue(queue, out var samples))
                {
                    // Not in the first look at the file: the queue was created since, with no dead letters.
                    _samples[queue] = samples = first ? [] : [(_firstSample.Value, 0)];
                }

                if (samples.Count == 0 || now >= samples[^1].At)
                {
                    samples.Add((now, deadLettered));
                }

                // Keep one sample at or before the window's start: the baseline of the increases inside it.
                var firstInside = samples.FindIndex(s => s.At > now - window);
                if (firstInside > 1)
                {
                    samples.RemoveRange(0, firstInside - 1);
                }
                else if (firstInside < 0 && samples.Count > 1)
                {
                    samples.RemoveRange(0, samples.Count - 1);
                }

                long added = 0;
                for (var i = 1; i < samples.Count; i++)
                {
                    added += Math.Max(0, samples[i].Count - samples[i - 1].Count);
                }

                recent[queue] = added;
            }

            return recent;
        }
    }
}
