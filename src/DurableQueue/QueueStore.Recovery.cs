using System.Diagnostics;
using DurableQueue.Diagnostics;
using Microsoft.Data.Sqlite;

namespace DurableQueue;

// The recovery report: what the previous use of the file left behind. See docs/operations.md.
public sealed partial class QueueStore
{
    /// <summary>
    /// Gets what this store found when it opened the file: whether every earlier session closed cleanly and, after an
    /// unclean end, the leases it left, the last attempts dead-lettered meanwhile, and whether SQLite replayed a WAL.
    /// </summary>
    /// <remarks>Only a store on a SQLite file records sessions; on another backend the report is empty (clean, nothing found).</remarks>
    public RecoveryReport Recovery { get; private init; } = new() { IsRecorded = false };

    /// <summary>The store's session in the file; null on a backend that records none.</summary>
    internal StoreSession? Session { get; private init; }

    /// <summary>The store's clock reading and monotonic timestamp when it opened, for the doctor's clock-jump check.</summary>
    internal (long WallMs, long Timestamp) OpenedClock { get; private init; }

    private static (StoreSession Session, RecoveryReport Report) Recover(
        SqliteConnection connection, QueueStoreOptions options, long walBytes, bool newFile)
    {
        var session = StoreSession.ForThisProcess(options, options.TimeProvider.GetUtcNow().ToUnixTimeMilliseconds());
        options.SessionId = session.Id;
        return (session, StoreRecovery.Run(connection, session, walBytes, newFile, options.TimeProvider));
    }

    private void CloseSession()
    {
        if (Session is null || _writer.Session.Connection is not SqliteConnection connection)
        {
            return;
        }

        try
        {
            StoreRecovery.Close(connection, Session, Clock);
        }
        catch (SqliteException ex)
        {
            // The next open then reports this session as ended without closing, which is true enough: it could not say goodbye.
            Trace.TraceWarning("DurableQueue: the session record of {0} could not be removed: {1}", Path, ex.Message);
        }
    }
}
