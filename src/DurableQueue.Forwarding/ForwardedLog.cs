using System.Security.Cryptography;
using System.Data.Common;

namespace DurableQueue.Forwarding;

/// <summary>
/// The forwarders' own small tables in the queue's database (plain SQL that SQLite and PostgreSQL both take), written through the store's unit of work (so on its single
/// writer, in its transactions):
/// <list type="bullet">
/// <item><c>dqf_meta</c>: a random id for this file, the prefix of every message id the remote sees, so that ids
/// stay unique across devices and across a file that was deleted and created again; and per queue whether its
/// forwarder runs (or crashed) or stopped holding nothing, which spares the next start its scan of the queue.</item>
/// <item><c>dqf_recovered</c>: messages a previous run held that were sent again at start-up and confirmed (or
/// refused) by the remote. The local queue hands such a message back only once its old lease expires and the messages
/// queued before that expiry are through; until then this row keeps a later crash from sending it yet again. The
/// row goes in the same transaction as the message's ack.</item>
/// <item><c>dqf_status</c>: one row per forwarder with its link, last error and progress, for readers in other
/// processes (<c>dq stats</c>); rewritten at most about once a second, and only when something changed or the row is
/// getting old (<see cref="ForwardingDefaults.StatusHeartbeat"/>). Times are Unix milliseconds.</item>
/// </list>
/// </summary>
internal sealed class ForwardedLog
{
    private const string Create =
        "CREATE TABLE IF NOT EXISTS dqf_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL); " +
        "CREATE TABLE IF NOT EXISTS dqf_recovered (queue TEXT NOT NULL, id BIGINT NOT NULL, rejected TEXT, PRIMARY KEY (queue, id)); " +
        "CREATE TABLE IF NOT EXISTS dqf_status (name TEXT PRIMARY KEY, queue TEXT NOT NULL, running BIGINT NOT NULL, started_at BIGINT NOT NULL, " +
        "link TEXT NOT NULL, link_since BIGINT NOT NULL, last_error TEXT, last_error_at BIGINT, forwarded BIGINT NOT NULL, last_forwarded_at BIGINT, " +
        "written_at BIGINT NOT NULL);";

    private const string WriteStatus =
        "INSERT INTO dqf_status(name, queue, running, started_at, link, link_since, last_error, last_error_at, forwarded, last_forwarded_at, written_at) " +
        "VALUES (@name, @queue, @running, @started, @link, @since, @error, @errorAt, @forwarded, @lastForwarded, @written) " +
        "ON CONFLICT(name) DO UPDATE SET queue = excluded.queue, running = excluded.running, started_at = excluded.started_at, link = excluded.link, " +
        "link_since = excluded.link_since, last_error = excluded.last_error, last_error_at = excluded.last_error_at, forwarded = excluded.forwarded, " +
        "last_forwarded_at = excluded.last_forwarded_at, written_at = excluded.written_at;";

    private const string InsertFileId = "INSERT INTO dqf_meta(key, value) VALUES ('file_id', @fileId) ON CONFLICT(key) DO NOTHING;";
    private const string ReadFileId = "SELECT value FROM dqf_meta WHERE key = 'file_id';";
    private const string ReadState = "SELECT value FROM dqf_meta WHERE key = @key;";
    private const string WriteState = "INSERT INTO dqf_meta(key, value) VALUES (@key, @value) ON CONFLICT(key) DO UPDATE SET value = excluded.value;";
    private const string Running = "running";
    private const string Clean = "clean";
    private const string ReadRecovered = "SELECT id, rejected FROM dqf_recovered WHERE queue = @queue;";
    private const string Insert =
        "INSERT INTO dqf_recovered(queue, id, rejected) VALUES (@queue, @id, @rejected) ON CONFLICT(queue, id) DO UPDATE SET rejected = excluded.rejected;";

    private const string Delete = "DELETE FROM dqf_recovered WHERE queue = @queue AND id = @id;";

    private readonly QueueStore _store;
    private readonly string _queue;

    public ForwardedLog(QueueStore store, string queue)
    {
        _store = store;
        _queue = queue;
    }

    /// <summary>
    /// Creates the tables if needed and records that a forwarder of this queue runs; returns the file's id, the
    /// recovered messages of this queue, and whether a previous run may have left messages held (leased, unsettled):
    /// not when no forwarder ever ran on this file, nor when the last one of this queue stopped holding nothing.
    /// </summary>
    public ValueTask<(string FileId, Dictionary<long, string?> Recovered, bool MayHaveHeld)> OpenAsync(CancellationToken cancellationToken) =>
        _store.ExecuteAsync(tx =>
        {
            using (var create = Command(tx.Connection, Create))
            {
                create.ExecuteNonQuery();
            }

            bool firstOnFile;
            using (var insert = Command(tx.Connection, InsertFileId))
            {
                Add(insert, "@fileId", Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6)));
                firstOnFile = insert.ExecuteNonQuery() == 1;
            }

            string? state;
            using (var read = Command(tx.Connection, ReadState))
            {
                Add(read, "@key", StateKey);
                state = read.ExecuteScalar() as string;
            }

            SetState(tx, Running);

            string fileId;
            using (var read = Command(tx.Connection, ReadFileId))
            {
                fileId = (string)read.ExecuteScalar()!;
            }

