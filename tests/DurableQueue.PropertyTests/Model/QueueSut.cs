using System.Globalization;
using System.Text;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Time.Testing;

namespace DurableQueue.PropertyTests.Model;

/// <summary>
/// The real store under test, plus what the test itself observed of it (receipts handed out, acks confirmed,
/// leases believed valid). Those observations give checks that do not depend on the model being right.
/// </summary>
internal sealed class QueueSut : IDisposable
{
    public const string QueueName = "q";

    private readonly Dictionary<int, QueueMessage> _deliveries = [];
    private readonly Dictionary<long, (Guid Token, long Until)> _leases = [];
    private readonly HashSet<(long Id, Guid Token)> _tokens = [];
    private readonly HashSet<long> _confirmedEnqueues = [];
    private readonly HashSet<long> _confirmedAcks = [];
    private readonly string _directory;
    private int _generation;

    public QueueSut(ModelConfig config)
    {
        Config = config;
        _directory = Path.Combine(Path.GetTempPath(), $"dq-model-{Guid.NewGuid():N}");
        Directory.CreateDirectory(_directory);
        Clock = new FakeTimeProvider(DateTimeOffset.FromUnixTimeMilliseconds(QueueModel.Start));
        FilePath = Path.Combine(_directory, "store-0.db");
        Store = QueueStore.Open(FilePath, Options());
        Queue = Store.GetQueue(QueueName, config.QueueOptions);
        Store.ExecuteAsync(tx => Exec(tx.Connection, "CREATE TABLE app_rows (id INTEGER PRIMARY KEY, note TEXT NOT NULL);")).AsTask().GetAwaiter().GetResult();
    }

    public ModelConfig Config { get; }

    public FakeTimeProvider Clock { get; }

    public string FilePath { get; private set; }

    public QueueStore Store { get; private set; }

    public MessageQueue Queue { get; private set; }

    /// <summary>Set once a check failed: later steps of the same run are skipped, the run is already a counter-example.</summary>
    public bool Failed { get; set; }

    public long NowMs => Clock.GetUtcNow().ToUnixTimeMilliseconds();

    public QueueMessage Delivery(int receipt) => _deliveries[receipt];

    private QueueStoreOptions Options()
    {
        var options = new QueueStoreOptions { TimeProvider = Clock };
        Config.Configure(options);
        return options;
    }

    public void ConfirmEnqueued(IEnumerable<long> ids) => _confirmedEnqueues.UnionWith(ids);

    /// <summary>Records a receive, checking that the real store never hands out a message under another valid lease.</summary>
    public void Received(int receipt, QueueMessage message)
    {
        var id = message.Id.Value;
        Require(!_confirmedAcks.Contains(id), $"message {id} was acked and is delivered again");
        if (_leases.TryGetValue(id, out var earlier))
        {
            Require(earlier.Until <= NowMs, $"message {id} was delivered while an earlier lease was valid until +{earlier.Until - QueueModel.Start}ms");
        }

        // One receive may share a token among its messages; a receipt is the pair, and it must never repeat.
        Require(_tokens.Add((id, message.Receipt.Token)), $"receipt {message.Receipt} of message {id} was handed out before");
        _leases[id] = (message.Receipt.Token, message.LeaseExpiresAt.ToUnixTimeMilliseconds());
        _deliveries[receipt] = message;
    }

    public void Settled(int receipt, bool acked)
    {
        var id = _deliveries[receipt].Id.Value;
        _leases.Remove(id);
        if (acked)
        {
            _confirmedAcks.Add(id);
        }
    }

    public void Extended(int receipt, long until) => _leases[_deliveries[receipt].Id.Value] = (_deliveries[receipt].Receipt.Token, until);

    /// <summary>
    /// Simulates a process crash at an idle moment: waits until the writer has nothing queued, copies the database,
    /// WAL and shared-memory files as a killed process would leave them on disk, throws the old store away and opens
    /// the copy, which makes SQLite recover the WAL as it does after a crash. Nothing is checkpointed into the copy.
    /// </summary>
    public void CrashAndReopen()
    {
        // Timers (sweep, maintenance) only fire when the fake clock moves; after this no-op the writer is idle.
        Store.Writer.SubmitAsync(static _ => 0, CancellationToken.None).GetAwaiter().GetResult();
        var next = Path.Combine(_directory, $"store-{++_generation}.db");
        foreach (var suffix in new[] { "", "-wal", "-shm" })
        {
            if (File.Exists(FilePath + suffix))
            {
                File.Copy(FilePath + suffix, next + suffix);
            }
        }

        Store.Dispose();
        DeleteFiles(FilePath);
        FilePath = next;
        Store = QueueStore.Open(FilePath, Options());
        Queue = Store.GetQueue(QueueName, Config.QueueOptions);
    }

