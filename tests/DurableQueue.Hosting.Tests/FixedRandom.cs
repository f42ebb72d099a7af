namespace DurableQueue.Hosting.Tests;

/// <summary>A source of jitter that always draws the same value, so backoff delays are exact in tests.</summary>
internal sealed class FixedRandom(double value) : Random
{
    public override double NextDouble() => value;

    protected override double Sample() => value;
}
