namespace DurableQueue.Cli.Tests;

/// <summary>The test classes that run dq against the test run's one PostgreSQL cluster (a database per class).</summary>
[CollectionDefinition(PostgresCollection.Name)]
public sealed class PostgresCollectionDefinition : ICollectionFixture<PostgresClusterFixture>;
