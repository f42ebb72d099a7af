using Microsoft.Data.Sqlite;

namespace DurableQueue.Storage;

internal static class SqliteErrors
{
    public const int Busy = 5;
    public const int Locked = 6;
    public const int ReadOnly = 8;
    public const int IoError = 10;
    public const int Corrupt = 11;
    public const int Full = 13;
    public const int CantOpen = 14;
    public const int NotADatabase = 26;

    public static bool IsBusy(SqliteException exception) =>
        exception.SqliteErrorCode is Busy or Locked;

    /// <summary>
    /// Maps a storage failure to the typed exception callers branch on; other SQLite errors pass through
    /// with their codes, as the provider reports them. <paramref name="waited"/> is how long the operation waited,
    /// which a busy error names.
    /// </summary>
    public static Exception Map(Exception exception, string path, TimeSpan waited) => exception switch
    {
        SqliteException { SqliteErrorCode: Full } e => new StorageFullException(ErrorMessages.Full(path), e),
        SqliteException e when IsBusy(e) => new StorageBusyException(ErrorMessages.Busy(waited), e),
        // Damage that opening could not see (it reads only the header, schema and metadata) shows on first touch.
        SqliteException { SqliteErrorCode: Corrupt or NotADatabase } e =>
            new StoreFileException(path, StoreFileProblem.Corrupt, ErrorMessages.Corrupt(path, e.Message), e),
        _ => exception,
    };
}
