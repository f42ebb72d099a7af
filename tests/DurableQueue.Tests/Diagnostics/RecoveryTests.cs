using Dapper;

namespace DurableQueue.Tests.Diagnostics;

/// <summary>The recovery report of clean ends in one process; unclean ends (a killed child) are in the crash tests.</summary>
public sealed class RecoveryTests
{
    [Fact]
    public async Task Open_NewFile_ReportsANewFile()
    {
        await using var t = TestStore.Create();
        var report = t.Store.Recovery;
        Assert.True(report.IsNewFile);
        Assert.True(report.IsClean);
        Assert.Null(report.LastCommitAt);
        Assert.Equal(t.Clock.GetUtcNow(), report.OpenedAt);
        Assert.Equal("new file: nothing to recover", report.ToString());
    }

    [Fact]
    public async Task Reopen_AfterDispose_IsCleanAndKnowsWhenTheFileWasClosed()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q");
        await queue.EnqueueAsync("due in a minute", new EnqueueOptions { Delay = TimeSpan.FromMinutes(1) });
        await queue.EnqueueAsync("due in an hour", new EnqueueOptions { Delay = TimeSpan.FromHours(1) });
        t.Clock.Advance(TimeSpan.FromSeconds(5));
        var closedAt = t.Clock.GetUtcNow();
        await t.Store.DisposeAsync();
        t.Clock.Advance(TimeSpan.FromMinutes(10));

        await t.ReopenAsync();

        var report = t.Store.Recovery;
        Assert.True(report.IsClean);
        Assert.False(report.IsNewFile);
        Assert.Equal(closedAt, report.LastCommitAt);
        Assert.Equal(TimeSpan.FromMinutes(10), report.SinceLastCommit);
        Assert.Equal(1, report.DelayedMessagesCameDue);
        Assert.Equal(0, report.LeasesLeft);
        Assert.False(report.WalReplayed);
        Assert.StartsWith("clean start: the previous session closed its store (last commit 2026-01-01 00:00:05.000Z)", report.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Commit_RecordsItsTime_SeenByTheNextStoreToOpen()
    {
        await using var t = TestStore.Create();
        t.Clock.Advance(TimeSpan.FromSeconds(42));
        await t.Store.GetQueue("q").EnqueueAsync("x");
        var committedAt = t.Clock.GetUtcNow();
        t.Clock.Advance(TimeSpan.FromSeconds(1));

        var second = t.OpenSecond();

        Assert.Equal(committedAt, second.Recovery.LastCommitAt);
        Assert.Equal(1, second.Recovery.OtherOpenSessions);
        Assert.True(second.Recovery.IsClean, "an open store of this process is alive, not ended");
    }

    [Fact]
    public async Task LeaseToken_StartsWithTheSessionId_AndTheSessionRowGoesAtDispose()
    {
        await using var t = TestStore.Create();
        var queue = t.Store.GetQueue("q");
        await queue.EnqueueAsync("x");
        var message = Assert.Single(await queue.ReceiveAsync());

        var prefix = BitConverter.ToInt64(message.Receipt.Token.ToByteArray(), 0);
        Assert.Equal(t.Store.Session!.Id, prefix);
        using (var raw = t.OpenRaw())
        {
            Assert.Equal([t.Store.Session.Key], raw.Query<string>("SELECT key FROM dq_meta WHERE key LIKE 'session:%'"));
        }

        await t.Store.DisposeAsync();
        using (var raw = t.OpenRaw())
        {
            Assert.Empty(raw.Query<string>("SELECT key FROM dq_meta WHERE key LIKE 'session:%'"));
        }
    }
}