    /// <summary>Compares everything the store holds with the model, plus the model-free checks.</summary>
    public void Verify(QueueModel model)
    {
        // A read first: reads dead-letter expired last-attempt leases before they look (the API's promise).
        var counts = Queue.GetCountsAsync().AsTask().GetAwaiter().GetResult();
        Require(NowMs == model.Now, $"clock {NowMs} != model {model.Now}");

        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = FilePath, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString());
        connection.Open();
        var live = new List<string>();
        var liveIds = new HashSet<long>();
        using (var command = connection.CreateCommand())
        {
            command.CommandText = "SELECT id, body, priority, visible_at, enqueued_at, attempts, max_attempts, lease_token, last_error FROM dq_messages ORDER BY id;";
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                var id = reader.GetInt64(0);
                liveIds.Add(id);
                var token = reader.IsDBNull(7) ? (Guid?)null : new Guid(reader.GetFieldValue<byte[]>(7));
                live.Add(Row(id, Encoding.UTF8.GetString(reader.GetFieldValue<byte[]>(1)), reader.GetInt32(2), reader.GetInt64(3), reader.GetInt64(4),
                    reader.GetInt32(5), reader.GetInt32(6), token is { } t ? TokenName(id, t) : "-", reader.IsDBNull(8) ? null : reader.GetString(8)));
            }
        }

        var expectedLive = model.Live.Values.Select(m => Row(
            m.Id, m.Body, m.Priority, m.VisibleAt, m.EnqueuedAt, m.Attempts, m.MaxAttempts, m.Receipt is { } r ? $"#{r}" : "-", m.LastError)).ToList();
        RequireEqual(expectedLive, live, "live messages");

        var dead = new List<string>();
        var deadIds = new HashSet<long>();
        using (var command = connection.CreateCommand())
        {
            command.CommandText = "SELECT id, body, priority, enqueued_at, attempts, max_attempts, reason, last_error FROM dq_dead_letters ORDER BY id;";
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                deadIds.Add(reader.GetInt64(0));
                dead.Add(string.Create(CultureInfo.InvariantCulture,
                    $"{reader.GetInt64(0)} {Encoding.UTF8.GetString(reader.GetFieldValue<byte[]>(1))} p{reader.GetInt32(2)} e{reader.GetInt64(3)} a{reader.GetInt32(4)}/{reader.GetInt32(5)} '{reader.GetString(6)}' err={(reader.IsDBNull(7) ? "null" : reader.GetString(7))}"));
            }
        }

        var expectedDead = model.Dead.Values.Select(d => string.Create(CultureInfo.InvariantCulture,
            $"{d.Id} {d.Body} p{d.Priority} e{d.EnqueuedAt} a{d.Attempts}/{d.MaxAttempts} '{d.Reason}' err={d.LastError ?? "null"}")).ToList();
        RequireEqual(expectedDead, dead, "dead letters");

        using (var command = connection.CreateCommand())
        {
            command.CommandText = "SELECT count(*) FROM app_rows;";
            var rows = (long)command.ExecuteScalar()!;
            Require(rows == model.AppRows, $"app rows {rows}, model {model.AppRows}");
        }

        var now = model.Now;
        var expectedCounts = (
            Ready: model.Live.Values.Count(m => m.VisibleAt <= now),
            Delayed: model.Live.Values.Count(m => m.VisibleAt > now && m.Receipt is null),
            Leased: model.Live.Values.Count(m => m.VisibleAt > now && m.Receipt is not null),
            Dead: model.Dead.Count);
        Require(
            (counts.Ready, counts.Delayed, counts.Leased, counts.DeadLettered) == (expectedCounts.Ready, expectedCounts.Delayed, expectedCounts.Leased, expectedCounts.Dead),
            $"counts {counts} != model {expectedCounts}");

        // Model-free checks: nothing confirmed is lost, nothing acked is back.
        foreach (var id in _confirmedEnqueues)
        {
            Require(liveIds.Contains(id) || deadIds.Contains(id) || _confirmedAcks.Contains(id), $"message {id} was enqueued, never acked, and is gone");
        }

        foreach (var id in _confirmedAcks)
        {
            Require(!liveIds.Contains(id) && !deadIds.Contains(id), $"message {id} was acked and is back");
        }
    }

    private string TokenName(long id, Guid token)
    {
        foreach (var (receipt, message) in _deliveries)
        {
            if (message.Id.Value == id && message.Receipt.Token == token)
            {
                return $"#{receipt}";
            }
        }

        return "#unknown-token";
    }

    private static string Row(long id, string body, int priority, long visibleAt, long enqueuedAt, int attempts, int maxAttempts, string receipt, string? lastError) =>
        string.Create(CultureInfo.InvariantCulture,
            $"{id} {body} p{priority} v+{visibleAt - QueueModel.Start} e+{enqueuedAt - QueueModel.Start} a{attempts}/{maxAttempts} {receipt} err={lastError ?? "null"}");

    private static void RequireEqual(List<string> expected, List<string> actual, string what)
    {
        if (!expected.SequenceEqual(actual))
        {
            throw new ModelMismatchException(
                $"{what} differ:\n  model: [{string.Join("; ", expected)}]\n  store: [{string.Join("; ", actual)}]");
        }
    }

    public static void Require(bool condition, string message)
    {
        if (!condition)
        {
            throw new ModelMismatchException(message);
        }
    }

    public static void Exec(SqliteConnection connection, string sql, params (string Name, object Value)[] parameters)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }

        command.ExecuteNonQuery();
    }

    private static void DeleteFiles(string path)
    {
        foreach (var suffix in new[] { "", "-wal", "-shm" })
        {
            File.Delete(path + suffix);
        }
    }

    public void Dispose()
    {
        try
        {
            Store.Dispose();
        }
        finally
        {
            Directory.Delete(_directory, recursive: true);
        }
    }
}

internal sealed class ModelMismatchException(string message) : Exception(message);

/// <summary>Thrown by a unit of work that is meant to roll back.</summary>
internal sealed class DeliberateRollbackException() : Exception("deliberate rollback");
