using Microsoft.Extensions.Logging;

namespace DurableQueue.Dashboard.Internal;

/// <summary>The dashboard's log messages: every write action is logged with the user who asked for it.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 1, EventName = "DashboardAction", Level = LogLevel.Information,
        Message = "Dashboard action {Action} on {Target} by {User}: {Result}.")]
    public static partial void Action(ILogger logger, string action, string target, string user, string result);

    [LoggerMessage(EventId = 2, EventName = "DashboardRefused", Level = LogLevel.Warning,
        Message = "Dashboard request refused from {RemoteAddress}: {Reason}.")]
    public static partial void Refused(ILogger logger, string? remoteAddress, string reason);
}
