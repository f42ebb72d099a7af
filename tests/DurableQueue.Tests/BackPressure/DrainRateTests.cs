using DurableQueue.BackPressure;

namespace DurableQueue.Tests.BackPressure;

public sealed class DrainRateTests
{
    [Fact]
    public void RetryAfter_NothingDrainedSinceSamplingBegan_IsTheUnmeasuredDefaultNotTheCeiling()
    {
        var drain = new DrainRate();
        Assert.Equal(TimeSpan.FromSeconds(1), drain.RetryAfter(1)); // no samples

        for (var ms = 0; ms <= 5_000; ms += 500)
        {
            drain.Sample(ms, removedTotal: 40); // messages removed before this store opened do not count as a rate
        }

        Assert.Equal(0, drain.Rate);
        Assert.Equal(TimeSpan.FromSeconds(1), drain.RetryAfter(1));
    }

    [Fact]
    public void RetryAfter_DrainedThenStalled_IsTheCeiling()
    {
        var drain = new DrainRate();
        drain.Sample(0, 0);
        drain.Sample(1_000, 10);
        Assert.Equal(TimeSpan.FromSeconds(0.5), drain.RetryAfter(5)); // 10 msg/s, 5 missing

        for (var ms = 12_000; ms <= 24_000; ms += 1_000)
        {
            drain.Sample(ms, 10); // nothing more leaves for twelve seconds
        }

        Assert.Equal(0, drain.Rate);
        Assert.Equal(TimeSpan.FromSeconds(30), drain.RetryAfter(1));
    }
}
