using DurableQueue;
using DurableQueue.Hosting;
using DurableQueue.Postgres;
using Microsoft.Extensions.Configuration;
using Npgsql;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Puts the store registered by <c>AddDurableQueue</c> on PostgreSQL.</summary>
public static class PostgresDurableQueueBuilderExtensions
{
    /// <summary>The configuration section the PostgreSQL options are bound from.</summary>
    public const string SectionName = "DurableQueue:Postgres";

    /// <summary>The name of the connection string <see cref="UsePostgres"/> reads when none is given.</summary>
    public const string ConnectionStringName = "DurableQueue";

    /// <summary>
    /// Opens the store on PostgreSQL instead of a file. Handlers, jobs, schedules, telemetry and the health check work
    /// unchanged; several instances of the app on several hosts share the queues.
    /// </summary>
    /// <param name="builder">The builder returned by <c>AddDurableQueue</c>.</param>
    /// <param name="connectionString">
    /// The connection string, or <see langword="null"/> to use the configuration's <c>ConnectionStrings:DurableQueue</c>, or
    /// else an <see cref="NpgsqlDataSource"/> registered in the container.
    /// </param>
    /// <param name="configure">Sets the PostgreSQL options after those bound from <c>DurableQueue:Postgres</c>, or <see langword="null"/>.</param>
    /// <returns>The builder.</returns>
    /// <remarks>
    /// The store options of <c>AddDurableQueue</c> (durability, lock wait) apply as they do to a file;
    /// <see cref="DurableQueueOptions.Path"/> is not needed. The store opens when the host starts.
    /// </remarks>
    public static DurableQueueBuilder UsePostgres(this DurableQueueBuilder builder, string? connectionString = null, Action<PostgresStoreOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var options = builder.Services.AddOptions<PostgresStoreOptions>().BindConfiguration(SectionName);
        if (configure is not null)
        {
            options.Configure(configure);
        }

        return builder.UseStore((services, storeOptions) =>
        {
            var postgres = services.GetRequiredService<Microsoft.Extensions.Options.IOptions<PostgresStoreOptions>>().Value;
            var configured = connectionString ?? services.GetService<IConfiguration>()?.GetConnectionString(ConnectionStringName);
            if (configured is not null)
            {
                return QueueStore.OpenPostgres(configured, storeOptions, postgres);
            }

            var dataSource = services.GetService<NpgsqlDataSource>()
                ?? throw new InvalidOperationException(PostgresErrorMessages.NoConnectionString(ConnectionStringName));
            return QueueStore.Open(dataSource, storeOptions, postgres);
        });
    }
}
