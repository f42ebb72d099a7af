using System.Collections.Immutable;
using System.Globalization;
using System.Text;

namespace DurableQueue.PropertyTests.Model;

/// <summary>
/// What one model run is configured with: queue and store settings the model must know about. <see cref="Configure"/>
/// passes them to the real store (every store opened on the run's file) and <see cref="QueueModel"/> reads them.
/// </summary>
/// <param name="MemoryBudget">The memory tier's byte budget: 0 turns the tier off, <see cref="long.MaxValue"/> is unlimited.</param>
/// <param name="TierMaxMessageBytes">Bodies larger than this keep only their ordering key in the tier.</param>
/// <param name="MaxMessages">The queue's bound on live messages (ready + delayed + leased), or null.</param>
/// <param name="MaxBytes">The queue's bound on the body bytes of its live messages, or null.</param>
/// <param name="FullMode">What an enqueue does on a full bounded queue (Reject, DropOldest or Wait).</param>
/// <param name="Backend">Where the real store lives: a SQLite file or a PostgreSQL schema. The model is the same for both.</param>
internal sealed record ModelConfig(
    int QueueMaxAttempts,
    Durability Durability,
    long MemoryBudget = 0,
    int TierMaxMessageBytes = 64 * 1024,
    int? MaxMessages = null,
    QueueFullMode FullMode = QueueFullMode.Reject,
    int? MaxBytes = null,
    StoreBackend Backend = StoreBackend.Sqlite)
{
    /// <summary>A budget of a few messages: each tier entry counts its body, headers and about 160 bytes.</summary>
    public const long SmallBudget = 3 * (4 + 200);

    public void Configure(QueueStoreOptions options)
    {
        options.Durability = Durability;
        options.MemoryBudgetBytes = MemoryBudget;
        options.MemoryTierMaxMessageBytes = TierMaxMessageBytes;
    }

    public QueueOptions QueueOptions
    {
        get
        {
            var options = new QueueOptions { VisibilityTimeout = TimeSpan.FromSeconds(30), MaxAttempts = QueueMaxAttempts };
            options.MaxMessages = MaxMessages;
            options.MaxBytes = MaxBytes;
            if (IsBounded)
            {
                options.FullMode = FullMode;
            }

            return options;
        }
    }

    public bool IsBounded => MaxMessages is not null || MaxBytes is not null;

    public override string ToString()
    {
        var tier = MemoryBudget switch
        {
            0 => "tier off",
            long.MaxValue => "tier unlimited",
            _ => string.Create(CultureInfo.InvariantCulture, $"tier {MemoryBudget} B"),
        };
        if (MemoryBudget > 0 && TierMaxMessageBytes < 64 * 1024)
        {
            tier += string.Create(CultureInfo.InvariantCulture, $" (bodies over {TierMaxMessageBytes} B key only)");
        }

        var bound = !IsBounded ? ", unbounded" : string.Create(CultureInfo.InvariantCulture,
            $"{(MaxMessages is { } max ? $", MaxMessages={max}" : "")}{(MaxBytes is { } maxBytes ? $", MaxBytes={maxBytes}" : "")} {FullMode}");
        var backend = Backend == StoreBackend.Postgres ? "PostgreSQL, " : "";
        return string.Create(CultureInfo.InvariantCulture, $"{backend}queue MaxAttempts={QueueMaxAttempts}, {Durability}, {tier}{bound}");
    }
}

/// <summary>A live message as the contract says it must be.</summary>
/// <param name="Receipt">The number of the receipt whose token is on the row, or null when none is.</param>
/// <param name="Headers">The headers as <c>key=value</c> pairs joined by ';' in key order, or null when there are none.</param>
internal sealed record ModelMessage(
    long Id, string Body, int Priority, long VisibleAt, long EnqueuedAt, int Attempts, int MaxAttempts, int? Receipt, string? LastError,
    string? DedupKey = null, string? Headers = null);

internal sealed record ModelDeadLetter(
    long Id, string Body, int Priority, long EnqueuedAt, int Attempts, int MaxAttempts, string Reason, string? LastError,
    string? DedupKey = null, string? Headers = null);

