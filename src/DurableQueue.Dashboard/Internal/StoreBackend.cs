namespace DurableQueue.Dashboard.Internal;

/// <summary>
/// Which backend the store is on, as the page needs to know it: a SQLite file has a WAL, pages and free pages, and can
/// be compacted; a store on PostgreSQL has none of these (the server keeps its own WAL and autovacuum reclaims space).
/// Read from the store's public statistics, whose journal mode names the backend.
/// </summary>
internal static class StoreBackend
{
    public const string Sqlite = "sqlite";

    public const string Postgres = "postgresql";

    public static string Of(StoreStatistics statistics) =>
        string.Equals(statistics.JournalMode, Postgres, StringComparison.OrdinalIgnoreCase) ? Postgres : Sqlite;
}
