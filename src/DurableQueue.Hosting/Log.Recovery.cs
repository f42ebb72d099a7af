using Microsoft.Extensions.Logging;

namespace DurableQueue.Hosting;

// Recovery report, durability doctor and lease renewal across clock jumps. Event ids 40-49.
internal static partial class Log
{
    [LoggerMessage(40, LogLevel.Information, "DurableQueue store '{Path}' opened: {Report}", EventName = "StoreOpened")]
    public static partial void StoreOpened(ILogger logger, string path, RecoveryReport report);

    [LoggerMessage(41, LogLevel.Warning, "DurableQueue store '{Path}' opened after an unclean end: {Report}", EventName = "StoreRecovered")]
    public static partial void StoreRecovered(ILogger logger, string path, RecoveryReport report);

    [LoggerMessage(42, LogLevel.Warning, "The wall clock moved {Drift} against the monotonic clock while message {MessageId} of queue '{Queue}' was leased (a clock change or a sleep); its lease was renewed at once.", EventName = "LeaseRenewedAfterClockJump")]
    public static partial void LeaseRenewedAfterClockJump(ILogger logger, string queue, long messageId, TimeSpan drift);
}
