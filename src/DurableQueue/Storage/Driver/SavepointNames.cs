namespace DurableQueue.Storage.Driver;

/// <summary>The savepoints the core opens inside a batch transaction; drivers turn them into their SQL.</summary>
internal static class SavepointNames
{
    /// <summary>Around each request of a batch, so that a failing request fails alone.</summary>
    public const string Request = "op";

    /// <summary>Around an admission to a bounded queue, so that an enqueue that does not fit leaves no trace.</summary>
    public const string Admission = "dq_bp";

    /// <summary>Around storing a queue's settings at the start of a batch, so that a failure leaves the batch's requests alone.</summary>
    public const string Settings = "dq_settings";
}
