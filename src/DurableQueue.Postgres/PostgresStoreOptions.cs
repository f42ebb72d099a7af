using System.ComponentModel.DataAnnotations;

namespace DurableQueue.Postgres;

/// <summary>
/// Represents the PostgreSQL-specific options of a <see cref="QueueStore"/> opened on a PostgreSQL database.
/// </summary>
/// <remarks>
/// The store copies the options when it opens, so changing them afterwards has no effect. The options every backend
/// shares (clock, message size, durability, lock wait) stay on <see cref="QueueStoreOptions"/>.
/// </remarks>
public sealed class PostgresStoreOptions
{
    /// <summary>The default schema name.</summary>
    public const string DefaultSchema = "durablequeue";

    /// <summary>
    /// Gets or sets the schema that holds the queue's tables. The store creates it (and its tables) on first use when
    /// the role may; several stores (apps) can share a database with a schema each.
    /// </summary>
    /// <value>The default value is <c>durablequeue</c>.</value>
    [Required]
    [StringLength(63, MinimumLength = 1)]
    public string Schema { get; set; } = DefaultSchema;

    /// <summary>
    /// Gets or sets how often waiting receivers look for messages although no notification arrived. Commits on any
    /// host wake waiting receivers within milliseconds through LISTEN/NOTIFY; this slow poll only covers a notification
    /// lost with a dropped connection.
    /// </summary>
    /// <value>The default value is 5 seconds.</value>
    [Range(typeof(TimeSpan), "00:00:00.050", "01:00:00")]
    public TimeSpan SafetyPollInterval { get; set; } = TimeSpan.FromSeconds(5);

    internal PostgresStoreOptions Clone() => (PostgresStoreOptions)MemberwiseClone();

    internal void Validate()
    {
        DurableQueue.Internal.OptionsValidation.Validate(this, "postgres");
        if (Schema.Contains('\0', StringComparison.Ordinal) || System.Text.Encoding.UTF8.GetByteCount(Schema) > 63)
        {
            throw new ArgumentException(PostgresErrorMessages.BadSchemaName(Schema), "postgres");
        }
    }
}
