using System.Data.Common;

namespace DurableQueue.Storage;

/// <summary>Turns a queue's options into the columns of <c>dq_queue_settings</c> and back (times in milliseconds).</summary>
internal static class QueueSettingsCodec
{
    /// <summary>Reads the options from the row's columns starting at <paramref name="first"/>, in the order of the settings columns.</summary>
    public static QueueOptions Read(DbDataReader reader, int first) => new()
    {
        VisibilityTimeout = TimeSpan.FromMilliseconds(reader.GetInt64(first)),
        MaxAttempts = reader.GetInt32(first + 1),
        MaxMessages = reader.IsDBNull(first + 2) ? null : reader.GetInt64(first + 2),
        MaxBytes = reader.IsDBNull(first + 3) ? null : reader.GetInt64(first + 3),
        FullMode = Enum.TryParse<QueueFullMode>(reader.GetString(first + 4), out var mode) ? mode : QueueFullMode.Wait,
        FullWaitTimeout = reader.IsDBNull(first + 5) ? null : TimeSpan.FromMilliseconds(reader.GetInt64(first + 5)),
    };

    /// <summary>A copy with its times rounded up to whole milliseconds, as the file keeps them (so that a comparison with stored settings is exact).</summary>
    public static QueueOptions Normalize(QueueOptions options)
    {
        var copy = options.Clone();
        copy.VisibilityTimeout = TimeSpan.FromMilliseconds(Milliseconds(options.VisibilityTimeout));
        copy.FullWaitTimeout = options.FullWaitTimeout is { } wait ? TimeSpan.FromMilliseconds(Milliseconds(wait)) : null;
        return copy;
    }

    public static long Milliseconds(TimeSpan span) => (long)Math.Ceiling(span.TotalMilliseconds);
}
