using Microsoft.Extensions.Logging;

namespace DurableQueue.Hosting.Diagnostics;

/// <summary>Logs the recovery report of the hosted store as it opens (one line when clean) and counts it in the metrics.</summary>
internal static class StoreStartup
{
    public static void Report(QueueStore store, ILogger logger, HostingTelemetry telemetry)
    {
        var report = store.Recovery;
        if (!report.IsRecorded)
        {
            // Another backend: no sessions, nothing to report or count.
            Log.StoreOpened(logger, store.Path, report);
            return;
        }

        if (report.IsClean)
        {
            Log.StoreOpened(logger, store.Path, report);
        }
        else
        {
            Log.StoreRecovered(logger, store.Path, report);
        }

        telemetry.RecordStart(report);
    }
}
