using System.Globalization;
using System.Text;

namespace DurableQueue;

/// <summary>
/// Describes how the previous use of a store file ended, as found by <see cref="QueueStore.Open"/>: cleanly, or with a
/// process that ended without closing its store (a crash, a kill, a power cut), and what that left behind.
/// </summary>
/// <remarks>
/// <para>Each open store records its session in the file and removes the record when it is disposed. A record whose
/// process no longer runs marks an unclean end. Sessions of processes on another machine or container cannot be checked
/// and are taken as still running.</para>
/// <para>Nothing here needs an action to be safe: leases left by an ended session return when their visibility timeout
/// ends (or at once with <see cref="QueueStoreOptions.ReleaseLeasesOfEndedSessions"/>), and last attempts whose lease
/// expired are dead-lettered as the store opens. The report says what happened.</para>
/// </remarks>
public sealed class RecoveryReport
{
    internal RecoveryReport()
    {
    }

    /// <summary>Gets a value indicating whether the backend records sessions (a SQLite file does); when not, the report is empty.</summary>
    internal bool IsRecorded { get; init; } = true;

    /// <summary>Gets a value indicating whether every earlier session closed its store cleanly (also true for a new file).</summary>
    public bool IsClean => EndedSessions == 0;

    /// <summary>Gets a value indicating whether the file had no queue tables before this open.</summary>
    public bool IsNewFile { get; internal init; }

    /// <summary>Gets the time this store opened the file, from the store's clock.</summary>
    public DateTimeOffset OpenedAt { get; internal init; }

    /// <summary>Gets the number of sessions whose process ended without closing its store.</summary>
    public int EndedSessions { get; internal init; }

    /// <summary>Gets the process ids of the sessions that ended without closing their store.</summary>
    public IReadOnlyList<int> EndedProcessIds { get; internal init; } = [];

    /// <summary>Gets the number of other sessions open on the file when this store opened (in this or another process).</summary>
    public int OtherOpenSessions { get; internal init; }

    /// <summary>
    /// Gets the time of the last commit before this open, by the clock of the process that made it; null for a new file
    /// or a file last written by a version that did not record it.
    /// </summary>
    public DateTimeOffset? LastCommitAt { get; internal init; }

    /// <summary>Gets the time from <see cref="LastCommitAt"/> to <see cref="OpenedAt"/>; null when either is unknown or the clock is behind the last commit.</summary>
    public TimeSpan? SinceLastCommit => LastCommitAt is { } last && OpenedAt >= last ? OpenedAt - last : null;

    /// <summary>Gets the number of messages still leased to ended sessions when this store opened (their lease was not yet expired).</summary>
    public int LeasesLeft { get; internal init; }

    /// <summary>Gets the number of leases of ended sessions that had already expired; those messages were ready again (or their last attempt was dead-lettered).</summary>
    public int LeasesExpired { get; internal init; }

    /// <summary>Gets the time the last of <see cref="LeasesLeft"/> returns by its visibility timeout; null when none is left.</summary>
    public DateTimeOffset? LeasesReturnBy { get; internal init; }

    /// <summary>Gets a value indicating whether the <see cref="LeasesLeft"/> were released at once, by <see cref="QueueStoreOptions.ReleaseLeasesOfEndedSessions"/>.</summary>
    public bool LeasesReleased { get; internal init; }

    /// <summary>Gets the number of messages on their last attempt whose lease had expired with no store to act on it; they are dead-lettered as the store opens.</summary>
    public int LastAttemptsDeadLettered { get; internal init; }

    /// <summary>Gets the number of delayed or retrying messages that came due between <see cref="LastCommitAt"/> and <see cref="OpenedAt"/>.</summary>
    public int DelayedMessagesCameDue { get; internal init; }

    /// <summary>
    /// Gets a value indicating whether SQLite replayed a write-ahead log left by an ended process: commits that were
    /// durable in the WAL but not yet copied into the main file. They are part of the file again.
    /// </summary>
    public bool WalReplayed { get; internal init; }

    /// <summary>Gets the size, in bytes, of the WAL file found before this open.</summary>
    public long WalBytesFound { get; internal init; }

    /// <summary>Returns the report in one line, as the hosted store logs it.</summary>
    /// <returns>The report as text.</returns>
    public override string ToString()
    {
        var text = new StringBuilder();
        var c = CultureInfo.InvariantCulture;
        if (!IsRecorded)
        {
            return "no recovery report: this backend does not record sessions";
        }

        if (IsNewFile)
        {
            return "new file: nothing to recover";
        }

        if (IsClean)
        {
            text.Append("clean start: the previous session closed its store");
            if (LastCommitAt is { } last)
            {
                text.Append(c, $" (last commit {last:yyyy-MM-dd HH:mm:ss.fff}Z)");
            }
        }
        else
        {
            text.Append(c, $"unclean end: {EndedSessions} session(s) ended without closing the store (process {string.Join(", ", EndedProcessIds)})");
            if (LastCommitAt is { } last)
            {
                text.Append(c, $"; last commit {last:yyyy-MM-dd HH:mm:ss.fff}Z");
            }

            text.Append(c, $"; {LeasesLeft} lease(s) left");
            if (LeasesLeft > 0)
            {
                text.Append(LeasesReleased ? ", released at once" : string.Create(c, $", returning by {LeasesReturnBy:yyyy-MM-dd HH:mm:ss.fff}Z"));
            }

            text.Append(c, $"; {LeasesExpired} lease(s) already expired; {LastAttemptsDeadLettered} last attempt(s) dead-lettered");
            text.Append(c, $"; WAL {(WalReplayed ? "replayed" : "not replayed")} ({WalBytesFound} bytes found)");
        }

        if (SinceLastCommit is { } gap)
        {
            text.Append(c, $"; closed for {gap.TotalSeconds:0.###} s, {DelayedMessagesCameDue} delayed message(s) came due meanwhile");
        }

        if (OtherOpenSessions > 0)
        {
            text.Append(c, $"; {OtherOpenSessions} other session(s) open");
        }

        return text.ToString();
    }
}
