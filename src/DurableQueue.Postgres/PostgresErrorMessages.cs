using System.Globalization;

namespace DurableQueue.Postgres;

/// <summary>Every message text of the PostgreSQL backend, in one place (invariant culture, no trailing newline).</summary>
internal static class PostgresErrorMessages
{
    private static string F(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    public static string NewerSchema(string location, string schema, long found, long supported) =>
        F($"Schema '{schema}' of {location} has queue schema version {found}, but this version of DurableQueue.Postgres supports up to {supported}; nothing was changed. Upgrade DurableQueue.Postgres to use it.");

    public static string NoQueueStore(string location, string schema) =>
        F($"Schema '{schema}' of {location} holds no queue store (no DurableQueue tables); an inspection never creates one. Check the database and the schema name.");

    public static string Unavailable(string location, string detail) =>
        F($"The PostgreSQL server of {location} could not be reached ({detail}). Nothing is known to have changed unless the operation says so; retry once the server is back.");

    public static string CommitOutcomeUnknown(string location, string detail) =>
        F($"The connection to {location} broke while a commit was under way ({detail}), and the outcome could not be read back. The write may or may not have landed.");

    public static string CannotConnect(string location, string detail) =>
        F($"{location} could not be opened as a queue store: {detail}. Check the connection string (host, port, database, user and password).");

    public static string NoRights(string location, string schema, string detail) =>
        F($"The role of {location} lacks a right the queue store needs on schema '{schema}' ({detail}). Grant it (CREATE on the database to create the schema, or USAGE and table rights on a schema an administrator made), or choose another schema.");

    public static string Busy(string location, string detail) =>
        F($"The write on {location} met a conflicting transaction of another connection ({detail}); nothing was changed. Retry the operation.");

    public static string Full(string location, string detail) =>
        F($"The PostgreSQL server of {location} is out of disk space ({detail}); the write was rolled back and nothing committed was lost.");

    public static string BadConnectionString(string detail) =>
        F($"The PostgreSQL connection string is not valid: {detail}");

    public static string BadSchemaName(string name) =>
        F($"'{name}' is not a valid schema name: use 1 to 63 bytes, without a NUL character.");

    public static string NoConnectionString(string name) =>
        F($"UsePostgres found no connection string: pass one, set ConnectionStrings:{name} in the configuration, or register an NpgsqlDataSource.");

    public static string TransactionCompleted =>
        "The NpgsqlTransaction has completed; enqueue inside an open transaction, before it commits.";

    public static string NotOnPostgres(string location) =>
        F($"The store at '{location}' is not a PostgreSQL store; an NpgsqlTransaction can only enqueue to a store opened with QueueStore.OpenPostgres or QueueStore.Open(NpgsqlDataSource).");

    public static string NoDatabaseQuota =>
        "MaxDatabaseBytes is a quota of a SQLite file; a PostgreSQL store has none. Leave it unset and size the server's disk, or bound the queues (QueueOptions.MaxMessages, MaxBytes).";
}
