namespace DurableQueue.Storage;

// Recovery report and durability doctor: session rows and the last commit time in dq_meta (no schema change).
internal static partial class Sql
{
    // The commit marker and the commit time in ONE statement (two rows of the one-page dq_meta): the time of the last
    // commit costs no extra statement per commit.
    public const string WriteCommitMarkerAndTime =
        "UPDATE dq_meta SET value = CASE key WHEN 'last_commit' THEN @marker ELSE @now END WHERE key IN ('last_commit', 'last_commit_at');";
    public const string ReadLastCommitAt = "SELECT value FROM dq_meta WHERE key = 'last_commit_at';";
    public const string EnsureLastCommitAt = "INSERT INTO dq_meta(key, value) VALUES ('last_commit_at', @now) ON CONFLICT(key) DO NOTHING;";
    public const string WriteLastCommitAt = "UPDATE dq_meta SET value = @now WHERE key = 'last_commit_at';";

    public const string Sessions = "SELECT key, value FROM dq_meta WHERE key >= 'session:' AND key < 'session;';";
    public const string InsertSession = "INSERT INTO dq_meta(key, value) VALUES (@key, @value) ON CONFLICT(key) DO UPDATE SET value = excluded.value;";
    public const string DeleteSession = "DELETE FROM dq_meta WHERE key = @key;";

    // A lease token starts with the 8-byte id of the session that took it. Run only after an unclean end (a scan).
    public const string SessionLeases =
        "SELECT count(*), coalesce(sum(visible_at > @now), 0), max(CASE WHEN visible_at > @now THEN visible_at END) " +
        "FROM dq_messages WHERE lease_token IS NOT NULL AND substr(lease_token, 1, 8) = @prefix;";
    // Expiring the lease now is exactly what its visibility timeout would do later: the message is ready again, and a
    // last attempt is dead-lettered by the sweep that starts the store's first write batch.
    public const string ReleaseSessionLeases =
        "UPDATE dq_messages SET visible_at = @now WHERE lease_token IS NOT NULL AND substr(lease_token, 1, 8) = @prefix AND visible_at > @now;";
    public const string CountExpiredFinalLeases =
        "SELECT count(*) FROM dq_messages WHERE lease_token IS NOT NULL AND attempts >= max_attempts AND visible_at <= @now;";
    // Range seeks on dq_messages_ready per queue and priority.
    public const string DelayedCameDue =
        "SELECT count(*) FROM dq_messages WHERE queue_id IN (SELECT id FROM dq_queues) AND " + Priorities +
        " AND visible_at > @since AND visible_at <= @now AND lease_token IS NULL;";

}
