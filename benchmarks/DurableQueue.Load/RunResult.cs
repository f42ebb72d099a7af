namespace DurableQueue.Load;

/// <summary>What one run measured; written to the JSON result file.</summary>
public sealed record RunResult
{
    public required string Kind { get; init; }

    public required string Durability { get; init; }

    public required int Producers { get; init; }

    public required int Consumers { get; init; }

    public required int Messages { get; init; }

    public required int Size { get; init; }

    public required int ReceiveBatch { get; init; }

    public required int EnqueueBatch { get; init; }

    public int RawOpsPerCommit { get; init; }

    public required double Seconds { get; init; }

    public double MessagesPerSecond => Messages / Seconds;

    /// <summary>Enqueue-to-ack latency (enqueue latency when there are no consumers).</summary>
    public required LatencySummary Latency { get; init; }

    public required long Commits { get; init; }

    /// <summary>Queue: commits a caller led on its own thread (no hand-off to the writer thread).</summary>
    public long InlineCommits { get; init; }

    /// <summary>Queue: awaited writer requests (enqueue, receive, ack-many); raw: rows written.</summary>
    public required long Operations { get; init; }

    public double CommitsPerSecond => Commits / Seconds;

    public double OperationsPerCommit => Commits == 0 ? 0 : (double)Operations / Commits;

    /// <summary>Message operations (insert, lease, delete: three per message end to end) per commit.</summary>
    public double MessageOperationsPerCommit => Commits == 0 ? 0 : (double)Messages * (Consumers > 0 ? 3 : 1) / Commits;

    public required long PeakRssBytes { get; init; }
}

public sealed record LatencySummary(string Measures, double P50Ms, double P99Ms, double MaxMs, int Samples)
{
    public static LatencySummary From(string measures, List<long> ticks)
    {
        if (ticks.Count == 0)
        {
            return new LatencySummary(measures, 0, 0, 0, 0);
        }

        ticks.Sort();
        return new LatencySummary(measures, Ms(Percentile(ticks, 0.50)), Ms(Percentile(ticks, 0.99)), Ms(ticks[^1]), ticks.Count);
    }

    private static long Percentile(List<long> sorted, double p) => sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(p * sorted.Count) - 1)];

    private static double Ms(long ticks) => ticks * 1000.0 / System.Diagnostics.Stopwatch.Frequency;
}
