using System.Net.Sockets;
using Npgsql;

namespace DurableQueue.Postgres.Storage;

/// <summary>
/// Turns Npgsql's exceptions into the library's typed ones, so that callers branch on the cause, not on SQLSTATEs:
/// a server that cannot be reached is <see cref="StorageUnavailableException"/> (retryable), a lock conflict is
/// <see cref="StorageBusyException"/>, a full disk is <see cref="StorageFullException"/>, and a store that cannot
/// be opened at all (credentials, database, rights) is <see cref="StoreFileException"/>.
/// </summary>
internal static class PostgresErrors
{
    public static Exception Map(Exception exception, string location, string schema) => exception switch
    {
        DurableQueueException or OperationCanceledException or ArgumentException or ObjectDisposedException => exception,
        PostgresException pg => MapServerError(pg, location, schema),
        NpgsqlException npgsql when IsUnreachable(npgsql) => new StorageUnavailableException(PostgresErrorMessages.Unavailable(location, Detail(npgsql)), npgsql),
        TimeoutException or SocketException or IOException =>
            new StorageUnavailableException(PostgresErrorMessages.Unavailable(location, exception.Message), exception),
        _ => exception,
    };

    /// <summary>Whether the error means the server could not be reached or the connection broke (the statement never ran, or its outcome is unknown).</summary>
    public static bool IsUnreachable(Exception exception) => exception switch
    {
        PostgresException pg => IsConnectionState(pg.SqlState),
        NpgsqlException npgsql => npgsql.InnerException is SocketException or IOException or TimeoutException or EndOfStreamException
            || npgsql.IsTransient
            || npgsql.InnerException is NpgsqlException inner && IsUnreachable(inner),
        SocketException or IOException or TimeoutException => true,
        _ => false,
    };

    private static Exception MapServerError(PostgresException pg, string location, string schema) => pg.SqlState switch
    {
        _ when IsConnectionState(pg.SqlState) => new StorageUnavailableException(PostgresErrorMessages.Unavailable(location, Detail(pg)), pg),
        // invalid_password, invalid_authorization_specification, invalid_catalog_name (no such database).
        PostgresErrorCodes.InvalidPassword or PostgresErrorCodes.InvalidAuthorizationSpecification or PostgresErrorCodes.InvalidCatalogName =>
            new StoreFileException(location, StoreFileProblem.CannotOpen, PostgresErrorMessages.CannotConnect(location, Detail(pg)), pg),
        PostgresErrorCodes.InsufficientPrivilege =>
            new StoreFileException(location, StoreFileProblem.ReadOnly, PostgresErrorMessages.NoRights(location, schema, Detail(pg)), pg),
        PostgresErrorCodes.DeadlockDetected or PostgresErrorCodes.SerializationFailure or PostgresErrorCodes.LockNotAvailable =>
            new StorageBusyException(PostgresErrorMessages.Busy(location, Detail(pg)), pg),
        PostgresErrorCodes.DiskFull =>
            new StorageFullException(PostgresErrorMessages.Full(location, Detail(pg)), pg),
        _ => pg,
    };

    // Class 08 (connection exception), the server shutting down or starting (57P01-57P03), too many connections (53300).
    private static bool IsConnectionState(string state) =>
        state.StartsWith("08", StringComparison.Ordinal)
        || state is PostgresErrorCodes.AdminShutdown or PostgresErrorCodes.CrashShutdown or PostgresErrorCodes.CannotConnectNow
            or PostgresErrorCodes.TooManyConnections;

    private static string Detail(Exception exception) => exception switch
    {
        PostgresException pg => $"{pg.SqlState}: {pg.MessageText}",
        _ when exception.InnerException is { } inner && inner is not NpgsqlException => $"{exception.Message} {inner.Message}",
        _ => exception.Message,
    };
}
