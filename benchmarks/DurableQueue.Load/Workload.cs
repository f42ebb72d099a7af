using System.Buffers.Binary;
using System.Diagnostics;
using DurableQueue.BenchmarkShared;

namespace DurableQueue.Load;

/// <summary>The shape of one run: who does what, how much, with which durability.</summary>
public sealed record Workload(
    int Producers, int Consumers, int Messages, int Size, Durability Durability, int ReceiveBatch, int EnqueueBatch, int RawOpsPerCommit,
    long? MemoryBudget = null, bool Stream = false, bool Prefill = false)
{
    /// <summary>How many messages producer <paramref name="index"/> sends (the remainder goes to the first ones).</summary>
    public int ShareOf(int index) => (Messages / Producers) + (index < Messages % Producers ? 1 : 0);
}

/// <summary>Runs a workload against DurableQueue or against raw SQLite, reporting progress as messages complete.</summary>
public static class Runner
{
    /// <summary>The queue: producers await each enqueue (or batch), consumers lease in batches and settle with AckManyAsync.</summary>
    public static async Task<RunResult> RunQueueAsync(Workload w, string directory, Action<long>? progress)
    {
        var path = Path.Combine(directory, $"queue-{Guid.NewGuid():N}.db");
        Rss.ResetPeak();
        var options = new QueueStoreOptions { Durability = w.Durability };
        if (w.MemoryBudget is { } budget)
        {
            options.MemoryBudgetBytes = budget;
        }

        var store = QueueStore.Open(path, options);
        try
        {
            var queue = store.GetQueue("load");
            var completed = 0L;
            var latencies = new List<long>[Math.Max(1, w.Consumers > 0 ? w.Consumers : w.Producers)];
            for (var i = 0; i < latencies.Length; i++)
            {
                latencies[i] = new List<long>(w.Messages / latencies.Length + 16);
            }

            // Let the store's start-up write finish so that it is not counted.
            await store.ExecuteAsync(_ => 0);
            if (w.Prefill)
            {
                // The whole backlog before the clock starts: only the consumers are timed.
                foreach (var bodies in PrefillBatches(w))
                {
                    await queue.EnqueueBatchAsync(bodies.Select(b => (ReadOnlyMemory<byte>)b));
                }
            }

            var commits0 = store.Writer.Commits;
            var ops0 = store.Writer.Operations;
            var inline0 = store.Writer.InlineCommits;
            using var done = new CancellationTokenSource();
            using var reporter = Report(() => Interlocked.Read(ref completed), progress);
            var started = Stopwatch.GetTimestamp();

            var consumers = Enumerable.Range(0, w.Consumers).Select(c => Task.Run(async () =>
            {
                var mine = latencies[c];
                try
                {
                    if (w.Stream)
                    {
                        // One by one through the streaming API: its prefetch hides the receive commit.
                        await foreach (var message in queue.ReceiveAllAsync(prefetch: w.ReceiveBatch, cancellationToken: done.Token))
                        {
                            await queue.AckAsync(message);
                            mine.Add(Stopwatch.GetTimestamp() - BinaryPrimitives.ReadInt64LittleEndian(message.Body.Span));
                            if (Interlocked.Increment(ref completed) >= w.Messages)
                            {
                                await done.CancelAsync();
                            }
                        }
                    }

                    while (!done.IsCancellationRequested)
                    {
                        var messages = await queue.ReceiveAsync(w.ReceiveBatch, waitTime: TimeSpan.FromSeconds(5), cancellationToken: done.Token);
                        if (messages.Count == 0)
                        {
                            continue;
                        }

                        if (messages.Count == 1)
                        {
                            await queue.AckAsync(messages[0]);
                        }
                        else
                        {
                            await queue.AckManyAsync(messages.Select(m => m.Receipt));
                        }

                        var now = Stopwatch.GetTimestamp();
                        foreach (var message in messages)
                        {
                            mine.Add(now - BinaryPrimitives.ReadInt64LittleEndian(message.Body.Span));
                        }

                        if (Interlocked.Add(ref completed, messages.Count) >= w.Messages)
                        {
                            await done.CancelAsync();
                        }
                    }
                }
                catch (OperationCanceledException) when (done.IsCancellationRequested)
                {
                }
            })).ToArray();

            var producers = Enumerable.Range(0, w.Prefill ? 0 : w.Producers).Select(p => Task.Run(async () =>
            {
                var share = w.ShareOf(p);
                var mine = w.Consumers == 0 ? latencies[p] : null;
                var buffers = new byte[Math.Min(w.EnqueueBatch, Math.Max(1, share))][];
                var batch = new ReadOnlyMemory<byte>[buffers.Length];
                for (var i = 0; i < buffers.Length; i++)
                {
                    buffers[i] = new byte[w.Size];
                    batch[i] = buffers[i];
                }

                for (var sent = 0; sent < share;)
                {
                    var count = Math.Min(batch.Length, share - sent);
                    var t0 = Stopwatch.GetTimestamp();
                    for (var i = 0; i < count; i++)
                    {
                        // The body is copied when the call is made, so the buffer can be reused at once.
                        BinaryPrimitives.WriteInt64LittleEndian(buffers[i], t0);
                    }

                    if (count == 1)
                    {
                        await queue.EnqueueAsync(batch[0]);
                    }
                    else
                    {
                        await queue.EnqueueBatchAsync(batch.Take(count));
                    }

                    sent += count;
                    if (mine is not null)
                    {
                        mine.Add(Stopwatch.GetTimestamp() - t0);
                        Interlocked.Add(ref completed, count);
                    }
                }
            })).ToArray();

            await Task.WhenAll(producers);
            await Task.WhenAll(consumers);
            var elapsed = Stopwatch.GetElapsedTime(started);
            var commits = store.Writer.Commits - commits0;
            var ops = store.Writer.Operations - ops0;
            return new RunResult
            {
                Kind = "DurableQueue",
                Durability = w.Durability.ToString(),
                Producers = w.Producers,
                Consumers = w.Consumers,
                Messages = w.Messages,
                Size = w.Size,
                ReceiveBatch = w.ReceiveBatch,
                EnqueueBatch = w.EnqueueBatch,
                Seconds = elapsed.TotalSeconds,
                Latency = LatencySummary.From(w.Consumers > 0 ? "enqueue-to-ack" : "enqueue", latencies.SelectMany(l => l).ToList()),
                Commits = commits,
                InlineCommits = store.Writer.InlineCommits - inline0,
                Operations = ops,
                PeakRssBytes = Rss.Peak(),
            };
        }
        finally
        {
            await store.DisposeAsync();
            DeleteDatabase(path);
        }
    }

