using System.Collections.Immutable;
using FsCheck;
using FsCheck.Experimental;
using FsCheck.Fluent;

namespace DurableQueue.PropertyTests.Model;

/// <summary>
/// The FsCheck state machine: a random store configuration, then random operations chosen from what the model
/// allows (settles pick receipts the model knows; stale settles pick receipts that lost their lease). The same
/// operations run on either backend.
/// </summary>
internal sealed class QueueMachine(StoreBackend backend = StoreBackend.Sqlite) : Machine<QueueSut, QueueModel>
{
    private static readonly long[] s_visibilities = [1_000, 5_000, 30_000];
    private static readonly long[] s_delays = [0, 0, 0, 1_000, 10_000, 60_000];
    private static readonly long[] s_retries = [0, 1_000, 30_000];
    private static readonly long[] s_advances = [1, 999, 1_000, 5_000, 30_000, 31_000, 120_000];

    public override Arbitrary<Setup<QueueSut, QueueModel>> Setup =>
        (from maxAttempts in Gen.Elements(1, 2, 3, 5)
         from full in Gen.Frequency((1, Gen.Constant(true)), (3, Gen.Constant(false)))
         // PostgreSQL has no memory tier (other hosts change the rows): its runs set no budget.
         from budget in backend == StoreBackend.Postgres ? Gen.Constant(0L) : Gen.Elements(0L, ModelConfig.SmallBudget, long.MaxValue)
         from tierMax in Gen.Frequency((3, Gen.Constant(64 * 1024)), (1, Gen.Constant(3)))
         from bounded in Gen.Frequency((2, Gen.Constant(false)), (3, Gen.Constant(true)))
         from maxMessages in Gen.Frequency((1, Gen.Constant<int?>(null)), (3, Gen.Choose(3, 8).Select(n => (int?)n)))
         from maxBytes in Gen.Frequency((2, Gen.Constant<int?>(null)), (1, Gen.Choose(8, 24).Select(n => (int?)n)))
         from mode in Gen.Elements(QueueFullMode.Reject, QueueFullMode.DropOldest, QueueFullMode.Wait)
         let config = new ModelConfig(
             maxAttempts, full ? Durability.Full : Durability.Normal, budget, tierMax,
             bounded ? maxMessages ?? (maxBytes is null ? 5 : null) : null, mode, bounded ? maxBytes : null, backend)
         select (Setup<QueueSut, QueueModel>)new QueueSetup(config)).ToArbitrary();

    public override TearDown<QueueSut> TearDown => StateMachine.TearDown<QueueSut>(sut => sut.Dispose());

    public override Gen<Operation<QueueSut, QueueModel>> Next(QueueModel model)
    {
        var held = model.HeldReceipts.ToArray();
        var stale = model.StaleReceipts.ToArray();
        // In Wait mode a producer of the other store would block the step; the other store is left out there (each
        // process keeps its own line, which the core suite's CapacityConcurrencyTests cover).
        var otherStore = model.Config.FullMode != QueueFullMode.Wait || !model.Config.IsBounded;
        var other = otherStore ? Gen.Frequency((4, Gen.Constant(false)), (1, Gen.Constant(true))) : Gen.Constant(false);
        var choices = new List<(int, Gen<Operation<QueueSut, QueueModel>>)>
        {
            (6, from m in NewMessage() from route in Routes(otherStore) select Op(new EnqueueOp(m, route))),
            (2, from ms in Gen.Choose(1, 4).SelectMany(n => NewMessage().ArrayOf(n)) from route in Routes(otherStore) select Op(new EnqueueBatchOp([.. ms], route))),
            (1, Gen.Elements(100, 300).Select(n => Op(new EnqueueBulkOp(n)))),
            (6, from n in Gen.Choose(1, 3)
                from v in Gen.Elements(s_visibilities)
                from o in other
                select Op(new ReceiveOp(n, v, o))),
            (3, Gen.Elements(s_advances).Select(ms => Op(new AdvanceOp(ms)))),
            (1, Crashes(held)),
            (1, Gen.Constant(Op(new PurgeOp()))),
            (1, Gen.Elements<long?>([null, .. model.Dead.Keys, 9_999]).Select(id => Op(new RequeueOp(id)))),
            (2, from ms in Gen.Choose(0, 2).SelectMany(n => NewMessage().ArrayOf(n))
                from ack in Gen.Elements<int?>([null, .. held, .. stale])
                from commit in Gen.Frequency((3, Gen.Constant(true)), (1, Gen.Constant(false)))
                from catchFull in Gen.Elements(false, true)
                select Op(new UnitOfWorkOp([.. ms], ack, commit, catchFull))),
        };

        var ready = model.ReadyInOrder.Count();
        if (ready > 0)
        {
            choices.Add((2, from prefetch in Gen.Elements(1, 2, 3, 4, 6)
                            from take in Gen.Choose(1, Math.Min((prefetch + 1) / 2, ready))
                            from v in Gen.Elements(s_visibilities)
                            select Op(new StreamReceiveOp(prefetch, take, v))));
        }

        if (held.Length > 0)
        {
            choices.Add((5, from r in Gen.Elements(held) from o in other select Op(new AckOp(r, stale: false, o))));
            choices.Add((1, from some in Gen.SubListOf(held).Where(l => l.Count > 0)
                            from late in Gen.SubListOf(stale)
                            select Op(new AckManyOp([.. some.Concat(late.Take(2)).Distinct()]))));
            choices.Add((2, from r in Gen.Elements(held) from d in Gen.Elements(s_retries) from e in Gen.Elements<string?>("boom", null)
                            select Op(new NackOp(r, d, e, stale: false))));
            choices.Add((2, from r in Gen.Elements(held) from v in Gen.Elements(s_visibilities) select Op(new ExtendOp(r, v, stale: false))));
            choices.Add((1, Gen.Elements(held).Select(r => Op(new DeadLetterOp(r, stale: false)))));
        }

        if (stale.Length > 0)
        {
            choices.Add((2, from r in Gen.Elements(stale)
                            from kind in Gen.Choose(0, 3)
                            from o in otherStore ? Gen.Elements(false, true) : Gen.Constant(false)
                            select kind switch
                            {
                                0 => Op(new AckOp(r, stale: true, o)),
                                1 => Op(new NackOp(r, 0, "late", stale: true)),
                                2 => Op(new ExtendOp(r, 30_000, stale: true)),
                                _ => Op(new DeadLetterOp(r, stale: true)),
                            }));
        }

        return Gen.Frequency(choices);
    }

