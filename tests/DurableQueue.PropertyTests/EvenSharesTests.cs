using DurableQueue.Internal;
using FsCheck;
using FsCheck.Fluent;

namespace DurableQueue.PropertyTests;

/// <summary>How one grouped lease's messages are split between the receives that asked for them.</summary>
public sealed class EvenSharesTests
{
    [Fact]
    public void EveryLeasedMessage_GoesToOneReceive_NoneMoreThanItAsked_AndNoShareTwoBelowAnother()
    {
        var cases =
            from asks in Gen.ListOf(Gen.Choose(1, 1000)).Where(a => a.Count is > 0 and <= 512).Select(a => a.ToArray())
            from leased in Gen.Choose(0, asks.Sum())
            select (asks, leased);
        Check.One(
            Config.QuickThrowOnFailure.WithMaxTest(2_000).WithQuietOnSuccess(true),
            Prop.ForAll(cases.ToArbitrary(), c =>
            {
                var shares = EvenShares.Of(c.asks, c.leased);
                var fair = true;
                for (var i = 0; i < shares.Length; i++)
                {
                    for (var j = 0; j < shares.Length; j++)
                    {
                        // A receive may get less than another only when it asked for no more than it got; and the
                        // first ones get the one more, so a later share is never above an earlier one with room.
                        fair &= shares[i] >= shares[j] - 1 || shares[i] == c.asks[i];
                        fair &= j <= i || shares[j] <= shares[i] || shares[i] == c.asks[i];
                    }
                }

                return shares.Length == c.asks.Length
                    && shares.Sum() == c.leased
                    && shares.Select((s, i) => s >= 0 && s <= c.asks[i]).All(ok => ok)
                    && fair;
            }));
    }

    [Theory]
    [InlineData(new[] { 10, 10, 10 }, 5, new[] { 2, 2, 1 })]
    [InlineData(new[] { 2, 2, 3 }, 5, new[] { 2, 2, 1 })]
    [InlineData(new[] { 1, 100, 100 }, 9, new[] { 1, 4, 4 })]
    [InlineData(new[] { 100 }, 3, new[] { 3 })]
    [InlineData(new[] { 5, 5 }, 0, new[] { 0, 0 })]
    [InlineData(new[] { 3, 1, 3 }, 7, new[] { 3, 1, 3 })]
    public void Examples(int[] asks, int leased, int[] expected) =>
        Assert.Equal(expected, EvenShares.Of(asks, leased));
}
