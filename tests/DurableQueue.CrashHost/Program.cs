// A child process for the crash, two-process and fault-injection tests. It works on one store file and reports, one
// flushed line each, only what the store has confirmed:
//   READY                                       the store is open
//   ENQ <id>                                    EnqueueAsync / EnqueueBatchAsync returned this id
//   LEASE <id> <receipt> <expiresAtMs> <attempt> ReceiveAsync returned this delivery
//   EXTEND <id> <receipt> <expiresAtMs>         ExtendLeaseAsync returned
//   NACK <id> <receipt>                         NackAsync returned (retry after one visibility timeout)
//   ACKING <id>                                 AckAsync is about to be called (each consumer settles one at a time)
//   ACK <id>                                    AckAsync returned
//   ERR <operation> <exception type> <sqlite code or -> <message>   an operation threw
//   CONSUMER                                    (awaitConsumerAfter) the file showed another process at work on the queue
//   DONE                                        the run ended normally
// Usage: CrashHost <mode> <file> [key=value ...]
//   <file> may be a PostgreSQL connection string instead (told apart by its '='); the key schema names the schema.
//   modes: mixed (producers and consumers), produce, consume; hold (HoldMode.cs: leave a known state, wait to be killed)
//   keys:  seed, enqueues (stop after that many; mixed/produce), seconds (run time; consume/mixed), visibilityMs,
//          durability (Full|Normal), producers, consumers,
//          idleMs (consumers stop after that long without a message), schema (PostgreSQL),
//          start (now, or stdin: after READY, wait for the line GO on stdin, so that several hosts start together),
//          stop (time: as seconds/enqueues say; or stdin: also end at the line STOP on stdin, so that a test ends the
//          run once it has seen what it waits for, however long a slow machine took to get there),
//          awaitConsumerAfter (produce: after that many enqueues, pause until the queue shows a consumer at work, that is
//          a lease taken or a message settled, so that the two processes are sure to overlap)
using System.Globalization;
using DurableQueue;
using DurableQueue.CrashHost;
using Microsoft.Data.Sqlite;

if (args.Length < 2)
{
    Console.Error.WriteLine("usage: CrashHost <mixed|produce|consume> <file> [key=value ...]");
    return 2;
}

if (args[0] == "hold")
{
    return await HoldMode.RunAsync(args); // the recovery report tests
}

var settings = HostSettings.Parse(args);
var report = new Report();
QueueStore? store = null;
for (var attempt = 1; store is null; attempt++)
{
    try
    {
        var options = new QueueStoreOptions { Durability = settings.Durability, PollInterval = TimeSpan.FromMilliseconds(20) };
        store = settings.File.Contains('=', StringComparison.Ordinal)
            ? QueueStore.OpenPostgres(settings.File, options, new DurableQueue.Postgres.PostgresStoreOptions { Schema = settings.Schema })
            : QueueStore.Open(settings.File, options);
    }
    catch (Exception ex) when (attempt < 50)
    {
        // Under the fault tests' injected I/O errors an open fails about half the time (9 failed opens before 10
        // good ones in 10 runs), so five tries in a row failed about once in forty runs, and such a run proved
        // nothing. Each failure is reported, and the test checks that it surfaced as a typed error.
        report.Error("open", ex);
    }
}

var queue = store.GetQueue("work", new QueueOptions { VisibilityTimeout = settings.Visibility, MaxAttempts = 5 });
report.Line("READY");
if (settings.Start == "stdin" && Console.In.ReadLine() != "GO")
{
    Console.Error.WriteLine("expected GO on stdin");
    return 3;
}

using var stop = new CancellationTokenSource();
if (settings.Seconds > 0)
{
    stop.CancelAfter(TimeSpan.FromSeconds(settings.Seconds));
}

if (settings.Stop == "stdin")
{
    _ = Task.Run(() =>
    {
        // End of input (the test process gone) ends the run too.
        string? line;
        while ((line = Console.In.ReadLine()) is not null && line != "STOP")
        {
        }

        stop.Cancel();
    });
}

