using System.Collections.Concurrent;

namespace DurableQueue.PropertyTests.Model;

/// <summary>
/// Counts what a model run exercised (configurations, refusals, drops, spills, other-store steps), so that the test
/// output shows that every configuration and outcome was reached, not merely that nothing failed.
/// </summary>
internal static class Coverage
{
    private static readonly ConcurrentDictionary<string, int> s_counts = new();

    public static void Count(string what) => s_counts.AddOrUpdate(what, 1, static (_, n) => n + 1);

    public static void Reset() => s_counts.Clear();

    public static string Report() =>
        string.Join(", ", s_counts.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key}: {p.Value}"));
}
