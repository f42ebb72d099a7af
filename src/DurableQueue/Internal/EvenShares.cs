namespace DurableQueue.Internal;

/// <summary>
/// Splits the messages one lease statement took for several receives that waited at the same moment. Each receive gets
/// as many as the others, up to what it asked for, and the first ones one more while some are left: concurrent
/// consumers then all get work, rather than the first taking everything while the others go back to wait (to be woken
/// again by the next commit). Any split is a valid answer to receives that overlap in time, as long as each gets at most
/// what it asked for and every leased message goes to one of them.
/// </summary>
internal static class EvenShares
{
    /// <summary>
    /// Gets how many of <paramref name="leased"/> messages each receive gets, in the receives' order.
    /// </summary>
    /// <param name="asks">The most messages each receive asked for (each at least 1).</param>
    /// <param name="leased">The messages to split: at most the sum of <paramref name="asks"/>.</param>
    public static int[] Of(IReadOnlyList<int> asks, int leased)
    {
        // The highest level that the leased messages fill for every receive (each capped by its ask); the sum of
        // min(ask, level) grows with the level, so a binary search over 0..max(ask) finds it.
        int low = 0, high = 0;
        foreach (var ask in asks)
        {
            high = Math.Max(high, ask);
        }

        while (low < high)
        {
            var mid = (low + high + 1) / 2;
            if (Filled(asks, mid) <= leased)
            {
                low = mid;
            }
            else
            {
                high = mid - 1;
            }
        }

        // Fewer are left than receives that asked for more than the level (else the level would be higher).
        var rest = leased - Filled(asks, low);
        var shares = new int[asks.Count];
        for (var i = 0; i < asks.Count; i++)
        {
            shares[i] = Math.Min(asks[i], low);
            if (rest > 0 && asks[i] > low)
            {
                shares[i]++;
                rest--;
            }
        }

        return shares;
    }

    private static int Filled(IReadOnlyList<int> asks, int level)
    {
        var sum = 0;
        foreach (var ask in asks)
        {
            sum += Math.Min(ask, level);
        }

        return sum;
    }
}