var workers = new List<Task>();
var enqueued = 0;
Task? consumerSeen = null;
var consumerGate = new Lock();
if (settings.Mode is "mixed" or "produce")
{
    for (var p = 0; p < settings.Producers; p++)
    {
        var random = new Random(settings.Seed * 31 + p);
        var batches = p % 2 == 1;
        workers.Add(Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested && (settings.Enqueues == 0 || Volatile.Read(ref enqueued) < settings.Enqueues))
            {
                if (settings.AwaitConsumerAfter > 0 && Volatile.Read(ref enqueued) >= settings.AwaitConsumerAfter)
                {
                    Task seen;
                    lock (consumerGate)
                    {
                        seen = consumerSeen ??= AwaitConsumerAsync(queue, Volatile.Read(ref enqueued), report, stop.Token);
                    }

                    await seen;
                }

                try
                {
                    if (batches)
                    {
                        var bodies = Enumerable.Range(0, random.Next(1, 6)).Select(_ => (ReadOnlyMemory<byte>)new byte[random.Next(10, 2000)]).ToList();
                        var ids = await queue.EnqueueBatchAsync(bodies, new EnqueueOptions { Priority = random.Next(0, 10) });
                        foreach (var id in ids)
                        {
                            report.Line($"ENQ {id}");
                        }

                        Interlocked.Add(ref enqueued, ids.Count);
                    }
                    else
                    {
                        var id = await queue.EnqueueAsync(new byte[random.Next(10, 2000)]);
                        report.Line($"ENQ {id}");
                        Interlocked.Increment(ref enqueued);
                    }
                }
                catch (Exception ex)
                {
                    report.Error("enqueue", ex);
                    // A server that is down refuses at once: do not spin on it.
                    await Task.Delay(10);
                }
            }
        }));
    }
}

if (settings.Mode is "mixed" or "consume")
{
    for (var c = 0; c < settings.Consumers; c++)
    {
        var random = new Random(settings.Seed * 17 + c + 1000);
        workers.Add(Task.Run(async () =>
        {
            var producing = settings.Mode == "mixed";
            var idle = System.Diagnostics.Stopwatch.StartNew();
            while (!stop.IsCancellationRequested)
            {
                if (producing && settings.Enqueues > 0 && Volatile.Read(ref enqueued) >= settings.Enqueues)
                {
                    // A bounded mixed run ends when its producers are done and the queue is drained of ready work.
                    producing = false;
                }

                IReadOnlyList<QueueMessage> messages;
                try
                {
                    messages = await queue.ReceiveAsync(random.Next(1, 5), waitTime: TimeSpan.FromMilliseconds(100));
                }
                catch (Exception ex)
                {
                    report.Error("receive", ex);
                    await Task.Delay(10);
                    continue;
                }

                if (messages.Count > 0)
                {
                    idle.Restart();
                }
                else if (settings.IdleMs > 0 ? idle.ElapsedMilliseconds >= settings.IdleMs : !producing && settings.Seconds == 0 && settings.Stop != "stdin")
                {
                    return;
                }

                foreach (var m in messages)
                {
                    report.Line(string.Create(CultureInfo.InvariantCulture, $"LEASE {m.Id} {m.Receipt} {m.LeaseExpiresAt.ToUnixTimeMilliseconds()} {m.Attempt}"));
                }

                foreach (var m in messages)
                {
                    await Settle(queue, m, random, report, settings);
                }
            }
        }));
    }
}

await Task.WhenAll(workers);
await store.DisposeAsync();
report.Line("DONE");
return 0;

// Waits until another process works on the queue: a lease is held, or fewer messages are live than were enqueued
// (acked, or nacked into a delay). It reads the file through the store's own reads; it gives up after 30 s.
static async Task AwaitConsumerAsync(MessageQueue queue, int enqueuedSoFar, Report report, CancellationToken cancellationToken)
{
    var deadline = DateTime.UtcNow.AddSeconds(30);
    while (DateTime.UtcNow < deadline && !cancellationToken.IsCancellationRequested)
    {
        var counts = await queue.GetCountsAsync(cancellationToken);
        if (counts.Leased > 0 || counts.Ready < enqueuedSoFar)
        {
            report.Line("CONSUMER");
            return;
        }

        await Task.Delay(5, cancellationToken);
    }
}

