using System.Collections.Concurrent;

namespace DurableQueue.PropertyTests.Model;

/// <summary>
/// Counts what a model run exercised (configurations, refusals, drops, spills, other-store steps), so that the test
/// output shows that every configuration and outcome was reached, not merely that nothing failed. Each run counts on its
/// own (the SQLite and the PostgreSQL run may go at once): <see cref="Reset"/> starts the counts of the calling flow.
/// </summary>
internal static class Coverage
{
    private static readonly AsyncLocal<ConcurrentDictionary<string, int>> s_counts = new();

    public static void Count(string what) => s_counts.Value?.AddOrUpdate(what, 1, static (_, n) => n + 1);

    public static void Reset() => s_counts.Value = new ConcurrentDictionary<string, int>();

    public static string Report() =>
        s_counts.Value is { } counts
            ? string.Join(", ", counts.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key}: {p.Value}"))
            : "";
}
