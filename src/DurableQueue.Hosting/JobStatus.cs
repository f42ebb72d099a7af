namespace DurableQueue.Hosting;

/// <summary>Describes a job at the time it was read.</summary>
public sealed class JobStatus
{
    internal JobStatus(MessageId id, string queueName, JobState state)
    {
        Id = id;
        QueueName = queueName;
        State = state;
    }

    /// <summary>Gets the job id, which is the id of the job's message.</summary>
    public MessageId Id { get; }

    /// <summary>Gets the name of the queue the job runs on.</summary>
    public string QueueName { get; }

    /// <summary>Gets where the job stands.</summary>
    public JobState State { get; }

    /// <summary>Gets a value indicating whether the job will not change state again (succeeded, dead-lettered or cancelled).</summary>
    public bool IsFinal => State is JobState.Succeeded or JobState.DeadLettered or JobState.Cancelled;

    /// <summary>Gets how many attempts were started.</summary>
    public int Attempts { get; internal init; }

    /// <summary>Gets the time the job was submitted.</summary>
    public DateTimeOffset CreatedAt { get; internal init; }

    /// <summary>Gets the time the job was scheduled to run, or <see langword="null"/> when it could run at once.</summary>
    public DateTimeOffset? RunAt { get; internal init; }

    /// <summary>Gets the time the latest attempt started, or <see langword="null"/> before the first one.</summary>
    public DateTimeOffset? StartedAt { get; internal init; }

    /// <summary>Gets the time of the next attempt while the job is retrying or scheduled, or <see langword="null"/>.</summary>
    public DateTimeOffset? NextAttemptAt { get; internal init; }

    /// <summary>Gets the time the job succeeded, was dead-lettered or was cancelled, or <see langword="null"/>.</summary>
    public DateTimeOffset? CompletedAt { get; internal init; }

    /// <summary>Gets the error of the latest failed attempt, or <see langword="null"/>.</summary>
    public string? LastError { get; internal init; }

    /// <summary>Gets a value indicating whether the job stored a result.</summary>
    public bool HasResult { get; internal init; }
}
