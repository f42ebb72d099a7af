namespace DurableQueue.Testing.Postgres;

/// <summary>
/// The one test cluster of a test process, started on first use and stopped when the process exits (a cluster left
/// behind by a process that was killed is removed by the next test run). Test classes that cannot take a fixture
/// (source shared with the SQLite tests) and the collection fixture both use it, so a test run starts one cluster.
/// </summary>
public static class SharedPostgres
{
    private static readonly Lazy<Task<PostgresCluster>> s_cluster = new(StartAsync);
    private static readonly Lazy<Task<string>> s_database = new(async () => await (await ClusterAsync().ConfigureAwait(false))
        .CreateDatabaseAsync("shared").ConfigureAwait(false));

    /// <summary>Returns the running cluster, starting it on the first call.</summary>
    /// <returns>The cluster.</returns>
    /// <exception cref="PostgresClusterException">The cluster could not start; the message says why.</exception>
    public static Task<PostgresCluster> ClusterAsync() => s_cluster.Value;

    /// <summary>Returns the connection string of a database shared by the tests that make a schema of their own each.</summary>
    /// <returns>The superuser's connection string.</returns>
    public static Task<string> SharedDatabaseAsync() => s_database.Value;

    private static async Task<PostgresCluster> StartAsync()
    {
        var cluster = await PostgresCluster.StartAsync().ConfigureAwait(false);
        AppDomain.CurrentDomain.ProcessExit += (_, _) => cluster.DisposeAsync().AsTask().GetAwaiter().GetResult();
        return cluster;
    }
}
