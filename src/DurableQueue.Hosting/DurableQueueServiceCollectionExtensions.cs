using System.Diagnostics.Metrics;
using DurableQueue;
using DurableQueue.Hosting;
using DurableQueue.Hosting.Diagnostics;
using DurableQueue.Hosting.Storage;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds DurableQueue's store, workers, job client and schedules to a service collection.</summary>
public static class DurableQueueServiceCollectionExtensions
{
    /// <summary>
    /// Registers a queue store on one SQLite file with options bound from the <c>DurableQueue</c> configuration section
    /// (validated when the host starts), plus <see cref="JobClient"/>, <see cref="MessageProducer"/>, the job cleanup and
    /// metrics service, and the recurring-job scheduler. Add handlers on the returned builder.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configure">Sets options after those bound from configuration, or <see langword="null"/>.</param>
    /// <returns>A builder to register handlers and recurring jobs.</returns>
    /// <remarks>Calling it again returns a builder for the same store; the options callbacks add up.</remarks>
    public static DurableQueueBuilder AddDurableQueue(this IServiceCollection services, Action<DurableQueueOptions>? configure = null) =>
        services.AddDurableQueue(HostingDefaults.SectionName, configure);

    /// <summary>
    /// Registers a queue store with options bound from the given configuration section (validated when the host starts).
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configSectionPath">The configuration section, for example <c>DurableQueue</c>; handler options come from its <c>Queues:{queue}</c> subsections.</param>
    /// <param name="configure">Sets options after those bound from configuration, or <see langword="null"/>.</param>
    /// <returns>A builder to register handlers and recurring jobs.</returns>
    public static DurableQueueBuilder AddDurableQueue(this IServiceCollection services, string configSectionPath, Action<DurableQueueOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrWhiteSpace(configSectionPath);

        var catalog = services.FirstOrDefault(d => d.ServiceType == typeof(HandlerCatalog))?.ImplementationInstance as HandlerCatalog;
        if (catalog is null)
        {
            catalog = new HandlerCatalog();
            services.AddSingleton(catalog);
            services.AddOptions<DurableQueueOptions>().BindConfiguration(configSectionPath).ValidateOnStart();
        }

        if (configure is not null)
        {
            services.Configure(configure);
        }

        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<DurableQueueOptions>, DurableQueueOptionsValidator>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<DurableQueueOptions>, StoreLocationValidator>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<QueueHandlerOptions>, QueueHandlerOptionsValidator>());

        services.TryAddSingleton(static sp =>
        {
            var options = sp.GetRequiredService<IOptions<DurableQueueOptions>>().Value;
            var storeOptions = new QueueStoreOptions
            {
                Durability = options.Durability,
                TimeProvider = options.TimeProvider ?? sp.GetService<TimeProvider>() ?? TimeProvider.System,
                PollInterval = options.PollInterval,
                BusyTimeout = options.BusyTimeout,
                ReleaseLeasesOfEndedSessions = options.ReleaseLeasesOfEndedSessions,
            };
            var store = sp.GetService<StoreOpener>() is { } opener ? opener.Open(sp, storeOptions) : QueueStore.Open(options.Path!, storeOptions);
            StoreStartup.Report(store, sp.GetService<ILoggerFactory>()?.CreateLogger<QueueStore>() ?? NullLogger<QueueStore>.Instance, sp.GetRequiredService<HostingTelemetry>());

            // Fix each handled queue's options first, so that any later GetQueue(name) (the app's, a worker's) shares them.
            var handlerOptions = sp.GetRequiredService<IOptionsMonitor<QueueHandlerOptions>>();
            foreach (var handler in sp.GetRequiredService<HandlerCatalog>().Handlers)
            {
                store.GetQueue(handler.QueueName, handlerOptions.Get(handler.QueueName).ToQueueOptions());
            }

            return store;
        });
        services.TryAddSingleton<IRetryBackoff>(static _ => new FullJitterBackoff());
        services.TryAddSingleton(static sp => new HostingTelemetry(sp.GetService<IMeterFactory>()));
        services.TryAddSingleton<WorkerEvents>();
        services.TryAddSingleton<JobStore>();
        services.TryAddSingleton(static sp => new JobClient(sp.GetRequiredService<JobStore>(), sp.GetRequiredService<HostingTelemetry>()));
        services.TryAddSingleton(static sp => new MessageProducer(sp.GetRequiredService<JobStore>(), sp.GetRequiredService<HostingTelemetry>()));
        services.TryAddSingleton<RecurringJobScheduler>();
        services.TryAddSingleton<DeadLetterHistory>();
        services.TryAddSingleton<MaintenanceService>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, HostedMaintenance>(static sp => new HostedMaintenance(sp.GetRequiredService<MaintenanceService>())));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, HostedScheduler>(static sp => new HostedScheduler(sp.GetRequiredService<RecurringJobScheduler>())));
        return new DurableQueueBuilder(services, catalog, configSectionPath);
    }

    /// <summary>Adds a health check that reports degraded or unhealthy on backlog age or on the rate of new dead letters, by <see cref="DurableQueueOptions.Health"/>.</summary>
    /// <param name="builder">The health checks builder.</param>
    /// <param name="name">The check's name.</param>
    /// <param name="tags">Tags to filter checks by, or <see langword="null"/>.</param>
    /// <returns>The health checks builder.</returns>
    public static IHealthChecksBuilder AddDurableQueue(this IHealthChecksBuilder builder, string name = "durablequeue", IEnumerable<string>? tags = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.Add(new Diagnostics.HealthChecks.HealthCheckRegistration(
            name, static sp => new DurableQueueHealthCheck(sp.GetRequiredService<JobStore>(), sp.GetRequiredService<DeadLetterHistory>()), failureStatus: null, tags));
    }

    // Thin wrappers so that TryAddEnumerable can tell the two hosted services apart by implementation type.
    private sealed class HostedMaintenance(MaintenanceService inner) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken) => inner.StartAsync(cancellationToken);

        public Task StopAsync(CancellationToken cancellationToken) => inner.StopAsync(cancellationToken);
    }

    private sealed class HostedScheduler(RecurringJobScheduler inner) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken) => inner.StartAsync(cancellationToken);

        public Task StopAsync(CancellationToken cancellationToken) => inner.StopAsync(cancellationToken);
    }
}
