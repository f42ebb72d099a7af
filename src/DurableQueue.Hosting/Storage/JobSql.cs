namespace DurableQueue.Hosting.Storage;

/// <summary>Every SQL statement of the hosting layer, in one place. Times are parameters, never SQLite's clock.</summary>
internal static class JobSql
{
    public const string ReadVersion = "SELECT value FROM dq_meta WHERE key = 'hosting_schema_version';";
    public const string WriteVersion =
        "INSERT INTO dq_meta(key, value) VALUES ('hosting_schema_version', @version) ON CONFLICT(key) DO UPDATE SET value = excluded.value;";

    public const string InsertJob =
        "INSERT INTO dq_jobs(id, queue, state, created_at, run_at) VALUES (@id, @queue, 'pending', @now, @runAt) " +
        "ON CONFLICT(id) DO NOTHING;";

    // A claim fails only for a job that was cancelled (or already succeeded): its message is then acked unhandled.
    public const string ClaimJob =
        "UPDATE dq_jobs SET state = 'running', started_at = @now, attempts = @attempt " +
        "WHERE id = @id AND state NOT IN ('succeeded', 'cancelled');";
    public const string JobState = "SELECT state FROM dq_jobs WHERE id = @id;";

    public const string JobSucceeded =
        "UPDATE dq_jobs SET state = 'succeeded', completed_at = @now, attempts = @attempt, last_error = NULL, expires_at = @expires " +
        "WHERE id = @id;";
    public const string InsertResult = "INSERT INTO dq_job_results(id, result) VALUES (@id, @result) ON CONFLICT(id) DO UPDATE SET result = excluded.result;";
    public const string JobFailed =
        "UPDATE dq_jobs SET state = @state, attempts = @attempt, last_error = @error, " +
        "completed_at = CASE WHEN @state = 'dead_lettered' THEN @now END, " +
        "expires_at = CASE WHEN @state = 'dead_lettered' THEN @expires END WHERE id = @id;";
    public const string JobReleased = "UPDATE dq_jobs SET state = 'pending' WHERE id = @id AND state = 'running';";
    public const string CancelJob =
        "UPDATE dq_jobs SET state = 'cancelled', completed_at = @now, expires_at = @expires " +
        "WHERE id = @id AND state IN ('pending', 'retrying');";

    public const string ReadJob =
        "SELECT j.queue, j.state, j.created_at, j.run_at, j.attempts, j.started_at, j.completed_at, j.last_error, " +
        "r.id IS NOT NULL FROM dq_jobs j LEFT JOIN dq_job_results r ON r.id = j.id WHERE j.id = @id;";
    public const string ReadResult =
        "SELECT r.result FROM dq_job_results r JOIN dq_jobs j ON j.id = r.id WHERE r.id = @id AND j.state = 'succeeded';";

    public const string ExpiredJobs = "SELECT id FROM dq_jobs WHERE expires_at IS NOT NULL AND expires_at <= @now LIMIT @limit;";
    public const string DeleteResult = "DELETE FROM dq_job_results WHERE id = @id;";
    public const string DeleteJob = "DELETE FROM dq_jobs WHERE id = @id;";

    public const string ReadSchedule = "SELECT cron, next_at FROM dq_schedules WHERE name = @name;";
    public const string InsertSchedule =
        "INSERT INTO dq_schedules(name, cron, queue, next_at, updated_at) VALUES (@name, @cron, @queue, @next, @now);";
    public const string ResetSchedule =
        "UPDATE dq_schedules SET cron = @cron, queue = @queue, next_at = @next, updated_at = @now WHERE name = @name;";
    public const string AdvanceSchedule =
        "UPDATE dq_schedules SET next_at = @next, last_fired_at = @fired, updated_at = @now WHERE name = @name AND next_at = @old;";
}
