using System.ComponentModel.DataAnnotations;
using DurableQueue.Internal;

namespace DurableQueue;

/// <summary>
/// Represents the options of one named queue.
/// </summary>
public sealed partial class QueueOptions
{
    /// <summary>
    /// Gets or sets how long a received message stays invisible to other consumers unless the lease
    /// is extended, when a receive does not say otherwise.
    /// </summary>
    /// <value>The default value is 30 seconds.</value>
    [Range(typeof(TimeSpan), "00:00:00.001", "7.00:00:00")]
    public TimeSpan VisibilityTimeout { get; set; } = Defaults.VisibilityTimeout;

    /// <summary>
    /// Gets or sets how many times a message is delivered before it moves to the dead-letter store,
    /// when the enqueue does not say otherwise.
    /// </summary>
    /// <value>The default value is 5.</value>
    [Range(1, Defaults.MaxAttemptsLimit)]
    public int MaxAttempts { get; set; } = Defaults.MaxAttempts;

    internal QueueOptions Clone() => (QueueOptions)MemberwiseClone();

    internal bool SameAs(QueueOptions other) =>
        VisibilityTimeout == other.VisibilityTimeout && MaxAttempts == other.MaxAttempts && SameBackPressure(other);

    internal void Validate() => OptionsValidation.Validate(this, "options");
}
