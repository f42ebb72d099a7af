using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Cronos;

namespace DurableQueue.Hosting;

/// <summary>Represents the options of a recurring (cron) job.</summary>
public sealed class RecurringJobOptions
{
    /// <summary>Gets or sets the time zone in which the cron expression is read.</summary>
    /// <value>The default value is <see cref="TimeZoneInfo.Utc"/>.</value>
    public TimeZoneInfo TimeZone { get; set; } = TimeZoneInfo.Utc;

    /// <summary>Gets or sets the format of the cron expression: five fields, or six with seconds first.</summary>
    /// <value>The default value is <see cref="CronFormat.Standard"/> (five fields).</value>
    public CronFormat Format { get; set; } = CronFormat.Standard;

    /// <summary>Gets or sets the body of each occurrence's message.</summary>
    /// <value>The default value is the JSON object <c>{}</c>.</value>
    public ReadOnlyMemory<byte> Body { get; set; } = "{}"u8.ToArray();

    /// <summary>Gets or sets the priority of each occurrence's message, from 0 (most urgent) to 9.</summary>
    /// <value>The default value is 4.</value>
    public int Priority { get; set; } = EnqueueOptions.DefaultPriority;

    /// <summary>Gets or sets how many attempts each occurrence gets.</summary>
    /// <value>The default value is <see langword="null"/>: the queue handler's <see cref="QueueHandlerOptions.MaxAttempts"/>.</value>
    public int? MaxAttempts { get; set; }

    /// <summary>Sets <see cref="Body"/> to the JSON form of a value.</summary>
    /// <typeparam name="T">The type of the value.</typeparam>
    /// <param name="value">The value.</param>
    /// <param name="typeInfo">The JSON metadata of <typeparamref name="T"/>.</param>
    public void SetBody<T>(T value, JsonTypeInfo<T> typeInfo)
    {
        ArgumentNullException.ThrowIfNull(typeInfo);
        Body = JsonSerializer.SerializeToUtf8Bytes(value, typeInfo);
    }
}
