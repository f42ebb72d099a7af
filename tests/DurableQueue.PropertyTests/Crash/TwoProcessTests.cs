using System.Text;
using Xunit.Abstractions;

namespace DurableQueue.PropertyTests.Crash;

/// <summary>
/// Two processes on one file at once: guarantees 3 and 4 of docs/guarantees.md (nothing lost, no message under two valid
/// leases) across processes, and the promise that SQLITE_BUSY never surfaces raw.
/// </summary>
[Trait("Category", "Crash")]
public sealed class TwoProcessTests(ITestOutputHelper output) : IDisposable
{
    private const int VisibilityMs = 300;
    private readonly string _directory = Directory.CreateTempSubdirectory("dq-two-").FullName;

    [Fact]
    public async Task ProducerAndConsumer_InTwoProcesses_LoseNothingAndNeverShareALease()
    {
        var file = Path.Combine(_directory, "shared.db");
        using (QueueStore.Open(file))
        {
            // Created first so that the two processes do not race to create the schema (they may; it is not the point here).
        }

        using var producer = HostProcess.Start("produce", file, ["enqueues=400", "producers=2", "seed=7", "start=stdin", "awaitConsumerAfter=200"]);
        using var consumer = HostProcess.Start("consume", file, ["consumers=2", $"visibilityMs={VisibilityMs}", "idleMs=3000", "seed=8", "start=stdin"]);
        await StartTogetherAsync(producer, consumer);
        Assert.True(await producer.WaitForExitAsync(TimeSpan.FromSeconds(60)), "the producer did not finish");
        Assert.True(await consumer.WaitForExitAsync(TimeSpan.FromSeconds(60)), "the consumer did not finish");

        var produced = HostLog.Parse(producer.Lines);
        var consumed = HostLog.Parse(consumer.Lines);
        Assert.True(produced.Done && consumed.Done, "a host did not end normally");
        AssertNoStorageErrors(produced, consumed);
        Assert.True(produced.Enqueued.Count >= 400, $"the producer confirmed {produced.Enqueued.Count} enqueues, not 400");
        Assert.Empty(produced.Leases);
        // The consumer side: it took messages while the producer was still at work, and drained the queue: every
        // message was acked by it or used up its attempts (nacked or abandoned five times) and is a dead letter.
        // The producer paused half way until the file showed the consumer at work, then enqueued the rest.
        var seen = producer.Lines.ToList().IndexOf("CONSUMER");
        Assert.True(seen >= 0, "the producer never saw the consumer at work on the file: the processes did not share it at once");
        Assert.Contains(producer.Lines.Skip(seen + 1), l => l.StartsWith("ENQ ", StringComparison.Ordinal));
        var overlap = LinesBefore(consumer, "LEASE ", LastArrival(producer, "ENQ "));
        AssertDrained(file, produced.Enqueued, consumed);
        AssertNothingLost(file, produced.Enqueued, consumed.Acked);
        AssertLeasesNeverOverlap(consumed);
        output.WriteLine(
            $"{produced.Enqueued.Count} enqueued in one process, {consumed.Leases.Count} leases and {consumed.Acked.Count} acks in the other " +
            $"({overlap} leases before the last enqueue).");
    }

    [Fact]
    public async Task TwoConsumerProcesses_NeverHoldOneMessageAtOnce()
    {
        var file = Path.Combine(_directory, "shared.db");
        var ids = new HashSet<long>();
        await using (var store = QueueStore.Open(file, new QueueStoreOptions { Durability = Durability.Normal }))
        {
            var queue = store.GetQueue("work", new QueueOptions { VisibilityTimeout = TimeSpan.FromMilliseconds(VisibilityMs), MaxAttempts = 5 });
            foreach (var id in await queue.EnqueueBatchAsync(Enumerable.Range(0, 400).Select(i => (ReadOnlyMemory<byte>)Encoding.UTF8.GetBytes($"m{i}"))))
            {
                ids.Add(id.Value);
            }
        }

        using var first = HostProcess.Start("consume", file, ["consumers=2", $"visibilityMs={VisibilityMs}", "idleMs=1500", "seed=1", "start=stdin"]);
        using var second = HostProcess.Start("consume", file, ["consumers=2", $"visibilityMs={VisibilityMs}", "idleMs=1500", "seed=2", "start=stdin"]);
        await StartTogetherAsync(first, second);
        Assert.True(await first.WaitForExitAsync(TimeSpan.FromSeconds(60)), "the first consumer did not finish");
        Assert.True(await second.WaitForExitAsync(TimeSpan.FromSeconds(60)), "the second consumer did not finish");

        var a = HostLog.Parse(first.Lines);
        var b = HostLog.Parse(second.Lines);
        Assert.True(a.Done && b.Done, "a host did not end normally");
        AssertNoStorageErrors(a, b);
        var both = HostLog.Parse(first.Lines.Concat(second.Lines));
        // Both sides worked: each leased and acked messages, and between them they drained the queue.
        Assert.True(a.Leases.Count > 0 && a.Acked.Count > 0, $"the first consumer leased {a.Leases.Count} and acked {a.Acked.Count}");
        Assert.True(b.Leases.Count > 0 && b.Acked.Count > 0, $"the second consumer leased {b.Leases.Count} and acked {b.Acked.Count}");
        AssertDrained(file, ids, both);
        AssertNothingLost(file, ids, both.Acked);
        AssertLeasesNeverOverlap(both);
        output.WriteLine($"400 messages: {a.Leases.Count} + {b.Leases.Count} leases, {a.Acked.Count} + {b.Acked.Count} acks.");
    }