            var recovered = new Dictionary<long, string?>();
            using (var rows = Command(tx.Connection, ReadRecovered))
            {
                Add(rows, "@queue", _queue);
                using var reader = rows.ExecuteReader();
                while (reader.Read())
                {
                    recovered[reader.GetInt64(0)] = reader.IsDBNull(1) ? null : reader.GetString(1);
                }
            }

            return (fileId, recovered, !firstOnFile && (state != Clean || recovered.Count > 0));
        }, cancellationToken);

    /// <summary>Records that the forwarder of this queue stopped holding nothing: the next start needs no scan.</summary>
    public ValueTask MarkStoppedCleanAsync(CancellationToken cancellationToken) =>
        _store.ExecuteAsync(tx => SetState(tx, Clean), cancellationToken);

    private string StateKey => "state:" + _queue;

    private void SetState(QueueTransaction tx, string value)
    {
        using var write = Command(tx.Connection, WriteState);
        Add(write, "@key", StateKey);
        Add(write, "@value", value);
        write.ExecuteNonQuery();
    }

    /// <summary>Records messages sent again at start-up with their outcome (null: confirmed; else the rejection).</summary>
    public ValueTask RecordAsync(IReadOnlyList<(long Id, string? Rejected)> entries, CancellationToken cancellationToken) =>
        _store.ExecuteAsync(tx =>
        {
            using var insert = Command(tx.Connection, Insert);
            Add(insert, "@queue", _queue);
            var id = Add(insert, "@id", 0L);
            var rejected = Add(insert, "@rejected", DBNull.Value);
            foreach (var entry in entries)
            {
                id.Value = entry.Id;
                rejected.Value = (object?)entry.Rejected ?? DBNull.Value;
                insert.ExecuteNonQuery();
            }
        }, cancellationToken);

    /// <summary>Forgets rows whose message is no longer in the queue (settled by an earlier run, purged, swept).</summary>
    public ValueTask ForgetAsync(IEnumerable<long> ids, CancellationToken cancellationToken)
    {
        var list = ids.ToList();
        return list.Count == 0 ? ValueTask.CompletedTask : _store.ExecuteAsync(tx =>
        {
            using var delete = Command(tx.Connection, Delete);
            Add(delete, "@queue", _queue);
            var id = Add(delete, "@id", 0L);
            foreach (var value in list)
            {
                id.Value = value;
                delete.ExecuteNonQuery();
            }
        }, cancellationToken);
    }

    /// <summary>Settles a recovered message the queue handed back, and forgets its row, in one transaction.</summary>
    public ValueTask SettleAsync(QueueMessage message, string? rejected, CancellationToken cancellationToken) =>
        _store.ExecuteAsync(tx =>
        {
            if (rejected is null)
            {
                tx.Ack(message);
            }
            else
            {
                tx.DeadLetter(message, rejected);
            }

            using var delete = Command(tx.Connection, Delete);
            Add(delete, "@queue", _queue);
            Add(delete, "@id", message.Id.Value);
            delete.ExecuteNonQuery();
        }, cancellationToken);

    /// <summary>Writes the forwarder's status row (the table exists once <see cref="OpenAsync"/> ran).</summary>
    public ValueTask WriteStatusAsync(StatusRow row, CancellationToken cancellationToken) =>
        _store.ExecuteAsync(tx =>
        {
            using var write = Command(tx.Connection, WriteStatus);
            Add(write, "@name", row.Name);
            Add(write, "@queue", _queue);
            Add(write, "@running", row.Running ? 1L : 0L);
            Add(write, "@started", row.StartedAt.ToUnixTimeMilliseconds());
            Add(write, "@link", row.Link.ToString());
            Add(write, "@since", row.LinkSince.ToUnixTimeMilliseconds());
            Add(write, "@error", (object?)row.LastError ?? DBNull.Value);
            Add(write, "@errorAt", (object?)row.LastErrorAt?.ToUnixTimeMilliseconds() ?? DBNull.Value);
            Add(write, "@forwarded", row.Forwarded);
            Add(write, "@lastForwarded", (object?)row.LastForwardedAt?.ToUnixTimeMilliseconds() ?? DBNull.Value);
            Add(write, "@written", row.WrittenAt.ToUnixTimeMilliseconds());
            write.ExecuteNonQuery();
        }, cancellationToken);

    private static DbCommand Command(DbConnection connection, string sql)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        return command;
    }

    private static DbParameter Add(DbCommand command, string name, object value)
    {
        var parameter = command.CreateParameter();
        parameter.ParameterName = name;
        parameter.Value = value;
        command.Parameters.Add(parameter);
        return parameter;
    }
}

/// <summary>What <c>dqf_status</c> holds of one forwarder (the lag is left out: a reader computes it from the queue).</summary>
internal sealed record StatusRow(
    string Name,
    bool Running,
    DateTimeOffset StartedAt,
    LinkState Link,
    DateTimeOffset LinkSince,
    string? LastError,
    DateTimeOffset? LastErrorAt,
    long Forwarded,
    DateTimeOffset? LastForwardedAt,
    DateTimeOffset WrittenAt)
{
    /// <summary>Gets a value indicating whether the row says the same as <paramref name="other"/>, apart from when it was written.</summary>
    public bool SameAs(StatusRow? other) => other is not null && this == other with { WrittenAt = WrittenAt };
}
