namespace DurableQueue.Postgres.Tests;

/// <summary>The test classes that share one PostgreSQL cluster per test run.</summary>
[CollectionDefinition(PostgresCollection.Name)]
public sealed class PostgresCollectionDefinition : ICollectionFixture<PostgresClusterFixture>;
