using System.Collections.Immutable;
using System.Globalization;
using System.Text;

namespace DurableQueue.PropertyTests.Model;

/// <summary>
/// What one model run is configured with. New store or queue settings (a memory budget, a capacity) become fields
/// here: <see cref="Configure"/> passes them to the real store and <see cref="QueueModel"/> reads them.
/// </summary>
internal sealed record ModelConfig(int QueueMaxAttempts, Durability Durability)
{
    public void Configure(QueueStoreOptions options) => options.Durability = Durability;

    public QueueOptions QueueOptions => new() { VisibilityTimeout = TimeSpan.FromSeconds(30), MaxAttempts = QueueMaxAttempts };

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"queue MaxAttempts={QueueMaxAttempts}, {Durability}");
}

/// <summary>A live message as the contract says it must be.</summary>
/// <param name="Receipt">The number of the receipt whose token is on the row, or null when none is.</param>
internal sealed record ModelMessage(
    long Id, string Body, int Priority, long VisibleAt, long EnqueuedAt, int Attempts, int MaxAttempts, int? Receipt, string? LastError);

internal sealed record ModelDeadLetter(long Id, string Body, int Priority, long EnqueuedAt, int Attempts, int MaxAttempts, string Reason, string? LastError);

/// <summary>What the real store must answer to the operation that produced this model state.</summary>
internal sealed record Expected(string Outcome, ImmutableArray<long> Ids = default, long Value = 0)
{
    public static readonly Expected Nothing = new("none");
    public static readonly Expected Ok = new("ok");
    public static readonly Expected LeaseLost = new("lease-lost");
    public static readonly Expected RolledBack = new("rolled-back");

    public override string ToString() =>
        Ids.IsDefault ? Outcome : $"{Outcome} [{string.Join(",", Ids)}]";
}

/// <summary>
/// A plain in-memory implementation of the queue contract (DESIGN.md section 2), immutable so that FsCheck can
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

    public QueueModel Enqueue(IReadOnlyList<(string Body, int Priority, long DelayMs, int? MaxAttempts)> messages)
    {
        var live = Live;
        var id = NextId;
        var ids = ImmutableArray.CreateBuilder<long>();
        foreach (var (body, priority, delay, max) in messages)
        {
            live = live.Add(id, new ModelMessage(id, body, priority, Now + delay, Now, 0, max ?? Config.QueueMaxAttempts, null, null));
            ids.Add(id++);
        }

        return this with { Live = live, NextId = id, Expect = new Expected("enqueued", ids.ToImmutable()) };
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

    /// <summary>A unit of work: one app row, some enqueues and maybe an ack; all of it or none.</summary>
    public QueueModel UnitOfWork(IReadOnlyList<(string Body, int Priority, long DelayMs, int? MaxAttempts)> messages, int? ackReceipt, bool commit)
    {
        if (ackReceipt is { } r && !Holds(r))
        {
            return this with { Expect = Expected.LeaseLost };
        }

        if (!commit)
        {
            return this with { Expect = Expected.RolledBack };
        }

        var after = Enqueue(messages);
        if (ackReceipt is { } ack)
        {
            var id = Receipts[ack];
            after = after with { Live = after.Live.Remove(id), Acked = after.Acked.Add(id) };
        }

        return after with { AppRows = AppRows + 1 };
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
