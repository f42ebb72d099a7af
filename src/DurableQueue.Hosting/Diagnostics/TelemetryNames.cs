namespace DurableQueue.Hosting.Diagnostics;

/// <summary>
/// Instrument, attribute and header names. Messaging names follow the OpenTelemetry semantic conventions for messaging
/// (semantic-conventions 1.37, status Development): keep them here so a change of the conventions is one edit.
/// </summary>
internal static class TelemetryNames
{
    public const string SourceName = "DurableQueue";
    public const string System = "durablequeue";

    public const string SentMessages = "messaging.client.sent.messages";
    public const string ConsumedMessages = "messaging.client.consumed.messages";
    public const string OperationDuration = "messaging.client.operation.duration";
    public const string ProcessDuration = "messaging.process.duration";
    public const string DeadLetteredMessages = "durablequeue.messages.dead_lettered";
    public const string RetriedMessages = "durablequeue.messages.retried";
    public const string Messages = "durablequeue.messages";
    public const string OldestMessageAge = "durablequeue.queue.oldest_message.age";
    public const string StoreStarts = "durablequeue.store.starts";
    public const string RecoveredLeases = "durablequeue.store.recovered_leases";
    public const string PreviousEnd = "durablequeue.store.previous_end";
    public const string ReceiveWaitDuration = "durablequeue.receive.wait.duration";

    public const string MessagingSystem = "messaging.system";
    public const string DestinationName = "messaging.destination.name";
    public const string OperationName = "messaging.operation.name";
    public const string OperationType = "messaging.operation.type";
    public const string MessageId = "messaging.message.id";
    public const string DeliveryCount = "messaging.message.delivery_count";
    public const string ErrorType = "error.type";
    public const string MessageState = "durablequeue.message.state";
    public const string WaitOutcome = "durablequeue.wait.outcome";

    public const string TraceParentHeader = "traceparent";
    public const string TraceStateHeader = "tracestate";

    /// <summary>Marks a message as a tracked job (it has a row in dq_jobs).</summary>
    public const string JobHeader = "dq-job";
    public const string ScheduleHeader = "dq-schedule";
    public const string OccurrenceHeader = "dq-occurrence";
}
