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
    private readonly HashSet<long> _purged = [];
    private readonly Dictionary<int, Task<IReadOnlyList<MessageId>>> _waiters = [];
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

    /// <summary>Records messages removed by an explicit purge: they may be gone.</summary>
    public void Purged(IEnumerable<long> ids) => _purged.UnionWith(ids);

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
            Require(task.Result.Select(i => i.Value).SequenceEqual(ids), $"waiting producer w{number} got [{string.Join(",", task.Result)}], model [{string.Join(",", ids)}]");
            ConfirmEnqueued(ids);
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
    /// stores' own sweep timers. Waits for that by reading the file only, so no read or write of a store (each of
    /// which sweeps first) can do the timer's work.
    /// </summary>
    public void AwaitTimerSweep(QueueModel expected)
    {
        if (expected.Expect.Ids.IsDefaultOrEmpty)
        {
            return;
        }

        var want = expected.Expect.Ids.ToHashSet();
        var deadline = Environment.TickCount64 + 10_000;
        while (true)
        {
            using (var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = FilePath, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString()))
            {
                connection.Open();
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
                    return;
                }
            }

            Require(Environment.TickCount64 < deadline, $"the sweep timer did not dead-letter the expired last-attempt leases [{string.Join(",", want)}]");
            Thread.Sleep(1);
        }
    }

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
        // Producers waiting in the crashed process never get an answer.
        _waiters.Clear();
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

        ReplaceStore(next);
    }

    private void ReplaceStore(string next)
    {
        Store.Dispose();
        DeleteFiles(FilePath);
        FilePath = next;
        Store = QueueStore.Open(FilePath, Options());
        Store.MessagesDropped += OnDropped;
        Queue = Store.GetQueue(QueueName, Config.QueueOptions);
    }

    /// <summary>
    /// Simulates a crash in the middle of <paramref name="write"/>: the database file is copied as the commit starts
    /// (from the commit hook, before SQLite writes the commit's WAL frames), and after the write the WAL is cut before,
    /// inside or after the frames the commit appended. The store is thrown away and the image opened, so SQLite
    /// recovers the WAL from the cut file: a torn or missing commit frame must leave no trace of the write.
    /// </summary>
    public void CrashDuringWrite(CrashCut cut, int tornPermille, Func<MessageQueue, Task> write)
    {
        CloseOther();
        _waiters.Clear();
        // Nothing else is queued: the next commit is the write's.
        Store.Writer.SubmitAsync(static _ => 0, CancellationToken.None).GetAwaiter().GetResult();
        var next = Path.Combine(_directory, $"store-{++_generation}.db");
        var session = (DurableQueue.Storage.Sqlite.SqliteWriteSession)Store.Writer.Session;
        byte[]? walBefore = null;
        var commits = 0;
        session.Committing = () =>
        {
            if (commits++ == 0)
            {
                File.Copy(FilePath, next);
                walBefore = File.Exists(FilePath + "-wal") ? File.ReadAllBytes(FilePath + "-wal") : [];
            }
        };
        try
        {
            write(Queue).GetAwaiter().GetResult();
        }
        finally
        {
            session.Committing = null;
        }

        Require(commits == 1 && walBefore is not null, $"the write took {commits} commits, expected one");
        var walAfter = File.ReadAllBytes(FilePath + "-wal");
        // The commit's frames start where the file first differs: at the old end of the WAL, over an earlier torn tail
        // that recovery had dropped, or at the start when the commit restarted the WAL after a full checkpoint (the
        // database file then holds everything before it). A torn write leaves the old bytes after the cut.
        var start = walAfter.AsSpan().CommonPrefixLength(walBefore);
        // A write that changed no row (a deduplicated enqueue) commits no frames: every cut is the state before it.
        byte[] image = start == walAfter.Length ? walBefore! : cut switch
        {
            CrashCut.After => walAfter,
            CrashCut.Torn => Torn(walAfter, walBefore!, start + (int)((long)(walAfter.Length - start - 1) * tornPermille / 1000)),
            _ => walBefore!,
        };
        File.WriteAllBytes(next + "-wal", image);
        Coverage.Count($"crashes during a write, cut {cut}{(start < 32 ? " (WAL restarted)" : "")}");
        ReplaceStore(next);
    }

    private static byte[] Torn(byte[] after, byte[] before, int cut) =>
        [.. after.AsSpan(0, cut), .. before.Length > cut ? before.AsSpan(cut) : []];

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

        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = FilePath, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString());
        connection.Open();
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
                var token = reader.IsDBNull(7) ? (Guid?)null : new Guid(reader.GetFieldValue<byte[]>(7));
                live.Add(Row(id, Encoding.UTF8.GetString(reader.GetFieldValue<byte[]>(1)), reader.GetInt32(2), reader.GetInt64(3), reader.GetInt64(4),
                    reader.GetInt32(5), reader.GetInt32(6), token is { } t ? TokenName(id, t) : "-", reader.IsDBNull(8) ? null : reader.GetString(8),
                    reader.IsDBNull(9) ? null : reader.GetString(9), HeaderText(reader.IsDBNull(10) ? null : reader.GetString(10))));
            }
        }

        var expectedLive = model.Live.Values.Select(m => Row(
            m.Id, m.Body, m.Priority, m.VisibleAt, m.EnqueuedAt, m.Attempts, m.MaxAttempts, m.Receipt is { } r ? $"#{r}" : "-", m.LastError, m.DedupKey, m.Headers)).ToList();
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
                    $"{reader.GetInt64(0)} {Encoding.UTF8.GetString(reader.GetFieldValue<byte[]>(1))} p{reader.GetInt32(2)} e{reader.GetInt64(3)} a{reader.GetInt32(4)}/{reader.GetInt32(5)} '{reader.GetString(6)}' err={(reader.IsDBNull(7) ? "null" : reader.GetString(7))} key={(reader.IsDBNull(8) ? "null" : reader.GetString(8))} h={HeaderText(reader.IsDBNull(9) ? null : reader.GetString(9)) ?? "none"}"));
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
        long id, string body, int priority, long visibleAt, long enqueuedAt, int attempts, int maxAttempts, string receipt, string? lastError, string? key, string? headers) =>
        string.Create(CultureInfo.InvariantCulture,
            $"{id} {body} p{priority} v+{visibleAt - QueueModel.Start} e+{enqueuedAt - QueueModel.Start} a{attempts}/{maxAttempts} {receipt} err={lastError ?? "null"} key={key ?? "null"} h={headers ?? "none"}");

    /// <summary>Headers as the model writes them: <c>key=value</c> pairs in key order joined by ';', null when there are none.</summary>
    private static string? HeaderText(string? json) => HeaderText(DurableQueue.Storage.HeaderCodec.Decode(json));

    private static string? HeaderText(IReadOnlyDictionary<string, string> headers) =>
        headers.Count == 0 ? null : string.Join(';', headers.OrderBy(h => h.Key, StringComparer.Ordinal).Select(h => $"{h.Key}={h.Value}"));

    /// <summary>
    /// When no other store writes the file, the tier must agree with it exactly: each priority lane holds the rows of
    /// that priority up to its bound (all of them when complete), in delivery order, with the rows' visible time, and
    /// the body where it keeps one. A tier that is stale, holds a ghost or misses a row fails here, before any batch
    /// could refresh it.
    /// </summary>
    private void CheckTierMatchesFile(SqliteConnection connection)
    {
        if (Store.Tier is not { } tier)
        {
            return;
        }

        long queueId;
        using (var command = connection.CreateCommand())
        {
            command.CommandText = "SELECT id FROM dq_queues WHERE name = @name;";
            command.Parameters.AddWithValue("@name", QueueName);
            if (command.ExecuteScalar() is not long found)
            {
                return;
            }

            queueId = found;
        }

        if (tier.Find(queueId) is not { } cache)
        {
            return;
        }

        var rows = new List<(long Id, int Priority, long VisibleAt, byte[] Body)>();
        using (var command = connection.CreateCommand())
        {
            command.CommandText = "SELECT id, priority, visible_at, body FROM dq_messages WHERE queue_id = @queue ORDER BY priority, visible_at, id;";
            command.Parameters.AddWithValue("@queue", queueId);
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                rows.Add((reader.GetInt64(0), reader.GetInt32(1), reader.GetInt64(2), reader.GetFieldValue<byte[]>(3)));
            }
        }

        for (var priority = 0; priority < DurableQueue.Memory.QueueCache.Priorities; priority++)
        {
            var lane = cache.LaneOf(priority);
            var expected = rows.Where(r => r.Priority == priority
                    && (lane.Complete || r.VisibleAt < lane.BoundVisible || (r.VisibleAt == lane.BoundVisible && r.Id <= lane.BoundId)))
                .Select(r => string.Create(CultureInfo.InvariantCulture, $"{r.Id}@{r.VisibleAt - QueueModel.Start}"))
                .ToList();
            var cached = lane.Set.Select(e => string.Create(CultureInfo.InvariantCulture, $"{e.Id}@{e.VisibleAt - QueueModel.Start}")).ToList();
            RequireEqual(expected, cached, $"the memory tier's lane {priority} ({(lane.Complete ? "complete" : "prefix")})");
            foreach (var entry in lane.Set)
            {
                Require(entry.Body is null || entry.Body.AsSpan().SequenceEqual(rows.First(r => r.Id == entry.Id).Body), $"the memory tier holds another body for message {entry.Id}");
            }
        }

        Coverage.Count("tier states compared with the file");
    }

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
