namespace DurableQueue.Testing.Postgres;

/// <summary>The settings of a test cluster.</summary>
public sealed class PostgresClusterOptions
{
    /// <summary>
    /// Gets or sets a value indicating whether the server flushes commits to disk (fsync, synchronous commit, full page
    /// writes). Off by default: faster, and a test cluster does not outlive a machine crash. Durability tests turn it on.
    /// </summary>
    public bool Durable { get; set; }

    /// <summary>Gets or sets the server's connection limit.</summary>
    public int MaxConnections { get; set; } = 300;

    /// <summary>Gets or sets the folder of initdb and pg_ctl; null for DQ_PG_BIN or /usr/lib/postgresql/15/bin.</summary>
    public string? BinDirectory { get; set; }
}
