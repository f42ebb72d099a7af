using System.Diagnostics;
using System.Globalization;
using DurableQueue.Forwarding.Tests.Servers;
using Xunit.Abstractions;

namespace DurableQueue.Forwarding.Tests;

/// <summary>
/// Kills (SIGKILL) a child process that enqueues and forwards to a real mosquitto, at random moments, many times on
/// one file; after each kill, checks that nothing is gone from the local queue that the broker did not get, and at the
/// end that every confirmed enqueue arrived, in order per key, with duplicates within one window per kill.
/// </summary>
[Trait("Category", "Crash")]
public sealed class ForwarderKillTests(ITestOutputHelper output) : IDisposable
{
    private const int Window = 32;
    private readonly string _directory = Directory.CreateTempSubdirectory("dq-fwd-kill-").FullName;

    [Fact]
    public async Task KilledAtRandomMoments_EveryConfirmedEnqueueArrives_InOrder_NothingAckedUnconfirmed()
    {
        var kills = int.TryParse(Environment.GetEnvironmentVariable("DQ_FORWARDER_KILLS"), CultureInfo.InvariantCulture, out var k) ? k : 8;
        var seed = Environment.TickCount;
        var random = new Random(seed);
        var file = Path.Combine(_directory, "edge.db");
        await using var broker = await Mosquitto.StartAsync();
        await using var receiver = await MqttReceiver.ConnectAsync(broker.Port);
        var enqueued = new Dictionary<long, string>();
        var watch = Stopwatch.StartNew();

        for (var round = 0; round < kills; round++)
        {
            using var child = Child.Start(file, broker.Port, "produce", seed + round);
            // Kill after a random number of confirmed enqueues: from right after the start to some hundreds in.
            var target = random.Next(4) == 0 ? 1 : random.Next(20, 400);
            await child.WaitForLinesAsync(target + 1, TimeSpan.FromSeconds(30));
            child.Kill();
            Assert.True(child.Lines.Count > 0 && child.Lines[0] == "READY", $"round {round}: the child did not start: {string.Join(" | ", child.Lines.Take(5))}");
            foreach (var (id, key) in child.Enqueued)
            {
                enqueued[id] = key;
            }

            var (present, deadLetters) = await ReadStoreAsync(file);
            Assert.Empty(deadLetters);
            // Gone from the local queue means acked, and an ack comes only after the broker's PUBACK: the subscriber
            // gets each such message (the broker may pass it on a moment after it acked the publisher).
            var gone = enqueued.Keys.Where(id => !present.Contains(id)).ToHashSet();
            await receiver.WaitUntilAsync(
                m => gone.IsSubsetOf(m.Select(r => r.LocalId)), TimeSpan.FromSeconds(30),
                $"round {round}: the {gone.Count} messages acked locally to be at the broker");
        }

        using (var drain = Child.Start(file, broker.Port, "drain", seed))
        {
            await drain.WaitForLinesAsync(2, TimeSpan.FromSeconds(90));
            Assert.Equal("EMPTY", drain.Lines.LastOrDefault());
            Assert.True(await drain.WaitForExitAsync(TimeSpan.FromSeconds(30)), "the draining child did not exit");
        }

        await receiver.WaitUntilAsync(
            m => enqueued.Keys.ToHashSet().IsSubsetOf(m.Select(r => r.LocalId)), TimeSpan.FromSeconds(30), "every confirmed enqueue at the broker");
        var messages = receiver.Messages;
        // A message committed in the instant before a kill, before its ENQ line was written, arrives too: it is not one
        // the child confirmed, so only the confirmed ones are checked for their key.
        Assert.All(messages.Where(m => enqueued.ContainsKey(m.LocalId)), m => Assert.Equal(enqueued[m.LocalId], m.Key));
        var duplicates = Order.AssertFirstArrivalsInOrder(messages, m => m.Key, m => m.LocalId);
        Assert.True(duplicates <= kills * Window, $"{duplicates} duplicates after {kills} kills exceed one window ({Window}) per kill");
        Assert.True(enqueued.Count > kills, "the children made too little progress to test anything");
        output.WriteLine(
            $"{kills} kills in {watch.Elapsed.TotalSeconds:0.0} s (seed {seed}): {enqueued.Count} confirmed enqueues, " +
            $"{messages.Count} arrivals, {duplicates} duplicates (bound {kills * Window}).");
    }

