using System.Diagnostics;
using System.Globalization;
using DurableQueue.Storage;
using Microsoft.Data.Sqlite;

namespace DurableQueue.Diagnostics;

/// <summary>What the doctor reads from the file, in one read snapshot.</summary>
internal sealed record DoctorFacts(long PageSize, long PageCount, long FreePages, long? LastCommitAtMs, IReadOnlyList<StoreSession> Sessions, IReadOnlyDictionary<long, int> EndedSessionLeases)
{
    public static DoctorFacts Read(SqliteConnection connection, long nowMs)
    {
        long Pragma(string sql)
        {
            using var command = connection.CreateCommand();
            command.CommandText = sql;
            return (long)command.ExecuteScalar()!;
        }

        using var transaction = connection.BeginTransaction(deferred: true);
        long? lastCommit;
        using (var command = connection.CreateCommand())
        {
            command.Transaction = transaction;
            command.CommandText = Sql.ReadLastCommitAt;
            lastCommit = command.ExecuteScalar() is long l && l > 0 ? l : null;
        }

        var sessions = StoreRecovery.ReadSessions(connection, transaction);
        var leases = new Dictionary<long, int>();
        foreach (var session in sessions.Where(s => s.Liveness() == SessionLiveness.Ended))
        {
            using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = Sql.SessionLeases;
            command.Parameters.AddWithValue("@now", nowMs);
            command.Parameters.AddWithValue("@prefix", session.TokenPrefix);
            using var reader = command.ExecuteReader();
            reader.Read();
            leases[session.Id] = (int)reader.GetInt64(1);
        }

        var facts = new DoctorFacts(Pragma(Sql.PageSize), Pragma(Sql.PageCount), Pragma(Sql.FreelistCount), lastCommit, sessions, leases);
        transaction.Commit();
        return facts;
    }
}

/// <summary>Where the check runs: the store's own session and clock readings, when a store runs it.</summary>
internal sealed record DoctorContext(TimeProvider Clock, StoreSession? Own, (long WallMs, long Timestamp)? OpenedClock, DiagnoseOptions Options);

/// <summary>
/// The durability doctor: checks the place and the settings of a store file against what the queue's promises need,
/// and says for each finding what it means and what to do. docs/operations.md lists every finding.
/// </summary>
internal static class DurabilityDoctor
{
    private const long DefaultJournalLimit = Internal.Defaults.JournalSizeLimitBytes;

    // WAL index lock bytes in the -shm file: 120 write, 121 checkpoint, 122 recover, 123..127 the five read marks.
    private const long FirstReadMarkByte = 123;
    private const long LastReadMarkByte = 127;

    private static readonly HashSet<string> s_networkFileSystems = new(StringComparer.Ordinal)
    {
        "nfs", "nfs4", "cifs", "smb3", "smbfs", "ncpfs", "afs", "ceph", "glusterfs", "9p", "lustre", "gpfs", "beegfs", "ocfs2", "gfs2", "davfs", "coda", "sshfs",
    };

    private static readonly HashSet<string> s_noJournalFileSystems = new(StringComparer.Ordinal) { "vfat", "msdos", "exfat", "fat", "hfs" };

    public static DurabilityReport Run(string path, DoctorFacts facts, DoctorContext context)
    {
        var findings = new List<DurabilityFinding>();
        var now = context.Clock.GetUtcNow();
        var nowMs = now.ToUnixTimeMilliseconds();
        var live = facts.Sessions.Where(s => s.Liveness() != SessionLiveness.Ended).ToList();

        var mount = CheckFileSystem(path, context.Options, findings);
        CheckDurability(live, findings);
        CheckSpace(path, facts, live, context.Options, findings);
        CheckWal(path, mount, live, findings);
        CheckClock(facts, context, nowMs, findings);
        CheckSessions(facts, context, findings);
        if (context.Options.ProbeFsync)
        {
            ProbeFsync(path, context.Options, findings);
        }

        var ordered = findings.OrderByDescending(f => f.Severity).ToList();
        return new DurabilityReport(path, now, mount?.FileSystemType, mount?.MountPoint, mount?.Source, ordered);
    }

