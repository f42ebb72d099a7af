using System.Diagnostics;
using Xunit.Abstractions;

namespace DurableQueue.PropertyTests.Crash;

/// <summary>
/// Kills a producing and consuming child process (SIGKILL) at random moments, many times on one file, and checks
/// after each kill what it had confirmed: guarantees 1, 3, 6 and 7 of docs/guarantees.md across a process crash.
/// </summary>
[Trait("Category", "Crash")]
public sealed class KillTests(ITestOutputHelper output) : IDisposable
{
    /// <summary>The host's consumers; each settles one message at a time, so at most this many acks are in flight at a kill.</summary>
    private const int Consumers = 2;

    /// <summary>The host's queue MaxAttempts.</summary>
    private const int MaxAttempts = 5;

    private readonly string _directory = Directory.CreateTempSubdirectory("dq-kill-").FullName;

    [Fact]
    public async Task KilledAtRandomMoments_LosesNothingConfirmed()
    {
        var kills = PropertySettings.Kills;
        var seed = PropertySettings.CrashSeed;
        // First, so that a failure (or a hang) shows it: the same seed makes the same kill points, durabilities and
        // host seeds; where exactly a kill lands still depends on timing.
        output.WriteLine($"seed {seed}: replay with DQ_CRASH_SEED={seed} (and DQ_CRASH_KILLS={kills})");
        var random = new Random(seed);
        var file = Path.Combine(_directory, "crash.db");
        var enqueued = new HashSet<long>();
        var acked = new HashSet<long>();
        var gone = new HashSet<long>();
        var attemptsSeen = new Dictionary<long, int>();
        var lastDelivery = new Dictionary<long, int>();
        var watch = Stopwatch.StartNew();
        var totalLines = 0;
        var inFlightAllowed = 0;
        var nacksChecked = 0;

        for (var round = 0; round < kills; round++)
        {
            var at = $"seed {seed}, round {round}";
            // Kill after a random number of confirmed lines: from right at READY to some hundreds of operations in.
            var target = random.Next(4) == 0 ? 1 : random.Next(2, 300);
            var durability = random.Next(3) == 0 ? "Normal" : "Full";
            using var host = HostProcess.Start("mixed", file, [$"seed={seed + round}", $"durability={durability}", "visibilityMs=200", $"consumers={Consumers}"]);
            await host.WaitForLinesAsync(target, TimeSpan.FromSeconds(30));
            host.Kill();
            var lines = host.Lines;
            totalLines += lines.Count;
            var log = HostLog.Parse(lines);
            Assert.True(lines.Count > 0 && lines[0] == "READY", $"{at}: the host did not start: {string.Join(" | ", lines.Take(5))}");
            // A lease that ran out under load is lost legitimately (200 ms visibility); any other error is not.
            Assert.DoesNotContain(log.Errors, e => !e.Contains("LeaseLostException", StringComparison.Ordinal));
            // Each consumer awaits one settle at a time: more acks in flight than consumers means the log is not what we think.
            Assert.True(log.AcksInFlight.Count <= Consumers, $"{at}: {log.AcksInFlight.Count} acks in flight at the kill, more than {Consumers} consumers");

            enqueued.UnionWith(log.Enqueued);
            acked.UnionWith(log.Acked);
            foreach (var lease in log.Leases)
            {
                // Every delivery counts an attempt before it is handed out, and this host never hands one back: the
                // attempts of one message's deliveries go up strictly, across kills too.
                var previous = lastDelivery.GetValueOrDefault(lease.Id);
                Assert.True(lease.Attempt > previous, $"{at}: message {lease.Id} was delivered as attempt {lease.Attempt} after attempt {previous}");
                lastDelivery[lease.Id] = lease.Attempt;
                attemptsSeen[lease.Id] = Math.Max(lease.Attempt, attemptsSeen.GetValueOrDefault(lease.Id));
            }

            Assert.Equal("ok", StoreFile.IntegrityCheck(file));
            // The store itself must open the crashed file (WAL recovery, pending last-attempt sweeps) and close it.
            await using (var store = QueueStore.Open(file))
            {
                await store.GetQueue("work").GetCountsAsync();
            }

            var present = StoreFile.Messages(file);
            // An ack may have committed in the instant before the kill, before its ACK line was written: only an ack
            // the host had started (ACKING) and not finished, at most one per consumer, excuses a missing message.
            foreach (var id in enqueued)
            {
                if (present.ContainsKey(id) || acked.Contains(id) || gone.Contains(id))
                {
                    continue;
                }

                Assert.True(log.AcksInFlight.Contains(id), $"{at}: message {id} was confirmed enqueued, never acked, and is gone");
                gone.Add(id);
                inFlightAllowed++;
            }

            foreach (var id in acked)
            {
                Assert.False(present.ContainsKey(id), $"{at}: message {id} was confirmed acked and is back");
            }

            nacksChecked += CheckNacks(log, present, at);
            foreach (var (id, (attempts, _)) in present)
            {
                Assert.True(attempts >= attemptsSeen.GetValueOrDefault(id), $"{at}: message {id} has {attempts} attempts, {attemptsSeen.GetValueOrDefault(id)} were seen");
                attemptsSeen[id] = attempts;
            }
        }

        output.WriteLine(
            $"{kills} kills in {watch.Elapsed.TotalSeconds:0.0} s: {enqueued.Count} confirmed enqueues, {acked.Count} confirmed acks, " +
            $"{nacksChecked} confirmed nacks checked, {totalLines} lines; {inFlightAllowed} messages vanished through an ack in flight at its kill (allowed).");
        Assert.True(enqueued.Count > kills, "the host made too little progress to test anything");
    }

    /// <summary>
    /// A confirmed nack keeps the message and its attempt: the next delivery comes as a later attempt (checked with
    /// the leases), and a message whose last event in the round was the nack is still in the file with at least that
    /// attempt, among the dead letters when the nack was on its last attempt. Returns how many nacks were checked.
    /// </summary>
    private static int CheckNacks(HostLog log, Dictionary<long, (int Attempts, bool Dead)> present, string at)
    {
        var attemptOf = log.Leases.GroupBy(l => l.Receipt).ToDictionary(g => g.Key, g => g.Single().Attempt, StringComparer.Ordinal);
        var lastEvent = log.Events.GroupBy(e => e.Id).ToDictionary(g => g.Key, g => g.Last().Kind);
        foreach (var (id, receipt) in log.Nacks)
        {
            Assert.True(attemptOf.TryGetValue(receipt, out var attempt), $"{at}: nack of message {id} with receipt {receipt}, which no receive of this run returned");
            if (lastEvent[id] != "NACK" || log.AcksInFlight.Contains(id))
            {
                continue;
            }

            Assert.True(present.TryGetValue(id, out var row), $"{at}: message {id} was nacked (attempt {attempt}) and is gone");
            Assert.True(row.Attempts >= attempt, $"{at}: message {id} was nacked on attempt {attempt} and has {row.Attempts} attempts");
            if (attempt >= MaxAttempts)
            {
                Assert.True(row.Dead, $"{at}: message {id} was nacked on its last attempt and is not a dead letter");
            }
            else if (row.Dead)
            {
                // Only a later delivery, leased at the kill before its LEASE line was written, can use up the rest.
                Assert.True(row.Attempts >= MaxAttempts, $"{at}: message {id} was nacked on attempt {attempt} and is a dead letter with {row.Attempts} attempts");
            }
        }

        return log.Nacks.Count;
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}
