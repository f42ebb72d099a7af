namespace DurableQueue.Hosting;

/// <summary>What became of one delivery.</summary>
internal enum DeliveryOutcome
{
    Acked,
    Retrying,
    DeadLettered,
    Released,
    Skipped,
    LeaseLost,
}

/// <summary>
/// Notifications raised after a worker's writes commit. Tests wait on them instead of sleeping; nothing else subscribes.
/// </summary>
internal sealed class WorkerEvents
{
    public event Action<QueueMessage, DeliveryOutcome>? Settled;

    public event Action<QueueMessage, DateTimeOffset>? LeaseExtended;

    public void OnSettled(QueueMessage message, DeliveryOutcome outcome) => Settled?.Invoke(message, outcome);

    public void OnLeaseExtended(QueueMessage message, DateTimeOffset until) => LeaseExtended?.Invoke(message, until);
}