    private static string F(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    private static MountEntry? CheckFileSystem(string path, DiagnoseOptions options, List<DurabilityFinding> findings)
    {
        var table = MountTable.Read(options.MountInfoPath);
        if (table is null)
        {
            findings.Add(new DurabilityFinding(
                "file-system-unknown", FindingSeverity.Info,
                "The file system could not be identified: there is no mount table to read on this platform.",
                "The doctor cannot tell a local disk from a network share or a RAM disk here.",
                "Make sure the file is on a local disk that survives a reboot, not on a network share, a synced folder or a RAM disk."));
            return null;
        }

        // The mount SQLite's own descriptor lives on, exact through bind mounts and links; by path for a table read from elsewhere.
        var mountId = options.MountInfoPath == MountTable.DefaultPath ? ProcFiles.OfOpenFile(path).MountId : null;
        var mount = table.FindForFile(path, mountId);
        if (mount is null)
        {
            findings.Add(new DurabilityFinding(
                "file-system-unknown", FindingSeverity.Info,
                F($"No mount in the mount table holds '{path}'."),
                "The doctor cannot tell a local disk from a network share or a RAM disk here.",
                "Make sure the file is on a local disk that survives a reboot."));
            return null;
        }

        var type = mount.FileSystemType;
        var where = F($"'{path}' is on {type} ({mount.Source} mounted at {mount.MountPoint})");
        var before = findings.Count;
        if (s_networkFileSystems.Contains(type) || type == "fuse" || type.StartsWith("fuse.", StringComparison.Ordinal))
        {
            findings.Add(new DurabilityFinding(
                "network-file-system", FindingSeverity.Error,
                where + ": a network or user-space (FUSE) file system.",
                "SQLite's locks and its WAL shared memory do not work reliably across machines on such file systems; two processes can both write, and the file can be corrupted. A flush may return before the server stored the data.",
                "Move the file to a local disk of the machine that runs the app. To share queued work between machines, forward it to a broker or use a server database instead of sharing the file."));
        }
        else if (type == "fuseblk")
        {
            findings.Add(new DurabilityFinding(
                "fuse-file-system", FindingSeverity.Warning,
                where + ": a disk file system served by a user-space driver (NTFS or exFAT through FUSE).",
                "Locking works within this machine, but whether a flush reaches the disk depends on the driver; a power cut may lose or damage recent commits.",
                "Prefer a native Linux file system (ext4, xfs, btrfs) for the queue file."));
        }
        else if (type is "tmpfs" or "ramfs" or "devtmpfs")
        {
            findings.Add(new DurabilityFinding(
                "memory-file-system", FindingSeverity.Warning,
                where + ": a file system in memory.",
                "Everything in the queue is lost when the machine restarts or the mount goes away; flushes cost nothing because nothing reaches a disk.",
                "Keep the file on a disk-backed file system, unless losing the queue on restart is intended (tests, caches)."));
        }
        else if (type is "overlay" or "aufs")
        {
            findings.Add(new DurabilityFinding(
                "overlay-file-system", FindingSeverity.Warning,
                where + ": a container's copy-on-write layer.",
                "The file lives in the container's writable layer: it is gone when the container is removed or recreated, and writes pay the overlay's copy-up cost.",
                "Mount a volume (or a host folder) for the queue file's folder and keep the file there."));
        }
        else if (s_noJournalFileSystems.Contains(type))
        {
            findings.Add(new DurabilityFinding(
                "no-journal-file-system", FindingSeverity.Warning,
                where + ": a file system without a journal (FAT or exFAT, as on SD cards and USB sticks).",
                "A power cut during a write can damage the file system's own tables, and with them the queue file, whatever SQLite does.",
                "Format the medium with a journaling file system (ext4), or keep the queue on the device's internal storage."));
        }

        if (mount.HasOption("nobarrier") || mount.HasOption("barrier=0"))
        {
            findings.Add(new DurabilityFinding(
                "write-barriers-off", FindingSeverity.Warning,
                where + " with write barriers turned off (nobarrier).",
                "The disk may reorder or delay writes past a flush: a power cut can lose commits that were reported durable, or damage the file.",
                "Remove nobarrier / barrier=0 from the mount options, unless the storage has a battery- or capacitor-backed cache."));
        }

        // sysfs describes this machine's devices, not those of a mount table read from elsewhere.
        var device = mountId is not null || options.MountInfoPath == MountTable.DefaultPath
            ? ProcFiles.BlockDevice(mount.Major, mount.Minor)
            : default;
        if (device.Removable || device.Usb || device.Card)
        {
            var what = device.Card ? "an SD card or eMMC" : device.Usb ? "a USB-attached disk" : "a removable medium";
            findings.Add(new DurabilityFinding(
                "removable-medium", FindingSeverity.Warning,
                F($"{where}, on {what} ({device.Name})."),
                "The medium can be pulled out while the app writes, and cheap flash often acknowledges a flush before the data is safe: a power cut may lose recent commits or damage the file.",
                "Use industrial-grade media with power-loss protection, keep Durability.Full, and run the fsync probe (dq doctor --probe-fsync) to see whether flushes take real time."));
        }

        if (device.LoopBackingFile is { } backing)
        {
            findings.Add(new DurabilityFinding(
                "loop-device", FindingSeverity.Info,
                F($"{where}, a loop device backed by the image file '{backing}'."),
                "Flushes go through the file system that holds the image; the queue is as durable as that one.",
                "Run the doctor on a file next to the image as well, to check the file system underneath."));
        }

        if (findings.Count == before)
        {
            findings.Add(new DurabilityFinding(
                "local-file-system", FindingSeverity.Info,
                where + ".",
                "A local file system: SQLite's locking and flushing work as designed.",
                "Nothing to do."));
        }

        return mount;
    }

    private static void CheckDurability(List<StoreSession> live, List<DurabilityFinding> findings)
    {
        var normal = live.Where(s => s.Durability == Durability.Normal).ToList();
        if (normal.Count == 0)
        {
            return;
        }

        findings.Add(new DurabilityFinding(
            "durability-normal", FindingSeverity.Warning,
            F($"{normal.Count} open store(s) commit with Durability.Normal (process {string.Join(", ", normal.Select(s => s.ProcessId).Distinct())})."),
            "A completed commit survives a crash of the process, but not a power cut or an operating-system crash: the commits since the last WAL sync (up to the last checkpoint) can be lost. The file itself stays consistent.",
            "Use Durability.Full (the default) unless losing the last moments of work on power loss is acceptable; batches and concurrency recover most of the speed."));
    }

    private static void CheckSpace(string path, DoctorFacts facts, List<StoreSession> live, DiagnoseOptions options, List<DurabilityFinding> findings)
    {
        var usedBytes = (facts.PageCount - facts.FreePages) * facts.PageSize;
        var quota = live.Select(s => s.MaxDatabaseBytes).Where(q => q is not null).Min();
        long? free = null;
        try
        {
            free = new DriveInfo(Path.GetDirectoryName(path)!).AvailableFreeSpace;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException)
        {
        }

        if (free is { } available && available < options.MinimumFreeDiskBytes)
        {
            findings.Add(new DurabilityFinding(
                "low-disk-space", FindingSeverity.Warning,
                F($"{Bytes(available)} free on the disk of '{path}', below the threshold of {Bytes(options.MinimumFreeDiskBytes)}."),
                "When the disk is full, every write fails with StorageFullException (nothing is lost, but nothing is accepted) and the WAL cannot be checkpointed.",
                "Free disk space, or set MaxDatabaseBytes so that the queue pushes back before the disk fills."));
        }

        if (quota is { } max)
        {
            var fileBytes = facts.PageCount * facts.PageSize;
            if (free is { } room && room < max - fileBytes)
            {
                findings.Add(new DurabilityFinding(
                    "disk-smaller-than-quota", FindingSeverity.Warning,
                    F($"MaxDatabaseBytes is {Bytes(max)} but the file ({Bytes(fileBytes)}) can grow only by the {Bytes(room)} free on its disk."),
                    "The disk fills before the quota is reached: writes then fail with a full disk instead of the quota's orderly back pressure.",
                    "Lower MaxDatabaseBytes to fit the disk (leave room for the WAL), or free disk space."));
            }

            var pages = max / facts.PageSize;
            var enqueueLimitBytes = (pages - Math.Max(BackPressure.BackPressureDefaults.QuotaReservePages, pages / 16)) * facts.PageSize;
            if (usedBytes >= enqueueLimitBytes)
            {
                findings.Add(new DurabilityFinding(
                    "database-quota-reached", FindingSeverity.Error,
                    F($"The queue data uses {Bytes(usedBytes)} of the {Bytes(max)} quota (MaxDatabaseBytes): enqueues are refused."),
                    "New messages are refused (QueueFullException, or a wait) until consumers remove messages; receives, acks and nacks still work in the reserve.",
                    "Drain the queues (are consumers running?), purge what is not needed, or raise MaxDatabaseBytes."));
            }
            else if (usedBytes >= max * 8 / 10)
            {
                findings.Add(new DurabilityFinding(
                    "near-database-quota", FindingSeverity.Warning,
                    F($"The queue data uses {Bytes(usedBytes)} of the {Bytes(max)} quota (MaxDatabaseBytes)."),
                    F($"Enqueues will be refused at {Bytes(enqueueLimitBytes)}, a reserve below the quota."),
                    "Check that consumers keep up; raise MaxDatabaseBytes if the backlog is expected."));
            }
        }
    }

    private static void CheckWal(string path, MountEntry? mount, List<StoreSession> live, List<DurabilityFinding> findings)
    {
        long walBytes;
        try
        {
            var wal = new FileInfo(path + "-wal");
            walBytes = wal.Exists ? wal.Length : 0;
        }
        catch (IOException)
        {
            return;
        }

        var limit = live.Count == 0 ? DefaultJournalLimit : live.Min(s => s.JournalSizeLimitBytes);
        if (walBytes <= Math.Max(limit, 4L * 1024 * 1024))
        {
            // Below the limit, or within what one automatic checkpoint interval (1000 pages) may hold.
            return;
        }

        var who = "no process could be named";
        if (mount is not null && ProcFiles.OfOpenFile(path + "-shm").Inode is { } inode)
        {
            var readers = ProcFiles.ReadLockHolders(mount.Major, mount.Minor, inode, FirstReadMarkByte, LastReadMarkByte);
            if (readers.Count > 0)
            {
                who = "held by " + string.Join(", ", readers.Select(pid =>
                    F($"process {pid} ({ProcFiles.ProcessName(pid)}{(pid == Environment.ProcessId ? ", this process" : string.Empty)})")));
            }
            else
            {
                who = "no reader holds one now";
            }
        }

        findings.Add(new DurabilityFinding(
            "wal-over-limit", FindingSeverity.Warning,
            F($"The WAL is {Bytes(walBytes)}, past its limit of {Bytes(limit)} (JournalSizeLimitBytes); read snapshots: {who}."),
            "Checkpoints cannot copy the WAL back into the file past the oldest snapshot a reader holds open, so the WAL grows, reads slow down, and the disk fills. A long-running read transaction (an open reader, a backup, a query left open by the app) is the usual cause.",
            "End long read transactions (look at the processes named); dq compact then truncates the WAL."));
    }

    private static void CheckClock(DoctorFacts facts, DoctorContext context, long nowMs, List<DurabilityFinding> findings)
    {
        var tolerance = context.Options.ClockJumpTolerance;
        if (facts.LastCommitAtMs is { } last && last - nowMs > tolerance.TotalMilliseconds)
        {
            var behind = TimeSpan.FromMilliseconds(last - nowMs);
            findings.Add(new DurabilityFinding(
                "clock-behind-last-commit", FindingSeverity.Warning,
                F($"The clock reads {behind.TotalSeconds:0.#} s before the file's last commit: it was set back, or another machine with a clock ahead wrote the file."),
                F($"Times in the file come from the clock: leases and delays last {behind.TotalSeconds:0.#} s longer than asked, and a crashed worker's messages return that much later. New messages may sort before older ones that became ready at a later clock reading."),
                "Keep the clock synchronized (NTP) and do not set it back while the queue runs; the effect fades once the clock passes the stored times."));
        }

        if (context.OpenedClock is { } opened)
        {
            var wall = TimeSpan.FromMilliseconds(nowMs - opened.WallMs);
            var monotonic = context.Clock.GetElapsedTime(opened.Timestamp);
            var drift = wall - monotonic;
            if (drift.Duration() > tolerance)
            {
                var direction = drift > TimeSpan.Zero ? "forward" : "backward";
                findings.Add(new DurabilityFinding(
                    "clock-jumped", FindingSeverity.Warning,
                    F($"Since the store opened, the wall clock moved {drift.Duration().TotalSeconds:0.#} s {direction} against the monotonic clock (a clock change, or a machine that slept)."),
                    drift > TimeSpan.Zero
                        ? "Leases and delays are stored as wall-clock times: a jump forward ends every lease and delay early, so held messages can be handed to another consumer (whose ack wins; the first holder's ack fails with LeaseLostException)."
                        : "Leases and delays are stored as wall-clock times: a jump backward makes them last longer, so a crashed worker's messages return later.",
                    "Keep the clock synchronized with NTP (which slews instead of jumping); hosted workers renew leases at once after a jump or a sleep."));
            }
        }
    }

    private static void CheckSessions(DoctorFacts facts, DoctorContext context, List<DurabilityFinding> findings)
    {
        foreach (var ended in facts.Sessions.Where(s => facts.EndedSessionLeases.ContainsKey(s.Id)))
        {
            var leases = facts.EndedSessionLeases[ended.Id];
            findings.Add(new DurabilityFinding(
                "ended-session", FindingSeverity.Warning,
                F($"Process {ended.ProcessId} ended without closing its store; it still holds {leases} lease(s)."),
                "Its messages return when their visibility timeout ends; the next store to open the file reports it in its recovery report and clears the record.",
                "Find out why the process ended (crash, kill, power cut). Set ReleaseLeasesOfEndedSessions to hand such leases back at the next open."));
        }

        var live = facts.Sessions.Where(s => !facts.EndedSessionLeases.ContainsKey(s.Id)).ToList();
        foreach (var group in live.GroupBy(s => (s.Host, s.ProcessId, s.ProcessStart)).Where(g => g.Count() > 1))
        {
            var stores = group.ToList();
            var here = stores[0].IsThisProcess ? "this process" : F($"process {group.Key.ProcessId}");
            if (stores.Any(s => !s.SameOptionsAs(stores[0])))
            {
                findings.Add(new DurabilityFinding(
                    "stores-with-different-options", FindingSeverity.Warning,
                    F($"{stores.Count} stores in {here} have the file open with different options: {string.Join("; ", stores.Select(s => s.DescribeOptions()).Distinct())}."),
                    "Each store has its own writer and settings, so the same file gets different durability, quota or WAL limits depending on which store made a write; the two writers also take turns at the file's write lock.",
                    "Open one store per file per process and share it (register it once in dependency injection)."));
            }
            else
            {
                findings.Add(new DurabilityFinding(
                    "several-stores-in-process", FindingSeverity.Info,
                    F($"{stores.Count} stores in {here} have the file open with the same options."),
                    "Each store has its own writer: they take turns at the file's write lock instead of sharing commits.",
                    "Open one store per file per process and share it."));
            }
        }

        var others = live.Where(s => !s.IsThisProcess).Select(s => s.ProcessId).Distinct().ToList();
        if (others.Count > 0)
        {
            findings.Add(new DurabilityFinding(
                "other-processes", FindingSeverity.Info,
                F($"Other processes have the file open: {string.Join(", ", others)}."),
                "Several processes may share the file on one machine; they take turns at its write lock.",
                "Nothing to do, unless these processes are not expected."));
        }
    }

    private static void ProbeFsync(string path, DiagnoseOptions options, List<DurabilityFinding> findings)
    {
        const int Rounds = 16;
        var probe = Path.Combine(Path.GetDirectoryName(path)!, F($".{Path.GetFileName(path)}.fsync-probe-{Guid.NewGuid():N}"));
        var times = new double[Rounds];
        try
        {
            using (var handle = File.OpenHandle(probe, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, FileOptions.DeleteOnClose))
            {
                var block = new byte[4096];
                for (var i = 0; i < Rounds; i++)
                {
                    Random.Shared.NextBytes(block);
                    RandomAccess.Write(handle, block, i * (long)block.Length);
                    var start = Stopwatch.GetTimestamp();
                    RandomAccess.FlushToDisk(handle);
                    times[i] = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
                }
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            findings.Add(new DurabilityFinding(
                "fsync-probe-failed", FindingSeverity.Warning,
                F($"The fsync probe could not write next to the file: {ex.Message}"),
                "The flush time of this disk is unknown.",
                "Run the probe where the app's user may create files in the folder of the database."));
            return;
        }

        Array.Sort(times);
        var median = times[Rounds / 2];
        var summary = F($"A 4 KiB write plus flush took {median:0.#} us (median of {Rounds}; fastest {times[0]:0.#} us, slowest {times[^1]:0.#} us).");
        if (median < options.FsyncTooFastBelow.TotalMicroseconds)
        {
            findings.Add(new DurabilityFinding(
                "fsync-too-fast", FindingSeverity.Warning,
                summary,
                "A flush to stable storage takes tens of microseconds on the fastest drives with power-loss protection, and milliseconds on common ones. Faster than that, the flush did not reach stable storage: a RAM disk, a write cache that ignores flushes, or a virtual disk whose host acknowledges writes it has not stored. A power cut can then lose commits reported durable.",
                "Unless the storage has power-loss protection, turn off the write-cache setting that ignores flushes (the VM's disk cache mode, the drive's volatile cache), or move the file to storage that flushes."));
        }
        else
        {
            findings.Add(new DurabilityFinding(
                "fsync-timing", FindingSeverity.Info,
                summary,
                "Flushes take the time real storage needs; each durable commit costs about one such flush.",
                "Nothing to do; group commit, batches and several concurrent callers share flushes."));
        }
    }

    internal static string Bytes(long bytes) => bytes switch
    {
        >= 1L << 30 => F($"{bytes / (double)(1L << 30):0.##} GiB"),
        >= 1L << 20 => F($"{bytes / (double)(1L << 20):0.##} MiB"),
        >= 1L << 10 => F($"{bytes / (double)(1L << 10):0.##} KiB"),
        _ => F($"{bytes} bytes"),
    };
}
