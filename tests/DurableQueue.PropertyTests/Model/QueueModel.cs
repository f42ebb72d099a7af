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
/// <param name="FullMode">What an enqueue does on a full bounded queue (Reject or DropOldest; the model never waits).</param>
internal sealed record ModelConfig(
    int QueueMaxAttempts,
    Durability Durability,
    long MemoryBudget = 0,
    int TierMaxMessageBytes = 64 * 1024,
    int? MaxMessages = null,
    QueueFullMode FullMode = QueueFullMode.Reject,
    int? MaxBytes = null)
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
        return string.Create(CultureInfo.InvariantCulture, $"queue MaxAttempts={QueueMaxAttempts}, {Durability}, {tier}{bound}");
    }
}

/// <summary>A live message as the contract says it must be.</summary>
/// <param name="Receipt">The number of the receipt whose token is on the row, or null when none is.</param>
internal sealed record ModelMessage(
    long Id, string Body, int Priority, long VisibleAt, long EnqueuedAt, int Attempts, int MaxAttempts, int? Receipt, string? LastError);

internal sealed record ModelDeadLetter(long Id, string Body, int Priority, long EnqueuedAt, int Attempts, int MaxAttempts, string Reason, string? LastError);

/// <summary>What the real store must answer to the operation that produced this model state.</summary>
/// <param name="Dropped">Messages a DropOldest enqueue deleted to make room, oldest first.</param>
internal sealed record Expected(string Outcome, ImmutableArray<long> Ids = default, long Value = 0, ImmutableArray<long> Dropped = default)
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

    public override string ToString() =>
        (Ids.IsDefault ? Outcome : $"{Outcome} [{string.Join(",", Ids)}]") + (DroppedOrEmpty.IsEmpty ? "" : $" dropped [{string.Join(",", Dropped)}]");
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
    Expected Expect)
{
    public static readonly long Start = new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds();

    public static QueueModel Initial(ModelConfig config) => new(
        config, Start, 1, 1, ImmutableSortedDictionary<long, ModelMessage>.Empty, ImmutableSortedDictionary<long, ModelDeadLetter>.Empty,
        ImmutableDictionary<int, long>.Empty, [], 0, Expected.Nothing);

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
    /// first deleting the oldest ready messages that hold no lease (by id) to make room.
    /// </summary>
    public QueueModel Enqueue(IReadOnlyList<(string Body, int Priority, long DelayMs, int? MaxAttempts)> messages)
    {
        var (room, dropped, refused) = MakeRoom(messages.Count, messages.Sum(m => Bytes(m.Body)));
        if (refused is not null)
        {
            return this with { Expect = refused };
        }

        var live = room.Live;
        var id = NextId;
        var ids = ImmutableArray.CreateBuilder<long>();
        foreach (var (body, priority, delay, max) in messages)
        {
            live = live.Add(id, new ModelMessage(id, body, priority, Now + delay, Now, 0, max ?? Config.QueueMaxAttempts, null, null));
            ids.Add(id++);
        }

        return room with { Live = live, NextId = id, Expect = new Expected("enqueued", ids.ToImmutable(), Dropped: dropped) };
    }

    /// <summary>Body bytes, as MaxBytes counts them (headers are not counted).</summary>
    public static long Bytes(string body) => Encoding.UTF8.GetByteCount(body);

    public long LiveBytes => Live.Values.Sum(m => Bytes(m.Body));

    /// <summary>
    /// The admission check of a bounded queue (BackPressure/Admission.cs) for <paramref name="count"/> new messages of
    /// <paramref name="bytes"/> body bytes: what must be dropped first (DropOldest), or why it is refused.
    /// </summary>
    private (QueueModel Room, ImmutableArray<long> Dropped, Expected? Refused) MakeRoom(int count, long bytes)
    {
        if (!Config.IsBounded)
        {
            return (this, [], null);
        }

        if (count > Config.MaxMessages || bytes > Config.MaxBytes)
        {
            return (this, [], Expected.NeverFits);
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
        // never. Oldest id first, until both bounds fit.
        var victims = ImmutableArray.CreateBuilder<long>();
        long freed = 0;
        foreach (var m in Live.Values.Where(m => m.Receipt is null && m.VisibleAt <= Now).OrderBy(m => m.Id))
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
        if (ids.Count > 0 && (Live.Count + ids.Count > Config.MaxMessages || LiveBytes + ids.Sum(id => Bytes(Dead[id].Body)) > Config.MaxBytes))
        {
            // Requeues never wait and never drop; one chunk (up to 5,000) goes back whole or stays whole.
            return this with { Expect = Expected.Full };
        }

        var live = Live;
        var dead = Dead;
        foreach (var id in ids)
        {
            var d = Dead[id];
            live = live.Add(id, new ModelMessage(id, d.Body, d.Priority, Now, d.EnqueuedAt, 0, d.MaxAttempts, null, d.LastError));
            dead = dead.Remove(id);
        }

        return this with { Live = live, Dead = dead, Expect = new Expected("requeued", Value: ids.Count) };
    }

    /// <summary>
    /// A unit of work: one app row, some enqueues (each admitted on its own, in order, never waiting) and maybe an
    /// ack; all of it or none. The first failure (a full queue, then a lost lease) is what the caller sees, unless the
    /// callback catches QueueFullException (<paramref name="catchFull"/>): then the refused enqueue alone leaves no trace.
    /// </summary>
    public QueueModel UnitOfWork(
        IReadOnlyList<(string Body, int Priority, long DelayMs, int? MaxAttempts)> messages, int? ackReceipt, bool commit, bool catchFull = false)
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
        var after = this with { Now = Now + ms, Expect = Expected.Ok };
        foreach (var m in after.Live.Values.Where(m => m.Receipt is not null && m.Attempts >= m.MaxAttempts && m.VisibleAt <= after.Now).ToList())
        {
            after = after.MoveToDead(m, DeadLetterReasons.LastLeaseExpired, m.LastError);
        }

        return after;
    }

    private QueueModel MoveToDead(ModelMessage m, string reason, string? error) => this with
    {
        Live = Live.Remove(m.Id),
        Dead = Dead.Add(m.Id, new ModelDeadLetter(m.Id, m.Body, m.Priority, m.EnqueuedAt, m.Attempts, m.MaxAttempts, reason, error)),
    };

    public override string ToString()
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"t=+{Now - Start}ms live=[");
        text.AppendJoin(' ', Live.Values.Select(m => string.Create(
            CultureInfo.InvariantCulture,
            $"{m.Id}:p{m.Priority},a{m.Attempts}/{m.MaxAttempts},{(m.Receipt is { } r ? $"#{r}" : "-")},v+{m.VisibleAt - Start}")));
        text.Append("] dead=[").AppendJoin(' ', Dead.Keys).Append("] acked=[").AppendJoin(' ', Acked.Order());
        text.Append(CultureInfo.InvariantCulture, $"] app={AppRows} expect={Expect}");
        return text.ToString();
    }
}
