using System.Diagnostics;
using DurableQueue.PropertyTests.Crash;
using Npgsql;
using Xunit.Abstractions;

namespace DurableQueue.Postgres.Tests.Processes;

/// <summary>
/// Several processes on one PostgreSQL queue, each with producers and consumers (the crash tests' child process, on a
/// connection string instead of a file). Checked from what each process confirmed: no message under two valid leases,
/// none lost, none acked twice, no confirmed ack back; after a kill -9 of one process, and across a server crash
/// (<c>pg_ctl stop -m immediate</c>) during load, with typed, retryable errors while the server is down and no hang.
/// </summary>
[Trait("Category", "Crash")]
public sealed class PostgresProcessTests(ITestOutputHelper output)
{
    private const int VisibilityMs = 1000;

    [Fact]
    public async Task ThreeProcesses_OneKilled_NothingLostNoLeaseShared()
    {
        var connectionString = await SharedPostgres.SharedDatabaseAsync();
        var schema = "p_" + Guid.NewGuid().ToString("N")[..12];
        await PrepareAsync(connectionString, schema);
        var random = new Random(Environment.TickCount);

        var hosts = Enumerable.Range(0, 3).Select(i => HostProcess.Start(
            "mixed", connectionString, [$"schema={schema}", "seconds=5", $"visibilityMs={VisibilityMs}", $"seed={i + 1}", "producers=2", "consumers=2"])).ToList();
        try
        {
            // Kill one of them after a random number of confirmed lines.
            var victim = hosts[random.Next(hosts.Count)];
            await victim.WaitForLinesAsync(random.Next(50, 400), TimeSpan.FromSeconds(30));
            victim.Kill();
            foreach (var host in hosts.Where(h => h != victim))
            {
                Assert.True(await host.WaitForExitAsync(TimeSpan.FromSeconds(60)), "a surviving process did not finish");
            }

            var logs = hosts.Select(h => HostLog.Parse(h.Lines)).ToList();
            Assert.All(hosts.Where(h => h != victim), h => Assert.True(HostLog.Parse(h.Lines).Done, "a surviving process did not end normally"));
            Assert.All(logs.SelectMany(l => l.Errors), e => Assert.Contains("LeaseLostException", e, StringComparison.Ordinal));
            var inFlight = InFlightAtKill(HostLog.Parse(victim.Lines));
            await AssertConsistentAsync(connectionString, schema, logs, inFlight);
            output.WriteLine(Summary(logs));
        }
        finally
        {
            foreach (var host in hosts)
            {
                host.Dispose();
            }
        }
    }

    [Fact]
    public async Task ServerCrashDuringLoad_NothingConfirmedLost_TypedErrorsWhileDown()
    {
        // A cluster of its own, with fsync on: the shared one must not go down under the other tests.
        await using var cluster = await PostgresCluster.StartAsync(new PostgresClusterOptions { Durable = true, MaxConnections = 60 });
        var connectionString = await cluster.CreateDatabaseAsync("crash");
        var schema = "durablequeue";
        await PrepareAsync(connectionString, schema);

        var hosts = Enumerable.Range(0, 3).Select(i => HostProcess.Start(
            "mixed", connectionString, [$"schema={schema}", "stop=stdin", $"visibilityMs={VisibilityMs}", $"seed={i + 11}", "producers=2", "consumers=2"])).ToList();
        try
        {
            foreach (var host in hosts)
            {
                await host.WaitForLinesAsync(100, TimeSpan.FromSeconds(30));
            }

            await cluster.StopAsync(immediate: true);
            var linesAtStop = hosts.Select(h => h.LineCount).ToList();
            // While the server is down every process keeps answering (with errors), it does not hang.
            foreach (var (host, i) in hosts.Select((h, i) => (h, i)))
            {
                await host.WaitForLinesAsync(linesAtStop[i] + 20, TimeSpan.FromSeconds(20));
            }

            await cluster.StartAgainAsync();
            var linesAtStart = hosts.Select(h => h.LineCount).ToList();
            // The run goes on until every process has confirmed work again (or a minute passed): it is ended by the
            // test, not by a clock that may run out while a slow machine still restarts the server.
            foreach (var (host, i) in hosts.Select((h, i) => (h, i)))
            {
                await host.WaitForLineAsync(linesAtStart[i], IsProgress, TimeSpan.FromSeconds(60));
            }

            foreach (var host in hosts)
            {
                host.Stop();
            }

            foreach (var host in hosts)
            {
                Assert.True(await host.WaitForExitAsync(TimeSpan.FromSeconds(60)), "a process did not finish after it was told to stop");
            }

            var logs = hosts.Select(h => HostLog.Parse(h.Lines)).ToList();
            Assert.All(logs, l => Assert.True(l.Done, "a process did not end normally"));
            var errors = logs.SelectMany(l => l.Errors).ToList();
            // Typed errors only: a lost lease, or the server being unreachable (retryable); never a raw provider error.
            Assert.All(errors, e => Assert.True(
                e.Contains("LeaseLostException", StringComparison.Ordinal) || e.Contains("StorageUnavailableException", StringComparison.Ordinal),
                $"unexpected error: {e}"));
            Assert.Contains(errors, e => e.Contains("StorageUnavailableException", StringComparison.Ordinal));
            // The processes made progress again after the restart.
            Assert.All(hosts.Select((h, i) => (h, i)), x => Assert.Contains(x.h.Lines.Skip(linesAtStart[x.i]), IsProgress));
            // A settle whose commit reply was lost while the server went down has an unknown outcome (the exception
            // says so): such a message may be gone although no ACK was confirmed.
            var unclear = errors
                .Where(e => e.StartsWith("ERR settle:", StringComparison.Ordinal) && e.Contains("StorageUnavailableException", StringComparison.Ordinal))
                .Select(e => long.Parse(e["ERR settle:".Length..e.IndexOf(' ', "ERR ".Length)], System.Globalization.CultureInfo.InvariantCulture))
                .ToHashSet();
            await AssertConsistentAsync(connectionString, schema, logs, inFlight: unclear);
            output.WriteLine(
                Summary(logs) + $", {errors.Count(e => e.Contains("StorageUnavailable", StringComparison.Ordinal))} unavailable errors while down, " +
                $"{unclear.Count} settles with an unknown outcome");
        }
        finally
        {
            foreach (var host in hosts)
            {
                host.Dispose();
            }
        }
    }

