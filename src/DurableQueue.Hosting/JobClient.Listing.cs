namespace DurableQueue.Hosting;

// Listing for monitoring: pages of jobs, newest first, and the recurring schedules.
public sealed partial class JobClient
{
    /// <summary>Lists jobs, newest first, a page at a time (for dashboards and tools).</summary>
    /// <param name="maxCount">The most jobs to return, from 1 to 1000.</param>
    /// <param name="before">Return only jobs with a smaller id (pass the last id of a page for the next one), or <see langword="null"/> to start at the newest.</param>
    /// <param name="cancellationToken">A token to cancel the operation.</param>
    /// <returns>The jobs' statuses as <see cref="GetStatusAsync(MessageId, CancellationToken)"/> reads them; empty after the last page.</returns>
    /// <remarks>Finished jobs are listed until their retention time ends. Each unfinished job on the page costs a read of its message.</remarks>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxCount"/> is out of range.</exception>
    public ValueTask<IReadOnlyList<JobStatus>> GetJobsAsync(int maxCount = 50, MessageId? before = null, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxCount, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maxCount, 1000);
        return _jobs.ListAsync(maxCount, before?.Value ?? long.MaxValue, cancellationToken);
    }

    /// <summary>Lists the recurring jobs stored in the file, by name, with their last and next occurrences.</summary>
    /// <param name="cancellationToken">A token to cancel the operation.</param>
    /// <returns>The schedules; empty when none was ever registered.</returns>
    /// <remarks>The list includes the schedules of every process that shares the file.</remarks>
    public ValueTask<IReadOnlyList<RecurringJobInfo>> GetRecurringJobsAsync(CancellationToken cancellationToken = default) =>
        _jobs.ListSchedulesAsync(cancellationToken);
}
