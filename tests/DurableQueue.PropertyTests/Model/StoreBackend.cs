namespace DurableQueue.PropertyTests.Model;

/// <summary>The backend a model run puts its real store on.</summary>
internal enum StoreBackend
{
    /// <summary>A SQLite file in a temp folder.</summary>
    Sqlite,

    /// <summary>A schema of its own in the test run's database on a private PostgreSQL cluster.</summary>
    Postgres,
}
