using System.Collections.Immutable;
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
    private readonly object _dropLock = new();
    private readonly List<long> _reportedDrops = [];
    private readonly HashSet<long> _dropped = [];
    private readonly string _directory;
    private QueueStore? _other;
    private MessageQueue? _otherQueue;
    private int _generation;

    public QueueSut(ModelConfig config)
    {
        Config = config;
        Coverage.Count($"sequences with tier {config.MemoryBudget switch { 0 => "off", long.MaxValue => "unlimited", var b => $"{b} B" }}");
        Coverage.Count($"sequences {(config.IsBounded ? $"bounded {config.FullMode}" : "unbounded")}");
        _directory = Path.Combine(Path.GetTempPath(), $"dq-model-{Guid.NewGuid():N}");
        Directory.CreateDirectory(_directory);
        Clock = new FakeTimeProvider(DateTimeOffset.FromUnixTimeMilliseconds(QueueModel.Start));
        FilePath = Path.Combine(_directory, "store-0.db");
        Store = QueueStore.Open(FilePath, Options());
        Store.MessagesDropped += OnDropped;
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
        // The other process goes away first (a clean close; only this store is abandoned).
        CloseOther();
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
        Store.MessagesDropped += OnDropped;
        Queue = Store.GetQueue(QueueName, Config.QueueOptions);
    }

    /// <summary>
    /// A second store on the same file with the same settings, opened when first used and kept open until the next
    /// crash-and-reopen. It stands for another process: each store's commits are foreign to the other, which must make
    /// the other's memory tier read the queue back from disk (<c>PRAGMA data_version</c>). It shares the fake clock, so
    /// its own timers (sweeps of expired last attempts) run too.
    /// </summary>
    public MessageQueue OtherQueue
    {
        get
        {
            if (_other is null)
            {
                _other = QueueStore.Open(FilePath, Options());
                _other.MessagesDropped += OnDropped;
                _otherQueue = _other.GetQueue(QueueName, Config.QueueOptions);
                Coverage.Count("other store opened");
            }

            return _otherQueue!;
        }
    }

    /// <summary>Runs an action through the second store and waits for it.</summary>
    public T WithOtherStore<T>(Func<MessageQueue, Task<T>> action) => action(OtherQueue).GetAwaiter().GetResult();

    private void CloseOther()
    {
        _other?.Dispose();
        _other = null;
        _otherQueue = null;
    }

    /// <summary>
    /// Runs an enqueue (single or batch, throwing or Try variant, through this or the other store) and checks its
    /// outcome against the model: admitted, full (QueueFullException or null), or never fits (always an exception).
    /// </summary>
    public IReadOnlyList<MessageId>? Admission(QueueModel expected, bool tryVariant, bool other, Func<MessageQueue, Task<IReadOnlyList<MessageId>?>> enqueue)
    {
        IReadOnlyList<MessageId>? ids;
        QueueFullException? full = null;
        try
        {
            ids = other ? WithOtherStore(enqueue) : enqueue(Queue).GetAwaiter().GetResult();
        }
        catch (QueueFullException ex)
        {
            ids = null;
            full = ex;
        }

        var got = full is not null ? $"QueueFullException(NeverFits={full.NeverFits})" : ids is null ? "null" : $"ids [{string.Join(",", ids)}]";
        var ok = expected.Expect.Outcome switch
        {
            "never-fits" => full is { NeverFits: true },
            "full" => tryVariant ? full is null && ids is null : full is { NeverFits: false },
            _ => full is null && ids is not null,
        };
        Require(ok, $"enqueue gave {got}, model {expected.Expect}");
        Coverage.Count($"enqueue {(expected.Expect.Refused ? expected.Expect.Outcome : "admitted")}{(tryVariant ? " (Try)" : "")}{(other ? " via other store" : "")}");
        if (full is not null)
        {
            var capacity = full.Limit == QueueLimit.MaxMessages ? Config.MaxMessages : Config.MaxBytes;
            Require(full.QueueName == QueueName && full.Capacity == capacity, $"QueueFullException names {full.QueueName} {full.Limit} {full.Capacity}");
        }

        return ids;
    }

    /// <summary>After an admitted enqueue: the ids the model assigned, and the drops the store reported.</summary>
    public void CheckAdmitted(QueueModel expected, IReadOnlyList<MessageId>? ids)
    {
        if (ids is null)
        {
            return;
        }

        Require(ids.Select(i => i.Value).SequenceEqual(expected.Expect.Ids), $"enqueue returned [{string.Join(",", ids)}], model [{string.Join(",", expected.Expect.Ids)}]");
        ConfirmEnqueued(ids.Select(i => i.Value));
        AwaitDropped(expected.Expect.DroppedOrEmpty);
    }

    private void OnDropped(object? sender, MessagesDroppedEventArgs e)
    {
        lock (_dropLock)
        {
            _reportedDrops.AddRange(e.MessageIds.Select(i => i.Value));
            Monitor.PulseAll(_dropLock);
        }
    }

    /// <summary>
    /// Waits for the MessagesDropped events of the last operation (raised on the thread pool after the commit) and
    /// checks they name exactly the messages the model dropped. Only reported drops excuse a message from "nothing lost".
    /// </summary>
    public void AwaitDropped(ImmutableArray<long> expected)
    {
        lock (_dropLock)
        {
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
            while (_reportedDrops.Count < expected.Length)
            {
                var left = deadline - DateTime.UtcNow;
                if (left <= TimeSpan.Zero || !Monitor.Wait(_dropLock, left))
                {
                    break;
                }
            }

            Require(_reportedDrops.Order().SequenceEqual(expected.Order()),
                $"MessagesDropped reported [{string.Join(",", _reportedDrops)}], model dropped [{string.Join(",", expected)}]");
            _dropped.UnionWith(_reportedDrops);
            if (expected.Length > 0)
            {
                Coverage.Count("enqueues that dropped messages");
            }

            _reportedDrops.Clear();
        }
    }

    /// <summary>Checks every delivery of a receive against the model (ids in delivery order, attempts, body, lease) and records it.</summary>
    public void CheckDeliveries(IReadOnlyList<QueueMessage> messages, QueueModel expected)
    {
        var ids = messages.Select(m => m.Id.Value).ToList();
        Require(ids.SequenceEqual(expected.Expect.Ids), $"received [{string.Join(",", ids)}], model (in delivery order) [{string.Join(",", expected.Expect.Ids)}]");
        var firstReceipt = expected.NextReceipt - messages.Count;
        for (var i = 0; i < messages.Count; i++)
        {
            var m = messages[i];
            var model = expected.Live[m.Id.Value];
            Require(m.Attempt == model.Attempts && m.MaxAttempts == model.MaxAttempts && m.IsLastAttempt == (model.Attempts >= model.MaxAttempts),
                $"message {m.Id} attempt {m.Attempt}/{m.MaxAttempts}, model {model.Attempts}/{model.MaxAttempts}");
            Require(m.GetBodyAsString() == model.Body && m.Priority == model.Priority, $"message {m.Id} body/priority differ");
            Require(m.LeaseExpiresAt.ToUnixTimeMilliseconds() == model.VisibleAt, $"message {m.Id} lease expiry differs");
            Received(firstReceipt + i, m);
        }
    }

    /// <summary>The memory tier exists exactly when a budget is set, and never held more than the budget.</summary>
    private void CheckTier(QueueStore store, string which)
    {
        if (Config.MemoryBudget == 0)
        {
            Require(store.Tier is null, $"{which} memory tier exists with a budget of 0");
            return;
        }

        Require(store.Tier is { } tier && tier.PeakBytes <= Config.MemoryBudget,
            $"{which} memory tier peaked at {store.Tier?.PeakBytes} bytes, budget {Config.MemoryBudget}");
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
        long liveBytes = 0;
        using (var command = connection.CreateCommand())
        {
            command.CommandText = "SELECT id, body, priority, visible_at, enqueued_at, attempts, max_attempts, lease_token, last_error FROM dq_messages ORDER BY id;";
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                var id = reader.GetInt64(0);
                liveIds.Add(id);
                liveBytes += reader.GetFieldValue<byte[]>(1).Length;
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

        // The counters that admission reads (kept by triggers) must match the model too.
        var stats = Queue.GetBackPressureStats();
        var modelBytes = model.LiveBytes;
        Require((stats.Messages, stats.Bytes, stats.DeadLetters) == (model.Live.Count, modelBytes, model.Dead.Count),
            $"back-pressure counters messages={stats.Messages} bytes={stats.Bytes} dead={stats.DeadLetters}, model {model.Live.Count}/{modelBytes}/{model.Dead.Count}");

        // Model-free checks: capacity respected, the tier within its budget, nothing confirmed is lost (unless the
        // store reported dropping it), nothing acked is back.
        Require(!(liveIds.Count > Config.MaxMessages), $"capacity exceeded: {liveIds.Count} live messages, MaxMessages {Config.MaxMessages}");
        Require(!(liveBytes > Config.MaxBytes), $"capacity exceeded: {liveBytes} body bytes, MaxBytes {Config.MaxBytes}");

        CheckTier(Store, "the store's");
        if (_other is not null)
        {
            CheckTier(_other, "the other store's");
        }

        if (Queue.GetMemoryTierStats().Spilled)
        {
            Coverage.Count("steps ending with the tier spilled");
        }

        lock (_dropLock)
        {
            Require(_reportedDrops.Count == 0, $"MessagesDropped reported [{string.Join(",", _reportedDrops)}], but the model dropped nothing");
        }

        foreach (var id in _confirmedEnqueues)
        {
            Require(liveIds.Contains(id) || deadIds.Contains(id) || _confirmedAcks.Contains(id) || _dropped.Contains(id),
                $"message {id} was enqueued, never acked or dropped, and is gone");
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

    public static void Exec(System.Data.Common.DbConnection connection, string sql, params (string Name, object Value)[] parameters)
    {
        using var command = ((SqliteConnection)connection).CreateCommand();
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
            CloseOther();
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
