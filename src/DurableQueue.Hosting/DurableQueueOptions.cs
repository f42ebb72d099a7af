using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace DurableQueue.Hosting;

/// <summary>
/// Represents the options of the queue store registered by <c>AddDurableQueue</c>, bound from the <c>DurableQueue</c>
/// configuration section and validated when the host starts.
/// </summary>
public sealed class DurableQueueOptions
{
    /// <summary>Gets or sets the path of the database file; it is created if it does not exist.</summary>
    /// <value>
    /// The default value is <see langword="null"/>; a path is required unless the store comes from another backend
    /// (<see cref="DurableQueueBuilder.UseStore"/>, or the PostgreSQL package's <c>UsePostgres</c>).
    /// </value>
    public string? Path { get; set; }

    /// <summary>Gets or sets what a completed commit survives.</summary>
    /// <value>The default value is <see cref="DurableQueue.Durability.Full"/>.</value>
    public Durability Durability { get; set; } = Durability.Full;

    /// <summary>
    /// Gets or sets a value indicating whether leases left by a process that ended without closing the store are released
    /// when the store opens, instead of when their visibility timeout ends (see <see cref="QueueStoreOptions.ReleaseLeasesOfEndedSessions"/>).
    /// </summary>
    /// <value>The default value is <see langword="false"/>.</value>
    public bool ReleaseLeasesOfEndedSessions { get; set; }

    /// <summary>Gets or sets how often a waiting worker looks for messages committed by other processes sharing the file.</summary>
    /// <value>The default value is 250 milliseconds.</value>
    [Range(typeof(TimeSpan), "00:00:00.001", "01:00:00")]
    public TimeSpan PollInterval { get; set; } = HostingDefaults.PollInterval;

    /// <summary>Gets or sets how long a write waits for another process that holds the file's write lock.</summary>
    /// <value>The default value is 30 seconds.</value>
    [Range(typeof(TimeSpan), "00:00:00.001", "01:00:00")]
    public TimeSpan BusyTimeout { get; set; } = HostingDefaults.BusyTimeout;

    /// <summary>Gets or sets how long a finished job's status and result are kept before they are cleaned up.</summary>
    /// <value>The default value is 1 day.</value>
    [Range(typeof(TimeSpan), "00:00:00", "3650.00:00:00")]
    public TimeSpan JobRetention { get; set; } = HostingDefaults.JobRetention;

    /// <summary>Gets or sets how often expired job statuses and results are removed.</summary>
    /// <value>The default value is 1 minute.</value>
    [Range(typeof(TimeSpan), "00:00:00.001", "1.00:00:00")]
    public TimeSpan CleanupInterval { get; set; } = HostingDefaults.CleanupInterval;

    /// <summary>
    /// Gets or sets how often a wait for a job's completion looks again; a job finished in this process wakes it at once,
    /// this interval serves jobs finished by other processes.
    /// </summary>
    /// <value>The default value is 1 second.</value>
    [Range(typeof(TimeSpan), "00:00:00.001", "01:00:00")]
    public TimeSpan JobPollInterval { get; set; } = HostingDefaults.JobPollInterval;

    /// <summary>Gets or sets how often the queue depth and oldest-message age reported as metrics are refreshed.</summary>
    /// <value>The default value is 15 seconds.</value>
    [Range(typeof(TimeSpan), "00:00:00.001", "1.00:00:00")]
    public TimeSpan MonitorInterval { get; set; } = HostingDefaults.MonitorInterval;

    /// <summary>
    /// Gets or sets a value indicating whether a recurring job whose occurrence passed while no process was running fires
    /// once when the app starts. Only one firing happens however many occurrences were missed.
    /// </summary>
    /// <value>The default value is <see langword="true"/>.</value>
    public bool RunMissedRecurringJobs { get; set; } = true;

    /// <summary>Gets or sets the thresholds of the health check.</summary>
    /// <value>The default thresholds are described on <see cref="DurableQueueHealthOptions"/>.</value>
    [ValidateObjectMembers]
    public DurableQueueHealthOptions Health { get; set; } = new();

    /// <summary>
    /// Gets or sets the clock; <see langword="null"/> uses the <see cref="System.TimeProvider"/> registered in the
    /// container, or the system clock.
    /// </summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public TimeProvider? TimeProvider { get; set; }
}

/// <summary>Represents the thresholds at which the queue health check reports degraded or unhealthy.</summary>
public sealed class DurableQueueHealthOptions
{
    /// <summary>Gets or sets the age of the oldest ready message (since it was enqueued) above which a queue is degraded.</summary>
    /// <value>The default value is 1 minute.</value>
    [Range(typeof(TimeSpan), "00:00:00", "3650.00:00:00")]
    public TimeSpan OldestMessageAgeDegraded { get; set; } = HostingDefaults.OldestMessageAgeDegraded;

    /// <summary>Gets or sets the age of the oldest ready message above which a queue is unhealthy.</summary>
    /// <value>The default value is 10 minutes.</value>
    [Range(typeof(TimeSpan), "00:00:00", "3650.00:00:00")]
    public TimeSpan OldestMessageAgeUnhealthy { get; set; } = HostingDefaults.OldestMessageAgeUnhealthy;

    /// <summary>
    /// Gets or sets the window over which new dead letters are counted: a queue's health looks at how many messages were
    /// dead-lettered lately, not at how many dead letters wait for someone to look at them.
    /// </summary>
    /// <value>The default value is 5 minutes.</value>
    [Range(typeof(TimeSpan), "00:00:01", "7.00:00:00")]
    public TimeSpan DeadLetterWindow { get; set; } = HostingDefaults.DeadLetterWindow;

    /// <summary>Gets or sets the number of messages dead-lettered within <see cref="DeadLetterWindow"/> at or above which a queue is degraded.</summary>
    /// <value>The default value is 5; <see langword="null"/> turns the check off.</value>
    [Range(1, long.MaxValue)]
    public long? NewDeadLettersDegraded { get; set; } = HostingDefaults.NewDeadLettersDegraded;

    /// <summary>Gets or sets the number of messages dead-lettered within <see cref="DeadLetterWindow"/> at or above which a queue is unhealthy.</summary>
    /// <value>The default value is <see langword="null"/>: dead letters alone never make a queue unhealthy.</value>
    [Range(1, long.MaxValue)]
    public long? NewDeadLettersUnhealthy { get; set; }

    /// <summary>Gets or sets the number of dead letters in a queue (however old) at or above which it is degraded.</summary>
    /// <value>The default value is <see langword="null"/> (off): one old dead letter should not keep a service degraded.</value>
    [Range(1, long.MaxValue)]
    public long? DeadLettersDegraded { get; set; }

    /// <summary>Gets or sets the number of dead letters in a queue (however old) at or above which it is unhealthy.</summary>
    /// <value>The default value is <see langword="null"/> (off).</value>
    [Range(1, long.MaxValue)]
    public long? DeadLettersUnhealthy { get; set; }
}
