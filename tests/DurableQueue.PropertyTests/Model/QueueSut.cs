using System.Collections.Immutable;
using System.Data.Common;
using System.Globalization;
using System.Text;
using Microsoft.Extensions.Time.Testing;

namespace DurableQueue.PropertyTests.Model;

/// <summary>
/// The real store under test, plus what the test itself observed of it (receipts handed out, acks confirmed,
/// leases believed valid). Those observations give checks that do not depend on the model being right.
/// </summary>
/// <remarks>
/// The store lives on the backend of <see cref="ModelConfig.Backend"/>: the parts that differ (opening, reading the
/// tables directly, crashing) are in QueueSut.Sqlite.cs and QueueSut.Postgres.cs. Message ids are the model's exactly
/// on a SQLite file; on PostgreSQL a sequence hands them out and a write that did not commit uses its ids up, so there
/// the test maps the model's ids to the store's as the store reports them, and checks that they only grow.
/// </remarks>
internal sealed partial class QueueSut : IDisposable
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
    private readonly HashSet<long> _purged = [];
    private readonly Dictionary<int, Task<IReadOnlyList<MessageId>>> _waiters = [];
    private readonly Dictionary<long, long> _storeIdOf = [];
    private readonly Dictionary<long, long> _modelIdOf = [];
    private long _highestStoreId;
    private QueueStore? _other;
    private MessageQueue? _otherQueue;
    private int _generation;

    public QueueSut(ModelConfig config)
    {
        Config = config;
        Coverage.Count($"sequences with tier {config.MemoryBudget switch { 0 => "off", long.MaxValue => "unlimited", var b => $"{b} B" }}");
        Coverage.Count($"sequences {(config.IsBounded ? $"bounded {config.FullMode}" : "unbounded")}");
        Clock = new FakeTimeProvider(DateTimeOffset.FromUnixTimeMilliseconds(QueueModel.Start));
        OnPostgres = config.Backend == StoreBackend.Postgres;
        if (OnPostgres)
        {
            CreateSchema();
        }
        else
        {
            CreateFolder();
        }

        try
        {
            Store = OpenStore();
            Store.MessagesDropped += OnDropped;
            Queue = Store.GetQueue(QueueName, config.QueueOptions);
            var appRows = OnPostgres
                ? "CREATE TABLE app_rows (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, note text NOT NULL);"
                : "CREATE TABLE app_rows (id INTEGER PRIMARY KEY, note TEXT NOT NULL);";
            Store.ExecuteAsync(tx => Exec(tx.Connection, appRows)).AsTask().GetAwaiter().GetResult();
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public ModelConfig Config { get; }

    public FakeTimeProvider Clock { get; }

    /// <summary>Gets a value indicating whether the store is on PostgreSQL (else on a SQLite file).</summary>
    public bool OnPostgres { get; }

    public QueueStore Store { get; private set; } = null!;

    public MessageQueue Queue { get; private set; } = null!;

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

    /// <summary>Records messages removed by an explicit purge (model ids): they may be gone.</summary>
    public void Purged(IEnumerable<long> modelIds) => _purged.UnionWith(modelIds.Select(StoreId));

    /// <summary>The store's id of a message the model knows by <paramref name="modelId"/>; an id no message has when the store never reported one.</summary>
    public long StoreId(long modelId) => !OnPostgres ? modelId : _storeIdOf.TryGetValue(modelId, out var id) ? id : long.MaxValue;

    /// <summary>How a row of the store is named in comparisons with the model: the model's id of it.</summary>
    private string IdName(long storeId) =>
        !OnPostgres ? storeId.ToString(CultureInfo.InvariantCulture)
        : _modelIdOf.TryGetValue(storeId, out var id) ? id.ToString(CultureInfo.InvariantCulture)
        : string.Create(CultureInfo.InvariantCulture, $"(store id {storeId}, never reported to a caller)");

    /// <summary>
    /// Checks the ids a write returned against the ids the model gave its messages. On a SQLite file they are the same
    /// numbers. On PostgreSQL, a message the model knows already must get its store id again (a deduplicated enqueue), and
    /// a new one an id above every id reported before (ids only grow and are never reused); the pair is remembered.
    /// </summary>
    public void LearnIds(ImmutableArray<long> modelIds, IReadOnlyList<MessageId> storeIds, string what)
    {
        var model = modelIds.IsDefault ? [] : modelIds;
        Require(storeIds.Count == model.Length && (OnPostgres || storeIds.Select(i => i.Value).SequenceEqual(model)),
            $"{what} returned [{string.Join(",", storeIds)}], model [{string.Join(",", model)}]");
        if (!OnPostgres)
        {
            return;
        }

        for (var i = 0; i < model.Length; i++)
        {
            var (modelId, storeId) = (model[i], storeIds[i].Value);
            if (_storeIdOf.TryGetValue(modelId, out var known))
            {
                Require(known == storeId, $"{what} returned id {storeId} for model message {modelId}, which has id {known}");
                continue;
            }

            Require(storeId > _highestStoreId, $"{what} returned id {storeId} for new model message {modelId}, not above the highest id reported before ({_highestStoreId})");
            _storeIdOf.Add(modelId, storeId);
            _modelIdOf.Add(storeId, modelId);
            _highestStoreId = storeId;
        }
    }

    /// <summary>Starts an enqueue that the model says must wait for room; it is awaited when the model admits it.</summary>
    public void StartWaiter(int number, Func<Task<IReadOnlyList<MessageId>>> enqueue)
    {
        _waiters.Add(number, Task.Run(enqueue));
        Coverage.Count("producers that waited for room");
    }

    /// <summary>
    /// After a step: the waiting producers the model admitted must complete with the model's ids (awaited: their
    /// enqueue commits after the step's own write); the others must still wait, in the store's line.
    /// </summary>
    public void ResolveWaiters(QueueModel expected)
    {
        foreach (var (number, ids) in expected.Expect.AdmittedOrEmpty)
        {
            var task = _waiters[number];
            Require(task.Wait(TimeSpan.FromSeconds(30)), $"waiting producer w{number} was not admitted, model: admitted with [{string.Join(",", ids)}]");
            LearnIds(ids, task.Result, $"waiting producer w{number}");
            ConfirmEnqueued(task.Result.Select(i => i.Value));
            _waiters.Remove(number);
            Coverage.Count("waiting producers admitted");
        }

        if (!Config.IsBounded || (expected.Waiters.IsEmpty && _waiters.Count == 0))
        {
            // Only the producers this test started can wait in the store's line.
            return;
        }

        // The line as the store sees it: every producer the model has waiting joined it (through the writer).
        var deadline = Environment.TickCount64 + 30_000;
        while (Queue.GetBackPressureStats().Waiting != expected.Waiters.Count && Environment.TickCount64 < deadline)
        {
            Thread.Yield();
        }

        Require(Queue.GetBackPressureStats().Waiting == expected.Waiters.Count,
            $"{Queue.GetBackPressureStats().Waiting} producers wait in the store's line, model {expected.Waiters.Count}");
        foreach (var (number, task) in _waiters)
        {
            Require(!task.IsCompleted, $"waiting producer w{number} completed ({task.Status}: {task.Exception?.InnerException?.Message}), model: still waiting");
        }
    }

    /// <summary>
    /// After the clock moved: the last-attempt leases the model dead-lettered must reach the dead letters through the
    /// stores' own sweep timers. Waits for that by reading the tables directly only, so no read or write of a store (each
    /// of which sweeps first) can do the timer's work.
    /// </summary>
    public void AwaitTimerSweep(QueueModel expected)
    {
        if (expected.Expect.Ids.IsDefaultOrEmpty)
        {
            return;
        }

        var want = expected.Expect.Ids.Select(StoreId).ToHashSet();
        var deadline = Environment.TickCount64 + 10_000;
        while (true)
        {
            using (var connection = OpenReader())
            {
                using var command = connection.CreateCommand();
                command.CommandText = "SELECT id FROM dq_dead_letters;";
                using var reader = command.ExecuteReader();
                var dead = new HashSet<long>();
                while (reader.Read())
                {
                    dead.Add(reader.GetInt64(0));
                }

                if (want.IsSubsetOf(dead))
                {
                    Coverage.Count("leases dead-lettered by the sweep timer");
                    // The file shows the sweep's COMMIT, but its store may still be finishing that batch (the memory
                    // tier follows a commit after it lands): one empty request queued behind it on each store's writer.
                    AwaitWriterIdle(Store);
                    if (_other is not null)
                    {
                        AwaitWriterIdle(_other);
                    }

                    return;
                }
            }

            Require(Environment.TickCount64 < deadline, $"the sweep timer did not dead-letter the expired last-attempt leases [{string.Join(",", expected.Expect.Ids)}]");
            Thread.Sleep(1);
        }
    }

    private static void AwaitWriterIdle(QueueStore store) =>
        store.Writer.SubmitAsync(static _ => 0, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10)).GetAwaiter().GetResult();

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
    /// Simulates a process crash at an idle moment: the other store closes cleanly first, producers waiting in the
    /// crashed store never get an answer, and the store is abandoned as a killed process leaves it; then a new store
    /// opens on what it left (the file, or the schema).
    /// </summary>
    public void CrashAndReopen()
    {
        CloseOther();
        _waiters.Clear();
        // Timers (sweep, maintenance) only fire when the fake clock moves; after this no-op the writer is idle.
        Store.Writer.SubmitAsync(static _ => 0, CancellationToken.None).GetAwaiter().GetResult();
        if (OnPostgres)
        {
            CrashPostgres();
        }
        else
        {
            CrashSqlite();
        }
    }

    /// <summary>
    /// Simulates a crash in the middle of <paramref name="write"/> (see QueueSut.Sqlite.cs and QueueSut.Postgres.cs for
    /// how each backend is cut), then opens a new store on what the crash left. Returns the ids the write returned when
    /// its caller got an answer (SQLite: always; PostgreSQL: only when the write committed).
    /// </summary>
    /// <param name="changesRows">Whether the model says the write changes rows (a fully deduplicated enqueue changes none).</param>
    public IReadOnlyList<MessageId>? CrashDuringWrite(CrashCut cut, int tornPermille, bool changesRows, Func<MessageQueue, Task<IReadOnlyList<MessageId>?>> write)
    {
        CloseOther();
        _waiters.Clear();
        // Nothing else is queued: the next commit is the write's.
        Store.Writer.SubmitAsync(static _ => 0, CancellationToken.None).GetAwaiter().GetResult();
        return OnPostgres ? CrashDuringWritePostgres(cut, changesRows, write) : CrashDuringWriteSqlite(cut, tornPermille, write);
    }

    /// <summary>Opens the store again after a crash, on what the crash left.</summary>
    private void ReopenAfterCrash()
    {
        Store = OpenStore();
        Store.MessagesDropped += OnDropped;
        Queue = Store.GetQueue(QueueName, Config.QueueOptions);
    }

    /// <summary>
    /// A second store with the same settings on the same file or schema, opened when first used and kept open until the
    /// next crash-and-reopen. It stands for another process (on PostgreSQL, another host): each store's commits are
    /// foreign to the other, which on a file must make the other's memory tier read the queue back from disk
    /// (<c>PRAGMA data_version</c>), and on PostgreSQL wakes it through notifications. It shares the fake clock, so its
    /// own timers (sweeps of expired last attempts) run too.
    /// </summary>
    public MessageQueue OtherQueue
    {
        get
        {
            if (_other is null)
            {
                _other = OpenOtherStore();
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
        CloseOtherConnections();
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

        LearnIds(expected.Expect.Ids, ids, "enqueue");
        if (ids.Any(i => _confirmedEnqueues.Contains(i.Value)) || ids.Distinct().Count() < ids.Count)
        {
            Coverage.Count("enqueues deduplicated");
        }

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
    public void AwaitDropped(ImmutableArray<long> modelIds)
    {
        var expected = modelIds.Select(StoreId).ToArray();
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
        Require(ids.SequenceEqual(expected.Expect.Ids.Select(StoreId)),
            $"received [{string.Join(",", ids.Select(IdName))}], model (in delivery order) [{string.Join(",", expected.Expect.Ids)}]");
        var firstReceipt = expected.NextReceipt - messages.Count;
        for (var i = 0; i < messages.Count; i++)
        {
            var m = messages[i];
            var model = expected.Live[expected.Expect.Ids[i]];
            Require(m.Attempt == model.Attempts && m.MaxAttempts == model.MaxAttempts && m.IsLastAttempt == (model.Attempts >= model.MaxAttempts),
                $"message {m.Id} attempt {m.Attempt}/{m.MaxAttempts}, model {model.Attempts}/{model.MaxAttempts}");
            Require(m.GetBodyAsString() == model.Body && m.Priority == model.Priority, $"message {m.Id} body/priority differ");
            Require(HeaderText(m.Headers) == model.Headers, $"message {m.Id} headers {HeaderText(m.Headers) ?? "none"}, model {model.Headers ?? "none"}");
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
        // The file first, read directly: no read or write of a store runs before it, since each of those sweeps expired
        // last-attempt leases itself and would hide a sweep timer that did not fire (AdvanceOp waits for the timer's).
        Require(NowMs == model.Now, $"clock {NowMs} != model {model.Now}");

        using var connection = OpenReader();
        var live = new List<string>();
        var liveIds = new HashSet<long>();
        long liveBytes = 0;
        using (var command = connection.CreateCommand())
        {
            command.CommandText =
                "SELECT id, body, priority, visible_at, enqueued_at, attempts, max_attempts, lease_token, last_error, dedup_key, headers FROM dq_messages ORDER BY id;";
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                var id = reader.GetInt64(0);
                liveIds.Add(id);
                liveBytes += reader.GetFieldValue<byte[]>(1).Length;
                var token = reader.IsDBNull(7) ? (Guid?)null : OnPostgres ? reader.GetGuid(7) : new Guid(reader.GetFieldValue<byte[]>(7));
                live.Add(Row(IdName(id), Encoding.UTF8.GetString(reader.GetFieldValue<byte[]>(1)), reader.GetInt32(2), reader.GetInt64(3), reader.GetInt64(4),
                    reader.GetInt32(5), reader.GetInt32(6), token is { } t ? TokenName(id, t) : "-", reader.IsDBNull(8) ? null : reader.GetString(8),
                    reader.IsDBNull(9) ? null : reader.GetString(9), HeaderText(reader.IsDBNull(10) ? null : reader.GetString(10))));
            }
        }

        var expectedLive = model.Live.Values.Select(m => Row(
            m.Id.ToString(CultureInfo.InvariantCulture), m.Body, m.Priority, m.VisibleAt, m.EnqueuedAt, m.Attempts, m.MaxAttempts, m.Receipt is { } r ? $"#{r}" : "-", m.LastError, m.DedupKey, m.Headers)).ToList();
        RequireEqual(expectedLive, live, "live messages");

        var dead = new List<string>();
        var deadIds = new HashSet<long>();
        using (var command = connection.CreateCommand())
        {
            command.CommandText = "SELECT id, body, priority, enqueued_at, attempts, max_attempts, reason, last_error, dedup_key, headers FROM dq_dead_letters ORDER BY id;";
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                deadIds.Add(reader.GetInt64(0));
                dead.Add(string.Create(CultureInfo.InvariantCulture,
                    $"{IdName(reader.GetInt64(0))} {Encoding.UTF8.GetString(reader.GetFieldValue<byte[]>(1))} p{reader.GetInt32(2)} e{reader.GetInt64(3)} a{reader.GetInt32(4)}/{reader.GetInt32(5)} '{reader.GetString(6)}' err={(reader.IsDBNull(7) ? "null" : reader.GetString(7))} key={(reader.IsDBNull(8) ? "null" : reader.GetString(8))} h={HeaderText(reader.IsDBNull(9) ? null : reader.GetString(9)) ?? "none"}"));
            }
        }

        var expectedDead = model.Dead.Values.Select(d => string.Create(CultureInfo.InvariantCulture,
            $"{d.Id} {d.Body} p{d.Priority} e{d.EnqueuedAt} a{d.Attempts}/{d.MaxAttempts} '{d.Reason}' err={d.LastError ?? "null"} key={d.DedupKey ?? "null"} h={d.Headers ?? "none"}")).ToList();
        RequireEqual(expectedDead, dead, "dead letters");

        using (var command = connection.CreateCommand())
        {
            command.CommandText = "SELECT count(*) FROM app_rows;";
            var rows = (long)command.ExecuteScalar()!;
            Require(rows == model.AppRows, $"app rows {rows}, model {model.AppRows}");
        }

        // The memory tier before anything of the store runs: within its budget, and (when only this store writes the
        // file) holding exactly the rows of its cached prefixes, with their keys and bodies.
        CheckTier(Store, "the store's");
        if (_other is not null)
        {
            CheckTier(_other, "the other store's");
        }
        else
        {
            CheckTierMatchesFile(connection);
        }

        // Only now the store's own reads (which sweep first, as the API promises).
        var counts = Queue.GetCountsAsync().AsTask().GetAwaiter().GetResult();
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
            Require(liveIds.Contains(id) || deadIds.Contains(id) || _confirmedAcks.Contains(id) || _dropped.Contains(id) || _purged.Contains(id),
                $"message {id} was enqueued, never acked, dropped or purged, and is gone");
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

    private static string Row(
        string id, string body, int priority, long visibleAt, long enqueuedAt, int attempts, int maxAttempts, string receipt, string? lastError, string? key, string? headers) =>
        string.Create(CultureInfo.InvariantCulture,
            $"{id} {body} p{priority} v+{visibleAt - QueueModel.Start} e+{enqueuedAt - QueueModel.Start} a{attempts}/{maxAttempts} {receipt} err={lastError ?? "null"} key={key ?? "null"} h={headers ?? "none"}");

    /// <summary>Headers as the model writes them: <c>key=value</c> pairs in key order joined by ';', null when there are none.</summary>
    private static string? HeaderText(string? json) => HeaderText(DurableQueue.Storage.HeaderCodec.Decode(json));

    private static string? HeaderText(IReadOnlyDictionary<string, string> headers) =>
        headers.Count == 0 ? null : string.Join(';', headers.OrderBy(h => h.Key, StringComparer.Ordinal).Select(h => $"{h.Key}={h.Value}"));

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

    /// <summary>Runs the app's own SQL on a connection of either backend (a unit of work's, say).</summary>
    public static void Exec(DbConnection connection, string sql, params (string Name, object Value)[] parameters)
    {
        using var command = Command(connection, sql, parameters);
        command.ExecuteNonQuery();
    }

    private static DbCommand Command(DbConnection connection, string sql, (string Name, object Value)[] parameters)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            var parameter = command.CreateParameter();
            parameter.ParameterName = name;
            parameter.Value = value;
            command.Parameters.Add(parameter);
        }

        return command;
    }

    private QueueStore OpenStore() => OnPostgres ? OpenPostgresStore() : QueueStore.Open(FilePath, Options());

    private QueueStore OpenOtherStore() => OnPostgres ? OpenOtherPostgresStore() : QueueStore.Open(FilePath, Options());

    /// <summary>A connection that reads the store's tables directly (by their plain names), bypassing every store.</summary>
    private DbConnection OpenReader() => OnPostgres ? OpenPostgresReader() : OpenSqliteReader();

    private void CloseOtherConnections()
    {
        if (OnPostgres)
        {
            CloseOtherPostgres();
        }
    }

    public void Dispose()
    {
        try
        {
            CloseOther();
            Store?.Dispose();
        }
        finally
        {
            if (OnPostgres)
            {
                DropSchema();
            }
            else
            {
                DeleteFolder();
            }
        }
    }
}

internal sealed class ModelMismatchException(string message) : Exception(message);

/// <summary>Thrown by a unit of work that is meant to roll back.</summary>
internal sealed class DeliberateRollbackException() : Exception("deliberate rollback");