    /// <summary>
    /// Raw SQLite doing the same durable work, one statement group per transaction, on one connection and ONE thread:
    /// the producers' and consumers' steps run back to back in turn (each producer inserts
    /// <see cref="Workload.RawOpsPerCommit"/> rows in one commit; each consumer with rows to take claims that many in one
    /// commit and deletes them in the next), so no lock, task switch or busy wait is measured: the fastest way to do the
    /// same work with that many operations per commit. Latency is a message's age when its delete committed.
    /// </summary>
    public static Task<RunResult> RunRawAsync(Workload w, string directory, Action<long>? progress) =>
        Task.Factory.StartNew(() => RunRaw(w, directory, progress), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    private static RunResult RunRaw(Workload w, string directory, Action<long>? progress)
    {
        var path = Path.Combine(directory, $"raw-{Guid.NewGuid():N}.db");
        Rss.ResetPeak();
        var raw = RawStore.Open(path, w.Durability == Durability.Full);
        try
        {
            var completed = 0L;
            var latencies = new List<long>(w.Messages);
            var per = Math.Max(1, w.RawOpsPerCommit);
            var producers = w.Prefill ? 0 : w.Producers;
            var sent = new int[producers];
            var ready = 0L;
            if (w.Prefill)
            {
                foreach (var bodies in PrefillBatches(w))
                {
                    raw.Insert(bodies);
                }

                ready = w.Messages;
            }

            using var reporter = Report(() => Interlocked.Read(ref completed), progress);
            var tokens = Enumerable.Range(0, Math.Max(1, w.Consumers)).Select(_ => Guid.NewGuid().ToByteArray()).ToArray();
            var bodiesOf = new byte[per][];
            var started = Stopwatch.GetTimestamp();
            var inserted = 0L;
            while (completed < w.Messages && (w.Consumers > 0 || inserted < w.Messages))
            {
                for (var p = 0; p < producers; p++)
                {
                    var share = w.ShareOf(p);
                    if (sent[p] >= share)
                    {
                        continue;
                    }

                    var count = Math.Min(per, share - sent[p]);
                    var t0 = Stopwatch.GetTimestamp();
                    if (count == 1)
                    {
                        var body = new byte[w.Size];
                        BinaryPrimitives.WriteInt64LittleEndian(body, t0);
                        raw.Insert(body);
                    }
                    else
                    {
                        var bodies = bodiesOf.Length == count ? bodiesOf : new byte[count][];
                        for (var i = 0; i < count; i++)
                        {
                            bodies[i] = new byte[w.Size];
                            BinaryPrimitives.WriteInt64LittleEndian(bodies[i], t0);
                        }

                        raw.Insert(bodies);
                    }

                    sent[p] += count;
                    inserted += count;
                    ready += count;
                    if (w.Consumers == 0)
                    {
                        latencies.Add(Stopwatch.GetTimestamp() - t0);
                        Interlocked.Add(ref completed, count);
                    }
                }

                for (var c = 0; c < w.Consumers && ready > 0; c++)
                {
                    var claimed = raw.Claim(per, tokens[c]);
                    raw.Delete(claimed, tokens[c]);
                    var now = Stopwatch.GetTimestamp();
                    foreach (var (_, body) in claimed)
                    {
                        latencies.Add(now - BinaryPrimitives.ReadInt64LittleEndian(body));
                    }

                    ready -= claimed.Count;
                    Interlocked.Add(ref completed, claimed.Count);
                }
            }

            var elapsed = Stopwatch.GetElapsedTime(started);
            return new RunResult
            {
                Kind = "RawSqlite",
                Durability = w.Durability.ToString(),
                Producers = w.Producers,
                Consumers = w.Consumers,
                Messages = w.Messages,
                Size = w.Size,
                ReceiveBatch = per,
                EnqueueBatch = per,
                RawOpsPerCommit = per,
                Seconds = elapsed.TotalSeconds,
                Latency = LatencySummary.From(w.Consumers > 0 ? "enqueue-to-ack" : "enqueue", latencies),
                Commits = raw.Commits,
                Operations = raw.Operations,
                PeakRssBytes = Rss.Peak(),
            };
        }
        finally
        {
            raw.Dispose();
            DeleteDatabase(path);
        }
    }

    /// <summary>The pre-filled backlog in batches of 100 bodies, each stamped with the time it was made.</summary>
    private static IEnumerable<byte[][]> PrefillBatches(Workload w)
    {
        for (var filled = 0; filled < w.Messages; filled += 100)
        {
            var bodies = new byte[Math.Min(100, w.Messages - filled)][];
            for (var i = 0; i < bodies.Length; i++)
            {
                bodies[i] = new byte[w.Size];
                BinaryPrimitives.WriteInt64LittleEndian(bodies[i], Stopwatch.GetTimestamp());
            }

            yield return bodies;
        }
    }

    public static void DeleteDatabase(string path)
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        foreach (var suffix in new[] { "", "-wal", "-shm" })
        {
            try
            {
                File.Delete(path + suffix);
            }
            catch (IOException)
            {
            }
        }
    }

    private static Timer? Report(Func<long> read, Action<long>? progress) =>
        progress is null ? null : new Timer(_ => progress(read()), null, TimeSpan.Zero, TimeSpan.FromMilliseconds(100));
}

/// <summary>Peak resident set size of this process.</summary>
public static class Rss
{
    /// <summary>Resets the kernel's high-water mark where the platform allows it (Linux: clear_refs 5).</summary>
    public static void ResetPeak()
    {
        try
        {
            if (OperatingSystem.IsLinux())
            {
                File.WriteAllText("/proc/self/clear_refs", "5");
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
        }
    }

    /// <summary>The resident set size now (VmRSS on Linux).</summary>
    public static long Current()
    {
        using var process = Process.GetCurrentProcess();
        process.Refresh();
        return process.WorkingSet64;
    }

    public static long Peak()
    {
        using var process = Process.GetCurrentProcess();
        process.Refresh();
        return process.PeakWorkingSet64;
    }
}
