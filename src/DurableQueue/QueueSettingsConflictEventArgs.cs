namespace DurableQueue;

/// <summary>
/// Describes a queue opened with explicit options that differ from the settings stored in the file for it (by another
/// process, or an earlier run with other options).
/// </summary>
public sealed class QueueSettingsConflictEventArgs : EventArgs
{
    internal QueueSettingsConflictEventArgs(string queueName, QueueOptions storedOptions, QueueOptions options, string differences)
    {
        QueueName = queueName;
        StoredOptions = storedOptions;
        Options = options;
        Differences = differences;
    }

    /// <summary>Gets the name of the queue.</summary>
    public string QueueName { get; }

    /// <summary>Gets the settings the file held for the queue (a copy).</summary>
    public QueueOptions StoredOptions { get; }

    /// <summary>Gets the options the queue was opened with, which this store uses and stores in the file (a copy).</summary>
    public QueueOptions Options { get; }

    /// <summary>Gets the settings that differ, as text: for example <c>MaxAttempts 3 -&gt; 5, VisibilityTimeout 10s -&gt; 30s</c>.</summary>
    public string Differences { get; }
}
