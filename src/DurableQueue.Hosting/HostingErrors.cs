using System.Globalization;

namespace DurableQueue.Hosting;

/// <summary>Every error message of the hosting layer, in one place.</summary>
internal static class HostingErrors
{
    public static string NewerHostingSchema(string path, long found, long supported) => string.Create(
        CultureInfo.InvariantCulture,
        $"The file '{path}' has hosting schema version {found}, newer than version {supported} that this version of DurableQueue.Hosting supports; update the package.");

    public static string DuplicateHandler(string queueName) =>
        $"A handler for the queue '{queueName}' is already registered; register one handler per queue.";

    public static string DuplicateSchedule(string name) =>
        $"A recurring job named '{name}' is already registered; give each recurring job its own name.";

    public static string InvalidCron(string expression, string reason) =>
        $"The cron expression '{expression}' is not valid: {reason}";

    public static string JobNotFound(MessageId id) =>
        $"The job {id} is unknown, or its status was cleaned up after the retention time.";

    public static string JobNotSucceeded(MessageId id, JobState state, string? error) =>
        $"The job {id} ended as {state} and has no result.{(error is null ? string.Empty : " Last error: " + error)}";

    public static string UnreadableBody(string typeName, string reason) =>
        $"The message body could not be read as {typeName}: {reason}";

    public static string NullBody(string typeName) =>
        $"The message body is JSON null, which is not a valid {typeName}.";

    public static string CompleteInJobWithResult =>
        "A job handler that returns a result is completed by the worker when it returns; CompleteAsync cannot be used in it.";

    public static string AlreadySettled =>
        "This message was already settled or handed back; it can be completed only once.";
}
