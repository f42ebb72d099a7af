namespace DurableQueue;

internal static partial class ErrorMessages
{
    public static string UnknownFullMode(QueueFullMode value) => F($"{value} is not a QueueFullMode value.");

    public static string QueueFull(string queue, QueueLimit limit, long capacity, TimeSpan retryAfter) =>
        F($"Queue '{queue}' is full: it holds its {limit} of {capacity}. Nothing was added; retry after about {retryAfter.TotalSeconds:0.###} s.");

    public static string QueueFullWaitTimedOut(string queue, QueueLimit limit, long capacity, TimeSpan waited) =>
        F($"Queue '{queue}' stayed full ({limit} of {capacity}) for the {waited.TotalSeconds:0.###} s of FullWaitTimeout. Nothing was added.");

    public static string QueueFullNothingToDrop(string queue, QueueLimit limit, long capacity) =>
        F($"Queue '{queue}' is full ({limit} of {capacity}) and too few ready messages can be dropped to make room (leased and delayed ones are never dropped). Nothing was added.");

    public static string NeverFits(string queue, QueueLimit limit, long capacity, long size) =>
        F($"The enqueue needs {size} against queue '{queue}''s {limit} of {capacity}, so it can never fit. Split the batch or raise the bound.");

    public static string QuotaReached(string path, long maxBytes) =>
        F($"The enqueue did not fit in '{path}': the database reached its MaxDatabaseBytes quota of {maxBytes} bytes. It was rolled back; nothing committed was lost. Ack or purge messages to make room.");

    public static string BackoffAttempt(int attempt) => F($"The attempt number must be 1 or more; it was {attempt}.");

    public static string BackoffDelays(TimeSpan baseDelay, TimeSpan maxDelay) =>
        F($"The base delay must be positive and at most the maximum delay; they were {baseDelay} and {maxDelay}.");
}
