using Microsoft.Extensions.Logging;

namespace DurableQueue.Forwarding;

/// <summary>Every log message of the forwarders, source-generated, with stable event ids (do not renumber).</summary>
internal static partial class Log
{
    [LoggerMessage(1, LogLevel.Information, "Forwarder '{Name}' started on queue '{Queue}' with a window of {Window}.", EventName = "ForwarderStarted")]
    public static partial void Started(ILogger logger, string name, string queue, int window);

    [LoggerMessage(2, LogLevel.Information, "Forwarder '{Name}' stopped; {Held} message(s) stay leased and are sent again by the next start.", EventName = "ForwarderStopped")]
    public static partial void Stopped(ILogger logger, string name, int held);

    [LoggerMessage(3, LogLevel.Information, "Forwarder '{Name}' found {Count} message(s) a previous run held without acking; they go first, in order ({Known} confirmed before, not sent again).", EventName = "Recovering")]
    public static partial void Recovering(ILogger logger, string name, int count, int known);

    [LoggerMessage(4, LogLevel.Debug, "Forwarder '{Name}': a send of {Count} message(s) failed and is retried: {Error}", EventName = "SendFailed")]
    public static partial void SendFailed(ILogger logger, string name, int count, string error);

    [LoggerMessage(5, LogLevel.Warning, "Forwarder '{Name}': the link is down ({Error}).", EventName = "LinkDown")]
    public static partial void LinkDown(ILogger logger, string name, string error);

    [LoggerMessage(6, LogLevel.Information, "Forwarder '{Name}': the link is up again after {Downtime}.", EventName = "LinkUp")]
    public static partial void LinkUp(ILogger logger, string name, TimeSpan downtime);

    [LoggerMessage(7, LogLevel.Error, "Forwarder '{Name}': the remote refused message {MessageId} for good; it is dead-lettered: {Reason}", EventName = "MessageRejected")]
    public static partial void Rejected(ILogger logger, string name, long messageId, string reason);

    [LoggerMessage(8, LogLevel.Warning, "Forwarder '{Name}': the lease of message {MessageId} was lost before it was settled; it may be sent again.", EventName = "LeaseLost")]
    public static partial void LeaseLost(ILogger logger, string name, long messageId);

    [LoggerMessage(9, LogLevel.Error, "Forwarder '{Name}' failed on the local queue; it stops.", EventName = "ForwarderFailed")]
    public static partial void Failed(ILogger logger, Exception exception, string name);

    [LoggerMessage(10, LogLevel.Warning, "Forwarder '{Name}': a local step failed and is tried again.", EventName = "LocalStepFailed")]
    public static partial void LocalStepFailed(ILogger logger, Exception exception, string name);
}
