using Microsoft.Extensions.Logging;

namespace DurableQueue.Hosting;

/// <summary>Every log message of the hosting layer, source-generated, with stable event ids (do not renumber).</summary>
internal static partial class Log
{
    [LoggerMessage(1, LogLevel.Information, "Worker for queue '{Queue}' started with concurrency {Concurrency}.", EventName = "WorkerStarted")]
    public static partial void WorkerStarted(ILogger logger, string queue, int concurrency);

    [LoggerMessage(2, LogLevel.Information, "Worker for queue '{Queue}' stopped.", EventName = "WorkerStopped")]
    public static partial void WorkerStopped(ILogger logger, string queue);

    // An attempt that will be retried is expected: one line with the error's type and message, no stack trace. The last
    // attempt's failure (MessageDeadLettered) carries the exception with its stack.
    [LoggerMessage(3, LogLevel.Warning, "Handler for queue '{Queue}' failed on message {MessageId} (attempt {Attempt} of {MaxAttempts}); retrying in {RetryDelay}: {Error}", EventName = "HandlerFailed")]
    public static partial void HandlerFailed(ILogger logger, string queue, long messageId, int attempt, int maxAttempts, TimeSpan retryDelay, string error);

    [LoggerMessage(4, LogLevel.Error, "Message {MessageId} of queue '{Queue}' moved to the dead-letter store after attempt {Attempt} of {MaxAttempts}.", EventName = "MessageDeadLettered")]
    public static partial void MessageDeadLettered(ILogger logger, Exception exception, string queue, long messageId, int attempt, int maxAttempts);

    [LoggerMessage(5, LogLevel.Warning, "The lease of message {MessageId} of queue '{Queue}' could not be extended; the handler is cancelled.", EventName = "LeaseExtensionFailed")]
    public static partial void LeaseExtensionFailed(ILogger logger, Exception exception, string queue, long messageId);

    [LoggerMessage(6, LogLevel.Warning, "The lease of message {MessageId} of queue '{Queue}' was lost before it was settled; another consumer may handle it again.", EventName = "LeaseLost")]
    public static partial void LeaseLost(ILogger logger, string queue, long messageId);

    [LoggerMessage(7, LogLevel.Information, "Worker for queue '{Queue}' handed back {Count} unfinished message(s) at shutdown.", EventName = "MessagesReleased")]
    public static partial void MessagesReleased(ILogger logger, string queue, int count);

    [LoggerMessage(8, LogLevel.Error, "Worker for queue '{Queue}' could not receive messages.", EventName = "ReceiveFailed")]
    public static partial void ReceiveFailed(ILogger logger, Exception exception, string queue);

    [LoggerMessage(9, LogLevel.Error, "Message {MessageId} of queue '{Queue}' could not be settled.", EventName = "SettleFailed")]
    public static partial void SettleFailed(ILogger logger, Exception exception, string queue, long messageId);

    [LoggerMessage(10, LogLevel.Information, "Job {MessageId} of queue '{Queue}' was cancelled; its message is removed without running.", EventName = "CancelledJobSkipped")]
    public static partial void CancelledJobSkipped(ILogger logger, string queue, long messageId);

    [LoggerMessage(11, LogLevel.Error, "Message {MessageId} of queue '{Queue}' cannot be read and was dead-lettered: {Reason}", EventName = "UnreadableMessage")]
    public static partial void UnreadableMessage(ILogger logger, string queue, long messageId, string reason);

    [LoggerMessage(12, LogLevel.Information, "Recurring job '{Name}' fired for {Occurrence:o} as job {MessageId}.", EventName = "RecurringJobFired")]
    public static partial void RecurringJobFired(ILogger logger, string name, DateTimeOffset occurrence, long messageId);

    [LoggerMessage(13, LogLevel.Information, "Recurring job '{Name}' missed {Occurrence:o} while no process ran; it is skipped (RunMissedRecurringJobs is off).", EventName = "RecurringJobMissed")]
    public static partial void RecurringJobMissed(ILogger logger, string name, DateTimeOffset occurrence);

    [LoggerMessage(14, LogLevel.Error, "Recurring job '{Name}' could not be scheduled.", EventName = "RecurringJobFailed")]
    public static partial void RecurringJobFailed(ILogger logger, Exception exception, string name);

    [LoggerMessage(15, LogLevel.Debug, "Removed {Count} finished job(s) past their retention time.", EventName = "JobsCleanedUp")]
    public static partial void JobsCleanedUp(ILogger logger, int count);

    [LoggerMessage(16, LogLevel.Warning, "Queue maintenance (job cleanup or metrics refresh) failed.", EventName = "MaintenanceFailed")]
    public static partial void MaintenanceFailed(ILogger logger, Exception exception);

    [LoggerMessage(17, LogLevel.Debug, "Handler for queue '{Queue}' completed message {MessageId} (attempt {Attempt}).", EventName = "MessageCompleted")]
    public static partial void MessageCompleted(ILogger logger, string queue, long messageId, int attempt);
}
