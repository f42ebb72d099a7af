using DurableQueue;
using DurableQueue.Dashboard;
using DurableQueue.Dashboard.Internal;
using DurableQueue.Hosting;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Maps the DurableQueue dashboard into an ASP.NET Core app.</summary>
public static class DurableQueueDashboardEndpointRouteBuilderExtensions
{
    /// <summary>
    /// Maps the DurableQueue dashboard under a path: open <c>{pattern}/</c> in a browser. It shows the store registered
    /// in the app's services (by <c>AddDurableQueue</c>) unless <see cref="DashboardOptions.Store"/> names another.
    /// </summary>
    /// <param name="endpoints">The app's endpoint route builder.</param>
    /// <param name="pattern">The path to serve the dashboard under, for example <c>/queues</c>.</param>
    /// <param name="configure">Sets the dashboard options, or <see langword="null"/> for the defaults: read-only, bodies hidden, local requests only.</param>
    /// <returns>A builder for the dashboard's endpoints, to add conventions (such as <c>RequireHost</c>).</returns>
    /// <remarks>
    /// <para>A background sampler starts with the app and stops when it stops; it reads the depths of all queues every
    /// <see cref="DashboardOptions.SampleInterval"/> for the chart.</para>
    /// <para>Opening a queue's page opens that queue in this store with default options if the app has not opened it
    /// yet; open queues with their options when the app starts (<c>AddDurableQueue</c> does so for every handled queue).</para>
    /// </remarks>
    /// <exception cref="ArgumentException"><paramref name="pattern"/> is empty or does not start with '/', or an option is out of range.</exception>
    /// <exception cref="InvalidOperationException">
    /// No store is registered or set; or write actions are enabled without an authorization policy or without the antiforgery services.
    /// </exception>
    public static IEndpointConventionBuilder MapDurableQueueDashboard(
        this IEndpointRouteBuilder endpoints, string pattern = "/queues", Action<DashboardOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentException.ThrowIfNullOrWhiteSpace(pattern);
        if (pattern[0] != '/')
        {
            throw new ArgumentException("The dashboard path must start with '/', for example \"/queues\".", nameof(pattern));
        }

        var options = new DashboardOptions();
        configure?.Invoke(options);
        options = options.Clone();
        options.Validate();

        var services = endpoints.ServiceProvider;
        var store = options.Store ?? services.GetService<QueueStore>() ?? throw new InvalidOperationException(DashboardErrors.NoStore);
        var antiforgery = services.GetService<IAntiforgery>();
        if (options.EnableWriteActions && antiforgery is null)
        {
            throw new InvalidOperationException(DashboardErrors.AntiforgeryMissing);
        }

        var clock = options.TimeProvider ?? services.GetService<TimeProvider>() ?? TimeProvider.System;
        var logger = services.GetService<ILoggerFactory>()?.CreateLogger("DurableQueue.Dashboard") ?? NullLogger.Instance;
        var monitor = new DashboardMonitor(store, options, clock);
        StartSampler(services.GetService<IHostApplicationLifetime>(), monitor);

        var dashboard = new DashboardEndpoints(
            options,
            store,
            services.GetService<JobClient>(),
            antiforgery,
            services.GetService<IOptions<AntiforgeryOptions>>()?.Value.HeaderName,
            monitor,
            logger);
        var group = endpoints.MapGroup(pattern.TrimEnd('/'));
        group.AddEndpointFilter(dashboard.GuardAsync);
        if (options.AuthorizationPolicy is { } policy)
        {
            group.RequireAuthorization(policy);
        }

        group.ExcludeFromDescription();
        dashboard.Map(group);
        return group;
    }

    /// <summary>Runs the sampler from the app's start to its stop (without a host, it is not started: the chart stays empty).</summary>
    private static void StartSampler(IHostApplicationLifetime? lifetime, DashboardMonitor monitor)
    {
        if (lifetime is null)
        {
            return;
        }

        var stopping = lifetime.ApplicationStopping;
        lifetime.ApplicationStarted.Register(() => _ = monitor.RunAsync(stopping));
    }
}
