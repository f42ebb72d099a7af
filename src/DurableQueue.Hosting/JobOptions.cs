namespace DurableQueue.Hosting;

/// <summary>Represents the options of one submitted job.</summary>
public sealed class JobOptions
{
    /// <summary>Gets or sets how long after submission the job may run.</summary>
    /// <value>The default value is <see langword="null"/>: at once.</value>
    public TimeSpan? Delay { get; set; }

    /// <summary>Gets or sets the earliest time the job may run; when <see cref="Delay"/> is set too, the later one wins.</summary>
    /// <value>The default value is <see langword="null"/>: at once.</value>
    public DateTimeOffset? RunAt { get; set; }

    /// <summary>Gets or sets the priority, from 0 (most urgent) to 9.</summary>
    /// <value>The default value is 4.</value>
    public int Priority { get; set; } = EnqueueOptions.DefaultPriority;

    /// <summary>Gets or sets how many attempts the job gets before it is dead-lettered.</summary>
    /// <value>The default value is <see langword="null"/>: the queue handler's <see cref="QueueHandlerOptions.MaxAttempts"/>.</value>
    public int? MaxAttempts { get; set; }

    /// <summary>Gets or sets a key that makes the submission idempotent while a job with the same key waits in the queue.</summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public string? DeduplicationKey { get; set; }
}