/// <summary>A producer waiting for room in a <see cref="QueueFullMode.Wait"/> queue: its number and its messages.</summary>
/// <param name="CalledAt">When the producer called: a NotBefore it computed stays where it was.</param>
internal sealed record ModelWaiter(int Number, ImmutableArray<NewMessage> Messages, long CalledAt);

/// <summary>What the real store must answer to the operation that produced this model state.</summary>
/// <param name="Dropped">Messages a DropOldest enqueue deleted to make room, oldest first.</param>
/// <param name="Admitted">Waiting producers admitted at the end of this step, in order: (waiter number, ids).</param>
internal sealed record Expected(
    string Outcome, ImmutableArray<long> Ids = default, long Value = 0, ImmutableArray<long> Dropped = default,
    ImmutableArray<(int Waiter, ImmutableArray<long> Ids)> Admitted = default)
{
    public static readonly Expected Nothing = new("none");
    public static readonly Expected Ok = new("ok");
    public static readonly Expected LeaseLost = new("lease-lost");
    public static readonly Expected RolledBack = new("rolled-back");

    /// <summary>The queue is full: QueueFullException, or null from the Try variants; nothing was written.</summary>
    public static readonly Expected Full = new("full");

    /// <summary>A batch larger than the bound: QueueFullException with NeverFits in every mode, Try variants included.</summary>
    public static readonly Expected NeverFits = new("never-fits");

    public bool Refused => Outcome is "full" or "never-fits";

    public ImmutableArray<long> DroppedOrEmpty => Dropped.IsDefault ? [] : Dropped;

    public ImmutableArray<(int Waiter, ImmutableArray<long> Ids)> AdmittedOrEmpty => Admitted.IsDefault ? [] : Admitted;

    public override string ToString() =>
        (Ids.IsDefault ? Outcome : $"{Outcome} [{string.Join(",", Ids)}]") + (DroppedOrEmpty.IsEmpty ? "" : $" dropped [{string.Join(",", Dropped)}]")
        + (AdmittedOrEmpty.IsEmpty ? "" : $" admitted waiters [{string.Join(" ", AdmittedOrEmpty.Select(a => $"w{a.Waiter}:{string.Join(",", a.Ids)}"))}]");
}

