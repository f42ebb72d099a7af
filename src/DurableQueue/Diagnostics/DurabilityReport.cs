namespace DurableQueue;

/// <summary>Specifies how serious a finding of the durability doctor is.</summary>
public enum FindingSeverity
{
    /// <summary>A fact worth knowing; nothing is at risk.</summary>
    Info = 0,

    /// <summary>A setting or place that weakens a guarantee (data may be lost on power loss or reboot, or work stops when a limit is reached).</summary>
    Warning = 1,

    /// <summary>A place or state where the queue cannot keep its promises (locking or flushing not safe, writes refused).</summary>
    Error = 2,
}

/// <summary>Represents one finding of the durability doctor: what was found, what it means and what to do.</summary>
public sealed class DurabilityFinding
{
    internal DurabilityFinding(string code, FindingSeverity severity, string summary, string meaning, string advice)
    {
        Code = code;
        Severity = severity;
        Summary = summary;
        Meaning = meaning;
        Advice = advice;
    }

    /// <summary>Gets the stable code of the finding, for example <c>network-file-system</c>; docs/operations.md lists every code.</summary>
    public string Code { get; }

    /// <summary>Gets how serious the finding is.</summary>
    public FindingSeverity Severity { get; }

    /// <summary>Gets what was found, in one sentence with its figures.</summary>
    public string Summary { get; }

    /// <summary>Gets what the finding means for the queue's guarantees.</summary>
    public string Meaning { get; }

    /// <summary>Gets what to do about it.</summary>
    public string Advice { get; }

    /// <summary>Returns the severity, code and summary in one line.</summary>
    /// <returns>The finding as text.</returns>
    public override string ToString() => $"{Severity.ToString().ToUpperInvariant()} {Code}: {Summary}";
}

/// <summary>Represents the result of <see cref="QueueStore.DiagnoseAsync"/> or <see cref="StoreInspector.DiagnoseAsync"/>: every finding about the place and settings of a store file.</summary>
public sealed class DurabilityReport
{
    internal DurabilityReport(string path, DateTimeOffset checkedAt, string? fileSystem, string? mountPoint, string? device, IReadOnlyList<DurabilityFinding> findings)
    {
        Path = path;
        CheckedAt = checkedAt;
        FileSystem = fileSystem;
        MountPoint = mountPoint;
        Device = device;
        Findings = findings;
    }

    /// <summary>Gets the full path of the database file.</summary>
    public string Path { get; }

    /// <summary>Gets the time of the check, from the store's clock.</summary>
    public DateTimeOffset CheckedAt { get; }

    /// <summary>Gets the type of the file system that holds the file (for example <c>ext4</c>, <c>nfs4</c>, <c>tmpfs</c>); null where it cannot be read.</summary>
    public string? FileSystem { get; }

    /// <summary>Gets the mount point of that file system; null where it cannot be read.</summary>
    public string? MountPoint { get; }

    /// <summary>Gets the device or source of that file system (for example <c>/dev/sda1</c> or <c>server:/export</c>); null where it cannot be read.</summary>
    public string? Device { get; }

    /// <summary>Gets the findings, the most serious first.</summary>
    public IReadOnlyList<DurabilityFinding> Findings { get; }

    /// <summary>Gets the severity of the most serious finding (<see cref="FindingSeverity.Info"/> when there is nothing worse).</summary>
    public FindingSeverity HighestSeverity => Findings.Count == 0 ? FindingSeverity.Info : Findings.Max(f => f.Severity);

    /// <summary>Gets a value indicating whether there is no warning and no error.</summary>
    public bool IsHealthy => HighestSeverity == FindingSeverity.Info;
}

/// <summary>Represents the options of a durability check.</summary>
public sealed class DiagnoseOptions
{
    /// <summary>
    /// Gets or sets a value indicating whether to measure how long the disk takes to flush (a few small synced writes to
    /// a temporary file next to the database). A flush far faster than storage can make one is the sign of a disk or
    /// virtual machine that acknowledges writes it has not stored.
    /// </summary>
    /// <value>The default value is <see langword="false"/>: the probe writes to the disk, so it runs only when asked.</value>
    public bool ProbeFsync { get; set; }

    /// <summary>Gets or sets the free disk space, in bytes, below which the doctor warns.</summary>
    /// <value>The default value is 256 MiB.</value>
    public long MinimumFreeDiskBytes { get; set; } = 256L * 1024 * 1024;

    /// <summary>Gets or sets how far the wall clock may move apart from the monotonic clock, or lag behind the last commit, before the doctor reports a clock jump.</summary>
    /// <value>The default value is 1 minute.</value>
    public TimeSpan ClockJumpTolerance { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Gets or sets the median flush time below which the fsync probe reports a flush that cannot be real.</summary>
    /// <value>The default value is 50 microseconds.</value>
    public TimeSpan FsyncTooFastBelow { get; set; } = TimeSpan.FromMicroseconds(50);

    /// <summary>Gets or sets the mount table to read instead of <c>/proc/self/mountinfo</c> (tests).</summary>
    internal string MountInfoPath { get; set; } = Diagnostics.MountTable.DefaultPath;

    internal DiagnoseOptions Validated()
    {
        ArgumentOutOfRangeException.ThrowIfNegative(MinimumFreeDiskBytes, nameof(MinimumFreeDiskBytes));
        ArgumentOutOfRangeException.ThrowIfLessThan(ClockJumpTolerance, TimeSpan.Zero, nameof(ClockJumpTolerance));
        ArgumentOutOfRangeException.ThrowIfLessThan(FsyncTooFastBelow, TimeSpan.Zero, nameof(FsyncTooFastBelow));
        return (DiagnoseOptions)MemberwiseClone();
    }
}