    /// <summary>
    /// Both hosts open the file and print READY, then wait for GO on their stdin: neither starts its work before the
    /// other is ready, so one cannot finish everything before the other begins.
    /// </summary>
    private static async Task StartTogetherAsync(HostProcess first, HostProcess second)
    {
        foreach (var host in new[] { first, second })
        {
            await host.WaitForLinesAsync(1, TimeSpan.FromSeconds(30));
            Assert.True(host.Lines is ["READY", ..], "a host did not open the file: " + string.Join(" | ", host.Lines.Take(5)));
        }

        first.Go();
        second.Go();
    }

    private static long LastArrival(HostProcess host, string prefix)
    {
        var lines = host.Lines;
        var arrivals = host.Arrivals;
        var last = Enumerable.Range(0, lines.Count).Last(i => lines[i].StartsWith(prefix, StringComparison.Ordinal));
        return arrivals[last];
    }

    private static int LinesBefore(HostProcess host, string prefix, long timestamp)
    {
        var lines = host.Lines;
        var arrivals = host.Arrivals;
        return Enumerable.Range(0, lines.Count).Count(i => lines[i].StartsWith(prefix, StringComparison.Ordinal) && arrivals[i] < timestamp);
    }

    /// <summary>Every message was acked by the consumers, or used up its attempts and is a dead letter: none is left live.</summary>
    private static void AssertDrained(string file, IEnumerable<long> enqueued, HostLog consumed)
    {
        var present = StoreFile.Messages(file);
        foreach (var id in enqueued)
        {
            Assert.True(
                consumed.Acked.Contains(id) || (present.TryGetValue(id, out var row) && row.Dead),
                $"message {id} is still live: the consumers did not drain the queue");
        }
    }

    /// <summary>No raw SQLITE_BUSY/LOCKED (codes 5, 6) and no StorageBusyException; only lost leases are expected.</summary>
    private static void AssertNoStorageErrors(params HostLog[] logs)
    {
        foreach (var error in logs.SelectMany(l => l.Errors))
        {
            Assert.DoesNotContain("SqliteException 5/", error, StringComparison.Ordinal);
            Assert.DoesNotContain("SqliteException 6/", error, StringComparison.Ordinal);
            Assert.Contains("LeaseLostException", error, StringComparison.Ordinal);
        }
    }

    private static void AssertNothingLost(string file, IEnumerable<long> enqueued, HashSet<long> acked)
    {
        var present = StoreFile.Messages(file);
        foreach (var id in enqueued)
        {
            Assert.True(present.ContainsKey(id) || acked.Contains(id), $"message {id} was enqueued, never acked, and is gone");
        }

        foreach (var id in acked)
        {
            Assert.False(present.ContainsKey(id), $"message {id} was acked and is still there");
        }
    }

    /// <summary>
    /// A lease is granted at expiry - visibility (the store computes expiry from its clock reading at the grant) and
    /// lasts until its latest extension. Consumers only ack, extend, abandon, or nack with a retry of one whole
    /// visibility timeout, so no message may be granted again before the previous lease's end.
    /// </summary>
    private static void AssertLeasesNeverOverlap(HostLog log)
    {
        Assert.Equal(log.Leases.Count, log.Leases.Select(l => l.Receipt).Distinct().Count());
        foreach (var group in log.Leases.GroupBy(l => l.Id))
        {
            Lease? previous = null;
            foreach (var lease in group.OrderBy(l => l.ExpiresAtMs))
            {
                if (previous is not null)
                {
                    var end = Math.Max(previous.ExpiresAtMs, log.Extensions.GetValueOrDefault(previous.Receipt));
                    var granted = lease.ExpiresAtMs - VisibilityMs;
                    Assert.True(granted >= end, $"message {lease.Id}: lease {lease.Receipt} was granted at {granted}, while lease {previous.Receipt} was valid until {end}");
                    Assert.True(lease.Attempt > previous.Attempt, $"message {lease.Id}: attempt {lease.Attempt} after attempt {previous.Attempt}");
                }

                previous = lease;
            }
        }
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}