    private static async Task<(HashSet<long> Present, IReadOnlyList<DeadLetter> DeadLetters)> ReadStoreAsync(string file)
    {
        await using var store = QueueStore.Open(file);
        var queue = store.GetQueue("telemetry", new QueueOptions { MaxAttempts = 100_000 });
        var present = new HashSet<long>();
        MessageId? after = null;
        while (true)
        {
            var page = await queue.GetMessagesAsync(1000, after);
            present.UnionWith(page.Select(m => m.Id.Value));
            if (page.Count < 1000)
            {
                break;
            }

            after = page[^1].Id;
        }

        return (present, await queue.GetDeadLettersAsync(1000));
    }

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }

    /// <summary>The crash host, run with the same dotnet as the tests; its stdout lines are collected as they come.</summary>
    private sealed class Child : IDisposable
    {
        private readonly Process _process;
        private readonly List<string> _lines = [];
        private readonly Lock _lock = new();
        private readonly SemaphoreSlim _arrived = new(0);

        private Child(Process process) => _process = process;

        public IReadOnlyList<string> Lines
        {
            get
            {
                lock (_lock)
                {
                    return [.. _lines];
                }
            }
        }

        /// <summary>The enqueues the child confirmed; a line cut off by the kill does not parse and is dropped.</summary>
        public IEnumerable<(long Id, string Key)> Enqueued =>
            Lines.Select(l => l.Split(' '))
                .Where(f => f.Length == 3 && f[0] == "ENQ" && f[2].Length == 2 && long.TryParse(f[1], CultureInfo.InvariantCulture, out _))
                .Select(f => (long.Parse(f[1], CultureInfo.InvariantCulture), f[2]));

        public static Child Start(string file, int port, string mode, int seed)
        {
            var dotnet = Environment.ProcessPath is { } path && Path.GetFileNameWithoutExtension(path) == "dotnet" ? path : "dotnet";
            var info = new ProcessStartInfo(dotnet) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var arg in new[]
            {
                Path.Combine(AppContext.BaseDirectory, "DurableQueue.Forwarding.CrashHost.dll"), file,
                port.ToString(CultureInfo.InvariantCulture), mode, $"window={Window}", $"seed={seed}",
            })
            {
                info.ArgumentList.Add(arg);
            }

            var process = new Process { StartInfo = info };
            var child = new Child(process);
            process.OutputDataReceived += (_, e) => child.Add(e.Data);
            process.ErrorDataReceived += (_, e) => child.Add(e.Data is null ? null : "STDERR " + e.Data);
            process.Start();
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            return child;
        }

        public async Task WaitForLinesAsync(int count, TimeSpan timeout)
        {
            var watch = Stopwatch.StartNew();
            while (Lines.Count < count && !_process.HasExited && watch.Elapsed < timeout)
            {
                // Woken by each line; the short cap only notices an exit that prints nothing.
                await _arrived.WaitAsync(TimeSpan.FromMilliseconds(200));
            }
        }

        public async Task<bool> WaitForExitAsync(TimeSpan timeout)
        {
            using var cancel = new CancellationTokenSource(timeout);
            try
            {
                await _process.WaitForExitAsync(cancel.Token);
                return true;
            }
            catch (OperationCanceledException)
            {
                return false;
            }
        }

        public void Kill()
        {
            try
            {
                _process.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
            }

            _process.WaitForExit();
        }

        public void Dispose()
        {
            Kill();
            _process.Dispose();
            _arrived.Dispose();
        }

        private void Add(string? line)
        {
            if (line is null)
            {
                return;
            }

            lock (_lock)
            {
                _lines.Add(line);
            }

            _arrived.Release();
        }
    }
}