    /// <summary>Crashes, as often as one plain crash step used to be: at an idle moment, or in the middle of a write (an enqueue batch, or an ack of held messages).</summary>
    private static Gen<Operation<QueueSut, QueueModel>> Crashes(int[] held)
    {
        var cuts = Gen.Elements(CrashCut.Before, CrashCut.Torn, CrashCut.After);
        var crashes = new List<(int, Gen<Operation<QueueSut, QueueModel>>)>
        {
            (2, Gen.Constant(Op(new CrashOp()))),
            (2, from ms in Gen.Choose(1, 3).SelectMany(n => NewMessage().ArrayOf(n))
                from cut in cuts
                from permille in Gen.Choose(0, 999)
                select Op(new CrashDuringWriteOp([.. ms], [], cut, permille))),
        };
        if (held.Length > 0)
        {
            crashes.Add((1, from some in Gen.SubListOf(held).Where(l => l.Count > 0)
                            from cut in cuts
                            from permille in Gen.Choose(0, 999)
                            select Op(new CrashDuringWriteOp([], [.. some.Take(3)], cut, permille))));
        }

        return Gen.Frequency(crashes);
    }

    /// <summary>
    /// A new message: mostly plain; sometimes a NotBefore (in the past or the future) instead of a delay, a deduplication
    /// key from a small set (so that keys collide), or a header.
    /// </summary>
    private static Gen<NewMessage> NewMessage() =>
        from body in Gen.Choose(0, 999)
        from priority in Gen.Frequency((3, Gen.Constant(4)), (2, Gen.Choose(0, 9)))
        from delay in Gen.Elements(s_delays)
        from notBefore in Gen.Frequency((5, Gen.Constant<long?>(null)), (1, Gen.Elements<long?>(-5_000, 0, 2_000, 45_000)))
        from max in Gen.Frequency((4, Gen.Constant<int?>(null)), (1, Gen.Choose(1, 3).Select(m => (int?)m)))
        from key in Gen.Frequency((4, Gen.Constant<string?>(null)), (1, Gen.Elements<string?>("k1", "k2", "k3")))
        from header in Gen.Frequency((3, Gen.Constant<string?>(null)), (1, Gen.Elements<string?>("v1", "v22")))
        select new NewMessage($"b{body}", priority, notBefore is null ? delay : 0, max, notBefore, key, header);

    /// <summary>Mostly the throwing API through the store under test; sometimes the Try variant, sometimes the other store.</summary>
    private static Gen<Route> Routes(bool otherStore) =>
        from useTry in Gen.Frequency((2, Gen.Constant(false)), (1, Gen.Constant(true)))
        from other in otherStore ? Gen.Frequency((5, Gen.Constant(false)), (1, Gen.Constant(true))) : Gen.Constant(false)
        select new Route(useTry, other);

    private static Operation<QueueSut, QueueModel> Op(QueueOperation operation) => operation;

    private sealed class QueueSetup(ModelConfig config) : Setup<QueueSut, QueueModel>
    {
        public override QueueSut Actual() => new(config);

        public override QueueModel Model() => QueueModel.Initial(config);

        public override string ToString() => $"Open({config})";
    }
}
