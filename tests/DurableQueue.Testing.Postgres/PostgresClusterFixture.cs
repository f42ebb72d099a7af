using System.Collections.Concurrent;

namespace DurableQueue.Testing.Postgres;

/// <summary>
/// The test cluster for the classes of a collection (the process's one cluster, <see cref="SharedPostgres"/>), with one
/// database per test class. A test assembly declares the collection:
/// <c>[CollectionDefinition(PostgresCollection.Name)] public sealed class PostgresCollectionDefinition : ICollectionFixture&lt;PostgresClusterFixture&gt;;</c>
/// and its classes join it with <c>[Collection(PostgresCollection.Name)]</c>.
/// </summary>
/// <remarks>When the cluster cannot start, every test of the collection fails with the reason.</remarks>
public sealed class PostgresClusterFixture : IAsyncLifetime
{
    private readonly ConcurrentDictionary<Type, Lazy<Task<string>>> _databases = new();
    private PostgresCluster? _cluster;

    /// <summary>Gets the running cluster.</summary>
    public PostgresCluster Cluster => _cluster ?? throw new InvalidOperationException("The cluster has not started.");

    /// <summary>Returns the connection string of the database of a test class, creating the database on first use.</summary>
    /// <param name="testClass">The test class.</param>
    /// <returns>The superuser's connection string on the class's own database.</returns>
    public Task<string> DatabaseForAsync(Type testClass)
    {
        ArgumentNullException.ThrowIfNull(testClass);
        return _databases.GetOrAdd(testClass, t => new Lazy<Task<string>>(() => Cluster.CreateDatabaseAsync(t.Name))).Value;
    }

    /// <inheritdoc/>
    public async Task InitializeAsync() => _cluster = await SharedPostgres.ClusterAsync().ConfigureAwait(false);

    /// <summary>Does nothing: the cluster is stopped when the test process exits.</summary>
    /// <returns>A completed task.</returns>
    public Task DisposeAsync() => Task.CompletedTask;
}

/// <summary>The name of the xunit collection that shares one <see cref="PostgresClusterFixture"/>.</summary>
public static class PostgresCollection
{
    /// <summary>The collection name.</summary>
    public const string Name = "PostgreSQL";
}