    private static bool IsProgress(string line) => line.StartsWith("ACK ", StringComparison.Ordinal) || line.StartsWith("ENQ ", StringComparison.Ordinal);

    private static async Task PrepareAsync(string connectionString, string schema)
    {
        // Made before the processes start, so they do not all create it at once (they may; that is tested elsewhere).
        await (QueueStore.OpenPostgres(connectionString, postgres: new PostgresStoreOptions { Schema = schema })).DisposeAsync();
    }

    /// <summary>Messages the killed process leased and had not confirmed settling: an ack may have committed unreported.</summary>
    private static HashSet<long> InFlightAtKill(HostLog victim) => victim.Leases.Select(l => l.Id).Where(id => !victim.Acked.Contains(id)).ToHashSet();

    private static async Task AssertConsistentAsync(string connectionString, string schema, List<HostLog> logs, HashSet<long> inFlight)
    {
        var present = new HashSet<long>();
        await using (var connection = new NpgsqlConnection(connectionString))
        {
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand(
                $"SELECT id FROM \"{schema}\".dq_messages UNION ALL SELECT id FROM \"{schema}\".dq_dead_letters;", connection);
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                Assert.True(present.Add(reader.GetInt64(0)), $"message {reader.GetInt64(0)} is both live and dead-lettered");
            }
        }

        var acks = logs.SelectMany(l => l.Acked).ToList();
        Assert.Equal(acks.Count, acks.Distinct().Count()); // none acked twice
        var acked = acks.ToHashSet();
        foreach (var id in logs.SelectMany(l => l.Enqueued))
        {
            Assert.True(present.Contains(id) || acked.Contains(id) || inFlight.Contains(id), $"message {id} was confirmed enqueued, never acked, and is gone");
        }

        foreach (var id in acked)
        {
            Assert.False(present.Contains(id), $"message {id} was confirmed acked and is back");
        }

        // No message under two valid leases: across all processes, each lease of a message starts after the previous
        // one ended (the consumers only ack, extend, abandon, or nack with a retry of one whole visibility timeout).
        var leases = logs.SelectMany(l => l.Leases).ToList();
        var extensions = logs.SelectMany(l => l.Extensions).ToDictionary(e => e.Key, e => e.Value, StringComparer.Ordinal);
        Assert.Equal(leases.Count, leases.Select(l => l.Receipt).Distinct().Count());
        foreach (var group in leases.GroupBy(l => l.Id))
        {
            Lease? previous = null;
            foreach (var lease in group.OrderBy(l => l.ExpiresAtMs))
            {
                if (previous is not null)
                {
                    var end = Math.Max(previous.ExpiresAtMs, extensions.GetValueOrDefault(previous.Receipt));
                    var granted = lease.ExpiresAtMs - VisibilityMs;
                    Assert.True(granted >= end, $"message {lease.Id}: lease {lease.Receipt} was granted at {granted}, while lease {previous.Receipt} was valid until {end}");
                    Assert.True(lease.Attempt > previous.Attempt, $"message {lease.Id}: attempt {lease.Attempt} after attempt {previous.Attempt}");
                }

                previous = lease;
            }
        }
    }

    private static string Summary(List<HostLog> logs) =>
        $"{logs.Sum(l => l.Enqueued.Count)} confirmed enqueues, {logs.Sum(l => l.Leases.Count)} leases, {logs.Sum(l => l.Acked.Count)} acks " +
        $"in {logs.Count} processes ({string.Join(", ", logs.Select(l => $"{l.Enqueued.Count}/{l.Acked.Count}"))})";
}
