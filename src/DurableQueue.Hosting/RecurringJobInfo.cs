namespace DurableQueue.Hosting;

/// <summary>Describes a recurring job as stored in the file: its cron expression and its last and next occurrences.</summary>
/// <param name="Name">The schedule's name.</param>
/// <param name="CronExpression">The cron expression it was last registered with.</param>
/// <param name="QueueName">The queue its jobs go to.</param>
/// <param name="NextOccurrence">The next occurrence to fire, or <see langword="null"/> when the expression has no further occurrence.</param>
/// <param name="LastOccurrence">The last occurrence that fired (or was skipped as missed), or <see langword="null"/> before the first.</param>
/// <remarks>A schedule stays in the file after its registration is removed from the app; it then no longer fires.</remarks>
public sealed record RecurringJobInfo(string Name, string CronExpression, string QueueName, DateTimeOffset? NextOccurrence, DateTimeOffset? LastOccurrence);
