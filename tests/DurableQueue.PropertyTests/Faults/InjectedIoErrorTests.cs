using System.Globalization;
using DurableQueue.PropertyTests.Crash;
using Xunit.Abstractions;

namespace DurableQueue.PropertyTests.Faults;

/// <summary>
/// I/O errors injected into the crash host's writes and fsyncs with libfiu (fiu-run): failures surface as exceptions
/// to the callers, the store keeps working, nothing it confirmed is lost, and the file stays intact.
/// </summary>
[Trait("Category", "Crash")]
public sealed class InjectedIoErrorTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("dq-fiu-").FullName;

    [FiuFact]
    public async Task RandomWriteAndFsyncErrors_SurfaceAsExceptions_LoseNothingConfirmed()
    {
        // The attribute let the test run, so fiu-run must be here: a missing one is a failure.
        Assert.True(FaultEnvironment.FiuRun is not null, "fiu-run was not found: install the fiu-utils package (.ci/run does).");
        var file = Path.Combine(_directory, "faulty.db");
        string[] wrapper =
        [
            FaultEnvironment.FiuRun!, "-x",
            "-c", "enable_random name=posix/io/sync/*,probability=0.05",
            "-c", "enable_random name=posix/io/rw/pwrite,probability=0.01",
        ];
        using var host = HostProcess.Start("mixed", file, ["enqueues=400", "durability=Full", "seed=5"], wrapper);
        Assert.True(await host.WaitForExitAsync(TimeSpan.FromSeconds(90)), "the host under fiu-run did not finish");
        var log = HostLog.Parse(host.Lines);
        Assert.True(log.Done, "the host did not end normally: " + string.Join(" | ", host.Lines.TakeLast(5)));

        // The injection must have hit: otherwise this run proved nothing.
        Assert.NotEmpty(log.Errors);
        foreach (var error in log.Errors)
        {
            var typed = error.Contains("StorageFullException", StringComparison.Ordinal)
                || error.Contains("StoreFileException", StringComparison.Ordinal)
                || error.Contains("LeaseLostException", StringComparison.Ordinal)
                || error.Contains("SqliteException 10/", StringComparison.Ordinal)
                || error.Contains("SqliteException 13/", StringComparison.Ordinal);
            Assert.True(typed, "unexpected failure: " + error);
        }

        // Checked without faults: the file is intact, every confirmed enqueue is there or was acked.
        Assert.Equal("ok", StoreFile.IntegrityCheck(file));
        await using (var store = QueueStore.Open(file))
        {
            await store.GetQueue("work").GetCountsAsync();
        }

        var present = StoreFile.Messages(file);
        // An ack whose COMMIT reported an fsync error may still have reached the WAL and be recovered on reopen: the
        // caller was told it failed, and the message is gone because the ack landed, not because it was lost.
        var unclearAcks = log.Errors.Where(e => e.StartsWith("ERR settle:", StringComparison.Ordinal))
            .Select(e => long.Parse(e.Split(' ')[1]["settle:".Length..], CultureInfo.InvariantCulture)).ToHashSet();
        var landedAnyway = 0;
        foreach (var id in log.Enqueued)
        {
            if (!present.ContainsKey(id) && !log.Acked.Contains(id))
            {
                Assert.True(unclearAcks.Contains(id), $"message {id} was confirmed enqueued, never acked, and is gone");
                landedAnyway++;
            }
        }

        Assert.All(log.Acked, id => Assert.False(present.ContainsKey(id), $"message {id} was confirmed acked and is back"));
        foreach (var (id, attempt) in log.MaxAttempt)
        {
            if (present.TryGetValue(id, out var row))
            {
                Assert.True(row.Attempts >= attempt, $"message {id} has {row.Attempts} attempts, attempt {attempt} was handed out");
            }
        }

        output.WriteLine(
            $"{log.Errors.Count} injected failures surfaced; {log.Enqueued.Count} confirmed enqueues, {log.Acked.Count} confirmed acks; " +
            $"{landedAnyway} acks reported as failed had landed; integrity ok.");
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}
