using System.Globalization;
using Microsoft.Extensions.Time.Testing;
using Xunit.Abstractions;

namespace DurableQueue.PropertyTests.Crash;

/// <summary>
/// The recovery report after real ends of a process: a kill -9 while it holds leases, and a clean exit. The child
/// (CrashHost "hold" mode) prints every message, delay and lease it left; the report is compared with that.
/// </summary>
[Trait("Category", "Crash")]
public sealed class RecoveryReportTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("dq-recovery-").FullName;

    [Fact]
    public async Task Open_AfterKill_ReportsTheLeasesDelaysAndLastAttemptsTheProcessLeft()
    {
        var file = Path.Combine(_directory, "killed.db");
        var left = await RunHoldAsync(file, kill: true);

        // No inspection before this open: an inspector that closes the file last folds the WAL back into it.
        var clock = new FakeTimeProvider();
        clock.SetUtcNow(DateTimeOffset.FromUnixTimeMilliseconds(left.LastCommitMs + 30_000));
        var openAt = clock.GetUtcNow().ToUnixTimeMilliseconds();
        await using (var store = QueueStore.Open(file, new QueueStoreOptions { TimeProvider = clock }))
        {
            var report = store.Recovery;
            output.WriteLine(report.ToString());
            Assert.False(report.IsClean);
            Assert.Equal(1, report.EndedSessions);
            Assert.Equal([left.ProcessId], report.EndedProcessIds);
            // The commit time is read when the batch commits, a moment after the clock reading its leases were given.
            Assert.NotNull(report.LastCommitAt);
            var lastCommitMs = report.LastCommitAt.Value.ToUnixTimeMilliseconds();
            Assert.InRange(lastCommitMs, left.LastCommitMs, left.LastCommitMs + 1_000);
            Assert.Equal(left.Leases.Count(l => l.ExpiresMs > openAt), report.LeasesLeft);
            Assert.Equal(left.Leases.Count(l => l.ExpiresMs <= openAt), report.LeasesExpired);
            Assert.Equal(4, report.LeasesLeft); // the test's own precondition: the child leased what it was asked to
            Assert.Equal(DateTimeOffset.FromUnixTimeMilliseconds(left.Leases.Where(l => l.ExpiresMs > openAt).Max(l => l.ExpiresMs)), report.LeasesReturnBy);
            Assert.False(report.LeasesReleased);
            Assert.Equal(left.Leases.Count(l => l.Queue == "last" && l.ExpiresMs <= openAt), report.LastAttemptsDeadLettered);
            Assert.Equal(2, report.LastAttemptsDeadLettered);
            Assert.Equal(left.DelayedDue.Count(d => d > lastCommitMs && d <= openAt), report.DelayedMessagesCameDue);
            Assert.Equal(3, report.DelayedMessagesCameDue);
            Assert.True(report.WalReplayed, "a killed writer leaves its commits in the WAL");
            Assert.True(report.WalBytesFound > 0);

            // What the report says is what the queues show.
            var work = await store.GetQueue("work").GetCountsAsync();
            Assert.Equal(4, work.Leased);
            Assert.Equal(left.Plain - 4 + left.DelayedDue.Count, work.Ready);
            Assert.Equal(2, (await store.GetQueue("last").GetCountsAsync()).DeadLettered);
        }

        await using (var again = QueueStore.Open(file, new QueueStoreOptions { TimeProvider = clock }))
        {
            Assert.True(again.Recovery.IsClean, again.Recovery.ToString());
            Assert.Equal(0, again.Recovery.LeasesLeft);
        }
    }

    [Fact]
    public async Task Open_AfterKill_WithReleaseOption_HandsTheLeasesBackAtOnce()
    {
        var file = Path.Combine(_directory, "released.db");
        var left = await RunHoldAsync(file, kill: true);
        // Read-only first: the doctor sees the ended session and its leases before any store clears them.
        var clock = new FakeTimeProvider(DateTimeOffset.FromUnixTimeMilliseconds(left.LastCommitMs + 1000));
        using (var inspector = QueueStore.Inspect(file, new QueueStoreOptions { TimeProvider = clock }))
        {
            var diagnosis = await inspector.DiagnoseAsync();
            var ended = Assert.Single(diagnosis.Findings, f => f.Code == "ended-session");
            Assert.Equal(FindingSeverity.Warning, ended.Severity);
            Assert.Contains(FormattableString.Invariant($"Process {left.ProcessId} ended without closing its store; it still holds {left.Leases.Count} lease(s)."), ended.Summary, StringComparison.Ordinal);
        }

        var openAt = clock.GetUtcNow().ToUnixTimeMilliseconds();
        await using var store = QueueStore.Open(file, new QueueStoreOptions { TimeProvider = clock, ReleaseLeasesOfEndedSessions = true });
        var report = store.Recovery;
        output.WriteLine(report.ToString());
        Assert.Equal(left.Leases.Count, report.LeasesLeft);
        Assert.True(report.LeasesReleased);
        Assert.Equal(0, report.LeasesExpired);
        // The last attempts are released too, and so dead-lettered at once, as their expiry would have done.
        Assert.Equal(2, report.LastAttemptsDeadLettered);

        var work = store.GetQueue("work");
        var counts = await work.GetCountsAsync();
        Assert.Equal(0, counts.Leased);
        Assert.Equal(left.Plain, counts.Ready); // the delayed ones are not due yet at this clock
        Assert.Equal(2, (await store.GetQueue("last").GetCountsAsync()).DeadLettered);
        foreach (var lease in left.Leases.Where(l => l.Queue == "work"))
        {
            // The attempt the ended process started stays counted.
            Assert.Equal(1, (await work.GetMessageAsync(new MessageId(lease.Id)))!.Attempts);
        }
    }

    [Fact]
    public async Task Open_AfterCleanExit_ReportsACleanStart()
    {
        var file = Path.Combine(_directory, "clean.db");
        var left = await RunHoldAsync(file, kill: false);
        Assert.False(File.Exists(file + "-wal") && new FileInfo(file + "-wal").Length > 0, "a clean close leaves no WAL to replay");

        var clock = new FakeTimeProvider(DateTimeOffset.FromUnixTimeMilliseconds(left.LastCommitMs + 30_000));
        await using var store = QueueStore.Open(file, new QueueStoreOptions { TimeProvider = clock });
        var report = store.Recovery;
        output.WriteLine(report.ToString());
        Assert.True(report.IsClean);
        Assert.False(report.IsNewFile);
        Assert.Equal(0, report.EndedSessions);
        Assert.Equal(0, report.LeasesLeft);
        Assert.False(report.WalReplayed);
        Assert.Equal(0, report.WalBytesFound);
        // The clean close is the last commit: at or after the last lease, before the test's open.
        Assert.NotNull(report.LastCommitAt);
        Assert.InRange(report.LastCommitAt!.Value.ToUnixTimeMilliseconds(), left.LastCommitMs, left.LastCommitMs + 20_000);
        Assert.StartsWith("clean start", report.ToString(), StringComparison.Ordinal);
    }

    private sealed record LeaseLine(string Queue, long Id, long ExpiresMs, long VisibilityMs);

    private sealed record LeftBehind(int ProcessId, int Plain, List<long> DelayedDue, List<LeaseLine> Leases)
    {
        public long LastCommitMs => Leases.Max(l => l.ExpiresMs - l.VisibilityMs);
    }

    private async Task<LeftBehind> RunHoldAsync(string file, bool kill)
    {
        using var host = HostProcess.Start(
            "hold", file, ["plain=10", "delayed=3", "delayMs=20000", "held=4", "heldMs=60000", "final=2", "finalMs=3000", kill ? "close=0" : "close=1"]);
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!host.Lines.Contains("HELD") && DateTime.UtcNow < deadline && host.ExitCode is null)
        {
            await host.WaitForLinesAsync(host.LineCount + 1, TimeSpan.FromSeconds(5));
        }

        Assert.True(host.Lines.Contains("HELD"), "the host did not reach HELD: " + string.Join(" | ", host.Lines));
        var pid = host.ProcessId;
        if (kill)
        {
            host.Kill();
        }
        else
        {
            Assert.True(await host.WaitForExitAsync(TimeSpan.FromSeconds(30)), "the host did not exit");
            Assert.Contains("DONE", host.Lines);
        }

        var plain = 0;
        var delayed = new List<long>();
        var leases = new List<LeaseLine>();
        foreach (var f in host.Lines.Select(l => l.Split(' ')))
        {
            switch (f[0])
            {
                case "ENQ":
                    plain++;
                    break;
                case "DELAYED":
                    delayed.Add(long.Parse(f[2], CultureInfo.InvariantCulture));
                    break;
                case "LEASE":
                    leases.Add(new LeaseLine(f[1], long.Parse(f[2], CultureInfo.InvariantCulture), long.Parse(f[3], CultureInfo.InvariantCulture), long.Parse(f[4], CultureInfo.InvariantCulture)));
                    break;
            }
        }

        Assert.Equal(6, leases.Count);
        return new LeftBehind(pid, plain, delayed, leases);
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
