namespace DurableQueue.Hosting;

/// <summary>Specifies where a job stands.</summary>
public enum JobState
{
    /// <summary>The job waits in its queue and can run now.</summary>
    Pending = 0,

    /// <summary>The job waits for its run-at time.</summary>
    Scheduled = 1,

    /// <summary>A handler runs the job under a lease.</summary>
    Running = 2,

    /// <summary>An attempt failed and the job will run again (after its retry delay).</summary>
    Retrying = 3,

    /// <summary>The job ran successfully; its result, if any, can be read until the retention time ends.</summary>
    Succeeded = 4,

    /// <summary>The job failed its last allowed attempt and moved to the dead-letter store.</summary>
    DeadLettered = 5,

    /// <summary>The job was cancelled before it ran (or its message was removed outside the job API).</summary>
    Cancelled = 6,
}
