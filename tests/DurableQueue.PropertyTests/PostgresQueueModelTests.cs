using DurableQueue.PropertyTests.Model;
using Xunit.Abstractions;

namespace DurableQueue.PropertyTests;

/// <summary>
/// The model test of <see cref="QueueModelTests"/> against PostgreSQL: the same machine, model and checks, each random
/// sequence on a schema of its own in a database on a private cluster started for this test process. The steps that
/// reach below the store (crashes) have PostgreSQL forms of their own; see QueueSut.Postgres.cs. When the cluster cannot
/// start, the test fails with the reason.
/// </summary>
public sealed class PostgresQueueModelTests(ITestOutputHelper output)
{
    [Fact]
    public async Task RandomOperationSequences_MatchTheModel_OnPostgres()
    {
        // Starts the cluster (or fails with why it could not) before the first sequence.
        await PostgresModelDatabase.ConnectionStringAsync();
        QueueModelTests.Run(output, StoreBackend.Postgres, PropertySettings.PostgresRuns);
    }
}