static async Task Settle(MessageQueue queue, QueueMessage m, Random random, Report report, HostSettings settings)
{
    var roll = random.Next(100);
    try
    {
        if (roll < 10)
        {
            // Abandon: the lease runs out and the message comes back with its attempt spent.
            return;
        }

        if (roll < 25)
        {
            var until = await queue.ExtendLeaseAsync(m, settings.Visibility);
            report.Line(string.Create(CultureInfo.InvariantCulture, $"EXTEND {m.Id} {m.Receipt} {until.ToUnixTimeMilliseconds()}"));
        }
        else if (roll < 35)
        {
            // Retry after a whole visibility timeout, so the message never becomes ready before the lease would have expired.
            await queue.NackAsync(m, settings.Visibility, "try again");
            report.Line($"NACK {m.Id} {m.Receipt}");
            return;
        }

        // Printed first, so that an ack that commits just before a kill (its ACK line never written) can be told apart
        // from a message that was lost.
        report.Line($"ACKING {m.Id}");
        await queue.AckAsync(m);
        report.Line($"ACK {m.Id}");
    }
    catch (Exception ex)
    {
        report.Error($"settle:{m.Id}", ex);
    }
}

namespace DurableQueue.CrashHost
{
    internal sealed record HostSettings(
        string Mode, string File, int Seed, int Enqueues, double Seconds, TimeSpan Visibility, Durability Durability, int Producers, int Consumers, int IdleMs,
        string Schema, string Start, string Stop, int AwaitConsumerAfter)
    {
        public static HostSettings Parse(string[] args)
        {
            var values = args.Skip(2).Select(a => a.Split('=', 2)).ToDictionary(p => p[0], p => p[1], StringComparer.Ordinal);
            string Get(string key, string fallback) => values.TryGetValue(key, out var v) ? v : fallback;
            return new HostSettings(
                args[0],
                args[1],
                int.Parse(Get("seed", "1"), CultureInfo.InvariantCulture),
                int.Parse(Get("enqueues", "0"), CultureInfo.InvariantCulture),
                double.Parse(Get("seconds", "0"), CultureInfo.InvariantCulture),
                TimeSpan.FromMilliseconds(int.Parse(Get("visibilityMs", "300"), CultureInfo.InvariantCulture)),
                Enum.Parse<Durability>(Get("durability", "Full")),
                int.Parse(Get("producers", "2"), CultureInfo.InvariantCulture),
                int.Parse(Get("consumers", "2"), CultureInfo.InvariantCulture),
                int.Parse(Get("idleMs", "0"), CultureInfo.InvariantCulture),
                Get("schema", "durablequeue"),
                Get("start", "now"),
                Get("stop", "time"),
                int.Parse(Get("awaitConsumerAfter", "0"), CultureInfo.InvariantCulture));
        }
    }

    /// <summary>Writes whole lines to stdout and flushes each, so a kill never leaves a confirmed line unwritten.</summary>
    internal sealed class Report
    {
        private readonly Lock _lock = new();
        private readonly TextWriter _out = Console.Out;

        public void Line(string text)
        {
            lock (_lock)
            {
                _out.WriteLine(text);
                _out.Flush();
            }
        }

        public void Error(string operation, Exception ex)
        {
            var sqlite = ex as SqliteException ?? ex.InnerException as SqliteException;
            var code = sqlite is null ? "-" : sqlite.SqliteErrorCode.ToString(CultureInfo.InvariantCulture) + "/" + sqlite.SqliteExtendedErrorCode.ToString(CultureInfo.InvariantCulture);
            Line($"ERR {operation} {ex.GetType().FullName} {code} {ex.Message.ReplaceLineEndings(" ")}");
        }
    }
}
