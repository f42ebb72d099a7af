using System.Diagnostics;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Time.Testing;

namespace DurableQueue.Tests.Diagnostics;

public sealed class DoctorTests
{
    [Fact]
    public async Task DiagnoseAsync_TempFolder_NamesTheFileSystemAsDfDoes()
    {
        await using var t = TestStore.Create();
        var report = await t.Store.DiagnoseAsync();

        // df reads the same kernel tables through another path (statfs and its own mount lookup).
        var df = Run("df", "--output=fstype,target", System.IO.Path.GetDirectoryName(t.Path)!).Split('\n', StringSplitOptions.RemoveEmptyEntries)[1]
            .Split(' ', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(df[0], report.FileSystem);
        Assert.Equal(df[1], report.MountPoint);
        Assert.Equal(t.Clock.GetUtcNow(), report.CheckedAt);
        Assert.DoesNotContain(report.Findings, f => f.Code.StartsWith("fsync", StringComparison.Ordinal)); // the probe runs only when asked
        Assert.All(report.Findings, f => Assert.False(string.IsNullOrWhiteSpace(f.Meaning) || string.IsNullOrWhiteSpace(f.Advice)));
    }

    [Theory]
    [InlineData("mountinfo-nfs.txt", "nfs4", "fileserver.example:/export/queues", "network-file-system", FindingSeverity.Error)]
    [InlineData("mountinfo-cifs.txt", "cifs", "//nas.example/queues", "network-file-system", FindingSeverity.Error)]
    [InlineData("mountinfo-fuse.txt", "fuse.sshfs", "app@backup.example:/srv/queues", "network-file-system", FindingSeverity.Error)]
    [InlineData("mountinfo-sd-card.txt", "vfat", "/dev/sdb1", "no-journal-file-system", FindingSeverity.Warning)]
    public async Task DiagnoseAsync_MountTableFixture_ReportsTheFileSystem(string fixture, string type, string source, string code, FindingSeverity severity)
    {
        await using var t = TestStore.Create();
        var mountInfo = WriteFixture(fixture, System.IO.Path.GetDirectoryName(t.Path)!);
        try
        {
            var report = await t.Store.DiagnoseAsync(new DiagnoseOptions { MountInfoPath = mountInfo });
            Assert.Equal(type, report.FileSystem);
            Assert.Equal(source, report.Device);
            var finding = Assert.Single(report.Findings, f => f.Code == code);
            Assert.Equal(severity, finding.Severity);
            Assert.Equal(severity, report.HighestSeverity);
            Assert.Same(finding, report.Findings[0]);
            Assert.Contains(type, finding.Summary, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(mountInfo);
        }
    }

    [Theory]
    [InlineData("tmpfs", "tmpfs", "rw", "memory-file-system")]
    [InlineData("overlay", "overlay", "rw,lowerdir=/l,upperdir=/u,workdir=/w", "overlay-file-system")]
    [InlineData("fuseblk", "/dev/sdc1", "rw,user_id=0,group_id=0,allow_other", "fuse-file-system")]
    [InlineData("ext4", "/dev/sda3", "rw,nobarrier", "write-barriers-off")]
    [InlineData("ext4", "/dev/sda3", "rw,errors=remount-ro", "local-file-system")]
    public void Classify_MountLine_GivesTheFinding(string type, string source, string superOptions, string code)
    {
        var directory = Directory.CreateTempSubdirectory("dq-mounts-").FullName;
        var mountInfo = System.IO.Path.Combine(directory, "mountinfo");
        File.WriteAllText(mountInfo, $"22 1 8:2 / / rw,relatime - ext4 /dev/sda2 rw\n950 22 0:99 / {directory.Replace(" ", "\\040", StringComparison.Ordinal)} rw,relatime - {type} {source} {superOptions}\n");
        try
        {
            var facts = new DurableQueue.Diagnostics.DoctorFacts(4096, 10, 0, null, [], new Dictionary<long, int>());
            var report = DurableQueue.Diagnostics.DurabilityDoctor.Run(
                System.IO.Path.Combine(directory, "app.db"), facts,
                new DurableQueue.Diagnostics.DoctorContext(new FakeTimeProvider(), null, null, new DiagnoseOptions { MountInfoPath = mountInfo, MinimumFreeDiskBytes = 0 }));
            Assert.Equal(type, report.FileSystem);
            Assert.Equal(directory, report.MountPoint);
            Assert.Equal(code, Assert.Single(report.Findings).Code);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public void MountTable_Parse_UnescapesAndKeepsTheLastMountOnAPoint()
    {
        var table = DurableQueue.Diagnostics.MountTable.Parse(
            "22 1 8:2 / / rw - ext4 /dev/sda2 rw\n" +
            "30 22 0:40 / /data/my\\040queues rw - ext4 /dev/sdb1 rw\n" +
            "31 30 0:41 / /data/my\\040queues rw - tmpfs tmpfs rw\n" +
            "not a mount line\n");
        Assert.Equal(3, table.Entries.Count);
        Assert.Equal("tmpfs", table.FindByPath("/data/my queues/app.db")!.FileSystemType);
        Assert.Equal("ext4", table.FindByPath("/data/my queuesX/app.db")!.FileSystemType);
        Assert.Equal("/", table.FindByPath("/data/my queuesX/app.db")!.MountPoint);
        Assert.Equal(30, table.FindForFile("/nowhere/app.db", 30)!.Id);
    }

    [Fact]
    public async Task DiagnoseAsync_DurabilityNormal_Warns()
    {
        await using var full = TestStore.Create();
        Assert.DoesNotContain((await full.Store.DiagnoseAsync()).Findings, f => f.Code == "durability-normal");

        await using var normal = TestStore.Create(o => o.Durability = Durability.Normal);
        var finding = Assert.Single((await normal.Store.DiagnoseAsync()).Findings, f => f.Code == "durability-normal");
        Assert.Equal(FindingSeverity.Warning, finding.Severity);
        Assert.Contains($"process {Environment.ProcessId}", finding.Summary, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DiagnoseAsync_FreeSpaceBelowThreshold_Warns()
    {
        await using var t = TestStore.Create();
        var free = new DriveInfo(System.IO.Path.GetDirectoryName(t.Path)!).AvailableFreeSpace;
        Assert.DoesNotContain((await t.Store.DiagnoseAsync(new DiagnoseOptions { MinimumFreeDiskBytes = 0 })).Findings, f => f.Code == "low-disk-space");

        var report = await t.Store.DiagnoseAsync(new DiagnoseOptions { MinimumFreeDiskBytes = free * 4 });
        Assert.Equal(FindingSeverity.Warning, Assert.Single(report.Findings, f => f.Code == "low-disk-space").Severity);
    }

    [Fact]
    public async Task DiagnoseAsync_QuotaLargerThanTheDisk_Warns()
    {
        await using var t = TestStore.Create(o => o.MaxDatabaseBytes = 1L << 60);
        var finding = Assert.Single((await t.Store.DiagnoseAsync()).Findings, f => f.Code == "disk-smaller-than-quota");
        Assert.Equal(FindingSeverity.Warning, finding.Severity);
    }

    [Fact]
    public async Task DiagnoseAsync_DataNearAndPastTheQuota_WarnsThenReportsEnqueuesRefused()
    {
        await using var t = TestStore.Create();
        await t.Store.GetQueue("q").EnqueueBatchAsync(Enumerable.Range(0, 40).Select(_ => (ReadOnlyMemory<byte>)new byte[64 * 1024]));
        var stats = await t.Store.GetStatisticsAsync();
        var used = (stats.PageCount - stats.FreePages) * stats.PageSize;
        Assert.DoesNotContain((await t.Store.DiagnoseAsync()).Findings, f => f.Code.Contains("quota", StringComparison.Ordinal));

        // 85 % of the quota: past the warning mark, below the point where enqueues stop (a reserve of 1/16 below it).
        await t.ReopenAsync(o => o.MaxDatabaseBytes = used * 100 / 85);
        var near = Assert.Single((await t.Store.DiagnoseAsync()).Findings, f => f.Code.Contains("quota", StringComparison.Ordinal));
        Assert.Equal(("near-database-quota", FindingSeverity.Warning), (near.Code, near.Severity));

        // A quota below the data: the next enqueue is refused, and the doctor says so.
        await t.ReopenAsync(o => o.MaxDatabaseBytes = 1024 * 1024);
        var reached = Assert.Single((await t.Store.DiagnoseAsync()).Findings, f => f.Code.Contains("quota", StringComparison.Ordinal));
        Assert.Equal(("database-quota-reached", FindingSeverity.Error), (reached.Code, reached.Severity));
        await Assert.ThrowsAnyAsync<DurableQueueException>(async () =>
            await t.Store.GetQueue("q", new QueueOptions { FullMode = QueueFullMode.Reject }).EnqueueAsync(new byte[64 * 1024]));
    }

    [Fact]
    public async Task DiagnoseAsync_ReaderHoldsASnapshot_ReportsTheWalAndTheProcess()
    {
        await using var t = TestStore.Create(o => o.JournalSizeLimitBytes = 64 * 1024);
        var queue = t.Store.GetQueue("q");
        await queue.EnqueueAsync("first");
        using (var reader = t.OpenRaw())
        {
            using var transaction = reader.BeginTransaction(deferred: true);
            using (var command = reader.CreateCommand())
            {
                command.CommandText = "SELECT count(*) FROM dq_messages;";
                command.ExecuteScalar(); // the snapshot starts here and lasts until the transaction ends
            }

            for (var i = 0; i < 8; i++)
            {
                await queue.EnqueueBatchAsync(Enumerable.Range(0, 10).Select(_ => (ReadOnlyMemory<byte>)new byte[64 * 1024]));
            }

            await t.Store.CompactAsync(); // a checkpoint that cannot get past the reader
            var report = await t.Store.DiagnoseAsync();
            var finding = Assert.Single(report.Findings, f => f.Code == "wal-over-limit");
            Assert.Equal(FindingSeverity.Warning, finding.Severity);
            Assert.Contains($"held by process {Environment.ProcessId} (", finding.Summary, StringComparison.Ordinal);
            Assert.Contains("this process", finding.Summary, StringComparison.Ordinal);
        }

        await t.Store.CompactAsync();
        Assert.DoesNotContain((await t.Store.DiagnoseAsync()).Findings, f => f.Code == "wal-over-limit");
    }

    [Fact]
    public async Task DiagnoseAsync_ClockSetBackBehindTheLastCommit_Warns()
    {
        await using var t = TestStore.Create();
        await t.Store.GetQueue("q").EnqueueAsync("x");
        await t.Store.DisposeAsync();

        var behind = new FakeTimeProvider(t.Clock.GetUtcNow() - TimeSpan.FromHours(1));
        await using (var store = QueueStore.Open(t.Path, new QueueStoreOptions { TimeProvider = behind }))
        {
            var finding = Assert.Single((await store.DiagnoseAsync()).Findings, f => f.Code == "clock-behind-last-commit");
            Assert.Equal(FindingSeverity.Warning, finding.Severity);
            Assert.Contains("3600 s", finding.Summary, StringComparison.Ordinal);
            Assert.Null(store.Recovery.SinceLastCommit);
        }

        // Within the tolerance: a small step back is normal between machines and NTP corrections.
        var slightly = new FakeTimeProvider(t.Clock.GetUtcNow() - TimeSpan.FromSeconds(10));
        await using (var store = QueueStore.Open(t.Path, new QueueStoreOptions { TimeProvider = slightly }))
        {
            Assert.DoesNotContain((await store.DiagnoseAsync()).Findings, f => f.Code == "clock-behind-last-commit");
        }
    }

    [Fact]
    public async Task DiagnoseAsync_WallClockJumpsAgainstTheMonotonicClock_Warns()
    {
        var clock = new JumpingClock();
        var path = TestStore.NewPath();
        try
        {
            await using var store = QueueStore.Open(path, new QueueStoreOptions { TimeProvider = clock });

            // FakeTimeProvider.Advance moves both clocks together: time passed, nothing jumped.
            clock.Advance(TimeSpan.FromHours(2));
            Assert.DoesNotContain((await store.DiagnoseAsync()).Findings, f => f.Code == "clock-jumped");

            clock.WallOffset = TimeSpan.FromHours(1);
            var forward = Assert.Single((await store.DiagnoseAsync()).Findings, f => f.Code == "clock-jumped");
            Assert.Contains("3600 s forward", forward.Summary, StringComparison.Ordinal);

            clock.WallOffset = -TimeSpan.FromMinutes(10);
            var backward = Assert.Single((await store.DiagnoseAsync()).Findings, f => f.Code == "clock-jumped");
            Assert.Contains("600 s backward", backward.Summary, StringComparison.Ordinal);
        }
        finally
        {
            TestStore.DeleteFiles(path);
        }
    }

    [Fact]
    public async Task DiagnoseAsync_TwoStoresInOneProcess_ComparesTheirOptions()
    {
        await using var t = TestStore.Create();
        var same = t.OpenSecond();
        var info = Assert.Single((await t.Store.DiagnoseAsync()).Findings, f => f.Code == "several-stores-in-process");
        Assert.Equal(FindingSeverity.Info, info.Severity);
        await same.DisposeAsync();

        t.OpenSecond(o => o.Durability = Durability.Normal);
        var warning = Assert.Single((await t.Store.DiagnoseAsync()).Findings, f => f.Code == "stores-with-different-options");
        Assert.Equal(FindingSeverity.Warning, warning.Severity);
        Assert.Contains("Durability=Full", warning.Summary, StringComparison.Ordinal);
        Assert.Contains("Durability=Normal", warning.Summary, StringComparison.Ordinal);
        Assert.Contains("this process", warning.Summary, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DiagnoseAsync_FsyncProbe_MeasuresAndCleansUp()
    {
        await using var t = TestStore.Create();
        var directory = System.IO.Path.GetDirectoryName(t.Path)!;
        var probe = Assert.Single((await t.Store.DiagnoseAsync(new DiagnoseOptions { ProbeFsync = true })).Findings, f => f.Code is "fsync-timing" or "fsync-too-fast");
        Assert.Contains("(median of 16;", probe.Summary, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(directory, $".{System.IO.Path.GetFileName(t.Path)}.fsync-probe-*"));

        // A threshold no real flush can beat makes any disk look like one that lies.
        var strict = await t.Store.DiagnoseAsync(new DiagnoseOptions { ProbeFsync = true, FsyncTooFastBelow = TimeSpan.FromHours(1) });
        Assert.Equal(FindingSeverity.Warning, Assert.Single(strict.Findings, f => f.Code == "fsync-too-fast").Severity);
    }

    [Fact]
    public async Task DiagnoseAsync_BadOptions_ThrowNamingTheOption()
    {
        await using var t = TestStore.Create();
        var ex = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await t.Store.DiagnoseAsync(new DiagnoseOptions { MinimumFreeDiskBytes = -1 }));
        Assert.Equal("MinimumFreeDiskBytes", ex.ParamName);
    }

    [Fact]
    public async Task StoreInspector_DiagnoseAsync_SeesTheOpenStoresOptions()
    {
        await using var t = TestStore.Create(o => o.Durability = Durability.Normal);
        using var inspector = QueueStore.Inspect(t.Path);
        var report = await inspector.DiagnoseAsync();
        Assert.Contains(report.Findings, f => f.Code == "durability-normal");
        Assert.DoesNotContain(report.Findings, f => f.Code == "other-processes"); // the store runs in this process
    }

    internal static string WriteFixture(string fixture, string directory)
    {
        var text = File.ReadAllText(System.IO.Path.Combine(AppContext.BaseDirectory, "Diagnostics", "Fixtures", fixture));
        var path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"dq-mountinfo-{Guid.NewGuid():N}");
        File.WriteAllText(path, text.Replace("{DIR}", directory.Replace(" ", "\\040", StringComparison.Ordinal), StringComparison.Ordinal));
        return path;
    }

    internal static string Run(string file, params string[] args)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEnd();
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"{file} {string.Join(' ', args)} failed ({process.ExitCode}): {error}");
        return output;
    }

    /// <summary>A fake clock whose wall time can jump while its monotonic time (timers, timestamps) does not.</summary>
    private sealed class JumpingClock : FakeTimeProvider
    {
        public JumpingClock()
            : base(TestClock.Epoch)
        {
        }

        public TimeSpan WallOffset { get; set; }

        public override DateTimeOffset GetUtcNow() => base.GetUtcNow() + WallOffset;

        // FakeTimeProvider derives its timestamps from GetUtcNow; the monotonic clock must not see the wall's jumps.
        public override long GetTimestamp() => (long)((base.GetUtcNow() - TestClock.Epoch).Ticks * (TimestampFrequency / (double)TimeSpan.TicksPerSecond));
    }
}
