namespace DurableQueue.Hosting.Storage;

// Listing jobs and schedules for monitoring (the dashboard, tools): one query for a page of rows, then the live state
// of each unfinished job from its message, exactly as a single status read does.
internal sealed partial class JobStore
{
    private const string ListJobsSql =
        "SELECT j.id, j.queue, j.state, j.created_at, j.run_at, j.attempts, j.started_at, j.completed_at, j.last_error, " +
        "r.id IS NOT NULL FROM dq_jobs j LEFT JOIN dq_job_results r ON r.id = j.id WHERE j.id < @before ORDER BY j.id DESC LIMIT @limit;";

    private const string ListSchedulesSql = "SELECT name, cron, queue, next_at, last_fired_at FROM dq_schedules ORDER BY name;";

    public async ValueTask<IReadOnlyList<JobStatus>> ListAsync(int maxCount, long before, CancellationToken cancellationToken)
    {
        await EnsureReadyAsync(cancellationToken).ConfigureAwait(false);
        var rows = Read(c =>
        {
            var list = new List<(long Id, JobRow Row)>();
            using var command = c.Command(ListJobsSql, ("@before", before), ("@limit", maxCount));
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                list.Add((reader.GetInt64(0), new JobRow(
                    reader.GetString(1), reader.GetString(2), reader.GetInt64(3), Nullable(reader, 4), reader.GetInt32(5), Nullable(reader, 6),
                    Nullable(reader, 7), reader.IsDBNull(8) ? null : reader.GetString(8), reader.GetBoolean(9))));
            }

            return list;
        });

        var jobs = new List<JobStatus>(rows.Count);
        foreach (var (id, row) in rows)
        {
            var jobId = new MessageId(id);
            var status = row.State switch
            {
                // Final for good: neither can change again.
                "succeeded" => row.ToStatus(jobId, JobState.Succeeded),
                "cancelled" => row.ToStatus(jobId, JobState.Cancelled),
                // Live (or dead-lettered, which a requeue brings back): the message tells where it stands.
                _ => await GetStatusAsync(jobId, cancellationToken).ConfigureAwait(false),
            };
            if (status is not null)
            {
                jobs.Add(status);
            }
        }

        return jobs;
    }

    public async ValueTask<IReadOnlyList<RecurringJobInfo>> ListSchedulesAsync(CancellationToken cancellationToken)
    {
        await EnsureReadyAsync(cancellationToken).ConfigureAwait(false);
        return Read(c =>
        {
            var list = new List<RecurringJobInfo>();
            using var command = c.Command(ListSchedulesSql);
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                var next = reader.GetInt64(3);
                list.Add(new RecurringJobInfo(
                    reader.GetString(0),
                    reader.GetString(1),
                    reader.GetString(2),
                    next == long.MaxValue ? null : FromMs(next),
                    FromMs(Nullable(reader, 4))));
            }

            return list;
        });
    }
}
