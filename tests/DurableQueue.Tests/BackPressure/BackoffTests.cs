namespace DurableQueue.Tests.BackPressure;

public sealed class BackoffTests
{
    [Fact]
    public void GetCeiling_DoublesUpToTheCap()
    {
        var backoff = Backoff.Exponential(TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(1));
        Assert.Equal(TimeSpan.FromMilliseconds(100), backoff.GetCeiling(1));
        Assert.Equal(TimeSpan.FromMilliseconds(200), backoff.GetCeiling(2));
        Assert.Equal(TimeSpan.FromMilliseconds(800), backoff.GetCeiling(4));
        Assert.Equal(TimeSpan.FromSeconds(1), backoff.GetCeiling(5));
        Assert.Equal(TimeSpan.FromSeconds(1), backoff.GetCeiling(int.MaxValue));
    }

    [Fact]
    public void GetDelay_SeededRandom_IsRepeatableAndWithinFullJitterWindow()
    {
        var a = Backoff.Exponential(TimeSpan.FromMilliseconds(50), TimeSpan.FromSeconds(5), new Random(42));
        var b = Backoff.Exponential(TimeSpan.FromMilliseconds(50), TimeSpan.FromSeconds(5), new Random(42));
        var delays = new List<TimeSpan>();
        for (var attempt = 1; attempt <= 20; attempt++)
        {
            var delay = a.GetDelay(attempt);
            Assert.Equal(delay, b.GetDelay(attempt));
            Assert.InRange(delay, TimeSpan.Zero, a.GetCeiling(attempt));
            delays.Add(delay);
        }

        Assert.True(delays.Distinct().Count() > 15, "jitter should spread the delays");
    }

    [Fact]
    public void GetDelay_ManySamples_SpreadOverTheWholeWindow()
    {
        var backoff = Backoff.Exponential(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1), new Random(7));
        var samples = Enumerable.Range(0, 2000).Select(_ => backoff.GetDelay(1).TotalSeconds).ToArray();
        Assert.InRange(samples.Average(), 0.45, 0.55);
        Assert.True(samples.Min() < 0.05 && samples.Max() > 0.95);
    }

    [Fact]
    public void Invalid_Throws()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Backoff.Exponential(TimeSpan.Zero, TimeSpan.FromSeconds(1)));
        Assert.Throws<ArgumentOutOfRangeException>(() => Backoff.Exponential(TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(1)));
        Assert.Throws<ArgumentOutOfRangeException>(() => Backoff.Exponential(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1)).GetDelay(0));
    }
}