/// <summary>
/// A plain in-memory implementation of the queue contract (docs/guarantees.md), immutable so that FsCheck can
/// replay and shrink operation sequences. Times are unix milliseconds of the fake clock.
/// </summary>
internal sealed record QueueModel(
    ModelConfig Config,
    long Now,
    long NextId,
    int NextReceipt,
    ImmutableSortedDictionary<long, ModelMessage> Live,
    ImmutableSortedDictionary<long, ModelDeadLetter> Dead,
    ImmutableDictionary<int, long> Receipts,
    ImmutableHashSet<long> Acked,
    int AppRows,
    Expected Expect,
    ImmutableList<ModelWaiter> Waiters,
    int NextWaiter)
{
    public static readonly long Start = new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds();

    public static QueueModel Initial(ModelConfig config) => new(
        config, Start, 1, 1, ImmutableSortedDictionary<long, ModelMessage>.Empty, ImmutableSortedDictionary<long, ModelDeadLetter>.Empty,
        ImmutableDictionary<int, long>.Empty, [], 0, Expected.Nothing, [], 1);

    /// <summary>A receipt still holds its message's lease when the message is live and carries its token (expired or not).</summary>
    public bool Holds(int receipt) =>
        Receipts.TryGetValue(receipt, out var id) && Live.TryGetValue(id, out var m) && m.Receipt == receipt;

    /// <summary>A lease is valid (nobody else can receive the message) while it holds and has not expired.</summary>
    public bool ValidLease(ModelMessage m) => m.Receipt is not null && m.VisibleAt > Now;

    public IEnumerable<int> HeldReceipts => Receipts.Keys.Where(Holds).Order();

    public IEnumerable<int> StaleReceipts => Receipts.Keys.Where(r => !Holds(r)).Order();

    /// <summary>Ready messages in delivery order: priority, then the time each became ready, then id.</summary>
    public IEnumerable<ModelMessage> ReadyInOrder =>
        Live.Values.Where(m => m.VisibleAt <= Now).OrderBy(m => m.Priority).ThenBy(m => m.VisibleAt).ThenBy(m => m.Id);

    /// <summary>
    /// An enqueue (one message or an atomic batch): admitted whole or refused whole on a bounded queue, DropOldest
    /// first deleting the oldest ready messages that hold no lease (by id) to make room. A message whose deduplication
    /// key is live in the queue (or earlier in the batch) adds nothing and gets the existing id. With
    /// <paramref name="mayWait"/> (the throwing API of this store), a Wait-mode queue that is full, or that has
    /// producers waiting already, puts the producer at the end of the line instead of refusing it; every other
    /// path is refused while producers wait (first come, first served).
    /// </summary>
    public QueueModel Enqueue(IReadOnlyList<NewMessage> messages, bool mayWait = false, bool otherStore = false, long? calledAt = null)
    {
        var called = calledAt ?? Now;
        if (Config.IsBounded && (messages.Count > Config.MaxMessages || messages.Sum(m => Bytes(m.Body)) > Config.MaxBytes))
        {
            return this with { Expect = Expected.NeverFits };
        }

        if (!Waiters.IsEmpty && !otherStore)
        {
            return mayWait ? Wait(messages) : this with { Expect = Expected.Full };
        }

        // Deduplication first, against the live messages as they are before anything is dropped.
        var keys = Live.Values.Where(m => m.DedupKey is not null).ToDictionary(m => m.DedupKey!, m => m.Id);
        var plan = new List<(NewMessage Message, long? Existing)>();
        foreach (var message in messages)
        {
            if (message.DedupKey is { } key && keys.TryGetValue(key, out var existing))
            {
                plan.Add((message, existing));
                continue;
            }

            plan.Add((message, null));
            if (message.DedupKey is { } newKey)
            {
                keys[newKey] = -1; // taken by this batch: the id is assigned below
            }
        }

        var inserted = plan.Where(p => p.Existing is null).Select(p => p.Message).ToList();
        var kept = plan.Where(p => p.Existing is > 0).Select(p => p.Existing!.Value).ToHashSet();
        var (room, dropped, refused) = MakeRoom(inserted.Count, inserted.Sum(m => Bytes(m.Body)), kept);
        if (refused is not null)
        {
            return refused == Expected.Full && mayWait && Config.FullMode == QueueFullMode.Wait && !otherStore
                ? Wait(messages)
                : this with { Expect = refused };
        }

        var live = room.Live;
        var id = NextId;
        var ids = ImmutableArray.CreateBuilder<long>();
        var batchKeys = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var (message, existing) in plan)
        {
            if (existing is > 0)
            {
                ids.Add(existing.Value);
                continue;
            }

            if (message.DedupKey is { } key && batchKeys.TryGetValue(key, out var earlier))
            {
                ids.Add(earlier);
                continue;
            }

            var visible = message.NotBeforeOffsetMs is { } offset ? Math.Max(Now, called + offset) : Now + message.DelayMs;
            live = live.Add(id, new ModelMessage(
                id, message.Body, message.Priority, visible, Now, 0, message.MaxAttempts ?? Config.QueueMaxAttempts, null, null,
                message.DedupKey, message.Headers));
            if (message.DedupKey is { } newKey)
            {
                batchKeys[newKey] = id;
            }

            ids.Add(id++);
        }

        return room with { Live = live, NextId = id, Expect = new Expected("enqueued", ids.ToImmutable(), Dropped: dropped) };
    }

    /// <summary>The producer joins the end of the line of a full Wait-mode queue; it is admitted when room is freed here.</summary>
    private QueueModel Wait(IReadOnlyList<NewMessage> messages) => this with
    {
        Waiters = Waiters.Add(new ModelWaiter(NextWaiter, [.. messages], Now)),
        NextWaiter = NextWaiter + 1,
        Expect = new Expected("waiting", Value: NextWaiter),
    };

    /// <summary>
    /// After a step of this store that removed live messages (a commit that frees room wakes the line), the producers
    /// at the head of the line are admitted, in order, as long as each fits; the first that does not fit stays first.
    /// </summary>
    public QueueModel AdmitWaiters(bool roomFreed)
    {
        if (!roomFreed || Waiters.IsEmpty)
        {
            return this;
        }

        var after = this;
        var admitted = ImmutableArray.CreateBuilder<(int, ImmutableArray<long>)>();
        while (!after.Waiters.IsEmpty)
        {
            var head = after.Waiters[0];
            var attempt = (after with { Waiters = [] }).Enqueue(head.Messages, calledAt: head.CalledAt);
            if (attempt.Expect.Refused)
            {
                break;
            }

            admitted.Add((head.Number, attempt.Expect.Ids));
            after = attempt with { Waiters = after.Waiters.RemoveAt(0) };
        }

        return after with { Expect = Expect with { Admitted = admitted.ToImmutable() } };
    }

    /// <summary>Body bytes, as MaxBytes counts them (headers are not counted).</summary>
    public static long Bytes(string body) => Encoding.UTF8.GetByteCount(body);

    public long LiveBytes => Live.Values.Sum(m => Bytes(m.Body));

    /// <summary>
    /// The admission check of a bounded queue (BackPressure/Admission.cs) for <paramref name="count"/> new messages of
    /// <paramref name="bytes"/> body bytes: what must be dropped first (DropOldest), or why it is refused.
    /// </summary>
    private (QueueModel Room, ImmutableArray<long> Dropped, Expected? Refused) MakeRoom(int count, long bytes, HashSet<long> kept)
    {
        if (!Config.IsBounded)
        {
            return (this, [], null);
        }

        var overMessages = Config.MaxMessages is { } max ? Live.Count + count - max : 0;
        var overBytes = Config.MaxBytes is { } maxBytes ? LiveBytes + bytes - maxBytes : 0;
        if (overMessages <= 0 && overBytes <= 0)
        {
            return (this, [], null);
        }

        if (Config.FullMode != QueueFullMode.DropOldest)
        {
            return (this, [], Expected.Full);
        }

        // Droppable: ready and holding no lease token (a lease that expired still holds it); delayed and nack-delayed
        // never, nor a message this enqueue deduplicated to. Oldest id first, until both bounds fit.
        var victims = ImmutableArray.CreateBuilder<long>();
        long freed = 0;
        foreach (var m in Live.Values.Where(m => m.Receipt is null && m.VisibleAt <= Now && !kept.Contains(m.Id)).OrderBy(m => m.Id))
        {
            if (victims.Count >= overMessages && freed >= overBytes)
            {
                break;
            }

            victims.Add(m.Id);
            freed += Bytes(m.Body);
        }

        return victims.Count < overMessages || freed < overBytes
            ? (this, [], Expected.Full)
            : (this with { Live = Live.RemoveRange(victims) }, victims.ToImmutable(), null);
    }

    public QueueModel Receive(int max, long visibilityMs)
    {
        var chosen = ReadyInOrder.Take(max).ToList();
        var live = Live;
        var receipts = Receipts;
        var next = NextReceipt;
        foreach (var m in chosen)
        {
            if (ValidLease(m))
            {
                throw new InvalidOperationException($"Model bug: message {m.Id} is ready and validly leased at once.");
            }

            live = live.SetItem(m.Id, m with { Attempts = m.Attempts + 1, Receipt = next, VisibleAt = Now + visibilityMs });
            receipts = receipts.Add(next++, m.Id);
        }

        return this with { Live = live, Receipts = receipts, NextReceipt = next, Expect = new Expected("received", [.. chosen.Select(m => m.Id)]) };
    }

    /// <summary>
    /// ReceiveAllAsync(prefetch) taking <paramref name="take"/> messages, then stopping: its one receive leased the
    /// first <paramref name="prefetch"/> ready messages; those never handed out are released (attempt not spent,
    /// no lease, ready from now).
    /// </summary>
    public QueueModel StreamReceive(int prefetch, int take, long visibilityMs)
    {
        var leasedAhead = ReadyInOrder.Take(prefetch).Skip(take).ToList();
        var after = Receive(take, visibilityMs);
        var live = after.Live;
        foreach (var m in leasedAhead)
        {
            live = live.SetItem(m.Id, m with { Receipt = null, VisibleAt = Now });
        }

        return after with { Live = live };
    }

    public QueueModel Ack(int receipt)
    {
        if (!Holds(receipt))
        {
            return this with { Expect = Expected.LeaseLost };
        }

        var id = Receipts[receipt];
        return this with { Live = Live.Remove(id), Acked = Acked.Add(id), Expect = Expected.Ok };
    }

    public QueueModel Nack(int receipt, long delayMs, string? error)
    {
        if (!Holds(receipt))
        {
            return this with { Expect = Expected.LeaseLost };
        }

        var m = Live[Receipts[receipt]];
        if (m.Attempts >= m.MaxAttempts)
        {
            return MoveToDead(m, DeadLetterReasons.LastAttemptFailed, error ?? m.LastError) with { Expect = new Expected("dead-lettered") };
        }

        return this with
        {
            Live = Live.SetItem(m.Id, m with { Receipt = null, VisibleAt = Now + delayMs, LastError = error }),
            Expect = new Expected("retrying"),
        };
    }

    public QueueModel Extend(int receipt, long visibilityMs)
    {
        if (!Holds(receipt))
        {
            return this with { Expect = Expected.LeaseLost };
        }

        var m = Live[Receipts[receipt]];
        return this with { Live = Live.SetItem(m.Id, m with { VisibleAt = Now + visibilityMs }), Expect = new Expected("extended", Value: Now + visibilityMs) };
    }

    public QueueModel DeadLetter(int receipt, string reason)
    {
        if (!Holds(receipt))
        {
            return this with { Expect = Expected.LeaseLost };
        }

        var m = Live[Receipts[receipt]];
        return MoveToDead(m, reason, m.LastError) with { Expect = Expected.Ok };
    }

    public QueueModel RequeueDeadLetters(long? onlyId)
    {
        var ids = onlyId is { } one ? (Dead.ContainsKey(one) ? [one] : []) : Dead.Keys.ToList();
        if (ids.Count > 0 && (!Waiters.IsEmpty || Live.Count + ids.Count > Config.MaxMessages || LiveBytes + ids.Sum(id => Bytes(Dead[id].Body)) > Config.MaxBytes))
        {
            // Requeues never wait and never drop, nor go ahead of waiting producers; one chunk (up to 5,000) goes back
            // whole or stays whole.
            return this with { Expect = Expected.Full };
        }

        var live = Live;
        var dead = Dead;
        foreach (var id in ids)
        {
            var d = Dead[id];
            // A dead letter whose deduplication key is live again goes back without its key.
            var key = d.DedupKey is { } k && live.Values.Any(m => m.DedupKey == k) ? null : d.DedupKey;
            live = live.Add(id, new ModelMessage(id, d.Body, d.Priority, Now, d.EnqueuedAt, 0, d.MaxAttempts, null, d.LastError, key, d.Headers));
            dead = dead.Remove(id);
        }

        return this with { Live = live, Dead = dead, Expect = new Expected("requeued", Value: ids.Count) };
    }

    /// <summary>
    /// A unit of work: one app row, some enqueues (each admitted on its own, in order, never waiting) and maybe an
    /// ack; all of it or none. The first failure (a full queue, then a lost lease) is what the caller sees, unless the
    /// callback catches QueueFullException (<paramref name="catchFull"/>): then the refused enqueue alone leaves no trace.
    /// </summary>
    public QueueModel UnitOfWork(IReadOnlyList<NewMessage> messages, int? ackReceipt, bool commit, bool catchFull = false)
    {
        var after = this;
        var ids = ImmutableArray.CreateBuilder<long>();
        var dropped = ImmutableArray.CreateBuilder<long>();
        foreach (var message in messages)
        {
            var next = after.Enqueue([message]);
            if (next.Expect.Refused)
            {
                if (catchFull)
                {
                    continue;
                }

                return this with { Expect = Expected.Full };
            }

            after = next;

            ids.AddRange(after.Expect.Ids);
            dropped.AddRange(after.Expect.DroppedOrEmpty);
        }

        if (ackReceipt is { } r && !Holds(r))
        {
            return this with { Expect = Expected.LeaseLost };
        }

        if (!commit)
        {
            return this with { Expect = Expected.RolledBack };
        }

        if (ackReceipt is { } ack)
        {
            var id = Receipts[ack];
            after = after with { Live = after.Live.Remove(id), Acked = after.Acked.Add(id) };
        }

        return after with { AppRows = AppRows + 1, Expect = new Expected("enqueued", ids.ToImmutable(), Dropped: dropped.ToImmutable()) };
    }

    /// <summary>Moves the clock; a lease on the last attempt that expires moves to the dead letters at that moment.</summary>
    public QueueModel Advance(long ms)
    {
        var after = this with { Now = Now + ms };
        var expired = after.Live.Values.Where(m => m.Receipt is not null && m.Attempts >= m.MaxAttempts && m.VisibleAt <= after.Now).ToList();
        foreach (var m in expired)
        {
            after = after.MoveToDead(m, DeadLetterReasons.LastLeaseExpired, m.LastError);
        }

        return after with { Expect = new Expected("ok", [.. expired.Select(m => m.Id)]) };
    }

    private QueueModel MoveToDead(ModelMessage m, string reason, string? error) => this with
    {
        Live = Live.Remove(m.Id),
        Dead = Dead.Add(m.Id, new ModelDeadLetter(m.Id, m.Body, m.Priority, m.EnqueuedAt, m.Attempts, m.MaxAttempts, reason, error, m.DedupKey, m.Headers)),
    };

    /// <summary>Acks several receipts in one request, each fenced on its own: the ones whose lease was lost are returned (their numbers).</summary>
    public QueueModel AckMany(IReadOnlyList<int> receipts)
    {
        var after = this;
        var lost = ImmutableArray.CreateBuilder<long>();
        foreach (var receipt in receipts)
        {
            if (!after.Holds(receipt))
            {
                lost.Add(receipt);
                continue;
            }

            var id = Receipts[receipt];
            after = after with { Live = after.Live.Remove(id), Acked = after.Acked.Add(id) };
        }

        return after with { Expect = new Expected("acked", lost.ToImmutable()) };
    }

    /// <summary>Deletes every live message of the queue, leased ones too (dead letters stay); returns how many.</summary>
    public QueueModel Purge() => this with { Live = Live.Clear(), Expect = new Expected("purged", [.. Live.Keys], Value: Live.Count) };

    /// <summary>
    /// A crash while a write was on its way to the file: the write's transaction is in the file only when all of its
    /// WAL frames, the commit frame included, were written (<paramref name="landed"/>); otherwise the state is the one
    /// before it. Either way the process is gone: producers waiting in it never got an answer.
    /// </summary>
    public QueueModel CrashedDuring(QueueModel written, bool landed) =>
        (landed ? written : this) with { Waiters = [], Expect = new Expected(landed ? "landed" : "lost", written.Expect.Ids) };

    public override string ToString()
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"t=+{Now - Start}ms live=[");
        text.AppendJoin(' ', Live.Values.Select(m => string.Create(
            CultureInfo.InvariantCulture,
            $"{m.Id}:p{m.Priority},a{m.Attempts}/{m.MaxAttempts},{(m.Receipt is { } r ? $"#{r}" : "-")},v+{m.VisibleAt - Start}{(m.DedupKey is { } k ? $",k={k}" : "")}")));
        text.Append("] dead=[").AppendJoin(' ', Dead.Keys).Append("] acked=[").AppendJoin(' ', Acked.Order());
        text.Append(CultureInfo.InvariantCulture, $"] app={AppRows}");
        if (!Waiters.IsEmpty)
        {
            text.Append(" waiting=[").AppendJoin(' ', Waiters.Select(w => $"w{w.Number}:{w.Messages.Length}")).Append(']');
        }

        text.Append(CultureInfo.InvariantCulture, $" expect={Expect}");
        return text.ToString();
    }
}
